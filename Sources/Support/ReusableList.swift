// A list of plain values that keeps its storage when emptied: emptying only resets the count
// and later appends overwrite in place. Array's removeAll(keepingCapacity:) takes a generic
// path of about a hundred instructions, measurable when it runs on every read of every
// connection (the parsed-ahead batch, its noted keys). Elements are bitwise-copyable, so
// those left past the count hold nothing alive.
public struct ReusableList<Element: BitwiseCopyable> {
    @usableFromInline var storage: [Element] = []
    @usableFromInline var storedCount = 0

    @inlinable public var count: Int { storedCount }

    public init() {}

    @inlinable public var isEmpty: Bool { storedCount == 0 }

    @inlinable public mutating func removeAll() { storedCount = 0 }

    @inlinable public mutating func append(_ element: Element) {
        if storedCount < storage.count {
            storage[storedCount] = element
        } else {
            storage.append(element)
        }
        storedCount += 1
    }

    @inlinable public subscript(index: Int) -> Element {
        precondition(index < storedCount, "ReusableList index out of range")
        return storage[index]
    }

    /// The first `limit` elements (all when fewer).
    @inlinable public func prefix(_ limit: Int) -> ArraySlice<Element> {
        storage[..<min(limit, storedCount)]
    }
}
