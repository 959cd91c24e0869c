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

    /// The nodes that precede (score, member) on each level and their ranks.
    private func predecessors(_ score: Double, _ member: UnsafeRawBufferPointer) -> ([ZSkipNode], [Int]) {
        var update = [ZSkipNode](repeating: header, count: ZSkipList.maxLevel)
        var rank = [Int](repeating: 0, count: ZSkipList.maxLevel)
        var node = header
        for index in stride(from: level - 1, through: 0, by: -1) {
            rank[index] = index == level - 1 ? 0 : rank[index + 1]
            while let next = node.levels[index].forward,
                  next.member.withUnsafeBytes({ zsetPrecedes(next.score, $0, score, member) }) {
                rank[index] += node.levels[index].span
                node = next
            }
            update[index] = node
        }
        return (update, rank)
    }

    /// Inserts a member that is not present.
    mutating func insert(_ member: [UInt8], score: Double) {
        var (update, rank) = member.withUnsafeBytes { predecessors(score, $0) }
        let newLevel = randomLevel()
        if newLevel > level {
            for index in level..<newLevel {
                rank[index] = 0
                update[index] = header
                header.levels[index].span = count
            }
            level = newLevel
        }
        let node = ZSkipNode.make(member: member, score: score, level: newLevel)
        for index in 0..<newLevel {
            node.levels[index].forward = update[index].levels[index].forward
            update[index].levels[index].forward = node
            node.levels[index].span = update[index].levels[index].span - (rank[0] - rank[index])
            update[index].levels[index].span = rank[0] - rank[index] + 1
        }
        for index in newLevel..<level { update[index].levels[index].span += 1 }
        node.backward = update[0] === header ? nil : update[0]
        if let next = node.levels[0].forward { next.backward = node } else { tail = node }
        count += 1
    }

    /// Removes the element (score, member), which must be present.
    mutating func remove(_ member: UnsafeRawBufferPointer, score: Double) {
        let (update, _) = predecessors(score, member)
        guard let node = update[0].levels[0].forward, node.score == score, node.member.elementsEqual(member) else {
            preconditionFailure("skip list element missing")
        }
        unlink(node, update)
    }

    private mutating func unlink(_ node: ZSkipNode, _ update: [ZSkipNode]) {
        for index in 0..<level {
            if update[index].levels[index].forward === node {
                update[index].levels[index].span += node.levels[index].span - 1
                update[index].levels[index].forward = node.levels[index].forward
            } else {
                update[index].levels[index].span -= 1
            }
        }
        if let next = node.levels[0].forward { next.backward = node.backward } else { tail = node.backward }
        while level > 1 && header.levels[level - 1].forward == nil { level -= 1 }
        count -= 1
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
        countLeading { node in node.member.withUnsafeBytes { zsetPrecedes(node.score, $0, score, member) } }
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
