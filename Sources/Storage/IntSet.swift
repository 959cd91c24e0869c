// Redis's intset: a sorted array of distinct integers in one buffer, every element stored with
// the smallest width (2, 4 or 8 bytes) that fits the widest one, so small all-integer sets
// cost a few bytes per member and iterate in ascending order as Redis's do. Lookup is a
// binary search; inserting a wider integer re-encodes the whole buffer once (never narrows).

public struct IntSet {
    private var storage: [UInt8] = []
    /// Bytes per element: 2, 4 or 8.
    public private(set) var width = 2
    public private(set) var count = 0

    public init() {}

    public var byteCount: Int { storage.capacity }

    private static func width(for value: Int64) -> Int {
        if value >= Int64(Int16.min) && value <= Int64(Int16.max) { return 2 }
        if value >= Int64(Int32.min) && value <= Int64(Int32.max) { return 4 }
        return 8
    }

    /// Element `index` (ascending order).
    public func value(at index: Int) -> Int64 {
        storage.withUnsafeBytes { Self.load($0, index, width) }
    }

    private static func load(_ bytes: UnsafeRawBufferPointer, _ index: Int, _ width: Int) -> Int64 {
        let offset = index * width
        switch width {
        case 2: return Int64(Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int16.self)))
        case 4: return Int64(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)))
        default: return Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int64.self))
        }
    }

    private static func encode(_ value: Int64, width: Int) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0.prefix(width)) }
    }

    /// Whether `value` is present and, if not, where it would be inserted.
    private func search(_ value: Int64) -> (found: Bool, index: Int) {
        storage.withUnsafeBytes { bytes in
            var low = 0, high = count
            while low < high {
                let middle = (low + high) / 2
                let current = Self.load(bytes, middle, width)
                if current == value { return (true, middle) }
                if current < value { low = middle + 1 } else { high = middle }
            }
            return (false, low)
        }
    }

    public func contains(_ value: Int64) -> Bool { search(value).found }

    /// Inserts `value`; returns false when it was already present.
    public mutating func insert(_ value: Int64) -> Bool {
        let needed = Self.width(for: value)
        if needed > width {
            let values = (0..<count).map { self.value(at: $0) }
            width = needed
            storage = values.flatMap { Self.encode($0, width: needed) }
        }
        let (found, index) = search(value)
        if found { return false }
        storage.insert(contentsOf: Self.encode(value, width: width), at: index * width)
        count += 1
        return true
    }

    /// Removes `value`; returns whether it was present.
    public mutating func remove(_ value: Int64) -> Bool {
        let (found, index) = search(value)
        guard found else { return false }
        storage.removeSubrange(index * width..<(index + 1) * width)
        count -= 1
        return true
    }
}
