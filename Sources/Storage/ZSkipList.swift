// The ordered index of a large sorted set: a skip list ordered by (score, member) whose
// forward links carry spans (how many elements each link jumps), as in Redis, so the rank of
// an element, the element at a rank, and the first element past a score or lex bound are all
// found in O(log n). Members are unique; the member→score dictionary lives in ZSetValue.
import Support

struct ZSkipNodeHeader {
    let member: [UInt8]
    let score: Double
    /// Previous node on level 0 (nil for the first element). Not retaining: the forward links own the nodes.
    unowned(unsafe) var backward: ZSkipNode?
    let levelCount: Int
}

/// A node with its forward links stored inline after the header (one allocation, and one
/// cache miss per step of a search instead of two).
final class ZSkipNode: ManagedBuffer<ZSkipNodeHeader, ZSkipLevel> {
    static func make(member: [UInt8], score: Double, level: Int) -> ZSkipNode {
        let node = unsafeDowncast(ZSkipNode.create(minimumCapacity: level) { _ in
            ZSkipNodeHeader(member: member, score: score, backward: nil, levelCount: level)
        }, to: ZSkipNode.self)
        node.withUnsafeMutablePointerToElements { $0.initialize(repeating: ZSkipLevel(), count: level) }
        return node
    }

    deinit {
        withUnsafeMutablePointers { header, levels in _ = levels.deinitialize(count: header.pointee.levelCount) }
    }

    var member: [UInt8] { header.member }
    var score: Double { header.score }
    var levelCount: Int { header.levelCount }
    var backward: ZSkipNode? {
        get { header.backward }
        set { header.backward = newValue }
    }
    /// The inline forward links, one per level; valid while the node lives.
    var levels: UnsafeMutablePointer<ZSkipLevel> { withUnsafeMutablePointerToElements { $0 } }

    /// The next node on `level`, borrowed: the link is read as the pointer it is, so a search
    /// step counts no references (read as a reference, it retained and released every node a
    /// search passed).
    @inline(__always)
    func next(on level: Int) -> Unmanaged<ZSkipNode>? {
        let link = UnsafeRawPointer(levels + level) + MemoryLayout<ZSkipLevel>.offset(of: \ZSkipLevel.forward)!
        return link.load(as: UnsafeRawPointer?.self).map { Unmanaged.fromOpaque($0) }
    }
}

struct ZSkipLevel {
    var forward: ZSkipNode?
    /// Elements passed by following `forward` (the distance in ranks).
    var span = 0
}

/// Total order of a sorted set: by score, then by member bytes.
@inline(__always)
func zsetPrecedes(_ score: Double, _ member: UnsafeRawBufferPointer, _ otherScore: Double,
                  _ otherMember: UnsafeRawBufferPointer) -> Bool {
    if score != otherScore { return score < otherScore }
    return member.lexicographicallyPrecedes(otherMember)
}

struct ZSkipList {
    static let maxLevel = 32
    private(set) var header = ZSkipNode.make(member: [], score: 0, level: ZSkipList.maxLevel)
    private(set) unowned(unsafe) var tail: ZSkipNode?
    private(set) var level = 1
    private(set) var count = 0

    private var random = Xorshift64()

    /// A level for a new node: each further level with probability 1/4.
    private mutating func randomLevel() -> Int {
        var level = 1
        while level < ZSkipList.maxLevel && random.next() & 3 == 0 { level += 1 }
        return level
    }

    /// Releases the nodes one by one (a long chain of forward references would otherwise be
    /// freed recursively and could overflow the stack).
    func releaseNodes() {
        var node = header.levels[0].forward
        for level in 0..<header.levelCount { header.levels[level].forward = nil }
        while let current = node {
            node = current.levels[0].forward
            for level in 0..<current.levelCount { current.levels[level].forward = nil }
        }
    }

    /// Whether `node` comes before (score, member). The member's bytes (another allocation,
    /// so another cache miss per step) are read only when the scores tie.
    @inline(__always)
    private static func node(_ node: ZSkipNode, precedes score: Double, _ member: UnsafeRawBufferPointer) -> Bool {
        let nodeScore = node.score
        if nodeScore != score { return nodeScore < score }
        return node.member.withUnsafeBytes { $0.lexicographicallyPrecedes(member) }
    }

