// Splits a redis.conf line into arguments with Redis's quoting rules: double quotes with
// backslash escapes (\n \r \t \b \a \\ \" \xHH), single quotes with only \' , and a closing
// quote that must be followed by a space or the end of the line.

public enum ArgSplitter {
    /// The arguments of `line`, or nil when its quotes are unbalanced.
    public static func split(_ line: String) -> [String]? {
        let bytes = Array(line.utf8)
        var result: [String] = []
        var i = 0
        func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 || c == 11 || c == 12 }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        while true {
            while i < bytes.count && isSpace(bytes[i]) { i += 1 }
            if i >= bytes.count { return result }
            var current: [UInt8] = []
            var inDouble = false, inSingle = false
            scanning: while true {
                if inDouble {
                    guard i < bytes.count else { return nil }
                    let c = bytes[i]
                    if c == 92, i + 3 < bytes.count, bytes[i + 1] == 120, let hi = hex(bytes[i + 2]), let lo = hex(bytes[i + 3]) {
                        current.append(hi << 4 | lo); i += 3
                    } else if c == 92, i + 1 < bytes.count {
                        i += 1
                        switch bytes[i] {
                        case 110: current.append(10)
                        case 114: current.append(13)
                        case 116: current.append(9)
                        case 98: current.append(8)
                        case 97: current.append(7)
                        default: current.append(bytes[i])
                        }
                    } else if c == 34 {
                        if i + 1 < bytes.count && !isSpace(bytes[i + 1]) { return nil }
                        i += 1
                        break scanning
                    } else {
                        current.append(c)
                    }
                } else if inSingle {
                    guard i < bytes.count else { return nil }
                    let c = bytes[i]
                    if c == 92, i + 1 < bytes.count, bytes[i + 1] == 39 {
                        i += 1; current.append(39)
                    } else if c == 39 {
                        if i + 1 < bytes.count && !isSpace(bytes[i + 1]) { return nil }
                        i += 1
                        break scanning
                    } else {
                        current.append(c)
                    }
                } else {
                    guard i < bytes.count else { break scanning }
                    let c = bytes[i]
                    if isSpace(c) { i += 1; break scanning }
                    if c == 34 { inDouble = true } else if c == 39 { inSingle = true } else { current.append(c) }
                }
                i += 1
            }
            result.append(String(decoding: current, as: UTF8.self))
        }
    }
}
