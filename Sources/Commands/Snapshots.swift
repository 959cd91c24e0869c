// RDB persistence as the server runs it: SAVE in the foreground, BGSAVE on a thread of its
// own (point in time through KeyspaceSnapshot's per-bucket capture, no fork), the `save`
// rules the cron checks, the state INFO persistence reports, MISCONF after a failed
// background save, and loading `dir/dbfilename` (at start-up and for DEBUG RELOAD) into the
// keyspace only once the whole file has been read and verified. AOF rewrites take their base
// snapshots (an RDB or RESP commands) from here too.
#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Config
import Persistence
import Storage
import Support

public final class Snapshots {
    public enum Outcome { case saved, failed(String) }

    private unowned let server: ServerContext
    private var mutex = pthread_mutex_t()
    /// Where log lines go (the server's logger), with Redis's level letter.
    public var log: (_ warning: Bool, _ message: String) -> Void = { _, _ in }

    public private(set) var backgroundSaveRunning = false
    /// Whether a snapshot (foreground or background) is between `begin` and the end of its
    /// write: tables hold one snapshot's capture at a time, so snapshots never overlap.
    private var snapshotActive = false
    /// The running background snapshot, for FLUSHALL to cancel.
    private var backgroundSnapshot: KeyspaceSnapshot?
    /// A BGSAVE SCHEDULE waiting for the running one to end.
    public private(set) var backgroundSaveScheduled = false
    public private(set) var lastSaveTime: Int64
    public private(set) var lastBackgroundSaveOK = true
    public private(set) var lastBackgroundSaveSeconds = -1
    public private(set) var backgroundSaveStartedAt: Int64 = 0
    public private(set) var saves = 0
    /// When the last background save was tried, for Redis's retry delay after a failure.
    private var lastAttempt: Int64 = 0
    /// Shard write counts summed at the last successful save's point in time.
    private var dirtyAtLastSave = 0
    public private(set) var loading = false
    public private(set) var lastLoadKeysLoaded = 0
    public private(set) var lastLoadKeysExpired = 0

    /// Seconds after a failed background save before the save rules may start another.
    private static let retryDelay: Int64 = 5

