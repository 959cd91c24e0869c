// Parser behaviour: complete and split multibulk frames, inline commands with quoting, and
// the protocol errors Redis 7.0.15 reports for malformed input.
import Testing
@testable import RESP

private func parseAll(_ text: String, maxBulk: Int = 512 * 1024 * 1024) -> ([[String]], ParseOutcome?) {
    var parser = CommandParser(maxBulkLength: maxBulk)
    defer { parser.deallocate() }
    let bytes = Array(text.utf8)
    var commands: [[String]] = []
    var offset = 0
    return bytes.withUnsafeBytes { raw -> ([[String]], ParseOutcome?) in
        while offset < bytes.count {
            let start = raw.baseAddress! + offset
            let outcome = parser.parse(start, available: bytes.count - offset)
            switch outcome {
            case .command:
                let args = parser.args(over: start)
                commands.append((0..<args.count).map { args.string($0) })
                offset += parser.consumed
                parser.reset()
            case .empty:
                offset += parser.consumed
                parser.reset()
            default:
                return (commands, outcome)
            }
        }
        return (commands, nil)
    }
}

@Test func multibulkCommandsParseInOrder() {
    let (commands, tail) = parseAll("*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n*1\r\n$4\r\nPING\r\n")
    #expect(commands == [["GET", "foo"], ["PING"]])
    #expect(tail == nil)
}

@Test func incompleteFramesAskForMoreAtEveryByte() {
    let frame = Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n".utf8)
    var parser = CommandParser()
    defer { parser.deallocate() }
    frame.withUnsafeBytes { raw in
        for length in 0..<frame.count {
            #expect(parser.parse(raw.baseAddress!, available: length) == .needMore)
        }
        #expect(parser.parse(raw.baseAddress!, available: frame.count) == .command)
        #expect(parser.args(over: raw.baseAddress!).string(2) == "value")
        #expect(parser.consumed == frame.count)
    }
}

@Test func inlineCommandsHonourQuotes() {
    let (commands, _) = parseAll("set \"a b\" 'c\\'d' \"\\x41\\n\"\r\nPING\n")
    #expect(commands == [["set", "a b", "c'd", "A\n"], ["PING"]])
}

@Test func emptyLinesAndZeroCountsAreSkipped() {
    let (commands, tail) = parseAll("\r\n*0\r\n*-1\r\nPING\r\n")
    #expect(commands == [["PING"]])
    #expect(tail == nil)
}

@Test func protocolErrorsUseRedisWording() {
    #expect(parseAll("*abc\r\n").1 == .protocolError("Protocol error: invalid multibulk length"))
    #expect(parseAll("*1\r\n+foo\r\n").1 == .protocolError("Protocol error: expected '$', got '+'"))
    #expect(parseAll("*1\r\n$-2\r\n").1 == .protocolError("Protocol error: invalid bulk length"))
    #expect(parseAll("*1\r\n$100\r\n", maxBulk: 10).1 == .protocolError("Protocol error: invalid bulk length"))
    #expect(parseAll("set \"a b\r\n").1 == .protocolError("Protocol error: unbalanced quotes in request"))
    #expect(parseAll(String(repeating: "a", count: 70000)).1 == .protocolError("Protocol error: too big inline request"))
    #expect(parseAll("*" + String(repeating: "1", count: 70000)).1 == .protocolError("Protocol error: too big mbulk count string"))
}

@Test func binaryArgumentsAreKeptExactly() {
    var bytes = Array("*2\r\n$3\r\nGET\r\n$4\r\n".utf8)
    bytes += [0, 0xFF, 13, 10]
    bytes += Array("\r\n".utf8)
    var parser = CommandParser()
    defer { parser.deallocate() }
    bytes.withUnsafeBytes { raw in
        #expect(parser.parse(raw.baseAddress!, available: bytes.count) == .command)
        #expect(parser.args(over: raw.baseAddress!).bytes(1) == [0, 0xFF, 13, 10])
    }
}

@Test func headerNumbersReadAsRedisReadsThem() {
    // Plain digits take a one-pass path; everything else goes the general way. Both must
    // agree with string2ll: no leading zeros, no plus sign, at most Int32.max arguments.
    #expect(parseAll("*1\r\n$0\r\n\r\n").0 == [[""]])
    #expect(parseAll("*01\r\n$4\r\nPING\r\n").1 == .protocolError("Protocol error: invalid multibulk length"))
    #expect(parseAll("*1\r\n$04\r\nPING\r\n").1 == .protocolError("Protocol error: invalid bulk length"))
    #expect(parseAll("*+1\r\n$4\r\nPING\r\n").1 == .protocolError("Protocol error: invalid multibulk length"))
    #expect(parseAll("*1\r\n$+4\r\nPING\r\n").1 == .protocolError("Protocol error: invalid bulk length"))
    #expect(parseAll("*1 \r\n$4\r\nPING\r\n").1 == .protocolError("Protocol error: invalid multibulk length"))
    #expect(parseAll("*2147483648\r\n").1 == .protocolError("Protocol error: invalid multibulk length"))
    #expect(parseAll("*1\r\n$99999999999999999999\r\n").1 == .protocolError("Protocol error: invalid bulk length"))
    #expect(parseAll("*1\r\n$123456789012345678\r\n", maxBulk: 10).1 == .protocolError("Protocol error: invalid bulk length"))
    // A header whose CR has arrived but not its LF is not complete yet.
    #expect(parseAll("*1\r").1 == .needMore)
    #expect(parseAll("*1\r\n$4\r").1 == .needMore)
}

@Test func unauthenticatedLimitsApplyOnEveryPath() {
    var parser = CommandParser()
    defer { parser.deallocate() }
    parser.unauthenticated = true
    let tooMany = Array(("*11\r\n" + String(repeating: "$1\r\na\r\n", count: 11)).utf8)
    tooMany.withUnsafeBytes { raw in
        #expect(parser.parse(raw.baseAddress!, available: tooMany.count)
                == .protocolError("Protocol error: unauthenticated multibulk length"))
    }
    parser.reset()
    let tooLong = Array("*1\r\n$16385\r\n".utf8)
    tooLong.withUnsafeBytes { raw in
        #expect(parser.parse(raw.baseAddress!, available: tooLong.count)
                == .protocolError("Protocol error: unauthenticated bulk length"))
    }
}
