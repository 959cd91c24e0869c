// Redis's number rules on raw bytes: strict 64-bit integer parsing (string2ll), long-double
// parsing and human formatting (INCRBYFLOAT's %.17Lf with trailing zeros trimmed), and integer
// formatting without allocation. Commands and config both need exactly these rules.
#if canImport(Glibc)
import Glibc
#endif

public enum Numbers {
    /// Parses a signed 64-bit decimal exactly as Redis's string2ll: no spaces, no '+', no
    /// leading zeros, "-0" rejected, overflow rejected.
    @inlinable
    public static func parseInt64(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        let count = bytes.count
        if count == 0 || count > 20 { return nil }
        if count == 1 {
            let c = bytes[0]
            return c >= 48 && c <= 57 ? Int64(c - 48) : nil
        }
        var index = 0
        var negative = false
        if bytes[0] == 45 { negative = true; index = 1 }
        guard index < count, bytes[index] >= 49, bytes[index] <= 57 else { return nil }
        var magnitude: UInt64 = 0
        while index < count {
            let c = bytes[index]
            guard c >= 48 && c <= 57 else { return nil }
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(c - 48))
            if o1 || o2 { return nil }
            magnitude = sum
            index += 1
        }
        if negative {
            if magnitude > UInt64(Int64.max) + 1 { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        return magnitude > UInt64(Int64.max) ? nil : Int64(magnitude)
    }

    public static func parseInt64(_ bytes: [UInt8]) -> Int64? {
        bytes.withUnsafeBytes { parseInt64($0) }
    }

    public static func parseInt64(_ string: String) -> Int64? {
        parseInt64(Array(string.utf8))
    }

    /// Writes the decimal form of `value` into `buffer` (at least 20 bytes), returning the length.
    @inlinable
    public static func formatInt64(_ value: Int64, into buffer: UnsafeMutableRawPointer) -> Int {
        var magnitude = value.magnitude
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &scratch) { tmp -> Int in
            var position = 24
            repeat {
                position -= 1
                tmp[position] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 48
                magnitude /= 10
            } while magnitude != 0
            if value < 0 { position -= 1; tmp[position] = 45 }
            let length = 24 - position
            buffer.copyMemory(from: tmp.baseAddress! + position, byteCount: length)
            return length
        }
    }

