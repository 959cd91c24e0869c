// Case folding for ASCII bytes: command names, keywords and config names are matched
// case-insensitively on raw bytes, the way Redis does with strcasecmp.
public enum ASCII {
    @inlinable @inline(__always)
    public static func lowercase(_ byte: UInt8) -> UInt8 {
        byte &- 65 < 26 ? byte | 0x20 : byte
    }

    /// Case-insensitive equality of two byte strings.
    @inlinable
    public static func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where lowercase(a[i]) != lowercase(b[i]) { return false }
        return true
    }

    /// Whether `a` equals a lowercase ASCII keyword, ignoring the case of `a`.
    @inlinable
    public static func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, keyword: StaticString) -> Bool {
        guard a.count == keyword.utf8CodeUnitCount else { return false }
        let bytes = keyword.utf8Start
        for i in 0..<a.count where lowercase(a[i]) != bytes[i] { return false }
        return true
    }
}
