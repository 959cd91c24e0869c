// One value in RDB form, shared by snapshot files and DUMP/RESTORE: the type byte and the
// serialized value as Redis 7.0 writes them (strings, QUICKLIST_2 lists of listpacks,
// INTSET or SET sets, LISTPACK or HASH hashes, ZSET_LISTPACK or ZSET_2 sorted sets), and the
// reader for every type Redis 7.0 loads, older ziplist/zipmap/quicklist ones included. Loaded
// collections take the encoding Redis's loader would give them under the current limits.
import Storage
import Support

/// The encoding thresholds (CONFIG values) a loaded collection is built under.
public struct EncodingLimits {
    public var hashMaxListpackEntries = 128
    public var hashMaxListpackValue = 64
    public var setMaxIntsetEntries = 512
    public var zsetMaxListpackEntries = 128
    public var zsetMaxListpackValue = 64
    public var listFill = -2

    public init() {}
}

/// A value read from RDB form, before it becomes an entry.
public enum LoadedValue {
    case string([UInt8])
    case collection(CollectionObject)
}

public enum ValueCodec {
    static let embstrLimit = 44

    // MARK: Writing

    /// Appends the type byte and the serialized value of `entry`.
    public static func append(_ entry: Entry, to out: inout RDBOutput) {
        out.append(rdbType(of: entry).rawValue)
        appendValue(of: entry, to: &out)
    }

    /// The RDB type `entry` is written as (its type and encoding).
    public static func rdbType(of entry: Entry) -> RDBType {
        switch entry.kind {
        case .string, .integer: return .string
        case .list: return .listQuicklist2
        case .set: return entry.collection(as: SetValue.self).isIntset ? .setIntset : .set
        case .zset: return entry.collection(as: ZSetValue.self).isListpack ? .zsetListpack : .zset2
        case .hash: return entry.collection(as: HashValue.self).isListpack ? .hashListpack : .hash
        }
    }

    /// Appends the serialized value of `entry` (what follows the type byte and, in a file,
    /// the key).
    public static func appendValue(of entry: Entry, to out: inout RDBOutput) {
        switch entry.kind {
        case .string: entry.withStringBytes { out.appendString($0) }
        case .integer: out.appendInteger(entry.integer)
        case .list: appendList(entry.collection(as: ListValue.self), to: &out)
        case .set: appendSet(entry.collection(as: SetValue.self), to: &out)
        case .zset: appendZSet(entry.collection(as: ZSetValue.self), to: &out)
        case .hash: appendHash(entry.collection(as: HashValue.self), to: &out)
        }
    }

    private static let packedContainer = 2

    private static func appendList(_ list: ListValue, to out: inout RDBOutput) {
        var nodes = 0
        list.forEachNode { _ in nodes += 1 }
        out.appendLength(nodes)
        list.forEachNode { node in
            out.appendLength(packedContainer)
            out.appendString(RedisListpack.encode(node.count) { visit in node.forEach { visit($1); return true } })
        }
    }

    private static func appendSet(_ set: SetValue, to out: inout RDBOutput) {
        if let integers = set.intsetMembers {
            out.appendString(LegacyEncodings.intsetBlob(width: integers.width, count: integers.count) { integers.value(at: $0) })
            return
        }
        out.appendLength(set.count)
        set.forEach { out.appendString($0) }
    }

    private static func appendZSet(_ zset: ZSetValue, to out: inout RDBOutput) {
        if zset.isListpack {
            out.appendString(RedisListpack.encode(zset.count * 2) { visit in
                zset.forEach(ranks: 0..<zset.count, reverse: false) { member, score in
                    visit(member)
                    scoreText(score).withUnsafeBytes { visit($0) }
                }
            })
            return
        }
        // Highest first, as Redis writes it, so its loader inserts at the head each time.
        out.appendLength(zset.count)
        zset.forEach(ranks: 0..<zset.count, reverse: true) { member, score in
            out.appendString(member)
            out.appendBinaryDouble(score)
        }
    }

