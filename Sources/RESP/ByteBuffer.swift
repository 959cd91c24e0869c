// A growable byte buffer over malloc'd memory: the input and output buffers of every
// connection. Appends are amortised O(1) and never allocate once the buffer has grown to the
// connection's working size, which keeps the request path allocation-free.
#if canImport(Glibc)
import Glibc
#endif

public struct ByteBuffer {
    public private(set) var base: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    /// Bytes in use, from `base`.
    public var count: Int = 0

    public init(capacity: Int = 16 * 1024) {
        self.capacity = max(capacity, 64)
        base = malloc(self.capacity)!
    }

    /// Releases the memory. The owner calls this exactly once.
    public func deallocate() { free(base) }

    @inlinable public var freeSpace: Int { capacity - count }
    @inlinable public var end: UnsafeMutableRawPointer { base + count }

    public mutating func reserve(_ extra: Int) {
        if capacity - count >= extra { return }
        var newCapacity = max(capacity * 2, 64)
        while newCapacity - count < extra { newCapacity *= 2 }
        base = realloc(base, newCapacity)!
        capacity = newCapacity
    }

    /// Reallocates to `capacity` bytes (at least `count`): 0 leaves no memory to speak of (an
    /// idle connection's buffers).
    public mutating func resize(to capacity: Int) {
        let newCapacity = max(capacity, count)
        guard newCapacity != self.capacity else { return }
        if newCapacity == 0 {
            free(base)
            base = malloc(0)!
        } else {
            base = realloc(base, newCapacity)!
        }
        self.capacity = newCapacity
    }

    /// Shrinks an idle buffer that grew for one big request back to `limit` bytes.
    public mutating func shrinkIfIdle(to limit: Int) {
        if count == 0 && capacity > limit {
            base = realloc(base, limit)!
            capacity = limit
        }
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
