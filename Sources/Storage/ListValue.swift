// A Redis list. Redis 7.0 stores every list as a quicklist (OBJECT ENCODING reports
// "quicklist" even for one element): a deque of listpack nodes, each bounded by
// `list-max-listpack-size` (positive: entries per node; -1...-5: 4...64 KB per node). Bounded
// nodes keep pushes and pops at both ends cheap however long the list grows, while small
// lists stay one contiguous buffer.

public final class ListValue: CollectionObject {
    public static var kind: ValueKind { .list }
    public var encodingName: String { "quicklist" }

    /// Nodes from head to tail; none is ever empty.
    private var nodes: [Listpack] = []
    public private(set) var count = 0
    public private(set) var memoryUsage = ListValue.objectOverhead
    /// The fill rule, fixed when the list is created as Redis fixes a quicklist's.
    public let fill: Int

    private static let objectOverhead = 48
    private static let nodeOverhead = 32
    /// Node byte limits for fills -1...-5, and the cap on count-limited nodes.
    private static let sizeLevels = [4096, 8192, 16384, 32768, 65536]
    private static let sizeSafetyLimit = 8192
    /// Elements at least this long get a node of their own (Redis's "plain" nodes); set by
    /// DEBUG QUICKLIST-PACKED-THRESHOLD for tests, process-wide like Redis's.
    public static var packedThreshold = 1 << 30
    /// Redis's estimate of a listpack entry's header and back-length bytes.
    private static let entryOverheadEstimate = 8

    /// `fill` is `list-max-listpack-size`, clamped as Redis clamps it.
    public init(fill: Int) { self.fill = min(max(fill, -5), 1 << 15) }

    public func duplicate() -> ListValue {
        let copy = ListValue(fill: fill)
        copy.nodes = nodes
        copy.count = count
        copy.memoryUsage = memoryUsage
        return copy
    }

    // MARK: Node limits (quicklist's _quicklistNodeAllowInsert)

    private func allowsSize(_ size: Int, count: Int) -> Bool {
        if fill < 0 { return size <= ListValue.sizeLevels[-fill - 1] }
        return size <= ListValue.sizeSafetyLimit && count <= fill
    }

    private func isPlain(_ node: Listpack) -> Bool {
        node.count == 1 && node.encodedByteCount > ListValue.packedThreshold
    }

    private func canInsert(into node: Listpack, length: Int) -> Bool {
        guard length < ListValue.packedThreshold && !isPlain(node) else { return false }
        return allowsSize(node.encodedByteCount + length + ListValue.entryOverheadEstimate, count: node.count + 1)
    }

    private func exceedsLimit(_ node: Listpack) -> Bool {
        node.count > 1 && !allowsSize(node.encodedByteCount, count: node.count)
    }

    // MARK: Node bookkeeping (keeps memoryUsage current)

    private func mutateNode<T>(_ index: Int, _ body: (inout Listpack) -> T) -> T {
        let before = nodes[index].byteCount
        let result = body(&nodes[index])
        memoryUsage += nodes[index].byteCount - before
        return result
    }

    private func insertNode(_ node: Listpack, at index: Int) {
        nodes.insert(node, at: index)
        memoryUsage += node.byteCount + ListValue.nodeOverhead
    }

    private func removeNode(at index: Int) {
        memoryUsage -= nodes[index].byteCount + ListValue.nodeOverhead
        nodes.remove(at: index)
    }

    private static func singleton(_ bytes: UnsafeRawBufferPointer) -> Listpack {
        var node = Listpack()
        node.append(bytes)
        return node
    }

    /// Splits an over-full node in two halves (after an insertion or replacement inside it).
    private func splitIfNeeded(_ index: Int) {
        guard exceedsLimit(nodes[index]) else { return }
        var head = Listpack(), tail = Listpack()
        let half = nodes[index].count / 2
        nodes[index].forEach { position, element in
            if position < half { head.append(element) } else { tail.append(element) }
            return true
        }
        removeNode(at: index)
        insertNode(tail, at: index)
        insertNode(head, at: index)
    }

    /// The node holding element `index` (0 ..< count) and the element's position in it,
    /// walking from the nearer end.
    private func locate(_ index: Int) -> (node: Int, position: Int) {
        precondition(index >= 0 && index < count)
        if index < count / 2 {
            var remaining = index
            for node in nodes.indices {
                if remaining < nodes[node].count { return (node, remaining) }
                remaining -= nodes[node].count
            }
        } else {
            var remaining = count - 1 - index
            for node in nodes.indices.reversed() {
                if remaining < nodes[node].count { return (node, nodes[node].count - 1 - remaining) }
                remaining -= nodes[node].count
            }
        }
        preconditionFailure("list count out of step with its nodes")
    }

    // MARK: Ends

    public func pushFront(_ bytes: UnsafeRawBufferPointer) {
        if let first = nodes.first, canInsert(into: first, length: bytes.count) {
            mutateNode(0) { $0.insert(bytes, at: 0) }
        } else {
            insertNode(ListValue.singleton(bytes), at: 0)
        }
        count += 1
    }