    public static func decimalBytes(_ value: Int64) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 20) { buffer, count in
            count = formatInt64(value, into: UnsafeMutableRawPointer(buffer.baseAddress!))
        }
    }

    /// Parses a long double like Redis's string2ld: the whole input must be a number
    /// (strtold syntax, "inf" allowed), no leading space, not NaN.
    public static func parseLongDouble(_ bytes: UnsafeRawBufferPointer) -> Float80? {
        let count = bytes.count
        if count == 0 || count > 5 * 1024 { return nil }
        let first = bytes[0]
        if first == 32 || first == 9 || first == 10 || first == 13 || first == 11 || first == 12 { return nil }
        var text = [CChar](repeating: 0, count: count + 1)
        for i in 0..<count { text[i] = CChar(bitPattern: bytes[i]) }
        if text.prefix(count).contains(0) { return nil }
        return text.withUnsafeMutableBufferPointer { buffer -> Float80? in
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let value = strtold(buffer.baseAddress!, &end)
            guard let end, end - buffer.baseAddress! == count else { return nil }
            if value.isNaN { return nil }
            if errno == ERANGE && (value == 0 || value.isInfinite) { return nil }
            return value
        }
    }

    /// Runs C's strtod over `bytes` as a C string (stopping at a NUL byte, as Redis's
    /// char-pointer parsing does): the value, how many bytes it consumed, the C string's
    /// length, and whether it over- or underflowed.
    private static func strtodCString(_ bytes: UnsafeRawBufferPointer)
        -> (value: Double, consumed: Int, length: Int, rangeError: Bool) {
        let length = bytes.firstIndex(of: 0) ?? bytes.count
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { text in
            for i in 0..<length { text[i] = CChar(bitPattern: bytes[i]) }
            text[length] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let value = strtod(text.baseAddress!, &end)
            return (value, end! - text.baseAddress!, length, errno == ERANGE)
        }
    }

    /// Parses a double like Redis's string2d (commands' float arguments): the whole input
    /// must be the number, no leading space, no overflow, not NaN.
    public static func parseDouble(_ bytes: UnsafeRawBufferPointer) -> Double? {
        guard let first = bytes.first, !(first == 32 || (first >= 9 && first <= 13)) else { return nil }
        let parsed = strtodCString(bytes)
        guard parsed.consumed == bytes.count, !parsed.value.isNaN else { return nil }
        if parsed.rangeError && (parsed.value.isInfinite || parsed.value == 0) { return nil }
        return parsed.value
    }

    /// Parses a sorted-set range bound the way Redis does (plain strtod that must reach the
    /// end of the C string; leading spaces and the empty string, read as 0, are accepted).
    public static func parseRangeDouble(_ bytes: UnsafeRawBufferPointer) -> Double? {
        let parsed = strtodCString(bytes)
        guard parsed.consumed == parsed.length, !parsed.value.isNaN else { return nil }
        return parsed.value
    }

    /// Parses a SORT weight as Redis does: strtod must reach the end of the C string (so the
    /// empty string reads as 0), without overflow or underflow, and not NaN.
    public static func parseSortWeight(_ bytes: UnsafeRawBufferPointer) -> Double? {
        let parsed = strtodCString(bytes)
        guard parsed.consumed == parsed.length, !parsed.rangeError, !parsed.value.isNaN else { return nil }
        return parsed.value
    }

    /// Formats like Redis's ld2string in human mode: "%.17Lf" with trailing zeros (and a
    /// trailing point) removed; "-0" becomes "0". Used by INCRBYFLOAT.
    public static func humanLongDouble(_ value: Float80) -> [UInt8] {
        if value.isInfinite { return Array((value > 0 ? "inf" : "-inf").utf8) }
        var buffer = [CChar](repeating: 0, count: 5200)
        let length = buffer.withUnsafeMutableBufferPointer { out -> Int in
            withVaList([value]) { Int(vsnprintf(out.baseAddress!, out.count, "%.17Lf", $0)) }
        }
        var bytes = buffer.prefix(length).map { UInt8(bitPattern: $0) }
        if bytes.contains(46) {
            while bytes.last == 48 { bytes.removeLast() }
            if bytes.last == 46 { bytes.removeLast() }
        }
        if bytes == [45, 48] { bytes = [48] }
        return bytes
    }

    /// Formats a double the way Redis replies with one (RESP2 bulk / RESP3 double): "%.17g".
    public static func formatDouble(_ value: Double) -> [UInt8] {
        if value.isInfinite { return Array((value > 0 ? "inf" : "-inf").utf8) }
        if value.isNaN { return Array("nan".utf8) }
        var buffer = [CChar](repeating: 0, count: 64)
        let length = buffer.withUnsafeMutableBufferPointer { out -> Int in
            withVaList([value]) { Int(vsnprintf(out.baseAddress!, out.count, "%.17g", $0)) }
        }
        return buffer.prefix(length).map { UInt8(bitPattern: $0) }
    }

    /// "%f" with trailing zeros (and a trailing point) removed, as Redis prints percentiles
    /// (trimDoubleString): 99.9 -> "99.9", 50 -> "50".
    public static func trimmedDecimal(_ value: Double) -> String {
        var text = sixDecimals(value)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    /// C's "%f": six decimals (GEO's invalid-coordinates error quotes its input so).
    public static func sixDecimals(_ value: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 400)
        _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%f", $0) }
        return String(cString: buffer)
    }

    /// Redis's fixedpoint_d2string: the value rounded (to even) at `digits` decimals,
    /// written with exactly that many (GEODIST, WITHDIST: 4).
    public static func fixedPoint(_ value: Double, digits: Int) -> [UInt8] {
        var power = 1.0
        for _ in 0..<digits { power *= 10 }
        let scaled = (value * power).rounded(.toNearestOrEven)
        let magnitude = scaled.magnitude >= 9.2e18 ? UInt64.max / 2 + 1 : UInt64(scaled.magnitude)
        var digitsText = Array(String(magnitude).utf8)
        if digitsText.count <= digits {
            digitsText = [UInt8](repeating: UInt8(ascii: "0"), count: digits + 1 - digitsText.count) + digitsText
        }
        let point = digitsText.count - digits
        return (scaled < 0 ? [UInt8(ascii: "-")] : []) + digitsText[..<point] + [UInt8(ascii: ".")] + digitsText[point...]
    }
}
