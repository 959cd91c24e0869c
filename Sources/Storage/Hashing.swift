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
        return mix(h ^ tail(pointer, from: index, length) ^ p1, p0 ^ UInt64(length))
    }

    /// The bytes from `index` to `length` (fewer than 8) as a little-endian word, read with
    /// at most two overlapping loads rather than byte by byte.
    @inline(__always)
    static func tail(_ pointer: UnsafeRawPointer, from index: Int, _ length: Int) -> UInt64 {
        let remaining = length - index
        if remaining == 0 { return 0 }
        if length >= 8 {
            return read64(pointer + (length &- 8)) &>> UInt64(truncatingIfNeeded: 64 &- 8 &* remaining)
        }
        // A key shorter than 8 bytes: two loads that together cover it, the second shifted
        // to the place of its first byte (overlapping bytes are OR-ed onto themselves).
        if remaining >= 4 {
            return UInt64(pointer.loadUnaligned(as: UInt32.self))
                | UInt64(pointer.loadUnaligned(fromByteOffset: remaining &- 4, as: UInt32.self)) &<< UInt64(truncatingIfNeeded: 8 &* (remaining &- 4))
        }
        if remaining >= 2 {
            return UInt64(pointer.loadUnaligned(as: UInt16.self))
                | UInt64(pointer.loadUnaligned(fromByteOffset: remaining &- 2, as: UInt16.self)) &<< UInt64(truncatingIfNeeded: 8 &* (remaining &- 2))
        }
        return UInt64(pointer.load(as: UInt8.self))
    }
}

public enum HashSlot {
    public static let count = 16384

    /// CRC16-CCITT (XMODEM) tables for slicing-by-8: `tables[k][v]` is the register after
    /// feeding byte `v` followed by `k` zero bytes. Eight bytes then cost eight independent
    /// lookups instead of a chain of eight dependent ones (the shard of every key is hashed
    /// on the request path); the last few bytes go four and two at a time the same way.
    /// Built once and never freed.
    private static let tables: UnsafeMutablePointer<UInt16> = {
        let tables = UnsafeMutablePointer<UInt16>.allocate(capacity: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
            tables[byte] = crc
        }
        for k in 1..<8 {
            for byte in 0..<256 {
                let previous = tables[(k - 1) * 256 + byte]
                tables[k * 256 + byte] = (previous << 8) ^ tables[Int(previous >> 8)]
            }
        }
        return tables
    }()

    static func crc16(_ pointer: UnsafeRawPointer, _ length: Int) -> UInt16 {
        let t = tables
        @inline(__always) func lookup(_ k: Int, _ v: UInt64) -> UInt16 { t[k &* 256 &+ Int(truncatingIfNeeded: v & 0xFF)] }
        var crc: UInt16 = 0
        var index = 0
        while length - index >= 8 {
            // Bytes in memory order; the register meets the first two.
            let word = UInt64(bigEndian: pointer.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                ^ (UInt64(crc) << 48)
            crc = lookup(7, word >> 56) ^ lookup(6, word >> 48) ^ lookup(5, word >> 40) ^ lookup(4, word >> 32)
                ^ lookup(3, word >> 24) ^ lookup(2, word >> 16) ^ lookup(1, word >> 8) ^ lookup(0, word)
            index += 8
        }
        if length - index >= 4 {
            let word = UInt64(UInt32(bigEndian: pointer.loadUnaligned(fromByteOffset: index, as: UInt32.self)))
                ^ (UInt64(crc) << 16)
            crc = lookup(3, word >> 24) ^ lookup(2, word >> 16) ^ lookup(1, word >> 8) ^ lookup(0, word)
            index += 4
        }
        if length - index >= 2 {
            let word = UInt64(UInt16(bigEndian: pointer.loadUnaligned(fromByteOffset: index, as: UInt16.self))) ^ UInt64(crc)
            crc = lookup(1, word >> 8) ^ lookup(0, word)
            index += 2
        }
        if index < length {
            let byte = pointer.load(fromByteOffset: index, as: UInt8.self)
            crc = (crc << 8) ^ t[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    /// The cluster slot of `key`: CRC16 of the first non-empty `{...}` section, else of the key.
    public static func of(_ key: UnsafeRawBufferPointer) -> Int {
        guard let base = key.baseAddress else { return 0 }
        let n = key.count
        if let open = memchr(base, 123, n) {
            let tagStart = UnsafeRawPointer(open) + 1
            let remaining = n - (tagStart - base)
            if let close = memchr(tagStart, 125, remaining), UnsafeRawPointer(close) > tagStart {
                return Int(crc16(tagStart, UnsafeRawPointer(close) - tagStart) & 0x3FFF)
            }
        }
        return Int(crc16(base, n) & 0x3FFF)
    }
}