    /// Calls `body` with, for each level, the node that precedes (score, member) there and
    /// that node's rank. Both live in stack buffers and the nodes are borrowed: an insertion
    /// or removal allocates nothing and counts no references for them.
    private func withPredecessors<T>(_ score: Double, _ member: UnsafeRawBufferPointer,
                                     _ body: (UnsafeMutablePointer<Unmanaged<ZSkipNode>>, UnsafeMutablePointer<Int>) -> T) -> T {
        withUnsafeTemporaryAllocation(of: Unmanaged<ZSkipNode>.self, capacity: ZSkipList.maxLevel) { update in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: ZSkipList.maxLevel) { rank in
                let update = update.baseAddress!, rank = rank.baseAddress!
                update.initialize(repeating: .passUnretained(header), count: ZSkipList.maxLevel)
                rank.initialize(repeating: 0, count: ZSkipList.maxLevel)
                var node = Unmanaged.passUnretained(header)
                for index in stride(from: level - 1, through: 0, by: -1) {
                    rank[index] = index == level - 1 ? 0 : rank[index + 1]
                    while let next = node._withUnsafeGuaranteedRef({ $0.next(on: index) }),
                          next._withUnsafeGuaranteedRef({ ZSkipList.node($0, precedes: score, member) }) {
                        rank[index] += node._withUnsafeGuaranteedRef { $0.levels[index].span }
                        node = next
                    }
                    update[index] = node
                }
                return body(update, rank)
            }
        }
    }

    /// Inserts a member that is not present.
    mutating func insert(_ member: [UInt8], score: Double) {
        let newLevel = randomLevel()
        member.withUnsafeBytes { bytes in
            withPredecessors(score, bytes) { update, rank in
                if newLevel > level {
                    for index in level..<newLevel {
                        rank[index] = 0
                        update[index] = .passUnretained(header)
                        header.levels[index].span = count
                    }
                    level = newLevel
                }
                let node = ZSkipNode.make(member: member, score: score, level: newLevel)
                for index in 0..<newLevel {
                    update[index]._withUnsafeGuaranteedRef { before in
                        node.levels[index].forward = before.levels[index].forward
                        before.levels[index].forward = node
                        node.levels[index].span = before.levels[index].span - (rank[0] - rank[index])
                        before.levels[index].span = rank[0] - rank[index] + 1
                    }
                }
                for index in newLevel..<level { update[index]._withUnsafeGuaranteedRef { $0.levels[index].span += 1 } }
                let previous = update[0].takeUnretainedValue()
                node.backward = previous === header ? nil : previous
                if let next = node.levels[0].forward { next.backward = node } else { tail = node }
                count += 1
            }
        }
    }

    /// Removes the element (score, member), which must be present.
    mutating func remove(_ member: UnsafeRawBufferPointer, score: Double) {
        withPredecessors(score, member) { update, _ in
            guard let node = update[0].takeUnretainedValue().levels[0].forward, node.score == score,
                  node.member.elementsEqual(member) else {
                preconditionFailure("skip list element missing")
            }
            for index in 0..<level {
                update[index]._withUnsafeGuaranteedRef { before in
                    if before.levels[index].forward === node {
                        before.levels[index].span += node.levels[index].span - 1
                        before.levels[index].forward = node.levels[index].forward
                    } else {
                        before.levels[index].span -= 1
                    }
                }
            }
            if let next = node.levels[0].forward { next.backward = node.backward } else { tail = node.backward }
            while level > 1 && header.levels[level - 1].forward == nil { level -= 1 }
            count -= 1
        }
    }

    /// How many leading elements satisfy `isBefore`, which must hold for a prefix of the order
    /// (e.g. "score < min"): the rank of the first element that does not.
    func countLeading(where isBefore: (ZSkipNode) -> Bool) -> Int {
        var node = header
        var rank = 0
        for index in stride(from: level - 1, through: 0, by: -1) {
            while let next = node.levels[index].forward, isBefore(next) {
                rank += node.levels[index].span
                node = next
            }
        }
        return rank
    }

    /// 0-based rank of (score, member), which must be present.
    func rank(of member: UnsafeRawBufferPointer, score: Double) -> Int {
        countLeading { ZSkipList.node($0, precedes: score, member) }
    }

    /// The node at 0-based `rank` (< count).
    func node(atRank rank: Int) -> ZSkipNode {
        var node = header
        var traversed = -1
        for index in stride(from: level - 1, through: 0, by: -1) {
            while let next = node.levels[index].forward, traversed + node.levels[index].span <= rank {
                traversed += node.levels[index].span
                node = next
            }
            if traversed == rank { return node }
        }
        preconditionFailure("rank out of range")
    }
}
