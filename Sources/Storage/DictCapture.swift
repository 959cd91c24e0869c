// Copy-before-write at bucket granularity for a point-in-time snapshot (ARCHITECTURE §6).
// While a snapshot has not yet saved a database's table in some shard, that table carries a
// `DictCapture`: whoever is about to look up, add or remove a key first has the bucket the key
// hashes to serialized as it stands (a chain of one or two entries, about a microsecond), and
// the snapshot's own thread walks the remaining buckets a batch at a time under the shard's
// lock. Writers therefore never serialize a whole shard, and the memory in flight is the few
// kilobytes each table's `pending` bytes hold before they are handed over. The table neither
// grows, shrinks nor goes on rehashing while captured (bucket numbers must stay put), as
// Redis holds off resizing while a child process saves; a rehash under way pauses, and its
// two bucket arrays are captured as one. A table that gets four times fuller than its
// buckets is saved whole first and then grows.
import CSystem

/// Where a capture's serialized buckets go: the snapshot that armed it.
public protocol CaptureSink: AnyObject {
    /// Set once the snapshot was cancelled or failed: buckets are then no longer serialized.
    var abandoned: Bool { get }
    /// Appends the serialized form of the entries `entries` visits to `bytes`. Called with
    /// the shard locked, from any thread.
    func serialize(_ entries: ((Entry) -> Void) -> Void, appendingTo bytes: inout [UInt8])
    /// Takes serialized keys of database `db` (at the point in time) for the file.
    func handOver(db: Int, bytes: [UInt8], keys: Int)
}

public final class DictCapture {
    /// The database the table belonged to when the snapshot began.
    public let db: Int
    /// The snapshot, which owns its captures.
    private unowned(unsafe) let sink: CaptureSink
    /// One bit per bucket of the table: set once that bucket has been serialized.
    private let saved: UnsafeMutablePointer<UInt64>
    private let bucketCount: Int
    /// Where the snapshot's walk resumes.
    private var walked = 0
    /// Buckets serialized by writers, not yet handed over.
    private var pending: [UInt8] = []
    private var pendingKeys = 0
    /// How many bytes writers gather before handing them over (one lock of the sink each).
    static let handOverThreshold = 2 * 1024
    /// How many buckets ahead the walk prefetches entries.
    static let prefetchDistance = 8

    public init(db: Int, sink: CaptureSink, bucketCount: Int) {
        self.db = db
        self.sink = sink
        self.bucketCount = bucketCount
        let words = (bucketCount + 63) / 64
        saved = .allocate(capacity: words)
        saved.initialize(repeating: 0, count: words)
    }

    deinit { saved.deallocate() }

    /// A captured table's bucket arrays, numbered as one: the first table's buckets, then
    /// (while a rehash is paused) the second's.
    struct Tables {
        let first: UnsafeMutablePointer<UnsafeMutableRawPointer?>
        let firstCount: Int
        let second: UnsafeMutablePointer<UnsafeMutableRawPointer?>?

        @inline(__always)
        func head(_ index: Int) -> UnsafeMutableRawPointer? {
            index < firstCount ? first[index] : second.unsafelyUnwrapped[index - firstCount]
        }
    }

    /// Serializes the chain starting at `head`, bucket `index`, unless that bucket was saved.
    @inline(__always)
    func save(bucket index: Int, head: UnsafeMutableRawPointer?) {
        guard markSaved(index), let head, !sink.abandoned else { return }
        sink.serialize({ visit in pendingKeys += Self.visitChain(head, visit) }, appendingTo: &pending)
        if pending.count >= Self.handOverThreshold { handOverPending() }
    }

    /// Serializes the next `limit` buckets from where the walk stopped, skipping those saved
    /// already; returns the bytes and key count, and whether the table is now fully saved
    /// (what writers serialized is handed over first, so it reaches the file no later).
    func walk(_ tables: Tables, limit: Int) -> (bytes: [UInt8], keys: Int, done: Bool) {
        handOverPending()
        let batch = walked..<min(bucketCount, walked + limit)
        walked = batch.upperBound
        var bytes: [UInt8] = []
        var keys = 0
        guard !sink.abandoned else { return (bytes, keys, walked == bucketCount) }
        sink.serialize({ visit in
            for index in batch where markSaved(index) {
                // Entries sit at random addresses: start loading those a few buckets on.
                if index + DictCapture.prefetchDistance < batch.upperBound,
                   let ahead = tables.head(index + DictCapture.prefetchDistance) {
                    swiftlet_prefetch(ahead)
                    swiftlet_prefetch(ahead + 64)
                }
                keys += Self.visitChain(tables.head(index), visit)
            }
        }, appendingTo: &bytes)
        return (bytes, keys, walked == bucketCount)
    }

    /// Sets bucket `index`'s bit; false when it was set already.
    @inline(__always)
    private func markSaved(_ index: Int) -> Bool {
        let word = index >> 6, bit = UInt64(1) << UInt64(index & 63)
        guard saved[word] & bit == 0 else { return false }
        saved[word] |= bit
        return true
    }

    /// Visits the entries of the chain starting at `head`; returns how many there were.
    @inline(__always)
    private static func visitChain(_ head: UnsafeMutableRawPointer?, _ visit: (Entry) -> Void) -> Int {
        var keys = 0
        var raw = head
        while let current = raw {
            let entry = Entry(current)
            raw = entry.next
            visit(entry)
            keys += 1
        }
        return keys
    }

    /// Saves everything left at once (a table about to be cleared, swapped or resized).
    func finish(_ tables: Tables) {
        let rest = walk(tables, limit: bucketCount)
        if rest.keys > 0 { sink.handOver(db: db, bytes: rest.bytes, keys: rest.keys) }
    }

    private func handOverPending() {
        guard pendingKeys > 0 else { return }
        sink.handOver(db: db, bytes: pending, keys: pendingKeys)
        pending = []
        pendingKeys = 0
    }
}
