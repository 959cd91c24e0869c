// A point-in-time snapshot of the keyspace without fork (ARCHITECTURE §6), in one of two
// formats: an RDB file (SAVE, BGSAVE, AOF base files with `aof-use-rdb-preamble yes`) or the
// RESP commands of an AOF base file (`aof-use-rdb-preamble no`). `begin` locks every shard
// briefly, records each database's key counts and arms every shard's `pendingCapture`; from
// then on the first thread to lock a shard (a writer about to modify it, or the snapshot
// itself walking the shards) has the format serialize that shard as it stands, so every shard
// is saved as it was at the start while writers keep running. `write` writes the serialized
// shards in the order they were captured and drops each once written, capturing the next
// shard itself only when no writer has handed it one: memory grows by the serialized bytes
// waiting for the file, never by a copy of the dataset, even when random writes capture
// every shard at once.
#if canImport(Glibc)
import Glibc
#endif
import Storage
import Support

/// What a snapshot's file looks like around the shards' serialized keys. The snapshot calls
/// `serialize` under the shard's lock (from any thread), the others from its writing thread.
protocol SnapshotFormat {
    /// Whether the file carries a CRC-64 of its bytes (given to `finish`).
    var checksummed: Bool { get }
    /// What precedes the first database: a header, the function libraries.
    func preamble() -> [UInt8]
    /// The keys of `db` in a locked shard, serialized.
    func serialize(_ shard: Shard, db: Int) -> [UInt8]
    /// What precedes keys of `db` whenever the database changes; `firstTime` the first time
    /// it appears, with the database's key counts at the point in time.
    func databaseSwitch(to db: Int, firstTime: Bool, keys: Int, volatile: Int) -> [UInt8]
    /// Ends the file.
    func finish(_ file: SnapshotFileSink) throws
}

public final class KeyspaceSnapshot: ShardCapture {
    public enum Format {
        /// Redis's RDB file.
        case rdb
        /// RESP commands rebuilding the data, as Redis's rewriteAppendOnlyFileRio writes them.
        case commands
    }

    public struct Options {
        public var format = Format.rdb
        /// RDB only: LZF-compress strings, and write the CRC-64 (zero otherwise).
        public var compression = true
        public var checksum = true
        /// RDB aux fields after `redis-ver`/`redis-bits`, in order (ctime, used-mem, repl-id...).
        public var auxFields: [(String, String)] = []
        /// The function libraries' code, saved before the keys as Redis does.
        public var functionCodes: [[UInt8]] = []
        /// RDB only: what it records of each key's access pattern.
        public var access: (Entry) -> AccessRecord = { _ in .none }
        /// Microseconds to sleep per key written (`rdb-key-save-delay`, to make saves slow in tests).
        public var keySaveDelay = 0
        public init() {}
    }

    private let keyspace: Keyspace
    private let format: SnapshotFormat
    private let keySaveDelay: Int
    private var shardIndexes: [ObjectIdentifier: Int] = [:]
    /// A captured shard's serialized keys per database (nil where it has none).
    private typealias Piece = [(bytes: [UInt8], keys: Int)?]
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
        switch options.format {
        case .rdb: format = RDBSnapshotFormat(options)
        case .commands: format = AOFCommandFormat(functionCodes: options.functionCodes)
        }
        keySaveDelay = options.keySaveDelay
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
        let piece: Piece = (0..<shard.databaseCount).map { db in
            shard.dicts[db].count > 0 ? (format.serialize(shard, db: db), shard.dicts[db].count) : nil
        }
        pthread_mutex_lock(&mutex)
        waiting.append(piece)
        captured[index] = true
        pthread_mutex_unlock(&mutex)
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
        let file = try SnapshotFileSink(path: temporary, checksummed: format.checksummed)
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
            let reason = SnapshotFileSink.errnoText()
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
        guard keySaveDelay > 0 else { return }
        var remaining = keySaveDelay * keys
        while remaining > 0 {
            guard !abandoned else { throw RDBError.aborted }
            let slice = min(remaining, 10_000)
            usleep(UInt32(slice))
            remaining -= slice
        }
    }

    /// Shards arrive in capture order, each with keys of several databases: the format marks
    /// each change of database.
    private func writeBody(to file: SnapshotFileSink) throws {
        try file.write(format.preamble())
        var currentDB = -1
        var announced = Array(repeating: false, count: keyspace.databaseCount)
        var nextShard = 0
        while let piece = takePiece(nextShard: &nextShard) {
            for (db, part) in piece.enumerated() {
                guard let part else { continue }
                guard !abandoned else { throw RDBError.aborted }
                if db != currentDB {
                    try file.write(format.databaseSwitch(to: db, firstTime: !announced[db],
                                                         keys: keyCounts[db].keys, volatile: keyCounts[db].volatile))
                    announced[db] = true
                    currentDB = db
                }
                try file.write(part.bytes)
                try pause(keys: part.keys)
            }
        }
        guard !abandoned else { throw RDBError.aborted }
        try format.finish(file)
    }
}

/// A file being written, with a running CRC-64 when `checksummed`.
final class SnapshotFileSink {
    private let fd: Int32
    private let path: String
    private let checksummed: Bool
    private(set) var crc: UInt64 = 0
    private(set) var written = 0

    init(path: String, checksummed: Bool) throws {
        self.path = path
        self.checksummed = checksummed
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RDBError.io("Failed opening the temp RDB file \(path) (in server root dir \(ServerPaths.currentDirectory())) for saving: \(SnapshotFileSink.errnoText())")
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Appends `bytes`, adding them to the CRC unless `checksummed` is false (the CRC itself).
    func write(_ bytes: [UInt8], checksummed: Bool = true) throws {
        try bytes.withUnsafeBytes { raw in
            if checksummed && self.checksummed { crc = CRC64.update(crc, raw) }
            var offset = 0
            while offset < raw.count {
                let count = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { throw RDBError.io("Write error saving DB on disk: \(SnapshotFileSink.errnoText())") }
                offset += count
            }
        }
        written += bytes.count
    }

    func finish() throws {
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw RDBError.io("Write error saving DB on disk: \(SnapshotFileSink.errnoText())") }
    }

    func abandon() { close(fd) }
}

enum ServerPaths {
    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        return getcwd(&buffer, buffer.count) != nil ? String(cString: buffer) : "/"
    }
}
