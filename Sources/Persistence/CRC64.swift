// CRC-64/Jones as Redis computes it for RDB files and DUMP payloads: polynomial
// 0xad93d23594c935a9, reflected input and output, initial value 0, no final xor. One
// 256-entry table, one byte per step.

public enum CRC64 {
    /// The reflected form of the Jones polynomial.
    private static let reflectedPolynomial: UInt64 = 0x95AC_9329_AC4B_C9B5

    private static let table: [UInt64] = (0..<256).map { byte in
        var crc = UInt64(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ reflectedPolynomial : crc >> 1 }
        return crc
    }

    /// `crc` extended over `bytes` (start from 0).
    public static func update(_ crc: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var crc = crc
        table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = table[Int(UInt8(truncatingIfNeeded: crc) ^ byte)] ^ (crc >> 8) }
        }
        return crc
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { update(0, $0) } }
}
