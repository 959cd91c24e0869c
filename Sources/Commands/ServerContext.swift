// State shared by every worker: the keyspace, configuration, command table, statistics and
// a handle on the network layer (`ServerControl`) for what only it knows (connections,
// traffic counters, shutdown). Commands reach all of it through `CommandContext.server`.
#if canImport(Glibc)
import Glibc
#endif
import Config
import Storage
import Support
import CSystem

/// What the network layer reports and does on behalf of commands.
public protocol ServerControl: AnyObject {
    func sessions() -> [Session]
    /// Marks matching connections for closing; returns how many matched.
    func kill(where matches: (Session) -> Bool) -> Int
    func networkMetrics() -> NetworkMetrics
    func resetNetworkStats()
    /// Stops the server after the current command (SHUTDOWN).
    func shutdown()
}

public struct NetworkMetrics {
    public var connectedClients = 0
    public var totalConnectionsReceived = 0
    public var rejectedConnections = 0
    public var totalNetInputBytes = 0
    public var totalNetOutputBytes = 0
    public var totalReads = 0
    public var totalWrites = 0
    public var replyBufferShrinks = 0
    public var workerThreads = 1
    public var tcpPort = 0
    public init() {}
}

/// Per-command counters, latency histograms and key-prefix hit counts, one set per worker so
/// the hot path never contends.
public final class CommandStats {
    public struct Counters {
        public var calls = 0
        /// Time spent in the command, in `Clock.ticks()` units (converted when reported).
        public var ticks: UInt64 = 0
        public var rejectedCalls = 0
        public var failedCalls = 0
    }

    public let counters: UnsafeMutablePointer<Counters>
    public let count: Int
    public var commandsProcessed = 0
    /// Per-command durations in ticks (INFO latencystats), clamped at one second like Redis.
    public let latency: LatencyHistograms
    /// Keyspace hits and misses per key prefix (INFO cachestats).
    public let prefixes = PrefixStats()

    public init(commandCount: Int) {
        count = commandCount
        counters = .allocate(capacity: commandCount)
        counters.initialize(repeating: Counters(), count: commandCount)
        latency = LatencyHistograms(slots: commandCount, maxValue: UInt64(Clock.ticksPerMillisecond * 1000))
    }

    deinit { counters.deallocate() }

    /// Counts one completed call of command `index` that ran for `ticks`.
    @inline(__always)
    public func recordCall(_ index: Int, ticks: UInt64, failed: Bool, trackLatency: Bool) {
        let entry = counters + index
        entry.pointee.calls += 1
        entry.pointee.ticks &+= ticks
        if failed { entry.pointee.failedCalls += 1 }
        if trackLatency { latency.record(slot: index, value: ticks) }
    }

    /// Clears the counters and histograms; the prefix summaries are cleared by their own
    /// worker when it sees the server's new `prefixStatsGeneration`.
    public func reset() {
        counters.update(repeating: Counters(), count: count)
        latency.reset()
        commandsProcessed = 0
    }
}

/// Error replies by code (`errorstat_*`), shared by all workers behind a lock; errors are rare.
public final class ErrorStats {
    private var lock = pthread_mutex_t()
    private var counts: [String: Int] = [:]
    private var total = 0

    public init() { pthread_mutex_init(&lock, nil) }

    public func record(_ message: [UInt8]) {
        let code = message.prefix { $0 != 32 }
        let name = String(decoding: code, as: UTF8.self)
        pthread_mutex_lock(&lock)
        if counts[name] != nil || counts.count < 128 { counts[name, default: 0] += 1 }
        total += 1
        pthread_mutex_unlock(&lock)
    }

    public func snapshot() -> (total: Int, byCode: [(String, Int)]) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return (total, counts.sorted { $0.key < $1.key })
    }

    public func reset() {
        pthread_mutex_lock(&lock)
        counts = [:]
        total = 0
        pthread_mutex_unlock(&lock)
    }
}

