// A growable byte buffer: the input and output buffers of every connection. Appends are
// amortised O(1) and never allocate once the buffer has grown to the connection's working
// size, which keeps the request path allocation-free. A connection's buffers live in a page
// slot (PageSlots.swift) while they fit one and in malloc's memory when they grow past it.
#if canImport(Glibc)
import Glibc
#endif

public struct ByteBuffer {
    public private(set) var base: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    /// Bytes in use, from `base`.
    public var count: Int = 0
    /// Whether the bytes go in a page slot whenever they fit one (a connection's buffers).
    public let prefersPageSlot: Bool
    /// `base` is a page slot, not malloc's.
    public private(set) var inPageSlot = false

    public init(capacity: Int = 16 * 1024) {
        self.capacity = max(capacity, 64)
        base = malloc(self.capacity)!
        prefersPageSlot = false
    }

    /// A connection's buffer: one page slot to start with.
    public init(pageSlot: Void) {
        prefersPageSlot = true
        if let slot = PageSlots.shared.take() {
            base = slot
            capacity = PageSlots.slotSize
            inPageSlot = true
        } else {
            capacity = PageSlots.slotSize
            base = malloc(capacity)!
        }
    }

    /// Releases the memory. The owner calls this exactly once.
    public func deallocate() {
        if inPageSlot { PageSlots.shared.give(base) } else { free(base) }
    }

    @inlinable public var freeSpace: Int { capacity - count }
    @inlinable public var end: UnsafeMutableRawPointer { base + count }

    public mutating func reserve(_ extra: Int) {
        if capacity - count >= extra { return }
        var newCapacity = max(capacity * 2, 64)
        while newCapacity - count < extra { newCapacity *= 2 }
        move(to: newCapacity)
    }

    /// Reallocates to `capacity` bytes (at least `count`): 0 leaves no memory to speak of (an
    /// idle connection's buffers). A buffer that prefers page slots keeps a whole slot for any
    /// size from 1 to a slot's.
    public mutating func resize(to capacity: Int) {
        let newCapacity = max(capacity, count)
        guard newCapacity != self.capacity, !(inPageSlot && ByteBuffer.fitsSlot(newCapacity)) else { return }
        move(to: newCapacity)
    }

    /// Shrinks an idle buffer that grew for one big request back to `limit` bytes.
    public mutating func shrinkIfIdle(to limit: Int) {
        if count == 0 && capacity > limit { resize(to: limit) }
    }

    /// Puts the bytes in memory of `newCapacity` bytes (at least `count`): a page slot when
    /// this buffer prefers one and they fit, else malloc's.
    private mutating func move(to newCapacity: Int) {
        if prefersPageSlot && ByteBuffer.fitsSlot(newCapacity), !inPageSlot, let slot = PageSlots.shared.take() {
            slot.copyMemory(from: base, byteCount: count)
            free(base)
            base = slot
            capacity = PageSlots.slotSize
            inPageSlot = true
        } else if inPageSlot {
            let moved = malloc(newCapacity)!
            moved.copyMemory(from: base, byteCount: count)
            PageSlots.shared.give(base)
            base = moved
            capacity = newCapacity
            inPageSlot = false
        } else {
            base = newCapacity == 0 ? reallocToEmpty() : realloc(base, newCapacity)!
            capacity = newCapacity
        }
    }

    /// Whether `capacity` bytes go in a page slot (a buffer emptied to 0 keeps none).
    private static func fitsSlot(_ capacity: Int) -> Bool { capacity > 0 && capacity <= PageSlots.slotSize }

    /// Frees the memory and returns malloc's smallest block in its place.
    private func reallocToEmpty() -> UnsafeMutableRawPointer {
        free(base)
        return malloc(0)!
    }

    @inlinable
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        if n == 0 { return }
        reserve(n)
        (base + count).copyMemory(from: bytes.baseAddress!, byteCount: n)
        count += n
    }

    @inlinable
    public mutating func append(_ pointer: UnsafeRawPointer, _ n: Int) {
        if n == 0 { return }
        reserve(n)
        (base + count).copyMemory(from: pointer, byteCount: n)
        count += n
    }

    @inlinable
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    @inlinable
    public mutating func append(byte: UInt8) {
        reserve(1)
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inlinable
    public mutating func append(crlf: Void) {
        reserve(2)
        base.storeBytes(of: 0x0A0D, toByteOffset: count, as: UInt16.self)
        count += 2
    }

    /// Drops the first `n` bytes, moving what follows to the front.
    public mutating func consume(_ n: Int) {
        if n >= count { count = 0; return }
        memmove(base, base + n, count - n)
        count -= n
    }

    public var bytes: [UInt8] {
        Array(UnsafeRawBufferPointer(start: base, count: count))
    }
}
