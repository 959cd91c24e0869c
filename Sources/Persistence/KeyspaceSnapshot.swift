// A point-in-time snapshot of the keyspace without fork (ARCHITECTURE §6), in one of two
// formats: an RDB file (SAVE, BGSAVE, AOF base files with `aof-use-rdb-preamble yes`) or the
// RESP commands of an AOF base file (`aof-use-rdb-preamble no`). `begin` locks every shard
// briefly, records each database's key counts and arms a capture on every non-empty table
// (DictCapture.swift); from then on a thread about to touch a key has the bucket it lives in
// serialized first, and `write` walks every captured table a batch of buckets at a time, taking
// in between what writers serialized, so every key is saved as it was at the start while
// writers keep running at nearly full speed. Memory grows by the serialized bytes waiting for
// the file, never by a copy of the dataset.
#if canImport(Glibc)
import Glibc
#endif
import Storage
import Support

/// What a snapshot's file looks like around the serialized keys. The snapshot calls
/// `serialize` under a shard's lock (from any thread), the others from its writing thread.
protocol SnapshotFormat {
    /// Whether the file carries a CRC-64 of its bytes (given to `finish`).
    var checksummed: Bool { get }
    /// What precedes the first database: a header, the function libraries.
    func preamble() -> [UInt8]
    /// Appends the keys `entries` visits, serialized, to `bytes`.
    func serialize(_ entries: ((Entry) -> Void) -> Void, appendingTo bytes: inout [UInt8])
    /// What precedes keys of `db` whenever the database changes; `firstTime` the first time
    /// it appears, with the database's key counts at the point in time.
    func databaseSwitch(to db: Int, firstTime: Bool, keys: Int, volatile: Int) -> [UInt8]
    /// Ends the file.
    func finish(_ file: SnapshotFileSink) throws
}

