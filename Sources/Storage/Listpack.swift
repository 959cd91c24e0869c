// A compact sequence of byte strings in one contiguous buffer, the idea behind Redis's
// listpack: small hashes, sorted sets and lists keep all their elements in a single
// allocation instead of one object per element. Each element is its length as a LEB128
// varint, its bytes, then the size of those two as a varint read backwards (as Redis's
// listpack keeps a back-length), so the buffer can be walked from either end: an element
// near the tail (RPOP, LINDEX -1) costs as little as one near the head. Access is otherwise
// by linear scan, which is what Redis's thresholds (`*-max-listpack-entries/value`) keep
// cheap.

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

    /// Bytes a back-length of `size` takes: one per 7 bits.
    @inline(__always)
    private static func backLengthBytes(_ size: Int) -> Int {
        max(1, (Int.bitWidth - size.leadingZeroBitCount + 6) / 7)
    }

    /// Offset of the element after the one whose header starts at `offset`.
    @inline(__always)
    private func offset(after offset: Int) -> Int {
        let (length, start) = header(at: offset)
        let size = start - offset + length
        return offset + size + Listpack.backLengthBytes(size)
    }

    /// Offset of the element that ends (back-length included) just before `end`. The
    /// back-length's last byte holds its lowest 7 bits, flagged when more bytes precede it.
    @inline(__always)
    private func offset(before end: Int) -> Int {
        var size = 0, shift = 0, position = end - 1
        while true {
            let byte = storage[position]
            size |= Int(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
            position -= 1
        }
        return position - size
    }

    /// Byte offset of element `index` (`count` gives the end of the buffer), walking from the
    /// nearer end.
    private func offset(ofIndex index: Int) -> Int {
        if index > count / 2 {
            var offset = storage.count
            for _ in index..<count { offset = self.offset(before: offset) }
            return offset
        }
        var offset = 0
        for _ in 0..<index { offset = self.offset(after: offset) }
        return offset
    }

    /// Calls `body` with each element's index and bytes, in order, until it returns false.
    public func forEach(_ body: (Int, UnsafeRawBufferPointer) -> Bool) {
        storage.withUnsafeBytes { buffer in
            var offset = 0
            for index in 0..<count {
                let (length, start) = header(at: offset)
                if !body(index, UnsafeRawBufferPointer(rebasing: buffer[start..<start + length])) { return }
                offset = self.offset(after: offset)
            }
        }
    }

    /// Calls `body` with each element's index and bytes from the last to the first, until it
    /// returns false.
    public func forEachReversed(_ body: (Int, UnsafeRawBufferPointer) -> Bool) {
        storage.withUnsafeBytes { buffer in
            var end = storage.count
            for index in stride(from: count - 1, through: 0, by: -1) {
                let offset = self.offset(before: end)
                let (length, start) = header(at: offset)
                if !body(index, UnsafeRawBufferPointer(rebasing: buffer[start..<start + length])) { return }
                end = offset
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

    /// Appends the encoding of `bytes` (header, bytes, back-length) to `output`.
    private static func encode(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        var remaining = bytes.count, headerBytes = 0
        repeat {
            let low = UInt8(remaining & 0x7F)
            remaining >>= 7
            output.append(remaining == 0 ? low : low | 0x80)
            headerBytes += 1
        } while remaining != 0
        output.append(contentsOf: bytes)
        let size = headerBytes + bytes.count
        let highest = backLengthBytes(size) - 1
        for group in stride(from: highest, through: 0, by: -1) {
            let bits = UInt8(truncatingIfNeeded: size >> (7 * group)) & 0x7F
            output.append(group == highest ? bits : bits | 0x80)
        }
    }

    private static func encoded(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var output: [UInt8] = []
        encode(bytes, into: &output)
        return output
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        Listpack.encode(bytes, into: &storage)
        count += 1
    }

    /// Inserts `bytes` before element `index` (`index == count` appends).
    public mutating func insert(_ bytes: UnsafeRawBufferPointer, at index: Int) {
        precondition(index >= 0 && index <= count)
        storage.insert(contentsOf: Listpack.encoded(bytes), at: offset(ofIndex: index))
        count += 1
    }

    /// Removes `length` consecutive elements starting at `index`.
    public mutating func remove(at index: Int, length: Int = 1) {
        precondition(index >= 0 && length >= 0 && index + length <= count)
        let start = offset(ofIndex: index)
        var end = start
        if index + length == count {
            end = storage.count
        } else {
            for _ in 0..<length { end = offset(after: end) }
        }
        storage.removeSubrange(start..<end)
        count -= length
    }

    /// Replaces element `index` with `bytes`.
    public mutating func replace(at index: Int, with bytes: UnsafeRawBufferPointer) {
        let start = offset(ofIndex: index)
        storage.replaceSubrange(start..<offset(after: start), with: Listpack.encoded(bytes))
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