    init(server: ServerContext) {
        self.server = server
        lastSaveTime = Clock.milliseconds() / 1000
        pthread_mutex_init(&mutex, nil)
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    public var path: String {
        let config = server.config
        return config.dbfilename.hasPrefix("/") ? config.dbfilename : config.dir + "/" + config.dbfilename
    }

    /// Writes since the last successful save (INFO's rdb_changes_since_last_save).
    public func changesSinceLastSave(dirty: Int) -> Int { max(0, dirty - locked { dirtyAtLastSave }) }

    /// Whether writes are refused with MISCONF: the last background save failed, saving is
    /// configured and `stop-writes-on-bgsave-error` is on.
    @inline(__always)
    public var refusesWrites: Bool {
        !lastBackgroundSaveOK && server.config.stopWritesOnBgsaveError && !server.config.save.isEmpty
    }

    // MARK: Saving

    private func makeSnapshot(dirtyBaseline: UnsafeMutablePointer<Int>?, aofBase: Bool = false,
                              format: KeyspaceSnapshot.Format = .rdb, atPointInTime: () -> Void = {}) -> KeyspaceSnapshot {
        let config = server.config
        var options = KeyspaceSnapshot.Options()
        options.format = format
        options.compression = config.rdbCompression
        options.checksum = config.rdbChecksum
        options.keySaveDelay = config.rdbKeySaveDelay
        options.auxFields = [("ctime", String(Clock.milliseconds() / 1000)),
                             ("used-mem", String(server.usedMemory(dataset: server.keyspace.usedMemory))),
                             ("repl-id", server.replicationID), ("repl-offset", "0"), ("aof-base", aofBase ? "1" : "0")]
        options.functionCodes = server.functions.all.map(\.code)
        let policy = config.maxmemoryPolicy
        let server = self.server
        if policy.isLFU {
            options.access = { .frequency(UInt8(server.decayedFrequency($0))) }
        } else if policy == .allkeysLRU || policy == .volatileLRU {
            options.access = { .idle(UInt64(server.idleSeconds($0))) }
        }
        let snapshot = KeyspaceSnapshot(keyspace: server.keyspace, options: options)
        snapshot.begin {
            dirtyBaseline?.pointee = server.keyspace.shards.reduce(0) { $0 + $1.stats.dirty }
            atPointInTime()
        }
        return snapshot
    }

    /// A snapshot for an AOF base file, an RDB (`aof-base` 1) or RESP commands;
    /// `atPointInTime` runs with every shard locked at its point in time. Call after
    /// `claimExclusiveSnapshot`, or at start-up.
    public func makeAOFBaseSnapshot(format: KeyspaceSnapshot.Format, atPointInTime: () -> Void = {}) -> KeyspaceSnapshot {
        makeSnapshot(dirtyBaseline: nil, aofBase: true, format: format, atPointInTime: atPointInTime)
    }

    /// Claims the tables' one capture for a snapshot other than SAVE/BGSAVE (an AOF rewrite);
    /// false while another snapshot runs. BGSAVE meanwhile answers as Redis does to a child.
    public func claimExclusiveSnapshot() -> Bool {
        locked {
            if snapshotActive { return false }
            snapshotActive = true
            return true
        }
    }

    public func releaseExclusiveSnapshot() { locked { snapshotActive = false } }

    /// SAVE: writes the snapshot on the calling thread (after any other foreground save).
    public func saveInForeground() -> Outcome {
        while true {
            let claimed = locked { () -> Bool? in
                if backgroundSaveRunning { return nil }
                if snapshotActive { return false }
                snapshotActive = true
                return true
            }
            guard let claimed else { return .failed("ERR Background save already in progress") }
            if claimed { break }
            usleep(1000)
        }
        defer { locked { snapshotActive = false } }
        var baseline = 0
        let snapshot = makeSnapshot(dirtyBaseline: &baseline)
        do {
            try snapshot.write(to: path)
        } catch {
            log(true, "Failed saving the DB: \(error)")
            return .failed("ERR")
        }
        log(false, "DB saved on disk")
        locked {
            dirtyAtLastSave = baseline
            lastSaveTime = Clock.milliseconds() / 1000
            lastBackgroundSaveOK = true
            saves += 1
        }
        return .saved
    }

    public enum BackgroundStart { case started, alreadyRunning, busy }

    /// BGSAVE: `.alreadyRunning` when a background save runs, `.busy` during a foreground one.
    @discardableResult
    public func startBackgroundSave() -> BackgroundStart {
        let state = locked { () -> BackgroundStart in
            if backgroundSaveRunning { return .alreadyRunning }
            if snapshotActive { return .busy }
            snapshotActive = true
            backgroundSaveRunning = true
            backgroundSaveScheduled = false
            backgroundSaveStartedAt = Clock.milliseconds()
            lastAttempt = backgroundSaveStartedAt / 1000
            return .started
        }
        guard state == .started else { return state }
        let baseline = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        let snapshot = makeSnapshot(dirtyBaseline: baseline)
        locked { backgroundSnapshot = snapshot }
        let destination = path
        log(false, "Background saving started")
        let job = BackgroundJob(nice: BackgroundJob.snapshotNice) { [self] in
            defer { baseline.deallocate() }
            var failure: RDBError?
            do { try snapshot.write(to: destination) } catch { failure = error as? RDBError ?? .io("\(error)") }
            finishBackgroundSave(failure: failure, baseline: baseline.pointee)
        }
        job.start()
        return .started
    }

    /// Records how a background save ended. A cancelled one (FLUSHALL) leaves the status as
    /// it was, as Redis does for a child it killed itself.
    private func finishBackgroundSave(failure: RDBError?, baseline: Int) {
        let now = Clock.milliseconds()
        let aborted = failure == .aborted
        locked {
            backgroundSaveRunning = false
            snapshotActive = false
            backgroundSnapshot = nil
            lastBackgroundSaveSeconds = Int((now - backgroundSaveStartedAt) / 1000)
            if !aborted { lastBackgroundSaveOK = failure == nil }
            if failure == nil {
                dirtyAtLastSave = baseline
                lastSaveTime = now / 1000
                saves += 1
            }
        }
        if aborted {
            log(true, "Background saving terminated by signal 10")
        } else if let failure {
            log(true, "Write error saving DB on disk: \(failure)")
            log(true, "Background saving error")
        } else {
            log(false, "DB saved on disk")
            log(false, "Background saving terminated with success")
        }
    }

    /// BGSAVE SCHEDULE while a foreground save runs: start once it ends.
    public func scheduleBackgroundSave() { locked { backgroundSaveScheduled = true } }

    /// Called by the cron: starts a scheduled save, or one a `save` rule asks for.
    public func cron(now: Int64) {
        let (running, scheduled, lastOK, attempt, lastSave) = locked {
            (backgroundSaveRunning, backgroundSaveScheduled, lastBackgroundSaveOK, lastAttempt, lastSaveTime)
        }
        guard !running else { return }
        if scheduled {
            startBackgroundSave()
            return
        }
        let rules = server.config.save
        guard !rules.isEmpty else { return }
        let seconds = now / 1000
        let changes = changesSinceLastSave(dirty: server.keyspace.aggregateStats().dirty)
        for rule in rules where changes >= rule.changes && seconds - lastSave > Int64(rule.seconds)
            && (lastOK || seconds - attempt > Snapshots.retryDelay) {
            log(false, "\(rule.changes) changes in \(rule.seconds) seconds. Saving...")
            startBackgroundSave()
            return
        }
    }

    /// Cancels a running background save and waits for it to stop (FLUSHALL).
    public func abortBackgroundSave() {
        guard let snapshot = locked({ backgroundSnapshot }) else { return }
        snapshot.cancel()
        waitForBackgroundSave()
    }

    /// Waits for a running background save to end (shutdown).
    public func waitForBackgroundSave() {
        while locked({ backgroundSaveRunning }) { usleep(10_000) }
    }

    /// The final save of SHUTDOWN or SIGTERM, after any background save has ended.
    public func saveBeforeExit() -> Bool {
        waitForBackgroundSave()
        log(true, "Saving the final RDB snapshot before exiting.")
        if case .failed = saveInForeground() {
            log(true, "Error trying to save the DB, can't exit.")
            return false
        }
        return true
    }

    // MARK: Loading

    /// Loads `dir/dbfilename` when it exists, logging as Redis does; false (after logging why)
    /// when the file cannot be read, and the server must not start.
    public func loadAtStartup() -> Bool {
        let started = Clock.milliseconds()
        do {
            guard try load() else { return true }
        } catch {
            log(true, "\(error)")
            log(true, "Fatal error loading the DB \(path): the file is corrupt or unreadable. Exiting.")
            return false
        }
        log(false, "Done loading RDB, keys loaded: \(lastLoadKeysLoaded), keys expired: \(lastLoadKeysExpired).")
        log(false, "DB loaded from disk: \(InfoReport.format3(Double(Clock.milliseconds() - started) / 1000)) seconds")
        return true
    }

    /// Reads `dir/dbfilename` and replaces every database and function library with its
    /// contents (adds them to the current ones unless `replacingAll`; its libraries then
    /// replace those of the same name only when `mergingLibraries`, DEBUG RELOAD's MERGE).
    /// Returns false when there is no file; throws (leaving the keyspace untouched) when it
    /// cannot be read.
    @discardableResult
    public func load(replacingAll: Bool = true, mergingLibraries: Bool = false) throws -> Bool {
        guard let bytes = try RDBLoader.readFile(path) else { return false }
        try load(bytes, replacingAll: replacingAll, mergingLibraries: mergingLibraries)
        return true
    }

    /// Loads an AOF's RDB base (start-up, into the empty keyspace).
    public func loadAOFBase(_ bytes: [UInt8]) throws { try load(bytes, replacingAll: false) }

    private func load(_ bytes: [UInt8], replacingAll: Bool, mergingLibraries: Bool = false) throws {
        loading = true
        defer { loading = false }
        let config = server.config
        var options = LoadOptions()
        options.databases = config.databases
        options.now = Clock.milliseconds()
        options.verifyChecksum = config.rdbChecksum
        options.limits = server.encodingLimits
        options.accessClock = { [server] record in server.accessClock(for: record) }
        let dataset = try RDBLoader.load(bytes, options: options)
        do {
            try installFunctions(dataset.functionCodes, replacingAll: replacingAll, merging: mergingLibraries)
        } catch {
            dataset.discard()
            throw error
        }
        install(dataset, replacingAll: replacingAll)
        locked {
            lastLoadKeysLoaded = dataset.keyCount
            lastLoadKeysExpired = dataset.expiredCount
            dirtyAtLastSave = server.keyspace.aggregateStats().dirty
            lastSaveTime = Clock.milliseconds() / 1000
        }
    }

    /// Checks the snapshot's libraries in this thread's function state and installs them, in
    /// place of all libraries when `replacingAll`, of those with their names when `merging`;
    /// fails, changing nothing, like Redis's load.
    private func installFunctions(_ codes: [[UInt8]], replacingAll: Bool, merging: Bool) throws {
        guard !codes.isEmpty || replacingAll else { return }
        let engine = ScriptEngine.current(for: server)
        var libraries: [FunctionLibrary] = []
        for code in codes {
            switch engine.loadLibrary(code) {
            case .success(let library):
                if let error = FunctionRegistry.collision(adding: library, to: libraries) {
                    throw RDBError.corrupt(error.message)
                }
                libraries.append(library)
            case .failure(let error):
                throw RDBError.corrupt("Failed loading library: " + error.message)
            }
        }
        if let error = server.functions.add(libraries, replace: merging, flushFirst: replacingAll) {
            throw RDBError.corrupt(error.message)
        }
    }

    /// How many keys ahead `install` prefetches entries.
    static let loadPrefetchDistance = 8

    /// Swaps a fully read dataset in, all shards locked: every database emptied first (when
    /// `replacingAll`), then filled.
    private func install(_ dataset: LoadedDataset, replacingAll: Bool) {
        let keyspace = server.keyspace
        keyspace.withAllShardsLocked {
            for shard in keyspace.shards where replacingAll {
                for db in 0..<keyspace.databaseCount { shard.clear(db: db) }
            }
            for (db, entries) in dataset.databases.enumerated() where !entries.isEmpty {
                // Shard by shard, each table sized once for what it receives: no rehashing,
                // and one shard's buckets stay in cache while its keys go in.
                let byShard = ShardGrouping(entries, shardCount: keyspace.shardCount) { keyspace.shardIndex(for: $0.key) }
                for (index, shard) in keyspace.shards.enumerated() {
                    let members = byShard.members(of: index)
                    guard !members.isEmpty else { continue }
                    shard.reserve(db: db, capacity: shard.dicts[db].count + members.count)
                    entries.withUnsafeBufferPointer { list in
                        for (offset, position) in zip(members.indices, members) {
                            // Shard order visits the list (and the entries, allocated in file
                            // order) at random: the list slot is loaded two steps ahead, the
                            // entry it points to one step ahead.
                            let distance = Snapshots.loadPrefetchDistance
                            if offset + 2 * distance < members.endIndex {
                                swiftlet_prefetch(list.baseAddress! + Int(members[offset + 2 * distance]))
                            }
                            if offset + distance < members.endIndex {
                                let ahead = list[Int(members[offset + distance])].pointer
                                swiftlet_prefetch(ahead)
                                swiftlet_prefetch(ahead + 64)
                            }
                            let entry = list[Int(position)]
                            let hash = KeyHash.hash(entry.key)
                            shard.store(db: db, entry, hash: hash, replacing: shard.dicts[db].link(entry.key, hash: hash))
                        }
                    }
                }
            }
        }
    }
}

/// The positions of a list's elements grouped by shard, in list order within each shard
/// (a counting sort on the shard index).
struct ShardGrouping {
    private var starts: [Int]
    private var positions: [Int32]