public final class KeyspaceSnapshot: CaptureSink {
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
        /// RDB only: aux fields after `redis-ver`/`redis-bits`, in order (ctime, used-mem, repl-id...).
        public var auxFields: [(String, String)] = []
        /// The function libraries' code, saved before the keys as Redis does.
        public var functionCodes: [[UInt8]] = []
        /// RDB only: what it records of each key's access pattern.
        public var access: (Entry) -> AccessRecord = { _ in .none }
        /// Microseconds to sleep per key written (`rdb-key-save-delay`, to make saves slow in tests).
        public var keySaveDelay = 0
        public init() {}
    }

    /// Serialized keys of one database, ready for the file.
    private typealias Chunk = (db: Int, bytes: [UInt8], keys: Int)

    /// Buckets the walk serializes per hold of a shard's lock (writers of that shard wait
    /// for at most one batch).
    static let walkBatch = 128

    private let keyspace: Keyspace
    private let format: SnapshotFormat
    private let keySaveDelay: Int
    /// The captures `begin` armed (tables refer to them without counting).
    private var captures: [DictCapture] = []
    /// What writers serialized and handed over, oldest first; guarded by `mutex`.
    private var handedOver: [Chunk] = []
    private var keyCounts: [(keys: Int, volatile: Int)] = []
    /// Set when the snapshot is cancelled or its write fails: buckets are then no longer
    /// serialized and the write stops.
    public private(set) var abandoned = false
    private var mutex = pthread_mutex_t()

    public init(keyspace: Keyspace, options: Options) {
        self.keyspace = keyspace
        switch options.format {
        case .rdb: format = RDBSnapshotFormat(options)
        case .commands: format = AOFCommandFormat(functionCodes: options.functionCodes)
        }
        keySaveDelay = options.keySaveDelay
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    /// Fixes the point in time: counts the keys and arms a capture on every non-empty table;
    /// `atPointInTime` runs with every shard locked (to read counters that must match the
    /// snapshot). A snapshot that began must be written or abandoned: both end the captures.
    public func begin(_ atPointInTime: () -> Void = {}) {
        keyspace.withAllShardsLocked {
            atPointInTime()
            keyCounts = (0..<keyspace.databaseCount).map { db in
                keyspace.shards.reduce((0, 0)) { ($0.0 + $1.dicts[db].count, $0.1 + $1.dicts[db].volatileCount) }
            }
            for shard in keyspace.shards {
                for db in 0..<shard.databaseCount where shard.dicts[db].count > 0 {
                    if let capture = shard.dicts[db].beginCapture(db: db, sink: self) { captures.append(capture) }
                }
            }
        }
    }

    // MARK: CaptureSink (called with a shard locked, from any thread)

    public func serialize(_ entries: ((Entry) -> Void) -> Void, appendingTo bytes: inout [UInt8]) {
        format.serialize(entries, appendingTo: &bytes)
    }

    public func handOver(db: Int, bytes: [UInt8], keys: Int) {
        pthread_mutex_lock(&mutex)
        handedOver.append((db, bytes, keys))
        pthread_mutex_unlock(&mutex)
    }

    private func takeHandedOver() -> [Chunk] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard !handedOver.isEmpty else { return [] }
        let chunks = handedOver
        handedOver.removeAll(keepingCapacity: true)
        return chunks
    }

    /// Writes the snapshot to `path` through a temporary file in the same directory, fsynced
    /// and renamed into place, then fsyncs the directory. Returns the file's size.
    @discardableResult
    public func write(to path: String) throws -> Int {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let temporary = (directory.isEmpty ? "" : directory + "/") + "temp-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).rdb"
        let file: SnapshotFileSink
        do {
            file = try SnapshotFileSink(path: temporary, checksummed: format.checksummed)
        } catch {
            disarm()
            throw error
        }
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

    /// Drops a snapshot that began but will not be written, ending the captures it armed.
    public func abandon() { disarm() }

    /// Stops a running `write` (FLUSHALL aborting a background save); it throws `.aborted`.
    public func cancel() { abandoned = true }

    /// Ends the captures a failed snapshot had not finished.
    private func disarm() {
        abandoned = true
        keyspace.withAllShardsLocked {
            for shard in keyspace.shards {
                for db in 0..<shard.databaseCount { shard.dicts[db].endCapture() }
            }
        }
        captures = []
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

    /// Walks every captured table, shard by shard, writing its batches and whatever writers
    /// handed over meanwhile; the format marks each change of database.
    private func writeBody(to file: SnapshotFileSink) throws {
        try file.write(format.preamble())
        var currentDB = -1
        var announced = Array(repeating: false, count: keyspace.databaseCount)
        func write(_ chunk: Chunk) throws {
            guard chunk.keys > 0 else { return }
            guard !abandoned else { throw RDBError.aborted }
            if chunk.db != currentDB {
                try file.write(format.databaseSwitch(to: chunk.db, firstTime: !announced[chunk.db],
                                                     keys: keyCounts[chunk.db].keys, volatile: keyCounts[chunk.db].volatile))
                announced[chunk.db] = true
                currentDB = chunk.db
            }
            try file.write(chunk.bytes)
            try pause(keys: chunk.keys)
        }
        for shard in keyspace.shards {
            for db in 0..<shard.databaseCount {
                while let step = shard.withLock({ shard.dicts[db].captureStep(limit: KeyspaceSnapshot.walkBatch) }) {
                    guard !abandoned else { throw RDBError.aborted }
                    for chunk in takeHandedOver() { try write(chunk) }
                    try write(step)
                }
            }
        }
        for chunk in takeHandedOver() { try write(chunk) }
        captures = []
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
    private var closed = false

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
        let synced = fsync(fd) == 0
        let error = SnapshotFileSink.errnoText()
        abandon()
        guard synced else { throw RDBError.io("Write error saving DB on disk: \(error)") }
    }

    /// Closes the file once (a second close could hit a descriptor reused meanwhile by a
    /// client's socket).
    func abandon() {
        guard !closed else { return }
        closed = true
        close(fd)
    }
}

enum ServerPaths {
    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        return getcwd(&buffer, buffer.count) != nil ? String(cString: buffer) : "/"
    }
}
