// A running total of bytes that many threads add to: the bytes every shard holds (kept
// while a `maxmemory` limit is set: eviction runs before commands on every worker and must
// compare used memory with the limit in O(1), not by summing 1024 shards; without a limit
// nobody pays for it), and the buffer bytes of all connections. Deltas are added atomically
// (relaxed: a running total needs no ordering).
import CSystem

public final class MemoryTally {
    @usableFromInline let counter = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
    /// Whether shards report their deltas; switched only with every shard locked.
    /// (Connections always report theirs.)
    public internal(set) var isEnabled = false

    public init() { counter.initialize(to: 0) }
    deinit { counter.deallocate() }

    /// Bytes held by all shards (exact while enabled).
    /// (Inlinable: eviction reads it before every command, and a call would retain the tally.)
    @inlinable public var bytes: Int { Int(swiftlet_atomic_load(counter)) }

    @inline(__always)
    public func add(_ delta: Int) { swiftlet_atomic_add(counter, Int64(delta)) }

    func reset(to bytes: Int) { swiftlet_atomic_store(counter, Int64(bytes)) }
}
