// Active expiry: Redis's adaptive expire cycle, run over shards. Keys past their expire time
// that nobody reads again would otherwise stay in memory forever (lazy expiry only removes
// what is accessed), so each cron tick runs a slow cycle: database after database, it samples
// keys with a TTL, one shard after the other in a rotating order (together the rotation
// samples the whole database, as Redis samples its one `expires` table), deletes those past
// their time, and goes on with the next shard while the share of expired keys in a sample
// stays above the acceptable stale percentage. A database full of stale keys is thus swept
// quickly, and one with few stale keys costs a single sample per tick. A time limit (a share
// of the tick) bounds the CPU each cycle may take; when a slow cycle hits it, short fast cycles
// run between ticks. `active-expire-effort` (1-10) scales the sample size, the time share and
// the tolerated staleness as it does in Redis. Runs on one thread (worker 0's cron); INFO
// reads the statistics from any thread.
#if canImport(Glibc)
import Glibc
#endif

public final class ActiveExpiry {
    public enum Mode { case slow, fast }

    /// The cycle's parameters for one `active-expire-effort` value.
    public struct Tuning {
        public let keysPerSample: Int
        public let acceptableStalePercent: Int
        /// Share of a cron tick (percent) a slow cycle may run.
        public let slowTimePercent: Int
        public let fastDurationMicros: Int64

        public init(effort: Int) {
            let extra = max(1, min(effort, 10)) - 1
            keysPerSample = 20 + 5 * extra
            acceptableStalePercent = 10 - extra
            slowTimePercent = 25 + 2 * extra
            fastDurationMicros = Int64(1000 + 250 * extra)
        }

        /// Microseconds a cycle of `mode` may run at `hz` ticks per second.
        public func timeLimitMicros(_ mode: Mode, hz: Int) -> Int64 {
            switch mode {
            case .slow: return max(1, Int64(slowTimePercent) * 1_000_000 / Int64(max(hz, 1)) / 100)
            case .fast: return fastDurationMicros
            }
        }
    }

    public struct Stats {
        /// Running estimate of the share of sampled keys found expired (0...1), each cycle
        /// weighing 5%.
        public var staleRatio = 0.0
        /// Cycles stopped by their time limit.
        public var timeCapReachedCount = 0
        /// Wall time spent in cycles, in microseconds.
        public var cycleMicroseconds: Int64 = 0
    }

    private unowned let keyspace: Keyspace
    /// Per database, the shard the next sample is taken from.
    private var shardCursors: [Int]
    private var nextDatabase = 0
    private var lastCycleHitTimeLimit = false
    /// Reused between samples: the expired keys a sample found.
    private var doomed: [Entry] = []
    private var statsLock = pthread_mutex_t()
    private var currentStats = Stats()
    /// Per database, the running estimate of the remaining TTL (ms) of keys that have one,
    /// from the live keys of each sample (2% weight per sample, as Redis); INFO's avg_ttl.
    /// DIVERGENCE: SWAPDB and FLUSHDB leave the estimates to the next samples (a database
    /// left without keys with a TTL drops to 0 at the next cycle) where Redis swaps and
    /// zeroes them at once; the estimate is approximate in both.
    private var averageTTLs: [Int64]

    public init(keyspace: Keyspace) {
        self.keyspace = keyspace
        shardCursors = Array(repeating: 0, count: keyspace.databaseCount)
        averageTTLs = Array(repeating: 0, count: keyspace.databaseCount)
        pthread_mutex_init(&statsLock, nil)
    }

    public var stats: Stats {
        pthread_mutex_lock(&statsLock)
        defer { pthread_mutex_unlock(&statsLock) }
        return currentStats
    }

    public func averageTTL(db: Int) -> Int64 {
        pthread_mutex_lock(&statsLock)
        defer { pthread_mutex_unlock(&statsLock) }
        return averageTTLs[db]
    }

    public func resetStats() {
        pthread_mutex_lock(&statsLock)
        currentStats = Stats()
        pthread_mutex_unlock(&statsLock)
    }

