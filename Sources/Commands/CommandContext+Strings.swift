// Reading and storing string values with Redis's encoding rules: canonical integers of up to
// 20 characters are stored as integers ("int"), other strings up to 44 bytes report "embstr"
// and longer or in-place-modified ones "raw". Shared by the string and generic families.
// Values longer than `value-compression-threshold` may be stored zlib-compressed (see
// `ValueCompression`); every read goes through `replyValue`/`withValueBytes`/`valueLength`,
// which decompress, so clients and the encoding names never see the difference.
#if canImport(Glibc)
import Glibc
#endif
import RESP
import Storage
import Support

public enum StringEncoding {
    /// SET/MSET/GETSET: try the integer form first (Redis's tryObjectEncoding).
    case automatic
    /// A freshly created string object (INCRBYFLOAT): embstr up to 44 bytes, else raw.
    case plain
    /// A string modified in place (APPEND, SETRANGE): always raw.
    case raw
}

/// A string value about to be stored, with its zlib stream when it is to be stored compressed.
struct PreparedString {
    let bytes: UnsafeRawBufferPointer
    /// A malloc'd buffer, freed by `release`.
    let compressed: UnsafeMutableRawBufferPointer?

    func release() {
        if let compressed { free(compressed.baseAddress) }
    }
}

extension CommandContext {
    static let embstrLimit = 44

    /// The stored form of `value` under `encoding`: payload and raw/embstr flag.
    private func storedForm(_ value: UnsafeRawBufferPointer, _ encoding: StringEncoding) -> (Entry.Payload, raw: Bool) {
        if encoding == .automatic, value.count <= 20, let integer = Numbers.parseInt64(value) {
            return (.integer(integer), false)
        }
        return (.bytes(value), encoding == .raw || value.count > CommandContext.embstrLimit)
    }

    /// `value` with its compressed form when value compression applies to it and pays off.
    /// SET and its relatives call this before taking the shard lock, so deflate runs outside it.
    func prepareString(_ value: UnsafeRawBufferPointer) -> PreparedString {
        let config = server.config
        guard config.valueCompression, value.count > config.valueCompressionThreshold else {
            return PreparedString(bytes: value, compressed: nil)
        }
        return PreparedString(bytes: value, compressed: ValueCompression.compress(value))
    }

    /// Stores a string value for `key` (shard locked), compressing it first when that applies.
    /// `isEdit`: the value is an edit of the old one (APPEND, SETRANGE, SETBIT, INCRBYFLOAT), so
    /// the key keeps its tags, and it is stored uncompressed: edits come in series (a bitmap, a
    /// growing log), and inflating and deflating the whole value on each would cost far more
    /// than it saves. A whole new value (SET, MSET...) drops the tags and may be compressed.
    func storeString(_ shard: Shard, key: UnsafeRawBufferPointer, hash: UInt64, replacing link: EntryLink?,
                     value: UnsafeRawBufferPointer, encoding: StringEncoding, expireAt: Int64?, isEdit: Bool = false) {
        let prepared = isEdit ? PreparedString(bytes: value, compressed: nil) : prepareString(value)
        defer { prepared.release() }
        storeString(shard, key: key, hash: hash, replacing: link, value: prepared, encoding: encoding, expireAt: expireAt,
                    keepTags: isEdit)
    }

    /// Stores a prepared string value for `key` (shard locked): its compressed form when it has
    /// one, else overwriting the existing entry in place when the layouts match, else replacing
    /// or inserting a new entry (raising "new"). Wakes a client waiting for the key's value in
    /// CACHE.GET. The caller raises the command's own key events.
    func storeString(_ shard: Shard, key: UnsafeRawBufferPointer, hash: UInt64, replacing link: EntryLink?,
                     value prepared: PreparedString, encoding: StringEncoding, expireAt: Int64?, keepTags: Bool = false) {
        signalStringWritten(key)
        if link == nil { notifyKeyspaceEvent(.newKey, "new", key) }
        let value = prepared.bytes
        if let stream = prepared.compressed {
            let raw = encoding == .raw || value.count > CommandContext.embstrLimit
            let entry = Entry.make(key: key, payload: .compressed(UnsafeRawBufferPointer(stream), originalLength: value.count),
                                   expireAt: expireAt, rawEncoding: raw, accessClock: server.initialAccessClock)
            return shard.store(db: session.db, entry, hash: hash, replacing: link, keepTags: keepTags)
        }
        let (payload, raw) = storedForm(value, encoding)
        if let link, Entry(link.pointee!).overwrite(with: payload, expireAt: expireAt, rawEncoding: raw,
                                                    accessClock: server.initialAccessClock) {
            if !keepTags { shard.dropTags(db: session.db, of: Entry(link.pointee!)) }
            shard.stats.dirty += 1
            return
        }
        let entry = Entry.make(key: key, payload: payload, expireAt: expireAt, rawEncoding: raw,
                               accessClock: server.initialAccessClock)
        shard.store(db: session.db, entry, hash: hash, replacing: link, keepTags: keepTags)
    }

