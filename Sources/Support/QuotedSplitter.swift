// Redis's argument splitting (sdssplitargs), shared by inline commands and redis.conf lines:
// words separated by spaces; double quotes with backslash escapes (\n \r \t \b \a, \xHH and
// any other escaped byte as itself); single quotes with only \' ; a closing quote must be
// followed by a space or the end of the line.

public enum QuotedSplitter {
    private static func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 10 || c == 13 || c == 9 || c == 11 || c == 12 }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }

    /// Streams the unquoted bytes of each argument to `byte`, calling `endOfArgument` after
    /// each one. Returns false when the quotes are unbalanced.
    public static func split(_ line: UnsafeRawBufferPointer, byte emit: (UInt8) -> Void,
                             endOfArgument: () -> Void) -> Bool {
        var i = 0
        let n = line.count
        while true {
            while i < n && isSpace(line[i]) { i += 1 }
            if i >= n { return true }
            var inDouble = false, inSingle = false
            scanning: while true {
                if inDouble {
                    guard i < n else { return false }
                    let c = line[i]
                    if c == 92, i + 3 < n, line[i + 1] == 120, let hi = hexValue(line[i + 2]), let lo = hexValue(line[i + 3]) {
                        emit(hi << 4 | lo)
                        i += 3
                    } else if c == 92, i + 1 < n {
                        i += 1
                        switch line[i] {
                        case 110: emit(10)
                        case 114: emit(13)
                        case 116: emit(9)
                        case 98: emit(8)
                        case 97: emit(7)
                        default: emit(line[i])
                        }
                    } else if c == 34 {
                        if i + 1 < n && !isSpace(line[i + 1]) { return false }
                        i += 1
                        break scanning
                    } else {
                        emit(c)
                    }
                } else if inSingle {
                    guard i < n else { return false }
                    let c = line[i]
                    if c == 92, i + 1 < n, line[i + 1] == 39 {
                        i += 1
                        emit(39)
                    } else if c == 39 {
                        if i + 1 < n && !isSpace(line[i + 1]) { return false }
                        i += 1
                        break scanning
                    } else {
                        emit(c)
                    }
                } else {
                    guard i < n else { break scanning }
                    let c = line[i]
                    if isSpace(c) { i += 1; break scanning }
                    if c == 34 { inDouble = true } else if c == 39 { inSingle = true } else { emit(c) }
                }
                i += 1
            }
            endOfArgument()
        }
    }

    /// Quotes an argument the way Redis's sdscatrepr does, so `split` reads it back
    /// unchanged (config rewriting, error messages, the AOF manifest).
    public static func quote(_ argument: String) -> String {
        var quoted: [UInt8] = []
        quote(bytes: argument.utf8, into: &quoted)
        return String(decoding: quoted, as: UTF8.self)
    }

    /// Appends `bytes` quoted as `quote` does (MONITOR's lines quote raw arguments).
    public static func quote(bytes: some Sequence<UInt8>, into quoted: inout [UInt8]) {
        let hexDigits = Array("0123456789abcdef".utf8)
        quoted.append(34)
        for byte in bytes {
            switch byte {
            case 92: quoted += [92, 92]
            case 34: quoted += [92, 34]
            case 10: quoted += [92, UInt8(ascii: "n")]
            case 13: quoted += [92, UInt8(ascii: "r")]
            case 9: quoted += [92, UInt8(ascii: "t")]
            case 7: quoted += [92, UInt8(ascii: "a")]
            case 8: quoted += [92, UInt8(ascii: "b")]
            case 32...126: quoted.append(byte)
            default: quoted += [92, UInt8(ascii: "x"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]]
            }
        }
        quoted.append(34)
    }
}