    /// Whether fast cycles should run before the next tick: the last cycle ran out of time.
    /// (Redis also tests its stale estimate here, but compares a ratio with a percentage, so
    /// in effect only the time limit counts; so it does here.)
    public var wantsFastCycles: Bool { lastCycleHitTimeLimit }

    /// Runs one cycle at `now` (ms since the epoch); `clock` reads monotonic microseconds.
    /// A fast cycle does nothing unless the previous cycle hit its time limit. Returns the
    /// microseconds the cycle took.
    @discardableResult
    public func run(_ mode: Mode, hz: Int, effort: Int, now: Int64, clock: () -> Int64) -> Int64 {
        if mode == .fast && !lastCycleHitTimeLimit { return 0 }
        let tuning = Tuning(effort: effort)
        let start = clock()
        let deadline = start + tuning.timeLimitMicros(mode, hz: hz)
        let withVolatileKeys = keyspace.databasesWithVolatileKeys()
        var sampled = 0, expired = 0
        var hitTimeLimit = false
        for _ in 0..<keyspace.databaseCount where !hitTimeLimit {
            let db = nextDatabase
            nextDatabase = (db + 1) % keyspace.databaseCount
            guard withVolatileKeys[db] else {
                setAverageTTL(db: db) { _ in 0 }
                continue
            }
            hitTimeLimit = !sweep(db: db, now: now, tuning: tuning, until: deadline, clock: clock,
                                  sampled: &sampled, expired: &expired)
        }
        lastCycleHitTimeLimit = hitTimeLimit
        let elapsed = clock() - start
        let ratio = sampled > 0 ? Double(expired) / Double(sampled) : 0
        pthread_mutex_lock(&statsLock)
        currentStats.cycleMicroseconds += elapsed
        if hitTimeLimit { currentStats.timeCapReachedCount += 1 }
        currentStats.staleRatio = ratio * 0.05 + currentStats.staleRatio * 0.95
        pthread_mutex_unlock(&statsLock)
        return elapsed
    }

    /// Sweeps `db` in samples of `keysPerSample` keys gathered shard after shard (a sample
    /// spans at most one rotation over the shards) until a sample's stale share is
    /// acceptable, or the deadline passes (then returns false).
    private func sweep(db: Int, now: Int64, tuning: Tuning, until deadline: Int64, clock: () -> Int64,
                       sampled: inout Int, expired: inout Int) -> Bool {
        let shards = keyspace.shards
        var sample = ExpirySample()
        var shardsVisited = 0
        while true {
            let shard = shards[shardCursors[db]]
            shardCursors[db] = (shardCursors[db] + 1) % shards.count
            let found = shard.withLock {
                shard.expireSample(db: db, now: now, keys: tuning.keysPerSample - sample.sampled, doomed: &doomed)
            }
            sample.sampled += found.sampled
            sample.expired += found.expired
            sample.ttlSum += found.ttlSum
            shardsVisited += 1
            let outOfTime = clock() >= deadline
            guard outOfTime || sample.sampled >= tuning.keysPerSample || shardsVisited == shards.count else { continue }
            sampled += sample.sampled
            expired += sample.expired
            let live = sample.sampled - sample.expired
            if live > 0 {
                let sampleAverage = sample.ttlSum / Int64(live)
                setAverageTTL(db: db) { $0 == 0 ? sampleAverage : $0 / 50 * 49 + sampleAverage / 50 }
            }
            if outOfTime { return false }
            if sample.sampled == 0 || sample.expired * 100 / sample.sampled <= tuning.acceptableStalePercent {
                return true
            }
            sample = ExpirySample()
            shardsVisited = 0
        }
    }

    private func setAverageTTL(db: Int, _ update: (Int64) -> Int64) {
        pthread_mutex_lock(&statsLock)
        averageTTLs[db] = update(averageTTLs[db])
        pthread_mutex_unlock(&statsLock)
    }
}
