// redis.conf number syntax: memory values with k/kb/m/mb/g/gb suffixes (1k = 1000,
// 1kb = 1024, case-insensitive) and yes/no booleans, parsed as strictly as Redis does.

public enum MemoryUnits {
    /// Parses "100", "1k", "1kb", "2GB" ... into bytes; nil on anything else (incl. negatives).
    public static func parse(_ text: String) -> Int? {
        let lower = text.lowercased()
        let units: [(String, Int)] = [("kb", 1024), ("mb", 1024 * 1024), ("gb", 1024 * 1024 * 1024),
                                      ("k", 1000), ("m", 1_000_000), ("g", 1_000_000_000), ("b", 1)]
        var digits = Substring(lower)
        var multiplier = 1
        for (suffix, factor) in units where lower.hasSuffix(suffix) {
            digits = lower.dropLast(suffix.count)
            multiplier = factor
            break
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(digits) else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    public static func parseBool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "yes": return true
        case "no": return false
        default: return nil
        }
    }
}