public final class ServerContext {
    public let keyspace: Keyspace
    /// The cron's active expiry cycle and its statistics.
    public let activeExpiry: ActiveExpiry
    /// The background thread freeing what UNLINK and FLUSH ... ASYNC drop.
    public let lazyFreer = LazyFreer()
    public let config: ServerConfig
    public let table: CommandTable
    public let errorStats = ErrorStats()
    /// Clients waiting in blocking commands, per key.
    public let blocking = BlockingRegistry()
    /// Frees memory when `maxmemory` is exceeded.
    public let evictor = Evictor()
    /// Key-modified events and keyspace notifications (tracking, tags, pub/sub observe them).
    public let keyEvents: KeyEvents
    /// Channels, patterns and shard channels with their subscribers; publishes keyspace
    /// notifications too.
    public let pubsub: PubSubRegistry
    /// Keys clients WATCH for their next EXEC.
    public let watches = WatchRegistry()
    /// The Lua script cache and the busy-script state, shared by all workers.
    public let scripts = ScriptRegistry()
    /// The function libraries (FUNCTION LOAD), shared by all workers.
    public let functions = FunctionRegistry()
    /// Client-side caching: who read which keys, and their invalidations.
    public let tracking = ClientTracking()
    /// Clients in MONITOR mode, shown every command run.
    public let monitors = MonitorFeed()
    /// Commands slower than `slowlog-log-slower-than` (SLOWLOG).
    public let slowLog = SlowLog()
    /// Events slower than `latency-monitor-threshold` (LATENCY).
    public let latencyMonitor = LatencyMonitor()
    /// RDB saving and loading (SAVE, BGSAVE, save rules, start-up load, DEBUG RELOAD).
    public private(set) var snapshots: Snapshots!
    public private(set) var aof: AppendOnlyFile!
    /// An RDB or AOF load is running (DEBUG RELOAD, DEBUG LOADAOF): commands without the
    /// `loading` flag are refused with LOADING, as in Redis.
    public var loadingDataset: Bool { snapshots.loading || aof.loading }
    /// Where writes send their effects (the AOF, later replicas).
    public let propagation = Propagation()
    public let runID: String
    public let startedAtMilliseconds: Int64
    public weak var control: ServerControl?
    /// One statistics block per worker thread (and one for in-process use).
    public private(set) var workerStats: [CommandStats] = []
    private var statsLock = pthread_mutex_t()
    private var lastSessionID = 0
    /// Redis's 24-bit LRU clock in seconds, refreshed by cron.
    public var lruClock: UInt32 = 0
    /// The LFU policies' 16-bit clock in minutes, refreshed with it (Redis reads its cached
    /// unixtime too): LFU accesses and evictions read it rather than the system clock.
    public private(set) var lfuMinutes: UInt32 = 0
    public var statResetAt: Int64
    public var isReplica = false
    /// Where commands' log lines go (the server's logger): warning or notice.
    public var log: (_ warning: Bool, _ message: String) -> Void = { _, _ in }
    /// Whether expiry and eviction delete keys on their own: not on a replica (its master
    /// does), nor while CLIENT PAUSE holds clients back (Redis keeps the dataset still then;
    /// expired keys read as missing meanwhile).
    public var deletesKeysOnItsOwn: Bool { !isReplica && blocking.pauseMode == .off }
    /// Replication id reported by INFO/ROLE (random per process until replication lands).
    public let replicationID: String
    /// Heap in use right after start-up (tables, buffers), reported as used_memory_startup.
    public var baselineMemory = 0
    public private(set) var peakMemory = 0
    /// Commands per second over the last cron sample.
    public var instantaneousOps = 0
    /// Input and output buffer bytes of all connections, which each connection keeps current.
    public let clientBuffers = MemoryTally()
    public var clientBufferBytes: Int { clientBuffers.bytes }
    /// Bumped by CONFIG RESETSTAT: each worker's prefix summary empties itself when it sees
    /// a generation other than its own.
    public var prefixStatsGeneration = 0

    public init(config: ServerConfig, shardCount: Int = 1024) {
        self.config = config
        keyspace = Keyspace(databases: config.databases, shardCount: shardCount)
        keyEvents = KeyEvents()
        pubsub = PubSubRegistry(keyEvents: keyEvents)
        activeExpiry = ActiveExpiry(keyspace: keyspace)
        table = CommandTable.standard
        runID = ServerContext.randomHexID()
        replicationID = ServerContext.randomHexID()
        startedAtMilliseconds = Clock.milliseconds()
        statResetAt = startedAtMilliseconds
        pthread_mutex_init(&statsLock, nil)
        refreshClocks()
        maxmemoryChanged()
        observeWatchedKeys()
        keyEvents.observeModified(gated: true) { [tracking] _, key, session in tracking.keyModified(key, by: session) }
        let events = keyEvents
        let propagation = self.propagation
        keyspace.onKeyExpired { db, key in
            propagation.deleted(key, db: db)
            events.notify(.expired, "expired", key, db: db)
            events.modified(key, db: db, by: nil)
        }
        applyKeyspaceEventsConfig()
        snapshots = Snapshots(server: self)
        aof = AppendOnlyFile(server: self)
    }

