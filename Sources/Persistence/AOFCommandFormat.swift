// The RESP base file of an AOF rewrite with `aof-use-rdb-preamble no`, the commands Redis
// 7.0.15's rewriteAppendOnlyFileRio writes: FUNCTION LOAD for each library first, SELECT at
// each change of database, then per key SET (integers in decimal), or RPUSH / SADD / ZADD /
// HMSET with at most 64 items per command (ZADD scores as "%.17g"), followed by PEXPIREAT
// when the key has an expire. No checksum and no trailer: the file ends after the last key.
// DIVERGENCE: Redis writes one SELECT per database; keys arrive in batches from the snapshot's
// walk and from writers that touched them first, so SELECT repeats whenever the database
// changes. Redis's
// aof-timestamp-enabled annotation is not written (Swiftlet has no such setting).
import RESP
import Storage
import Support

struct AOFCommandFormat: SnapshotFormat {
    /// Redis's AOF_REWRITE_ITEMS_PER_CMD.
    static let itemsPerCommand = 64

    private let functionCodes: [[UInt8]]

    init(functionCodes: [[UInt8]]) { self.functionCodes = functionCodes }

    var checksummed: Bool { false }

    private enum Name {
        static let function = Array("FUNCTION".utf8), load = Array("LOAD".utf8), select = Array("SELECT".utf8)
        static let set = Array("SET".utf8), rpush = Array("RPUSH".utf8), sadd = Array("SADD".utf8)
        static let zadd = Array("ZADD".utf8), hmset = Array("HMSET".utf8), pexpireat = Array("PEXPIREAT".utf8)
    }

    /// The RESP that `body` writes, as bytes.
    private func collect(capacity: Int = 16 * 1024, _ body: (inout ReplyWriter) -> Void) -> [UInt8] {
        var out = ReplyWriter(capacity: capacity)
        defer { out.deallocate() }
        body(&out)
        return Array(UnsafeRawBufferPointer(start: out.buffer.base, count: out.buffer.count))
    }

    func preamble() -> [UInt8] {
        collect { out in
            for code in functionCodes {
                out.arrayHeader(3)
                out.bulk(Name.function)
                out.bulk(Name.load)
                out.bulk(code)
            }
        }
    }

    func databaseSwitch(to db: Int, firstTime: Bool, keys: Int, volatile: Int) -> [UInt8] {
        collect(capacity: 64) { out in
            out.arrayHeader(2)
            out.bulk(Name.select)
            out.bulk(decimal: Int64(db))
        }
    }

    func serialize(_ entries: ((Entry) -> Void) -> Void, appendingTo bytes: inout [UInt8]) {
        bytes += collect(capacity: 1024) { out in entries { append($0, to: &out) } }
    }

    func finish(_ file: SnapshotFileSink) throws {}

    private func append(_ entry: Entry, to out: inout ReplyWriter) {
        let key = entry.key
        switch entry.kind {
        case .string:
            out.arrayHeader(3)
            out.bulk(Name.set)
            out.bulk(key)
            entry.withStringBytes { out.bulk($0) }
        case .integer:
            out.arrayHeader(3)
            out.bulk(Name.set)
            out.bulk(key)
            out.bulk(decimal: entry.integer)
        case .list:
            let list = entry.collection(as: ListValue.self)
            var batch = Batch(command: Name.rpush, key: key, items: list.count, width: 1)
            list.forEach(from: 0, length: list.count) { element in
                batch.next(&out)
                out.bulk(element)
            }
        case .set:
            let set = entry.collection(as: SetValue.self)
            var batch = Batch(command: Name.sadd, key: key, items: set.count, width: 1)
            set.forEach { member in
                batch.next(&out)
                out.bulk(member)
            }
        case .zset:
            let zset = entry.collection(as: ZSetValue.self)
            var batch = Batch(command: Name.zadd, key: key, items: zset.count, width: 2)
            zset.forEach(ranks: 0..<zset.count, reverse: false) { member, score in
                batch.next(&out)
                out.bulk(Numbers.formatDouble(score))
                out.bulk(member)
            }
        case .hash:
            let hash = entry.collection(as: HashValue.self)
            var batch = Batch(command: Name.hmset, key: key, items: hash.count, width: 2)
            hash.forEach { field, value in
                batch.next(&out)
                out.bulk(field)
                out.bulk(value)
            }
        }
        if let expireAt = entry.expireAt {
            out.arrayHeader(3)
            out.bulk(Name.pexpireat)
            out.bulk(key)
            out.bulk(decimal: expireAt)
        }
    }

    /// A collection written as one variadic command per `itemsPerCommand` items, each item
    /// `width` arguments: `next` starts a new command (array header, name, key) when due.
    private struct Batch {
        let command: [UInt8]
        let key: UnsafeRawBufferPointer
        var remaining: Int
        let width: Int
        var inCommand = 0

        init(command: [UInt8], key: UnsafeRawBufferPointer, items: Int, width: Int) {
            self.command = command
            self.key = key
            self.remaining = items
            self.width = width
        }

        mutating func next(_ out: inout ReplyWriter) {
            if inCommand == 0 {
                out.arrayHeader(2 + min(remaining, AOFCommandFormat.itemsPerCommand) * width)
                out.bulk(command)
                out.bulk(key)
            }
            inCommand = (inCommand + 1) % AOFCommandFormat.itemsPerCommand
            remaining -= 1
        }
    }
}
