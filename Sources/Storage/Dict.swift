// The keyspace hash table of one database in one shard: power-of-two bucket arrays with
// entries chained through their own `next` field (no separate node allocation), incremental
// rehashing between two tables so growth never stops the world, random sampling for
// eviction/RANDOMKEY, and Redis's reverse-binary SCAN cursor, which survives growth and
// shrinking without missing keys that stay present. While a snapshot captures the table
// (DictCapture.swift), every lookup, insertion and removal first has the snapshot save the
// bucket it touches.
#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Support

/// Address of the pointer that refers to an entry (a bucket head or a predecessor's `next`).
public typealias EntryLink = UnsafeMutablePointer<UnsafeMutableRawPointer?>

struct BucketTable {
    var buckets: UnsafeMutablePointer<UnsafeMutableRawPointer?>? = nil
    var size = 0
    var used = 0
    var mask: UInt64 { UInt64(size &- 1) }

    static func allocate(size: Int) -> BucketTable {
        let buckets = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: size)
        buckets.initialize(repeating: nil, count: size)
        return BucketTable(buckets: buckets, size: size, used: 0)
    }

    func release() { buckets?.deallocate() }
}

public struct Dict {
    var tables = (BucketTable(), BucketTable())
    /// Next bucket of table 0 to move into table 1; -1 when not rehashing. Stored plus one,
    /// so that an all-zero `Dict` is an empty table (DatabaseTables.swift).
    private var rehashPosition = 0
    var rehashIndex: Int {
        @inline(__always) get { rehashPosition - 1 }
        @inline(__always) set { rehashPosition = newValue + 1 }
    }
    /// The snapshot capture in progress, if any (declared here to share the first cache line
    /// with the tables, as the hot paths test it). Owned by its snapshot, which ends every
    /// capture before it goes: a counted reference would make every copy of a `Dict` (each
    /// `dicts[db]` access) retain and release; unmanaged, since even an unowned reference is
    /// retained while a method runs on it (the hot paths test it on every lookup).
    private var capture: Unmanaged<DictCapture>?
    public private(set) var volatileCount = 0
    /// Where the active expiry cycle's scan of this table resumes.
    var expiryCursor: UInt64 = 0
    static let initialSize = 4

    public init() {}

    public var count: Int { tables.0.used + tables.1.used }
    public var isRehashing: Bool { rehashIndex >= 0 }
    public var isCaptured: Bool { capture != nil }
    /// Bytes held by bucket arrays (for memory accounting).
    public var bucketBytes: Int { (tables.0.size + tables.1.size) * 8 }

    // MARK: Lookup

    public func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Entry? {
        guard let link = link(key, hash: hash) else { return nil }
        return Entry(link.pointee!)
    }

    /// The link pointing at `key`'s entry, for replacing or unlinking it.
    public func link(_ key: UnsafeRawBufferPointer, hash: UInt64) -> EntryLink? {
        if count == 0 { return nil }
        saveBucket(hash: hash)
        for t in 0..<2 {
            let table = t == 0 ? tables.0 : tables.1
            guard let buckets = table.buckets else { continue }
            var link = buckets + Int(hash & table.mask)
            while let raw = link.pointee {
                if Entry(raw).keyEquals(key) { return link }
                link = raw.assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
            }
            if !isRehashing { break }
        }
        return nil
    }

    // MARK: Prefetching (pipelined batches)

    /// Starts loading the bucket `hash` falls into in the table at `dict` (first step of a
    /// two-step prefetch). Reads the header's fields through the pointer: copying the
    /// header would load all of it, a second cache line included.
    @inline(__always)
    public static func prefetchBucket(of dict: UnsafeMutablePointer<Dict>, hash: UInt64) {
        guard let buckets = dict.pointee.tables.0.buckets else { return }
        swiftlet_prefetch(buckets + Int(hash & dict.pointee.tables.0.mask))
    }

    /// Starts loading the first entry of that bucket (second step, once the bucket arrived).
    @inline(__always)
    public static func prefetchEntry(of dict: UnsafeMutablePointer<Dict>, hash: UInt64) {
        guard let buckets = dict.pointee.tables.0.buckets,
              let head = buckets[Int(hash & dict.pointee.tables.0.mask)] else { return }
        swiftlet_prefetch(head)
        swiftlet_prefetch(head + 32)
    }

