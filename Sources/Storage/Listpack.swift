// A compact sequence of byte strings in one contiguous buffer, the idea behind Redis's
// listpack: small hashes, sorted sets and lists keep all their elements in a single
// allocation (each element is its length as a LEB128 varint followed by its bytes) instead of
// one object per element. Access is by linear scan, which is what Redis's thresholds
// (`*-max-listpack-entries/value`) keep cheap.

public struct Listpack {
    private var storage: [UInt8] = []
    /// Number of elements.
    public private(set) var count = 0

    public init() {}

    /// Bytes held by the buffer (for memory accounting).
    public var byteCount: Int { storage.capacity }

    /// Bytes of encoded elements (what size limits on a listpack are measured against).
    public var encodedByteCount: Int { storage.count }

    public var isEmpty: Bool { count == 0 }

    // MARK: Reading

    /// Length and start of the element whose header starts at `offset`.
    @inline(__always)
    private func header(at offset: Int) -> (length: Int, start: Int) {
        var length = 0, shift = 0, position = offset
        while true {
            let byte = storage[position]
            length |= Int(byte & 0x7F) << shift
            position += 1
            if byte < 0x80 { return (length, position) }
            shift += 7
        }
    }

    /// Byte offset of element `index` (`count` gives the end of the buffer).
    private func offset(ofIndex index: Int) -> Int {
        var offset = 0
        for _ in 0..<index {
            let (length, start) = header(at: offset)
            offset = start + length
        }
        return offset
    }

    /// Calls `body` with each element's index and bytes, in order, until it returns false.
    public func forEach(_ body: (Int, UnsafeRawBufferPointer) -> Bool) {
        storage.withUnsafeBytes { buffer in
            var offset = 0
            for index in 0..<count {
                let (length, start) = header(at: offset)
                if !body(index, UnsafeRawBufferPointer(rebasing: buffer[start..<start + length])) { return }
                offset = start + length
            }
        }
    }

    /// Calls `body` with each element's index and bytes from the last to the first, until it
    /// returns false (element starts are found by one forward pass first).
    public func forEachReversed(_ body: (Int, UnsafeRawBufferPointer) -> Bool) {
        var starts: [Int] = []
        starts.reserveCapacity(count)
        var offset = 0
        for _ in 0..<count {
            starts.append(offset)
            let (length, start) = header(at: offset)
            offset = start + length
        }
        storage.withUnsafeBytes { buffer in
            for index in stride(from: count - 1, through: 0, by: -1) {
                let (length, start) = header(at: starts[index])
                if !body(index, UnsafeRawBufferPointer(rebasing: buffer[start..<start + length])) { return }
            }
        }
    }

    /// Calls `body` with the bytes of element `index`.
    public func withElement<T>(at index: Int, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        let (length, start) = header(at: offset(ofIndex: index))
        return storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<start + length])) }
    }

    /// A copy of element `index`.
    public func element(at index: Int) -> [UInt8] { withElement(at: index) { Array($0) } }

    /// Index of the first element equal to `bytes` among indexes `0, stride, 2*stride...`
    /// (a stride of 2 searches the fields of field/value pairs).
    public func firstIndex(of bytes: UnsafeRawBufferPointer, stride: Int = 1) -> Int? {
        var found: Int?
        forEach { index, element in
            if index % stride == 0 && element.elementsEqual(bytes) {
                found = index
                return false
            }
            return true
        }
        return found
    }

    // MARK: Writing

    private static func encodedHeader(_ length: Int) -> [UInt8] {
        var header: [UInt8] = []
        var remaining = length
        repeat {
            let low = UInt8(remaining & 0x7F)
            remaining >>= 7
            header.append(remaining == 0 ? low : low | 0x80)
        } while remaining != 0
        return header
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        storage.append(contentsOf: Listpack.encodedHeader(bytes.count))
        storage.append(contentsOf: bytes)
        count += 1
    }

    /// Inserts `bytes` before element `index` (`index == count` appends).
    public mutating func insert(_ bytes: UnsafeRawBufferPointer, at index: Int) {
        precondition(index >= 0 && index <= count)
        let offset = offset(ofIndex: index)
        storage.insert(contentsOf: Listpack.encodedHeader(bytes.count) + bytes, at: offset)
        count += 1
    }

    /// Removes `length` consecutive elements starting at `index`.
    public mutating func remove(at index: Int, length: Int = 1) {
        precondition(index >= 0 && length >= 0 && index + length <= count)
        let start = offset(ofIndex: index)
        var end = start
        for _ in 0..<length {
            let (elementLength, elementStart) = header(at: end)
            end = elementStart + elementLength
        }
        storage.removeSubrange(start..<end)
        count -= length
    }

    /// Replaces element `index` with `bytes`.
    public mutating func replace(at index: Int, with bytes: UnsafeRawBufferPointer) {
        let start = offset(ofIndex: index)
        let (length, elementStart) = header(at: start)
        storage.replaceSubrange(start..<elementStart + length, with: Listpack.encodedHeader(bytes.count) + bytes)
    }

    /// Releases spare capacity (after large deletions).
    public mutating func shrinkToFit() {
        if storage.capacity > storage.count * 2 { storage = Array(storage) }
    }
}

extension Listpack {
    /// Convenience for byte arrays.
    public mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }
    public mutating func insert(_ bytes: [UInt8], at index: Int) { bytes.withUnsafeBytes { insert($0, at: index) } }
    public mutating func replace(at index: Int, with bytes: [UInt8]) { bytes.withUnsafeBytes { replace(at: index, with: $0) } }
}