    /// A score as Redis's d2string writes it into a listpack: integral values in ±2^52 as
    /// integers, others with 17 significant digits.
    static func scoreText(_ score: Double) -> [UInt8] {
        if score.isInfinite { return Array((score > 0 ? "inf" : "-inf").utf8) }
        if score == 0 { return Array((score.sign == .minus ? "-0" : "0").utf8) }
        if score > -4_503_599_627_370_495 && score < 4_503_599_627_370_496 && score == score.rounded(.towardZero) {
            return Numbers.decimalBytes(Int64(score))
        }
        return Numbers.formatDouble(score)
    }

    private static func appendHash(_ hash: HashValue, to out: inout RDBOutput) {
        if hash.isListpack {
            out.appendString(RedisListpack.encode(hash.count * 2) { visit in
                hash.forEach { field, value in
                    visit(field)
                    visit(value)
                }
            })
            return
        }
        out.appendLength(hash.count)
        hash.forEach { field, value in
            out.appendString(field)
            out.appendString(value)
        }
    }

    // MARK: Reading

    /// Whether `type` is a value type this reader knows.
    public static func isValueType(_ type: UInt8) -> Bool { RDBType(rawValue: type) != nil }

    /// Reads a value of RDB type `type`; nil for an empty collection (Redis skips those keys).
    public static func read(type: UInt8, from input: inout RDBInput, limits: EncodingLimits) throws -> LoadedValue? {
        guard let type = RDBType(rawValue: type) else { throw RDBError.corrupt("Unknown RDB encoding type \(type)") }
        switch type {
        case .string:
            return .string(try input.readString())
        case .list:
            let count = try input.readCount()
            var elements: [[UInt8]] = []
            for _ in 0..<count { elements.append(try input.readString()) }
            return makeList(elements, limits: limits)
        case .listZiplist:
            return makeList(try LegacyEncodings.ziplistElements(try input.readString()), limits: limits)
        case .listQuicklist, .listQuicklist2:
            let nodes = try input.readCount()
            var elements: [[UInt8]] = []
            for _ in 0..<nodes {
                let container = type == .listQuicklist2 ? try input.readLength() : packedContainer
                let blob = try input.readString()
                if type == .listQuicklist {
                    elements += try LegacyEncodings.ziplistElements(blob)
                } else if container == packedContainer {
                    elements += try RedisListpack.elements(blob)
                } else {
                    elements.append(blob)
                }
            }
            return makeList(elements, limits: limits)
        case .set:
            let count = try input.readCount()
            var members: [[UInt8]] = []
            for _ in 0..<count { members.append(try input.readString()) }
            return makeSet(members.lazy.map { ($0, Numbers.parseInt64($0)) }, limits: limits)
        case .setIntset:
            let values = try LegacyEncodings.intsetValues(try input.readString())
            return makeSet(values.lazy.map { (Numbers.decimalBytes($0), $0) }, limits: limits)
        case .zset, .zset2:
            let count = try input.readCount()
            var pairs: [([UInt8], Double)] = []
            for _ in 0..<count {
                let member = try input.readString()
                let score = type == .zset2 ? try input.readBinaryDouble() : try input.readTextDouble()
                guard !score.isNaN else { throw RDBError.corrupt("Zset with NAN score detected") }
                pairs.append((member, score))
            }
            return try makeZSet(pairs, fromCompactForm: false, limits: limits)
        case .zsetZiplist, .zsetListpack:
            let blob = try input.readString()
            let flat = type == .zsetListpack ? try RedisListpack.elements(blob) : try LegacyEncodings.ziplistElements(blob)
            guard flat.count % 2 == 0 else { throw RDBError.corrupt("Zset listpack integrity check failed.") }
            var pairs: [([UInt8], Double)] = []
            for index in stride(from: 0, to: flat.count, by: 2) {
                guard let score = Double(String(decoding: flat[index + 1], as: UTF8.self)), !score.isNaN else {
                    throw RDBError.corrupt("Zset listpack integrity check failed.")
                }
                pairs.append((flat[index], score))
            }
            return try makeZSet(pairs, fromCompactForm: true, limits: limits)
        case .hash:
            let count = try input.readCount()
            var flat: [[UInt8]] = []
            for _ in 0..<count * 2 { flat.append(try input.readString()) }
            return makeHash(flat, fromCompactForm: false, limits: limits)
        case .hashZipmap, .hashZiplist, .hashListpack:
            let blob = try input.readString()
            let flat: [[UInt8]]
            switch type {
            case .hashZipmap: flat = try LegacyEncodings.zipmapPairs(blob)
            case .hashZiplist: flat = try LegacyEncodings.ziplistElements(blob)
            default: flat = try RedisListpack.elements(blob)
            }
            guard flat.count % 2 == 0 else { throw RDBError.corrupt("Hash listpack integrity check failed.") }
            // Zipmaps were never kept as such: Redis converts them under the value limit too.
            return makeHash(flat, fromCompactForm: type != .hashZipmap, limits: limits)
        }
    }