    public func pushBack(_ bytes: UnsafeRawBufferPointer) {
        if let last = nodes.last, canInsert(into: last, length: bytes.count) {
            mutateNode(nodes.count - 1) { $0.append(bytes) }
        } else {
            insertNode(ListValue.singleton(bytes), at: nodes.count)
        }
        count += 1
    }

    public func push(_ bytes: UnsafeRawBufferPointer, atHead: Bool) {
        atHead ? pushFront(bytes) : pushBack(bytes)
    }

    /// Removes the head (or tail) element, handing its bytes to `body` first; false when empty.
    @discardableResult
    public func pop(atHead: Bool, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard !nodes.isEmpty else { return false }
        let node = atHead ? 0 : nodes.count - 1
        let position = atHead ? 0 : nodes[node].count - 1
        nodes[node].withElement(at: position, body)
        removeElements(node: node, at: position, length: 1)
        return true
    }

    /// Removes and returns the head (or tail) element.
    public func pop(atHead: Bool) -> [UInt8]? {
        var value: [UInt8]?
        pop(atHead: atHead) { value = Array($0) }
        return value
    }

    private func removeElements(node: Int, at position: Int, length: Int) {
        if nodes[node].count == length {
            removeNode(at: node)
        } else {
            mutateNode(node) {
                $0.remove(at: position, length: length)
                $0.shrinkToFit()
            }
        }
        count -= length
    }

    // MARK: By index (0 ..< count)

    public func withElement<T>(at index: Int, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        let (node, position) = locate(index)
        return nodes[node].withElement(at: position, body)
    }

    /// Calls `body` with each node from head to tail (RDB and DUMP write lists node by node).
    public func forEachNode(_ body: (Listpack) -> Void) {
        for node in nodes { body(node) }
    }

    /// Calls `body` with `length` consecutive elements from `start`, head to tail.
    public func forEach(from start: Int, length: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
        guard length > 0 else { return }
        var (node, skip) = locate(start)
        var remaining = length
        while remaining > 0 {
            nodes[node].forEach { position, element in
                guard position >= skip else { return true }
                body(element)
                remaining -= 1
                return remaining > 0
            }
            skip = 0
            node += 1
        }
    }

    /// Calls `body` with each element and its index counted from the end walked from (the
    /// head, or the tail when `fromTail`), until it returns false.
    public func walk(fromTail: Bool, _ body: (Int, UnsafeRawBufferPointer) -> Bool) {
        var index = 0
        for node in fromTail ? Array(nodes.indices.reversed()) : Array(nodes.indices) {
            var more = true
            if fromTail {
                nodes[node].forEachReversed { _, element in
                    more = body(index, element)
                    index += 1
                    return more
                }
            } else {
                nodes[node].forEach { _, element in
                    more = body(index, element)
                    index += 1
                    return more
                }
            }
            if !more { return }
        }
    }

    public func replace(at index: Int, with bytes: UnsafeRawBufferPointer) {
        let (node, position) = locate(index)
        mutateNode(node) { $0.replace(at: position, with: bytes) }
        splitIfNeeded(node)
    }

    /// Inserts `bytes` so that it becomes element `index` (0 ... count).
    public func insert(_ bytes: UnsafeRawBufferPointer, at index: Int) {
        if index == 0 { return pushFront(bytes) }
        if index == count { return pushBack(bytes) }
        let (node, position) = locate(index)
        mutateNode(node) { $0.insert(bytes, at: position) }
        count += 1
        splitIfNeeded(node)
    }

    /// Removes `length` consecutive elements from `start`.
    public func removeRange(from start: Int, length: Int) {
        var remaining = length
        while remaining > 0 {
            let (node, position) = locate(start)
            let taken = min(remaining, nodes[node].count - position)
            removeElements(node: node, at: position, length: taken)
            remaining -= taken
        }
    }

    /// Removes elements equal to `bytes`: all of them when `limit` is 0, else the first
    /// `limit` from the head (or from the tail when `fromTail`). Returns how many went.
    public func removeAll(equalTo bytes: UnsafeRawBufferPointer, limit: Int, fromTail: Bool) -> Int {
        var removed = 0
        var node = fromTail ? nodes.count - 1 : 0
        while node >= 0 && node < nodes.count && (limit == 0 || removed < limit) {
            var matches = 0
            nodes[node].forEach { _, element in
                if element.elementsEqual(bytes) { matches += 1 }
                return true
            }
            let dropping = limit == 0 ? matches : min(matches, limit - removed)
            if dropping > 0 {
                // From the tail the node's last `dropping` matches go, so the first ones stay.
                var keepFirst = fromTail ? matches - dropping : 0, dropped = 0
                var kept = Listpack()
                nodes[node].forEach { _, element in
                    if element.elementsEqual(bytes) {
                        if keepFirst > 0 {
                            keepFirst -= 1
                        } else if dropped < dropping {
                            dropped += 1
                            return true
                        }
                    }
                    kept.append(element)
                    return true
                }
                removed += dropping
                count -= dropping
                removeNode(at: node)
                if kept.count > 0 {
                    insertNode(kept, at: node)
                } else if !fromTail {
                    continue
                }
            }
            node += fromTail ? -1 : 1
        }
        return removed
    }
}
