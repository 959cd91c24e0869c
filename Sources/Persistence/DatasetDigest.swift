// Redis's DEBUG DIGEST and DEBUG DIGEST-VALUE, computed the same way so that equal datasets
// give equal digests on Swiftlet and Redis: SHA-1 based, order-preserving ("mix") for lists
// and for the parts of one key, order-free (xor) across keys, set members and hash or
// sorted-set elements, with a marker for keys that have an expire time.
import Storage
import Support

public enum DatasetDigest {
    public typealias Digest = [UInt8]

    private static func xor(_ digest: inout Digest, _ bytes: UnsafeRawBufferPointer) {
        let hash = SHA1.hash(bytes)
        for index in 0..<20 { digest[index] ^= hash[index] }
    }

    private static func mix(_ digest: inout Digest, _ bytes: UnsafeRawBufferPointer) {
        xor(&digest, bytes)
        digest = digest.withUnsafeBytes { SHA1.hash($0) }
    }

    private static func mix(_ digest: inout Digest, _ bytes: [UInt8]) { bytes.withUnsafeBytes { mix(&digest, $0) } }

    /// Redis's object type numbers.
    private static func typeNumber(_ kind: ValueKind) -> UInt32 {
        switch kind {
        case .string, .integer: return 0
        case .list: return 1
        case .set: return 2
        case .zset: return 3
        case .hash: return 4
        }
    }

    /// The digest of one value (DEBUG DIGEST-VALUE), mixed into `digest`.
    public static func mixValue(_ entry: Entry, into digest: inout Digest) {
        withUnsafeBytes(of: typeNumber(entry.kind).bigEndian) { mix(&digest, $0) }
        switch entry.kind {
        case .string: entry.withStringBytes { mix(&digest, $0) }
        case .integer: mix(&digest, Numbers.decimalBytes(entry.integer))
        case .list:
            entry.collection(as: ListValue.self).walk(fromTail: false) { _, element in
                mix(&digest, element)
                return true
            }
        case .set:
            entry.collection(as: SetValue.self).forEach { xor(&digest, $0) }
        case .zset:
            let zset = entry.collection(as: ZSetValue.self)
            zset.forEach(ranks: 0..<zset.count, reverse: false) { member, score in
                var element = Digest(repeating: 0, count: 20)
                mix(&element, member)
                mix(&element, Numbers.formatDouble(score))
                element.withUnsafeBytes { xor(&digest, $0) }
            }
        case .hash:
            entry.collection(as: HashValue.self).forEach { field, value in
                var element = Digest(repeating: 0, count: 20)
                mix(&element, field)
                mix(&element, value)
                element.withUnsafeBytes { xor(&digest, $0) }
            }
        }
        if entry.hasExpire { Array("!!expire!!".utf8).withUnsafeBytes { xor(&digest, $0) } }
    }

    /// DEBUG DIGEST-VALUE of one key (without its name).
    public static func value(_ entry: Entry) -> Digest {
        var digest = Digest(repeating: 0, count: 20)
        mixValue(entry, into: &digest)
        return digest
    }

    /// DEBUG DIGEST of the whole keyspace; the caller holds every shard lock.
    public static func dataset(_ keyspace: Keyspace) -> Digest {
        var final = Digest(repeating: 0, count: 20)
        for db in 0..<keyspace.databaseCount where keyspace.shards.contains(where: { $0.dicts[db].count > 0 }) {
            withUnsafeBytes(of: UInt32(db).bigEndian) { mix(&final, $0) }
            for shard in keyspace.shards {
                shard.dicts[db].forEach { entry in
                    var digest = Digest(repeating: 0, count: 20)
                    mix(&digest, entry.key)
                    mixValue(entry, into: &digest)
                    digest.withUnsafeBytes { xor(&final, $0) }
                }
            }
        }
        return final
    }

    /// Lower-case hex, as DEBUG DIGEST replies.
    public static func hex(_ digest: Digest) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: digest.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }
}