    init<Element>(_ elements: [Element], shardCount: Int, shardOf: (Element) -> Int) {
        let shards = elements.map { Int32(shardOf($0)) }
        starts = Array(repeating: 0, count: shardCount + 1)
        for shard in shards { starts[Int(shard) + 1] += 1 }
        for index in 0..<shardCount { starts[index + 1] += starts[index] }
        var next = starts
        positions = Array(repeating: 0, count: elements.count)
        for (position, shard) in shards.enumerated() {
            positions[next[Int(shard)]] = Int32(position)
            next[Int(shard)] += 1
        }
    }

    func members(of shard: Int) -> ArraySlice<Int32> { positions[starts[shard]..<starts[shard + 1]] }
}

extension ServerContext {
    /// Access bits for a key loaded or restored with an IDLE/FREQ record, under the current
    /// policy (a record of the other kind is ignored, as Redis's objectSetLRUOrLFU does).
    func accessClock(for record: AccessRecord) -> UInt32 {
        switch record {
        case .frequency(let counter) where config.maxmemoryPolicy.isLFU:
            return (initialAccessClock & ~0xFF) | UInt32(counter)
        case .idle(let seconds) where !config.maxmemoryPolicy.isLFU:
            let idle = UInt32(min(seconds, 0xFF_FFFF))
            return lruClock >= idle ? lruClock - idle : 0xFF_FFFF - (idle - lruClock)
        default:
            return initialAccessClock
        }
    }
}

/// A detached thread running one closure.
final class BackgroundJob {
    /// The nice value of background saves and rewrites: they yield the CPU to the workers
    /// serving clients, so on a busy machine a save takes longer (writers meanwhile save the
    /// buckets they touch) instead of slowing every client down as Redis's equal-priority
    /// child does.
    static let snapshotNice: Int32 = 10
    private let nice: Int32
    private let body: () -> Void
    init(nice: Int32 = 0, _ body: @escaping () -> Void) {
        self.nice = nice
        self.body = body
    }

    func start() {
        var thread = pthread_t()
        pthread_create(&thread, nil, { arg in
            let job = Unmanaged<BackgroundJob>.fromOpaque(arg!).takeRetainedValue()
            if job.nice != 0 { swiftlet_nice_current_thread(job.nice) }
            job.body()
            return nil
        }, Unmanaged.passRetained(self).toOpaque())
        pthread_detach(thread)
    }
}
