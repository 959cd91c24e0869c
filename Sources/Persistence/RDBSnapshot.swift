// A point-in-time RDB snapshot of the keyspace without fork (ARCHITECTURE §6). `begin` locks
// every shard briefly, records each database's key counts and arms every shard's
// `pendingCapture`; from then on the first thread to lock a shard (a writer about to modify
// it, or the snapshot itself walking the shards) serializes that shard as it stands, so every
// shard is saved as it was at the start while writers keep running. `write` writes the
// serialized shards in the order they were captured and drops each once written, capturing
// the next shard itself only when no writer has handed it one: memory grows by the
// serialized bytes waiting for the file, never by a copy of the dataset, even when random
// writes capture every shard at once.
#if canImport(Glibc)
import Glibc
#endif
import Storage
import Support

/// What the RDB file says about a key's access pattern, per the maxmemory policy.
public enum AccessRecord {
    case none
    /// Seconds since the last access (LRU policies).
    case idle(UInt64)
    /// The LFU counter (LFU policies).
    case frequency(UInt8)
}

public final class RDBSnapshot: ShardCapture {
    public struct Options {
        public var compression = true
        public var checksum = true
        /// Aux fields after `redis-ver`/`redis-bits`, in order (ctime, used-mem, repl-id...).
        public var auxFields: [(String, String)] = []
        /// The function libraries' code, saved after the aux fields as Redis does.
        public var functionCodes: [[UInt8]] = []
        public var access: (Entry) -> AccessRecord = { _ in .none }
        /// Microseconds to sleep per key written (`rdb-key-save-delay`, to make saves slow in tests).
        public var keySaveDelay = 0
        public init() {}
    }

    private let keyspace: Keyspace
    private let options: Options
    private var shardIndexes: [ObjectIdentifier: Int] = [:]
    /// A captured shard's serialized keys per database (nil where it has none).
    private typealias Piece = [(output: RDBOutput, keys: Int)?]
    /// Captured shards not yet written, oldest first, filled by `capture` (under that
    /// shard's lock) and emptied by `write`; guarded by `mutex`, like `captured`.
    private var waiting: [Piece] = []
    private var captured: [Bool]
    private var keyCounts: [(keys: Int, volatile: Int)] = []
    /// Set when the snapshot is cancelled or its write fails: shards not yet captured are
    /// then skipped and the write stops.
    private var abandoned = false
    private var mutex = pthread_mutex_t()

