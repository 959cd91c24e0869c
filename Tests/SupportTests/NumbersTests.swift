// Redis's number rules: strict integers (string2ll), long-double parsing and INCRBYFLOAT's
// human formatting.
import Testing
@testable import Support

@Test func strictIntegerParsing() {
    #expect(Numbers.parseInt64("0") == 0)
    #expect(Numbers.parseInt64("-1") == -1)
    #expect(Numbers.parseInt64("9223372036854775807") == Int64.max)
    #expect(Numbers.parseInt64("-9223372036854775808") == Int64.min)
    for bad in ["", "-", "+1", " 1", "1 ", "01", "-0", "9223372036854775808", "1.0", "0x10", "-9223372036854775809"] {
        #expect(Numbers.parseInt64(bad) == nil, "\(bad) must be rejected")
    }
}

@Test func integerFormattingRoundTrips() {
    for value: Int64 in [0, 7, -7, 1234567890, Int64.max, Int64.min] {
        #expect(String(decoding: Numbers.decimalBytes(value), as: UTF8.self) == String(value))
    }
}

@Test func longDoubleParsingFollowsStrtold() {
    func parse(_ s: String) -> Float80? { Array(s.utf8).withUnsafeBytes { Numbers.parseLongDouble($0) } }
    #expect(parse("10.5") == 10.5)
    #expect(parse("1e3") == 1000)
    #expect(parse("inf") == .infinity)
    #expect(parse("nan") == nil)
    #expect(parse(" 1") == nil)
    #expect(parse("1 ") == nil)
    #expect(parse("") == nil)
    #expect(parse("1e5000") == nil)
}

@Test func humanLongDoubleTrimsLikeRedis() {
    func text(_ v: Float80) -> String { String(decoding: Numbers.humanLongDouble(v), as: UTF8.self) }
    #expect(text(10.5 + 0.1) == "10.6")
    #expect(text(3) == "3")
    #expect(text(-0.0) == "0")
    #expect(text(0.005) == "0.005")
    #expect(text(1.5e-18) == "0")
}

@Test func doubleParsingFollowsString2d() {
    func parse(_ s: String) -> Double? { Array(s.utf8).withUnsafeBytes { Numbers.parseDouble($0) } }
    #expect(parse("1.5") == 1.5)
    #expect(parse("-inf") == -.infinity)
    #expect(parse("+inf") == .infinity)
    #expect(parse("nan") == nil)
    #expect(parse(" 1") == nil)
    #expect(parse("1 ") == nil)
    #expect(parse("") == nil)
    #expect(parse("1e400") == nil)
    #expect(parse("1\u{0}2") == nil)
}

@Test func rangeBoundParsingFollowsStrtod() {
    func parse(_ s: String) -> Double? { Array(s.utf8).withUnsafeBytes { Numbers.parseRangeDouble($0) } }
    #expect(parse("") == 0)
    #expect(parse(" 2") == 2)
    #expect(parse("2 ") == nil)
    #expect(parse("1e400") == .infinity)
    #expect(parse("nan") == nil)
    #expect(parse("3\u{0}junk") == 3)
}
