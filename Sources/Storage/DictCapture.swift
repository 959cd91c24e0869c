// Copy-before-write at bucket granularity for a point-in-time snapshot (ARCHITECTURE §6).
// While a snapshot has not yet saved a database's table in some shard, that table carries a
// `DictCapture`: whoever is about to look up, add or remove a key first has the bucket the key
// hashes to serialized as it stands (a chain of one or two entries, about a microsecond), and
// the snapshot's own thread walks the remaining buckets a batch at a time under the shard's
// lock. Writers therefore never serialize a whole shard, and the memory in flight is the few
// kilobytes each table's `pending` bytes hold before they are handed over. The table neither
// grows nor shrinks while captured (bucket numbers must stay put), as Redis holds off resizing
// while a child process saves; a table that gets four times fuller than its buckets is saved
// whole first and then grows.
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

    /// Serializes bucket `index` of `buckets` unless that was done already.
    @inline(__always)
    func save(bucket index: Int, of buckets: UnsafeMutablePointer<UnsafeMutableRawPointer?>) {
        guard markSaved(index), buckets[index] != nil, !sink.abandoned else { return }
        pendingKeys += serialize(buckets, index..<index + 1, marked: true, appendingTo: &pending)
        if pending.count >= Self.handOverThreshold { handOverPending() }
    }

    /// Serializes the next `limit` buckets from where the walk stopped, skipping those saved
    /// already; returns the bytes and key count, and whether the table is now fully saved
    /// (what writers serialized is handed over first, so it reaches the file no later).
    func walk(buckets: UnsafeMutablePointer<UnsafeMutableRawPointer?>, limit: Int) -> (bytes: [UInt8], keys: Int, done: Bool) {
        handOverPending()
        let batch = walked..<min(bucketCount, walked + limit)
        walked = batch.upperBound
        var bytes: [UInt8] = []
        let keys = sink.abandoned ? 0 : serialize(buckets, batch, marked: false, appendingTo: &bytes)
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

    /// Serializes, in one call of the sink, the chains of the buckets in `range` not saved
    /// yet, marking them; `marked` when the caller has marked them already (a writer's one).
    private func serialize(_ buckets: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ range: Range<Int>,
                           marked: Bool, appendingTo bytes: inout [UInt8]) -> Int {
        var keys = 0
        sink.serialize({ visit in
            for index in range where marked || markSaved(index) {
                // Entries sit at random addresses: start loading the ones a few buckets on.
                if index + DictCapture.prefetchDistance < range.upperBound,
                   let ahead = buckets[index + DictCapture.prefetchDistance] {
                    swiftlet_prefetch(ahead)
                    swiftlet_prefetch(ahead + 64)
                }
                var raw = buckets[index]
                while let current = raw {
                    let entry = Entry(current)
                    raw = entry.next
                    visit(entry)
                    keys += 1
                }
            }
        }, appendingTo: &bytes)
        return keys
    }

    /// Saves everything left at once (a table about to be cleared, swapped or resized).
    func finish(buckets: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) {
        if let buckets {
            let rest = walk(buckets: buckets, limit: bucketCount)
            if rest.keys > 0 { sink.handOver(db: db, bytes: rest.bytes, keys: rest.keys) }
        }
        handOverPending()
    }

    private func handOverPending() {
        guard pendingKeys > 0 else { return }
        sink.handOver(db: db, bytes: pending, keys: pendingKeys)
        pending = []
        pendingKeys = 0
    }
}