    /// Makes `notify-keyspace-events` take effect (at start-up and after CONFIG SET).
    public func applyKeyspaceEventsConfig() {
        keyEvents.enabledClasses = KeyspaceEventClass(rawValue: UInt16(config.keyspaceEventFlags))
    }

    /// Whether the observers of modified keys registered in `init` (gated) want events now:
    /// a client has turned tracking on, or a key is WATCHed. Writes test this (two loads)
    /// before raising the event, whose observers are closures, each call costing retains.
    @inline(__always)
    public var keyModificationsObserved: Bool { tracking.inUse || watches.count > 0 }

    /// Marks the watchers of every modified key (their EXEC will abort).
    private func observeWatchedKeys() {
        let watches = self.watches, keyspace = self.keyspace
        keyEvents.observeModified(gated: true) { db, key, _ in
            guard watches.count > 0 else { return }
            let shard = keyspace.shard(for: key)
            let exists = shard.withLock { shard.presence(db: db, key: key, hash: KeyHash.hash(key), now: 0).exists }
            watches.keyModified(db: db, key: key, stillExists: exists)
        }
    }

    /// 40 random hex characters, like Redis's run ids.
    static func randomHexID() -> String {
        var bytes = [UInt8](repeating: 0, count: 20)
        _ = bytes.withUnsafeMutableBytes { getrandom($0.baseAddress, 20, 0) }
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }

    public func notePeakMemory(_ used: Int) {
        if used > peakMemory { peakMemory = used }
    }

    /// Whether `setting` (`enable-debug-command`, `enable-module-command`) lets `session` run
    /// the command it guards: yes, or local for loopback connections only.
    public func allowsProtectedCommand(_ setting: String, _ session: Session) -> Bool {
        switch setting {
        case "yes": return true
        case "local": return session.isLocal
        default: return false
        }
    }

    public func makeWorkerStats() -> CommandStats {
        let stats = CommandStats(commandCount: table.all.count)
        pthread_mutex_lock(&statsLock)
        workerStats.append(stats)
        pthread_mutex_unlock(&statsLock)
        return stats
    }

    /// Connection ids, unique across workers, starting at 1 like Redis.
    public func allocateSessionID() -> Int {
        pthread_mutex_lock(&statsLock)
        defer { pthread_mutex_unlock(&statsLock) }
        lastSessionID += 1
        return lastSessionID
    }

    /// Wall-clock ms minus tick-derived ms, refreshed by cron: commands derive their time
    /// snapshot from the one tick reading they already take for statistics.
    private var wallMinusTicksMilliseconds: Double = 0

    @inline(__always)
    public func wallClock(ticks: UInt64) -> Int64 {
        Int64(Double(ticks) / Clock.ticksPerMillisecond + wallMinusTicksMilliseconds)
    }

    /// Re-reads the wall clock: the LRU clock and the wall/monotonic offset.
    public func refreshClocks() {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let wallMilliseconds = Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1_000_000
        // Keep the sub-millisecond part: truncating it here would put every command's clock
        // up to 1 ms behind the client's (a PXAT of now+10000 would then read PTTL 10001).
        wallMinusTicksMilliseconds = wallMilliseconds - Double(Clock.ticks()) / Clock.ticksPerMillisecond
        let milliseconds = Clock.milliseconds()
        lruClock = UInt32(truncatingIfNeeded: milliseconds / 1000) & 0xFF_FFFF
        lfuMinutes = UInt32(truncatingIfNeeded: milliseconds / 60_000) & 0xFFFF
    }
}

public enum Clock {
    /// Wall-clock milliseconds since the epoch.
    @inline(__always)
    public static func milliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec / 1_000_000)
    }

    /// The cycle counter (see CSystem's swiftlet_ticks): two reads per command cost far less
    /// than two clock_gettime calls.
    @inline(__always)
    public static func ticks() -> UInt64 { swiftlet_ticks() }

    /// Ticks per millisecond, measured once against CLOCK_MONOTONIC over 10 ms.
    public static let ticksPerMillisecond: Double = {
        let startTicks = ticks(), startMicros = monotonicMicroseconds()
        usleep(10_000)
        let elapsedMicros = Double(monotonicMicroseconds() - startMicros)
        return Double(ticks() - startTicks) / max(elapsedMicros, 1) * 1000
    }()

    public static func microseconds(ticks: UInt64) -> Int {
        Int(Double(ticks) / ticksPerMillisecond * 1000)
    }

    /// Monotonic microseconds, for measuring command durations.
    @inline(__always)
    public static func monotonicMicroseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec / 1000)
    }
}
