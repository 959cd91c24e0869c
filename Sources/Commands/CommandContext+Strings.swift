// Reading and storing string values with Redis's encoding rules: canonical integers of up to
// 20 characters are stored as integers ("int"), other strings up to 44 bytes report "embstr"
// and longer or in-place-modified ones "raw". Shared by the string and generic families.
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

extension CommandContext {
    static let embstrLimit = 44

    /// Builds an entry for `key` holding `value`.
    func stringEntry(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                     encoding: StringEncoding, expireAt: Int64?) -> Entry {
        if encoding == .automatic, value.count <= 20, let integer = Numbers.parseInt64(value) {
            return Entry.make(key: key, payload: .integer(integer), expireAt: expireAt,
                              rawEncoding: false, accessClock: server.lruClock)
        }
        let raw = encoding == .raw || value.count > CommandContext.embstrLimit
        return Entry.make(key: key, payload: .bytes(value), expireAt: expireAt,
                          rawEncoding: raw, accessClock: server.lruClock)
    }

    /// Stores an integer value (INCR family always yields the "int" encoding).
    func integerEntry(key: UnsafeRawBufferPointer, value: Int64, expireAt: Int64?) -> Entry {
        Entry.make(key: key, payload: .integer(value), expireAt: expireAt, rawEncoding: false,
                   accessClock: server.lruClock)
    }

    /// Replies with a string entry's value as a bulk string.
    @inline(__always)
    func replyValue(_ entry: Entry) {
        if entry.kind == .integer {
            reply.bulk(decimal: entry.integer)
        } else {
            reply.bulk(entry.stringBytes)
        }
    }

    /// Calls `body` with the value's bytes (integers rendered in decimal).
    func withValueBytes<T>(_ entry: Entry, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        if entry.kind == .integer {
            return Numbers.decimalBytes(entry.integer).withUnsafeBytes(body)
        }
        return body(entry.stringBytes)
    }

    /// The value as a 64-bit integer, or nil when it is not one.
    func integerValue(_ entry: Entry) -> Int64? {
        entry.kind == .integer ? entry.integer : Numbers.parseInt64(entry.stringBytes)
    }

    /// The value's length in bytes.
    func valueLength(_ entry: Entry) -> Int {
        entry.kind == .integer ? Numbers.decimalBytes(entry.integer).count : entry.stringBytes.count
    }

    /// True (after replying WRONGTYPE) when the entry does not hold a string.
    func rejectNonString(_ entry: Entry) -> Bool {
        switch entry.kind {
        case .string, .integer: return false
        }
    }
}

extension CommandContext {
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
        shard.store(db: session.db, entry.copy(key: entry.key, expireAt: expireAt), hash: hash, replacing: link)
    }
}