    /// Stores an integer value (INCR family always yields the "int" encoding).
    func integerEntry(key: UnsafeRawBufferPointer, value: Int64, expireAt: Int64?) -> Entry {
        Entry.make(key: key, payload: .integer(value), expireAt: expireAt, rawEncoding: false,
                   accessClock: server.initialAccessClock)
    }

    /// Replies with a string entry's value as a bulk string (a compressed one is inflated
    /// straight into the output buffer).
    @inline(__always)
    func replyValue(_ entry: Entry) {
        if entry.kind == .integer {
            reply.bulk(decimal: entry.integer)
        } else if entry.isCompressed {
            let length = entry.stringLength
            reply.bulk(count: length) { entry.copyString(prefix: length, to: $0) }
        } else {
            reply.bulk(entry.plainStringBytes)
        }
    }

    /// Calls `body` with the value's bytes (integers rendered in decimal). With a `prefix`, a
    /// compressed value is inflated only that far, and `body` may get just those bytes.
    func withValueBytes<T>(_ entry: Entry, prefix: Int? = nil, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        if entry.kind == .integer {
            return Numbers.decimalBytes(entry.integer).withUnsafeBytes(body)
        }
        return entry.withStringBytes(prefix: prefix, body)
    }

    /// The value as a 64-bit integer, or nil when it is not one.
    func integerValue(_ entry: Entry) -> Int64? {
        entry.kind == .integer ? entry.integer : entry.withStringBytes(Numbers.parseInt64)
    }

    /// The value's length in bytes.
    func valueLength(_ entry: Entry) -> Int {
        entry.kind == .integer ? Numbers.decimalBytes(entry.integer).count : entry.stringLength
    }

    /// Whether the entry holds a string (rather than a collection).
    @inline(__always)
    static func holdsString(_ entry: Entry) -> Bool { !entry.kind.isCollection }

    /// True (after replying WRONGTYPE) when the entry does not hold a string.
    func rejectNonString(_ entry: Entry) -> Bool {
        if CommandContext.holdsString(entry) { return false }
        error(RedisError.wrongType)
        return true
    }
}

extension CommandContext {
    /// Edits the string value of `key` (a string or missing; shard locked) through `edit`,
    /// after padding it with zero bytes to at least `minimumLength`; `edit` learns whether the
    /// key was created or lengthened. As in Redis, the edited value is a raw string: edited in
    /// place when it already is one, uncompressed and long enough, else rebuilt with its TTL
    /// kept (and compressed again if that is still worth it). Writes are
    /// left for the caller to count, since SETBIT and BITFIELD count only actual changes.
    func editString<Result>(_ shard: Shard, key: UnsafeRawBufferPointer, hash: UInt64, link: EntryLink?,
                            minimumLength: Int,
                            _ edit: (UnsafeMutableRawBufferPointer, _ grown: Bool) -> Result) -> Result {
        let existing = link.map { Entry($0.pointee!) }
        if let existing, existing.kind == .string, existing.flags.contains(.rawEncoding), !existing.isCompressed,
           existing.stringLength >= minimumLength {
            recordAccess(existing)
            return edit(existing.mutablePlainStringBytes, false)
        }
        let oldLength = existing.map(valueLength) ?? 0
        let grown = existing == nil || oldLength < minimumLength
        let length = max(oldLength, minimumLength)
        // calloc: the padding is zero already, and huge paddings come as fresh zero pages.
        let value = UnsafeMutableRawBufferPointer(start: calloc(max(length, 1), 1)!, count: length)
        defer { free(value.baseAddress) }
        if let existing { withValueBytes(existing) { old in value.copyMemory(from: old) } }
        let result = edit(value, grown)
        let writesBefore = shard.stats.dirty
        storeString(shard, key: key, hash: hash, replacing: link, value: UnsafeRawBufferPointer(value), encoding: .raw,
                    expireAt: existing?.expireAt, isEdit: true)
        shard.stats.dirty = writesBefore
        return result
    }

    /// Sets or clears the expire time of the entry at `link`. The entry is rebuilt when the
    /// presence of an expire time changes (it changes the layout), else updated in place.
    func setExpire(_ shard: Shard, link: EntryLink, hash: UInt64, expireAt: Int64?) {
        let entry = Entry(link.pointee!)
        if let expireAt, entry.hasExpire {
            entry.updateExpire(expireAt)
            shard.stats.dirty += 1
            return
        }
        if expireAt == nil && !entry.hasExpire { return }
        shard.store(db: session.db, entry.copy(key: entry.key, expireAt: expireAt), hash: hash, replacing: link, keepTags: true)
    }
}