    // MARK: Mutation

    /// Adds an entry whose key is known to be absent.
    public mutating func insert(_ entry: Entry, hash: UInt64) {
        saveBucket(hash: hash)
        rehashStep()
        growIfNeeded()
        if isRehashing {
            push(entry, hash: hash, into: &tables.1)
        } else {
            push(entry, hash: hash, into: &tables.0)
        }
        if entry.hasExpire { volatileCount += 1 }
    }

    private func push(_ entry: Entry, hash: UInt64, into table: inout BucketTable) {
        let bucket = table.buckets! + Int(hash & table.mask)
        entry.next = bucket.pointee
        bucket.pointee = entry.pointer
        table.used += 1
    }

    /// Swaps the entry at `link` for `replacement` (same key), returning the old entry.
    public mutating func replace(at link: EntryLink, with replacement: Entry) -> Entry {
        let old = Entry(link.pointee!)
        replacement.next = old.next
        link.pointee = replacement.pointer
        volatileCount += (replacement.hasExpire ? 1 : 0) - (old.hasExpire ? 1 : 0)
        return old
    }

    /// Unlinks the entry at `link`, returning it; the caller frees it.
    public mutating func remove(at link: EntryLink, hash: UInt64) -> Entry {
        saveBucket(hash: hash)
        let entry = Entry(link.pointee!)
        link.pointee = entry.next
        if entry.hasExpire { volatileCount -= 1 }
        // The entry lives in whichever table owns the bucket range its link falls into.
        if isRehashing, let buckets = tables.1.buckets, tableOwns(tables.1, hash: hash, link: link, buckets: buckets) {
            tables.1.used -= 1
        } else {
            tables.0.used -= 1
        }
        finishRehashIfDone()
        return entry
    }

