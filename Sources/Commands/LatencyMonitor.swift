// The latency monitor (LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR): while
// `latency-monitor-threshold` is above 0, every event of a kind that took at least that many
// milliseconds is kept as a sample, per kind, as Redis's latency.c keeps them: the last 160
// seconds that had one, a second's samples merged into its highest, plus the all-time high.
// Kinds recorded: `command` and `fast-command` (a command's own run), `expire-cycle` (an
// active expiry cycle) and `eviction-cycle` (one pass of making room under maxmemory).
// Shared by every worker behind a lock; a command under the threshold never takes it.
#if canImport(Glibc)
import Glibc
#endif

public final class LatencyMonitor {
    public struct Sample {
        public let time: Int
        public let milliseconds: Int
    }

    /// One kind's samples, a ring of `capacity` seconds.
    public struct Series {
        static let capacity = 160
        fileprivate(set) var samples: [Sample] = []
        /// Where the next second's sample goes once the ring is full.
        fileprivate var next = 0
        public fileprivate(set) var highest = 0

        /// Oldest first.
        public var chronological: [Sample] { Array(samples[next...] + samples[..<next]) }
        public var latest: Sample? { samples.isEmpty ? nil : samples[(next + samples.count - 1) % samples.count] }

        fileprivate mutating func add(_ milliseconds: Int, at time: Int) {
            highest = max(highest, milliseconds)
            if let last = latest, last.time == time {
                let index = (next + samples.count - 1) % samples.count
                samples[index] = Sample(time: time, milliseconds: max(last.milliseconds, milliseconds))
            } else if samples.count < Series.capacity {
                samples.append(Sample(time: time, milliseconds: milliseconds))
            } else {
                samples[next] = Sample(time: time, milliseconds: milliseconds)
                next = (next + 1) % Series.capacity
            }
        }
    }

    private var lock = pthread_mutex_t()
    /// Kinds in the order their first sample came.
    private var series: [(kind: String, series: Series)] = []

    init() { pthread_mutex_init(&lock, nil) }

    /// Keeps a sample of `kind` if it reached the threshold (`threshold` 0: the monitor is off,
    /// and the time is not even read). Inlined: every command comes through here.
    @inline(__always)
    public func record(_ kind: String, milliseconds: @autoclosure () -> Int, threshold: Int) {
        guard threshold > 0 else { return }
        let took = milliseconds()
        if took >= threshold { add(kind, took) }
    }

    private func add(_ kind: String, _ milliseconds: Int) {
        let now = time(nil)
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if let index = series.firstIndex(where: { $0.kind == kind }) {
            series[index].series.add(milliseconds, at: now)
        } else {
            var fresh = Series()
            fresh.add(milliseconds, at: now)
            series.append((kind, fresh))
        }
    }

    public var all: [(kind: String, series: Series)] {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return series
    }

    public func series(of kind: String) -> Series? { all.first { $0.kind == kind }?.series }

    /// Forgets the given kinds (all for nil); returns how many had samples.
    public func reset(_ kinds: [String]?) -> Int {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard let kinds else {
            defer { series.removeAll() }
            return series.count
        }
        var removed = 0
        for kind in kinds {
            guard let index = series.firstIndex(where: { $0.kind == kind }) else { continue }
            series.remove(at: index)
            removed += 1
        }
        return removed
    }
}
