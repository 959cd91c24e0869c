// Splits an inline command line into arguments with redis-cli/redis.conf quoting rules
// (Redis's sdssplitargs): double quotes with backslash escapes and \xHH, single quotes with
// only \' , and a closing quote that must be followed by a space. Unquoted bytes are copied
// into the parser's side buffer.

enum InlineSplitter {
    private static func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 10 || c == 13 || c == 9 || c == 11 || c == 12 }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }

    /// Returns false on unbalanced quotes. `push(offset, length)` receives each argument's
    /// position in `storage`.
    static func split(_ line: UnsafeRawBufferPointer, into storage: inout ByteBuffer,
                      push: (Int, Int) -> Void) -> Bool {
        var i = 0
        let n = line.count
        while true {
            while i < n && isSpace(line[i]) { i += 1 }
            if i >= n { return true }
            let argStart = storage.count
            var inDouble = false, inSingle = false, done = false
            while !done {
                if inDouble {
                    if i >= n { return false }
                    let c = line[i]
                    if c == 92 && i + 3 < n && line[i + 1] == 120,
                       let hi = hexValue(line[i + 2]), let lo = hexValue(line[i + 3]) {
                        storage.append(byte: hi << 4 | lo); i += 3
                    } else if c == 92 && i + 1 < n {
                        i += 1
                        let escaped: UInt8
                        switch line[i] {
                        case 110: escaped = 10
                        case 114: escaped = 13
                        case 116: escaped = 9
                        case 98: escaped = 8
                        case 97: escaped = 7
                        default: escaped = line[i]
                        }
                        storage.append(byte: escaped)
                    } else if c == 34 {
                        if i + 1 < n && !isSpace(line[i + 1]) { return false }
                        done = true
                    } else {
                        storage.append(byte: c)
                    }
                } else if inSingle {
                    if i >= n { return false }
                    let c = line[i]
                    if c == 92 && i + 1 < n && line[i + 1] == 39 {
                        i += 1; storage.append(byte: 39)
                    } else if c == 39 {
                        if i + 1 < n && !isSpace(line[i + 1]) { return false }
                        done = true
                    } else {
                        storage.append(byte: c)
                    }
                } else {
                    if i >= n { done = true; break }
                    let c = line[i]
                    if isSpace(c) { done = true } else if c == 34 { inDouble = true }
                    else if c == 39 { inSingle = true } else { storage.append(byte: c) }
                }
                if i < n { i += 1 }
            }
            push(argStart, storage.count - argStart)
        }
    }
}
