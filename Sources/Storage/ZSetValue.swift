// A sorted set value in Redis's two encodings. Small sets are one Listpack of member/score
// pairs kept sorted by (score, member), the score stored as its 8 raw IEEE bytes; large ones
// (more than zset-max-listpack-entries members, or a member longer than
// zset-max-listpack-value) are a ZSkipList with spans plus a member→score ByteTable (whose
// growth-safe cursor ZSCAN walks, as Redis walks its dict). The
// conversion is one way, as in t_zset.c. Every reader works in ranks (0-based positions in
// ascending order), so score and lex ranges reduce to "count the elements before a bound".

public final class ZSetValue: CollectionObject {
    public static var kind: ValueKind { .zset }

    /// Listpack encoding: member, score, member, score... in ascending order.
    private var pairs = Listpack()
    /// Skiplist encoding (nil while listpack-encoded).
    private var list: ZSkipList?
    private var scores = ByteTable<Double>()
    /// Running estimate of the skiplist encoding's bytes.
    private var skiplistBytes = 0

    /// Fixed cost of one skiplist element besides its member bytes (node, links, dictionary slot).
    private static let nodeOverhead = 96

    /// An empty set in the encoding Redis's zsetTypeCreate picks for `sizeHint` elements whose
    /// longest member has `longestMember` bytes.
    public init(sizeHint: Int = 0, longestMember: Int = 0, maxListpackEntries: Int, maxListpackValue: Int) {
        if sizeHint > maxListpackEntries || longestMember > maxListpackValue { list = ZSkipList() }
    }

    deinit { list?.releaseNodes() }

    public var isListpack: Bool { list == nil }
    public var encodingName: String { isListpack ? "listpack" : "skiplist" }
    public var count: Int { list?.count ?? pairs.count / 2 }
    public var memoryUsage: Int { isListpack ? pairs.byteCount + 64 : skiplistBytes + 64 }

    public func duplicate() -> ZSetValue {
        let copy = ZSetValue(maxListpackEntries: 0, maxListpackValue: 0)
        copy.pairs = pairs
        if list != nil {
            copy.list = ZSkipList()
            copy.scores = scores
            copy.skiplistBytes = skiplistBytes
            forEach(ranks: 0..<count, reverse: false) { member, score in
                copy.list!.insert(Array(member), score: score)
            }
        }
        return copy
    }

    // MARK: Listpack helpers