    private static func makeList(_ elements: [[UInt8]], limits: EncodingLimits) -> LoadedValue? {
        guard !elements.isEmpty else { return nil }
        let list = ListValue(fill: limits.listFill)
        for element in elements { element.withUnsafeBytes { list.pushBack($0) } }
        return .collection(list)
    }

    private static func makeSet<Members: Sequence>(_ members: Members, limits: EncodingLimits) -> LoadedValue?
    where Members.Element == ([UInt8], Int64?) {
        let set = SetValue()
        for (member, integer) in members {
            member.withUnsafeBytes { _ = set.add($0, integer: integer, maxIntsetEntries: limits.setMaxIntsetEntries) }
        }
        return set.count == 0 ? nil : .collection(set)
    }

    /// Compact forms (listpack, ziplist) stay compact unless they hold too many elements;
    /// element-wise forms are converted to compact when they fit, as Redis's loader does.
    private static func makeZSet(_ pairs: [([UInt8], Double)], fromCompactForm: Bool, limits: EncodingLimits) throws -> LoadedValue? {
        guard !pairs.isEmpty else { return nil }
        let longest = fromCompactForm ? 0 : pairs.reduce(0) { max($0, $1.0.count) }
        let zset = ZSetValue(sizeHint: pairs.count, longestMember: longest,
                             maxListpackEntries: limits.zsetMaxListpackEntries, maxListpackValue: limits.zsetMaxListpackValue)
        let maxValue = fromCompactForm ? Int.max : limits.zsetMaxListpackValue
        for (member, score) in pairs {
            try member.withUnsafeBytes {
                guard zset.score(of: $0) == nil else { throw RDBError.corrupt("Duplicate zset fields detected") }
                zset.insert($0, score: score, maxListpackEntries: limits.zsetMaxListpackEntries, maxListpackValue: maxValue)
            }
        }
        return .collection(zset)
    }

    private static func makeHash(_ flat: [[UInt8]], fromCompactForm: Bool, limits: EncodingLimits) -> LoadedValue? {
        guard !flat.isEmpty else { return nil }
        let hash = HashValue()
        if !fromCompactForm && flat.count / 2 > limits.hashMaxListpackEntries { hash.convertToHashtable() }
        let maxValue = fromCompactForm ? Int.max : limits.hashMaxListpackValue
        for index in stride(from: 0, to: flat.count, by: 2) {
            flat[index].withUnsafeBytes { field in
                flat[index + 1].withUnsafeBytes { value in
                    _ = hash.set(field, value, maxEntries: limits.hashMaxListpackEntries, maxValue: maxValue)
                }
            }
        }
        return .collection(hash)
    }

    /// An entry for `key` holding `value`, strings stored under Redis's rules for a loaded
    /// string (canonical integers of up to 20 characters as integers, embstr up to 44 bytes).
    public static func makeEntry(key: UnsafeRawBufferPointer, value: LoadedValue, expireAt: Int64?, accessClock: UInt32) -> Entry {
        switch value {
        case .collection(let object):
            return Entry.make(key: key, payload: .collection(object), expireAt: expireAt, rawEncoding: false, accessClock: accessClock)
        case .string(let bytes):
            return bytes.withUnsafeBytes { raw in
                if raw.count <= 20, let integer = Numbers.parseInt64(raw) {
                    return Entry.make(key: key, payload: .integer(integer), expireAt: expireAt, rawEncoding: false, accessClock: accessClock)
                }
                return Entry.make(key: key, payload: .bytes(raw), expireAt: expireAt, rawEncoding: raw.count > embstrLimit,
                                  accessClock: accessClock)
            }
        }
    }
}