    private func tableOwns(_ table: BucketTable, hash: UInt64, link: EntryLink,
                           buckets: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> Bool {
        // Walk the chain of `hash`'s bucket in `table` and see whether `link` is on it.
        var current = buckets + Int(hash & table.mask)
        while true {
            if current == link { return true }
            guard let raw = current.pointee else { return false }
            current = raw.assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
        }
    }

    /// Frees every entry and bucket array.
    public mutating func removeAll(freeing release: (Entry) -> Void) {
        finishCapture()
        forEach(release)
        tables.0.release()
        tables.1.release()
        self = Dict()
    }

    // MARK: Growth

    private mutating func growIfNeeded() {
        if isRehashing { return }
        if isCaptured {
            guard tables.0.used >= tables.0.size * 4 else { return }
            finishCapture()
        }
        if tables.0.buckets == nil {
            tables.0 = .allocate(size: Dict.initialSize)
        } else if tables.0.used >= tables.0.size {
            startRehash(to: tables.0.size * 2)
        }
    }

    /// Sizes an empty table for `capacity` entries at once (a load that knows its key count),
    /// so filling it never rehashes; a table holding entries is left to grow as usual.
    public mutating func reserve(_ capacity: Int) {
        guard count == 0, !isRehashing else { return }
        finishCapture()
        var size = Dict.initialSize
        while size < capacity { size *= 2 }
        guard size > tables.0.size else { return }
        tables.0.release()
        tables.0 = .allocate(size: size)
    }

    /// Shrinks a sparse table (under 1/8 full), like Redis's htNeedsResize; called from cron.
    public mutating func shrinkIfSparse() {
        if isRehashing || isCaptured || tables.0.size <= Dict.initialSize { return }
        if tables.0.used * 8 < tables.0.size {
            var size = Dict.initialSize
            while size < tables.0.used { size *= 2 }
            startRehash(to: size)
        }
    }

    private mutating func startRehash(to size: Int) {
        tables.1 = .allocate(size: size)
        rehashIndex = 0
    }

    /// Moves one bucket (visiting at most 10 empty ones) from the old table to the new one.
    public mutating func rehashStep() {
        // A captured table keeps every key in its bucket until the capture ends.
        guard isRehashing, !isCaptured else { return }
        var emptyVisits = 10
        let old = tables.0
        while rehashIndex < old.size && old.buckets![rehashIndex] == nil {
            rehashIndex += 1
            emptyVisits -= 1
            if emptyVisits == 0 { return }
        }
        if rehashIndex < old.size {
            var raw = old.buckets![rehashIndex]
            old.buckets![rehashIndex] = nil
            while let current = raw {
                let entry = Entry(current)
                raw = entry.next
                let hash = KeyHash.hash(entry.key)
                push(entry, hash: hash, into: &tables.1)
                tables.0.used -= 1
            }
            rehashIndex += 1
        }
        finishRehashIfDone()
    }

    private mutating func finishRehashIfDone() {
        guard isRehashing, !isCaptured, tables.0.used == 0 else { return }
        tables.0.release()
        tables.0 = tables.1
        tables.1 = BucketTable()
        rehashIndex = -1
    }

    /// Rehashes for about `steps` buckets (cron's active rehashing).
    public mutating func rehash(steps: Int) {
        var remaining = steps
        while remaining > 0 && isRehashing {
            rehashStep()
            remaining -= 1
        }
    }

    // MARK: Snapshot capture

    /// The capture's view of the tables: both while a rehash is under way (it pauses while
    /// the table is captured), each bucket numbered once.
    private var captureTables: DictCapture.Tables {
        DictCapture.Tables(first: tables.0.buckets!, firstCount: tables.0.size,
                           second: isRehashing ? tables.1.buckets : nil)
    }

    /// Has the snapshot save the bucket(s) `hash` falls into, if a capture is in progress:
    /// during a paused rehash the key may sit in either table.
    @inline(__always)
    func saveBucket(hash: UInt64) {
        guard let capture else { return }
        capture._withUnsafeGuaranteedRef { capture in
            let first = Int(hash & tables.0.mask)
            capture.save(bucket: first, head: tables.0.buckets![first])
            if isRehashing {
                let second = Int(hash & tables.1.mask)
                capture.save(bucket: tables.0.size + second, head: tables.1.buckets![second])
            }
        }
    }

    /// Arms a capture of this (non-empty) table for `sink`, as database `db`, and returns it
    /// for the snapshot to keep.
    public mutating func beginCapture(db: Int, sink: CaptureSink) -> DictCapture? {
        guard tables.0.buckets != nil else { return nil }
        let capture = DictCapture(db: db, sink: sink, bucketCount: tables.0.size + (isRehashing ? tables.1.size : 0))
        self.capture = .passUnretained(capture)
        return capture
    }

    /// The snapshot's walk: serializes up to `limit` more buckets (with what writers saved
    /// meanwhile) and ends the capture once every bucket is saved. Nil when not captured.
    public mutating func captureStep(limit: Int) -> (db: Int, bytes: [UInt8], keys: Int)? {
        guard let capture = capture?.takeUnretainedValue() else { return nil }
        let step = capture.walk(captureTables, limit: limit)
        if step.done { endCapture() }
        return (capture.db, step.bytes, step.keys)
    }

    /// Saves whatever the capture has not yet saved and ends it (the table is about to be
    /// cleared, swapped or resized).
    public mutating func finishCapture() {
        guard let capture = capture?.takeUnretainedValue() else { return }
        capture.finish(captureTables)
        endCapture()
    }

    /// Ends the capture without saving more (the snapshot was abandoned); a paused rehash
    /// may complete again.
    public mutating func endCapture() {
        guard isCaptured else { return }
        capture = nil
        finishRehashIfDone()
    }

    // MARK: Sampling and scanning

    /// A random entry, or nil when empty: a random non-empty bucket, then a random chain element.
    public func randomEntry() -> Entry? {
        if count == 0 { return nil }
        while true {
            let useNew = isRehashing && Int.random(in: 0..<count) >= tables.0.used
            let table = useNew ? tables.1 : tables.0
            guard table.size > 0, table.used > 0 else { continue }
            let index = Int.random(in: 0..<table.size)
            if useNew == false && isRehashing && index < rehashIndex { continue }
            guard let head = table.buckets![index] else { continue }
            var length = 0
            var raw: UnsafeMutableRawPointer? = head
            while let current = raw { length += 1; raw = Entry(current).next }
            var pick = Int.random(in: 0..<length)
            var chosen = head
            while pick > 0 { chosen = Entry(chosen).next!; pick -= 1 }
            return Entry(chosen)
        }
    }

    /// Calls `visit` for the entries of consecutive buckets from the one `start` (a random
    /// number) selects until `visit` has accepted `count` entries or about `maxBuckets`
    /// buckets were seen (Redis's dictGetSomeKeys): cheap sampling for eviction, biased only
    /// within a few buckets. `visit` returns whether it took the entry. Buckets are read
    /// eight at a time and their entries prefetched together, so the cache misses of a
    /// sample overlap; `prefetchBucket(of:hash: start)` beforehand hides the bucket's miss too.
    public func sample(count: Int, maxBuckets: Int, start: UInt64, visit: (Entry) -> Bool) {
        guard self.count > 0 else { return }
        var taken = 0
        var index = Int(truncatingIfNeeded: start)
        for _ in 0..<max(1, maxBuckets / Dict.sampleBatch) {
            for t in 0..<(isRehashing ? 2 : 1) {
                // (Buckets of table 0 that rehashing has moved are empty.)
                let table = t == 0 ? tables.0 : tables.1
                guard let buckets = table.buckets else { continue }
                let width = min(Dict.sampleBatch, table.size), mask = Int(table.mask)
                Dict.prefetchHeads(buckets, from: index, width: width, mask: mask)
                for step in 0..<width {
                    var raw = buckets[(index &+ step) & mask]
                    while let current = raw {
                        let entry = Entry(current)
                        raw = entry.next
                        if visit(entry) { taken += 1 }
                        if taken >= count { return }
                    }
                }
            }
            index &+= Dict.sampleBatch
        }
    }

    static let sampleBatch = 8

    private static func prefetchHeads(_ buckets: UnsafeMutablePointer<UnsafeMutableRawPointer?>, from index: Int,
                                      width: Int, mask: Int) {
        for step in 0..<width {
            if let head = buckets[(index &+ step) & mask] { swiftlet_prefetch(head) }
        }
    }

    /// Starts loading the entries of the first buckets a sample from `start` reads.
    public func prefetchSampleEntries(start: UInt64) {
        guard count > 0, let buckets = tables.0.buckets else { return }
        Dict.prefetchHeads(buckets, from: Int(truncatingIfNeeded: start), width: min(Dict.sampleBatch, tables.0.size),
                           mask: Int(tables.0.mask))
    }

    /// One SCAN step from `cursor`: calls `visit` for each entry of the visited bucket(s)
    /// and returns the next cursor (0 when the iteration is complete).
    public func scan(cursor: UInt64, visit: (Entry) -> Void) -> UInt64 {
        if count == 0 { return 0 }
        var v = cursor
        func visitChain(_ head: UnsafeMutableRawPointer?) {
            var raw = head
            while let current = raw {
                let entry = Entry(current)
                raw = entry.next
                visit(entry)
            }
        }
        if !isRehashing {
            let t0 = tables.0
            visitChain(t0.buckets![Int(v & t0.mask)])
            return ScanCursor.advance(v, mask: t0.mask)
        }
        var small = tables.0, large = tables.1
        if small.size > large.size { swap(&small, &large) }
        let m0 = small.mask, m1 = large.mask
        visitChain(small.buckets![Int(v & m0)])
        repeat {
            visitChain(large.buckets![Int(v & m1)])
            v = ScanCursor.advance(v, mask: m1)
        } while v & (m0 ^ m1) != 0
        return v
    }

    /// Calls `body` for every entry (KEYS, FLUSH accounting, snapshotting). The next link is
    /// read before `body` runs, so `body` may free the entry.
    public func forEach(_ body: (Entry) -> Void) {
        for t in 0..<2 {
            let table = t == 0 ? tables.0 : tables.1
            guard let buckets = table.buckets else { continue }
            for i in 0..<table.size {
                var raw = buckets[i]
                while let current = raw {
                    let entry = Entry(current)
                    raw = entry.next
                    body(entry)
                }
            }
        }
    }
}