    public init(keyspace: Keyspace, options: Options) {
        self.keyspace = keyspace
        self.options = options
        captured = Array(repeating: false, count: keyspace.shardCount)
        for (index, shard) in keyspace.shards.enumerated() { shardIndexes[ObjectIdentifier(shard)] = index }
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    /// Fixes the point in time: counts the keys and arms every shard's capture; `atPointInTime`
    /// runs with every shard locked (to read counters that must match the snapshot).
    public func begin(_ atPointInTime: () -> Void = {}) {
        keyspace.withAllShardsLocked {
            atPointInTime()
            keyCounts = (0..<keyspace.databaseCount).map { db in
                keyspace.shards.reduce((0, 0)) { ($0.0 + $1.dicts[db].count, $0.1 + $1.dicts[db].volatileCount) }
            }
            for shard in keyspace.shards { shard.pendingCapture = self }
        }
    }

    /// Serializes `shard` (locked by the caller) as it stands.
    public func capture(_ shard: Shard) {
        guard !abandoned, let index = shardIndexes[ObjectIdentifier(shard)] else { return }
        var piece: Piece = []
        for db in 0..<shard.databaseCount {
            guard shard.dicts[db].count > 0 else {
                piece.append(nil)
                continue
            }
            var out = RDBOutput(compression: options.compression)
            shard.dicts[db].forEach { entry in append(entry, to: &out) }
            piece.append((out, shard.dicts[db].count))
        }
        pthread_mutex_lock(&mutex)
        waiting.append(piece)
        captured[index] = true
        pthread_mutex_unlock(&mutex)
    }

    private func append(_ entry: Entry, to out: inout RDBOutput) {
        if let expireAt = entry.expireAt {
            out.append(RDBOpcode.expireTimeMs)
            out.appendLittleEndian(expireAt)
        }
        switch options.access(entry) {
        case .none: break
        case .idle(let seconds):
            out.append(RDBOpcode.idle)
            out.appendLength(Int(seconds))
        case .frequency(let counter):
            out.append(RDBOpcode.freq)
            out.append(counter)
        }
        out.append(ValueCodec.rdbType(of: entry).rawValue)
        out.appendString(entry.key)
        ValueCodec.appendValue(of: entry, to: &out)
    }

    /// The oldest captured shard not yet written; when writers have handed over none, the
    /// snapshot captures the next shard nobody has (`nextShard` walks them in order). Nil once
    /// every shard has been taken or the snapshot was abandoned.
    private func takePiece(nextShard: inout Int) -> Piece? {
        while !abandoned {
            pthread_mutex_lock(&mutex)
            if !waiting.isEmpty {
                let piece = waiting.removeFirst()
                pthread_mutex_unlock(&mutex)
                return piece
            }
            while nextShard < captured.count && captured[nextShard] { nextShard += 1 }
            pthread_mutex_unlock(&mutex)
            guard nextShard < captured.count else { return nil }
            // Locking hands the shard to `capture` unless a writer got there first.
            keyspace.shards[nextShard].withLock {}
        }
        return nil
    }

    /// Writes the snapshot to `path` through a temporary file in the same directory, fsynced
    /// and renamed into place, then fsyncs the directory. Returns the file's size.
    @discardableResult
    public func write(to path: String) throws -> Int {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let temporary = (directory.isEmpty ? "" : directory + "/") + "temp-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).rdb"
        let file = try RDBFileSink(path: temporary)
        do {
            try writeBody(to: file)
            try file.finish()
        } catch {
            file.abandon()
            unlink(temporary)
            disarm()
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let reason = RDBFileSink.errnoText()
            unlink(temporary)
            throw RDBError.io("Error moving temp DB file \(temporary) on the final destination \(path) (in server root dir \(directory)): \(reason)")
        }
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
        return file.written
    }

    /// Drops a snapshot that began but will not be written, releasing the shards it armed.
    public func abandon() { disarm() }

    /// Stops a running `write` (FLUSHALL aborting a background save); it throws `.aborted`.
    public func cancel() { abandoned = true }

    /// Releases shards a failed snapshot never reached.
    private func disarm() {
        abandoned = true
        keyspace.withAllShardsLocked {}
    }

    /// The `keySaveDelay` for `keys` keys, in slices that notice a cancellation.
    private func pause(keys: Int) throws {
        guard options.keySaveDelay > 0 else { return }
        var remaining = options.keySaveDelay * keys
        while remaining > 0 {
            guard !abandoned else { throw RDBError.aborted }
            let slice = min(remaining, 10_000)
            usleep(UInt32(slice))
            remaining -= slice
        }
    }

    /// "REDIS" and the version in four digits.
    static let magic: [UInt8] = {
        let digits = String(rdbVersion)
        return Array(("REDIS" + String(repeating: "0", count: 4 - digits.count) + digits).utf8)
    }()

    private func writeBody(to file: RDBFileSink) throws {
        var header = RDBOutput(compression: false)
        header.bytes.append(contentsOf: RDBSnapshot.magic)
        for (name, value) in [("redis-ver", "7.0.15"), ("redis-bits", "64")] + options.auxFields {
            header.append(RDBOpcode.aux)
            header.appendString(name)
            header.appendString(value)
        }
        try file.write(header.bytes)
        var functions = RDBOutput(compression: options.compression)
        for code in options.functionCodes {
            functions.append(RDBOpcode.function2)
            functions.appendString(code)
        }
        try file.write(functions.bytes)
        // Shards arrive in capture order, each with keys of several databases: SELECTDB
        // whenever the database changes, RESIZEDB the first time each one appears.
        var currentDB = -1
        var announced = Array(repeating: false, count: keyspace.databaseCount)
        var nextShard = 0
        while let piece = takePiece(nextShard: &nextShard) {
            for (db, part) in piece.enumerated() {
                guard let part else { continue }
                guard !abandoned else { throw RDBError.aborted }
                if db != currentDB {
                    var select = RDBOutput(compression: false)
                    select.append(RDBOpcode.selectDB)
                    select.appendLength(db)
                    if !announced[db] {
                        select.append(RDBOpcode.resizeDB)
                        select.appendLength(keyCounts[db].keys)
                        select.appendLength(keyCounts[db].volatile)
                        announced[db] = true
                    }
                    try file.write(select.bytes)
                    currentDB = db
                }
                try file.write(part.output.bytes)
                try pause(keys: part.keys)
            }
        }
        guard !abandoned else { throw RDBError.aborted }
        try file.write([RDBOpcode.eof])
        var footer = RDBOutput(compression: false)
        footer.appendLittleEndian(options.checksum ? file.crc : 0)
        try file.write(footer.bytes, checksummed: false)
    }
}

/// A file being written with a running CRC-64.
final class RDBFileSink {
    private let fd: Int32
    private let path: String
    private(set) var crc: UInt64 = 0
    private(set) var written = 0

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RDBError.io("Failed opening the temp RDB file \(path) (in server root dir \(ServerPaths.currentDirectory())) for saving: \(RDBFileSink.errnoText())")
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    func write(_ bytes: [UInt8], checksummed: Bool = true) throws {
        try bytes.withUnsafeBytes { raw in
            if checksummed { crc = CRC64.update(crc, raw) }
            var offset = 0
            while offset < raw.count {
                let count = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { throw RDBError.io("Write error saving DB on disk: \(RDBFileSink.errnoText())") }
                offset += count
            }
        }
        written += bytes.count
    }

    func finish() throws {
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw RDBError.io("Write error saving DB on disk: \(RDBFileSink.errnoText())") }
    }

    func abandon() { close(fd) }
}

enum ServerPaths {
    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        return getcwd(&buffer, buffer.count) != nil ? String(cString: buffer) : "/"
    }
}
