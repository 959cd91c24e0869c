// Redis's glob matching (stringmatchlen) on raw bytes, used by KEYS, SCAN MATCH, CONFIG GET
// and COMMAND LIST: `*`, `?`, `[abc]`, `[^a-z]` (reversed ranges allowed), `\` escapes and
// optional case folding. Recursion on `*` is bounded so hostile patterns cannot explode.

public enum Glob {
    public static func matches(pattern: UnsafeRawBufferPointer, string: UnsafeRawBufferPointer,
                               caseInsensitive: Bool = false) -> Bool {
        var skipLongerMatches = false
        return match(pattern[...], string[...], caseInsensitive, &skipLongerMatches, nesting: 0)
    }

    public static func matches(pattern: [UInt8], string: [UInt8], caseInsensitive: Bool = false) -> Bool {
        pattern.withUnsafeBytes { p in string.withUnsafeBytes { s in matches(pattern: p, string: s, caseInsensitive: caseInsensitive) } }
    }

    private static func fold(_ byte: UInt8, _ caseInsensitive: Bool) -> UInt8 {
        caseInsensitive ? ASCII.lowercase(byte) : byte
    }

    private static func match(_ patternIn: Slice<UnsafeRawBufferPointer>, _ stringIn: Slice<UnsafeRawBufferPointer>,
                              _ nocase: Bool, _ skipLongerMatches: inout Bool, nesting: Int) -> Bool {
        // Deeply nested `*` patterns are abandoned, as Redis does, to bound the work.
        if nesting >= 1000 { return false }
        var pattern = patternIn
        var string = stringIn
        while let p = pattern.first, !string.isEmpty {
            switch p {
            case 42: // '*'
                while pattern.dropFirst().first == 42 { pattern = pattern.dropFirst() }
                if pattern.count == 1 { return true }
                while !string.isEmpty {
                    if match(pattern.dropFirst(), string, nocase, &skipLongerMatches, nesting: nesting + 1) { return true }
                    if skipLongerMatches { return false }
                    string = string.dropFirst()
                }
                // No match for the rest anywhere: longer prefixes can't match either.
                skipLongerMatches = true
                return false
            case 63: // '?'
                guard !string.isEmpty else { return false }
                string = string.dropFirst()
            case 91: // '['
                guard let c = string.first else { return false }
                pattern = pattern.dropFirst()
                let negate = pattern.first == 94
                if negate { pattern = pattern.dropFirst() }
                var matched = false
                while let q = pattern.first, q != 93 {
                    if q == 92, pattern.count >= 2 {
                        pattern = pattern.dropFirst()
                        if pattern.first == c { matched = true }
                    } else if pattern.count >= 3, pattern[pattern.startIndex + 1] == 45 {
                        var start = fold(q, nocase), end = fold(pattern[pattern.startIndex + 2], nocase)
                        if start > end { swap(&start, &end) }
                        let folded = fold(c, nocase)
                        if folded >= start && folded <= end { matched = true }
                        pattern = pattern.dropFirst(2)
                    } else if fold(q, nocase) == fold(c, nocase) {
                        matched = true
                    }
                    pattern = pattern.dropFirst()
                }
                // An unterminated class simply ends the pattern, as in Redis.
                if negate { matched.toggle() }
                guard matched else { return false }
                string = string.dropFirst()
            case 92 where pattern.count >= 2: // '\' escapes the next byte
                pattern = pattern.dropFirst()
                guard let c = string.first, fold(pattern.first!, nocase) == fold(c, nocase) else { return false }
                string = string.dropFirst()
            default:
                guard let c = string.first, fold(p, nocase) == fold(c, nocase) else { return false }
                string = string.dropFirst()
            }
            pattern = pattern.dropFirst()
            if string.isEmpty {
                while pattern.first == 42 { pattern = pattern.dropFirst() }
                break
            }
        }
        return pattern.isEmpty && string.isEmpty
    }
}
