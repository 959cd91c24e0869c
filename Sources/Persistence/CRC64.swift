// CRC-64/Jones as Redis computes it for RDB files and DUMP payloads: polynomial
// 0xad93d23594c935a9, reflected input and output, initial value 0, no final xor. Eight
// bytes per step (slicing by 8: eight 256-entry tables, table k giving a byte's effect k
// bytes further on), since an RDB file's checksum covers every byte saved or loaded.

public enum CRC64 {
    /// The reflected form of the Jones polynomial.
    private static let reflectedPolynomial: UInt64 = 0x95AC_9329_AC4B_C9B5

    /// Tables 0...7 one after another; table 0 is the classic one-byte table.
    private static let tables: [UInt64] = {
        var tables = [UInt64](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt64(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ reflectedPolynomial : crc >> 1 }
            tables[byte] = crc
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = tables[(slice - 1) * 256 + byte]
                tables[slice * 256 + byte] = tables[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return tables
    }()

    /// `crc` extended over `bytes` (start from 0).
    public static func update(_ crc: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var crc = crc
        tables.withUnsafeBufferPointer { tables in
            @inline(__always) func entry(_ slice: Int, _ value: UInt64, _ shift: UInt64) -> UInt64 {
                tables[slice &* 256 &+ Int((value &>> shift) & 0xFF)]
            }
            var offset = 0
            while offset &+ 8 <= bytes.count {
                let word = crc ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                crc = entry(7, word, 0) ^ entry(6, word, 8) ^ entry(5, word, 16) ^ entry(4, word, 24)
                    ^ entry(3, word, 32) ^ entry(2, word, 40) ^ entry(1, word, 48) ^ entry(0, word, 56)
                offset &+= 8
            }
            while offset < bytes.count {
                crc = tables[Int(UInt8(truncatingIfNeeded: crc) ^ bytes[offset])] ^ (crc >> 8)
                offset &+= 1
            }
        }
        return crc
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { update(0, $0) } }
}
