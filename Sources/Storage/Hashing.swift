// Key hashing. `KeyHash.hash` is a fast seeded 64-bit hash (multiply-mix over 8-byte words,
// random seed per process) that picks a key's bucket: the seed keeps hash flooding from
// degrading chains. `HashSlot.of` is Redis Cluster's CRC16 slot with {hash tag} support,
// which picks a key's shard so keys sharing a tag share a lock.
#if canImport(Glibc)
import Glibc
#endif
import CSystem

public enum KeyHash {
    public static let seed: UInt64 = {
        var seed: UInt64 = 0
        withUnsafeMutableBytes(of: &seed) { _ = getrandom($0.baseAddress, 8, 0) }
        return seed | 1
    }()

    @inline(__always)
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }

    @inlinable @inline(__always)
    static func read64(_ p: UnsafeRawPointer) -> UInt64 { p.loadUnaligned(as: UInt64.self) }

    public static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        hash(key.baseAddress, key.count)
    }

    public static func hash(_ pointer: UnsafeRawPointer?, _ length: Int) -> UInt64 {
        let p0: UInt64 = 0xa076_1d64_78bd_642f, p1: UInt64 = 0xe703_7ed1_a0b4_28db
        var h = seed ^ mix(UInt64(length) ^ p0, p1)
        guard let pointer else { return mix(h, p0) }
        var index = 0
        while length - index >= 16 {
            h = mix(read64(pointer + index) ^ p0 ^ h, read64(pointer + index + 8) ^ p1)
            index += 16
        }
        if length - index >= 8 {
            h = mix(read64(pointer + index) ^ p0, h ^ p1)
            index += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while index < length {
            tail |= UInt64(pointer.load(fromByteOffset: index, as: UInt8.self)) << shift
            shift += 8
            index += 1
        }
        return mix(h ^ tail ^ p1, p0 ^ UInt64(length))
    }
}

public enum HashSlot {
    public static let count = 16384

    /// CRC16-CCITT (XMODEM) lookup table, built once and never freed.
    private static let table: UnsafeMutablePointer<UInt16> = {
        let table = UnsafeMutablePointer<UInt16>.allocate(capacity: 256)
        for byte in 0..<256 {
            var crc = UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
            table[byte] = crc
        }
        return table
    }()

    static func crc16(_ pointer: UnsafeRawPointer, _ length: Int) -> UInt16 {
        let t = table
        var crc: UInt16 = 0
        for i in 0..<length {
            let byte = pointer.load(fromByteOffset: i, as: UInt8.self)
            crc = (crc << 8) ^ t[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    /// The cluster slot of `key`: CRC16 of the first non-empty `{...}` section, else of the key.
    public static func of(_ key: UnsafeRawBufferPointer) -> Int {
        guard let base = key.baseAddress else { return 0 }
        let n = key.count
        if let open = key.firstIndex(of: 123) {
            var close = open + 1
            while close < n && key[close] != 125 { close += 1 }
            if close < n && close > open + 1 {
                return Int(crc16(base + open + 1, close - open - 1) & 0x3FFF)
            }
        }
        return Int(crc16(base, n) & 0x3FFF)
    }
}