    @inline(__always)
    private static func decodeScore(_ bytes: UnsafeRawBufferPointer) -> Double {
        Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)))
    }

    /// The stored form of a score. Redis's listpack keeps scores as decimal text in which -0
    /// reads back as 0, so the listpack encoding stores -0 as 0 too.
    @inline(__always)
    private static func withEncodedScore<T>(_ score: Double, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        withUnsafeBytes(of: (score == 0 ? 0 : score).bitPattern.littleEndian) { body($0) }
    }

    /// Pair index of `member` in the listpack.
    private func listpackIndex(of member: UnsafeRawBufferPointer) -> Int? {
        pairs.firstIndex(of: member, stride: 2).map { $0 / 2 }
    }

    // MARK: Lookups

    public func score(of member: UnsafeRawBufferPointer) -> Double? {
        if list != nil { return scores.slot(of: member).map { scores.value(at: $0) } }
        guard let index = listpackIndex(of: member) else { return nil }
        return pairs.withElement(at: index * 2 + 1) { ZSetValue.decodeScore($0) }
    }

    /// 0-based ascending rank of `member`.
    public func rank(of member: UnsafeRawBufferPointer) -> Int? {
        if let list {
            guard let score = scores.slot(of: member).map({ scores.value(at: $0) }) else { return nil }
            return list.rank(of: member, score: score)
        }
        return listpackIndex(of: member)
    }

    /// The number of leading elements (in ascending order) for which `isBefore(score, member)`
    /// holds; `isBefore` must hold for a prefix of the order, e.g. "score < min".
    public func countLeading(where isBefore: (Double, UnsafeRawBufferPointer) -> Bool) -> Int {
        if let list {
            return list.countLeading { node in node.member.withUnsafeBytes { isBefore(node.score, $0) } }
        }
        var leading = 0
        walk(ranks: 0..<count, reverse: false) { member, score in
            guard isBefore(score, member) else { return false }
            leading += 1
            return true
        }
        return leading
    }

    /// Calls `body` with the members and scores of `ranks`, ascending or descending, until it
    /// returns false.
    public func walk(ranks: Range<Int>, reverse: Bool, _ body: (UnsafeRawBufferPointer, Double) -> Bool) {
        guard !ranks.isEmpty else { return }
        if let list {
            var node: ZSkipNode? = list.node(atRank: reverse ? ranks.upperBound - 1 : ranks.lowerBound)
            for _ in ranks {
                guard let current = node else { return }
                if !current.member.withUnsafeBytes({ body($0, current.score) }) { return }
                node = reverse ? current.backward : current.levels[0].forward
            }
            return
        }
        if reverse {
            // The listpack is walked forwards; collect the window's offsets first.
            var window: [(member: [UInt8], score: Double)] = []
            window.reserveCapacity(ranks.count)
            forEach(ranks: ranks, reverse: false) { member, score in window.append((Array(member), score)) }
            for (member, score) in window.reversed() {
                if !member.withUnsafeBytes({ body($0, score) }) { return }
            }
            return
        }
        var member = UnsafeRawBufferPointer(start: nil, count: 0)
        pairs.forEach { index, element in
            let rank = index / 2
            if rank < ranks.lowerBound { return true }
            if rank >= ranks.upperBound { return false }
            if index % 2 == 0 {
                member = element
                return true
            }
            return body(member, ZSetValue.decodeScore(element))
        }
    }

    /// Calls `body` with the members and scores of `ranks`, ascending or descending.
    public func forEach(ranks: Range<Int>, reverse: Bool, _ body: (UnsafeRawBufferPointer, Double) -> Void) {
        walk(ranks: ranks, reverse: reverse) { member, score in
            body(member, score)
            return true
        }
    }

    /// The member and score at `rank` (< count).
    public func element(atRank rank: Int) -> (member: [UInt8], score: Double) {
        if let list {
            let node = list.node(atRank: rank)
            return (node.member, node.score)
        }
        return (pairs.element(at: rank * 2), pairs.withElement(at: rank * 2 + 1) { ZSetValue.decodeScore($0) })
    }

    /// One ZSCAN step from `cursor`, returning the next cursor: a listpack is visited whole
    /// (cursor 0), a skiplist's member table one bucket at a time.
    public func scan(cursor: UInt64, _ body: (UnsafeRawBufferPointer, Double) -> Void) -> UInt64 {
        guard list != nil else {
            forEach(ranks: 0..<count, reverse: false, body)
            return 0
        }
        return scores.scan(cursor: cursor) { slot in
            scores.key(at: slot).withUnsafeBytes { body($0, scores.value(at: slot)) }
        }
    }

    // MARK: Mutation

    /// Adds a member that is not present, converting to the skiplist first when the listpack
    /// would exceed the limits (as zsetAdd does).
    public func insert(_ member: UnsafeRawBufferPointer, score: Double, maxListpackEntries: Int, maxListpackValue: Int) {
        if list == nil && (count + 1 > maxListpackEntries || member.count > maxListpackValue) {
            convertToSkiplist()
        }
        if list != nil {
            let bytes = Array(member)
            list!.insert(bytes, score: score)
            _ = scores.insert(member, score)
            skiplistBytes += bytes.count + ZSetValue.nodeOverhead
            return
        }
        let rank = countLeading { zsetPrecedes($0, $1, score, member) }
        ZSetValue.withEncodedScore(score) { pairs.insert($0, at: rank * 2) }
        pairs.insert(member, at: rank * 2)
    }

    /// Changes the score of a present member from `oldScore` to `score`.
    public func update(_ member: UnsafeRawBufferPointer, from oldScore: Double, to score: Double) {
        guard oldScore != score else { return }
        if list != nil {
            list!.remove(member, score: oldScore)
            let bytes = Array(member)
            list!.insert(bytes, score: score)
            _ = scores.insert(member, score)
            return
        }
        let limits = Int.max
        remove(member)
        insert(member, score: score, maxListpackEntries: limits, maxListpackValue: limits)
    }

    /// Removes `member`; false when it was absent.
    @discardableResult
    public func remove(_ member: UnsafeRawBufferPointer) -> Bool {
        if list != nil {
            guard let score = scores.remove(member) else { return false }
            list!.remove(member, score: score)
            skiplistBytes -= member.count + ZSetValue.nodeOverhead
            return true
        }
        guard let index = listpackIndex(of: member) else { return false }
        pairs.remove(at: index * 2, length: 2)
        return true
    }

    /// Removes the elements at `ranks`.
    public func removeRanks(_ ranks: Range<Int>) {
        guard !ranks.isEmpty else { return }
        if list == nil {
            pairs.remove(at: ranks.lowerBound * 2, length: ranks.count * 2)
            pairs.shrinkToFit()
            return
        }
        var doomed: [[UInt8]] = []
        doomed.reserveCapacity(ranks.count)
        forEach(ranks: ranks, reverse: false) { member, _ in doomed.append(Array(member)) }
        for member in doomed { member.withUnsafeBytes { _ = remove($0) } }
    }

    /// Moves a listpack-encoded set to the skiplist encoding.
    public func convertToSkiplist() {
        guard list == nil else { return }
        var converted = ZSkipList()
        var dictionary = ByteTable<Double>(minimumCapacity: count)
        var bytes = 0
        forEach(ranks: 0..<count, reverse: false) { member, score in
            let copy = Array(member)
            converted.insert(copy, score: score)
            _ = dictionary.insert(member, score)
            bytes += copy.count + ZSetValue.nodeOverhead
        }
        list = converted
        scores = dictionary
        skiplistBytes = bytes
        pairs = Listpack()
    }
}
