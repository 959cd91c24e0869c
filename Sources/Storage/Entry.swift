// One key-value pair in a single malloc'd block: the chain link, LRU/LFU bits, flags,
// lengths, an optional absolute expire time, the key bytes and the value. One allocation per
// key is what keeps a 16-byte key with a 3-byte value in a 48-byte malloc chunk.
//
// Layout (byte offsets):
//   0  next entry in the bucket chain (8)
//   8  access clock: 24-bit LRU clock or LFU (16-bit minutes, 8-bit counter) (3), flags (1)
//  12  key length (4)
//  16  value length in bytes (4): string bytes; 8 for an int; 8 for an object reference
//  20  expire time in ms since the epoch (8), only when `hasExpire`
//  ..  key bytes, then value bytes
#if canImport(Glibc)
import Glibc
#endif
import CSystem

public enum ValueKind: UInt8 {
    /// String bytes stored inline.
    case string = 0
    /// A string that is a canonical 64-bit integer, stored as 8 bytes (encoding "int").
    case integer = 1
}

public struct EntryFlags: OptionSet {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let hasExpire = EntryFlags(rawValue: 1 << 0)
    /// A string that Redis would report as "raw" rather than "embstr".
    public static let rawEncoding = EntryFlags(rawValue: 1 << 1)
    static let kindMask: UInt8 = 0b1100_0000
    static let kindShift: UInt8 = 6
}

public struct Entry: Equatable {
    public let pointer: UnsafeMutableRawPointer
    static let headerSize = 20

    @inlinable public init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }

    var next: UnsafeMutableRawPointer? {
        get { pointer.load(as: UnsafeMutableRawPointer?.self) }
        nonmutating set { pointer.storeBytes(of: newValue, as: UnsafeMutableRawPointer?.self) }
    }

    private var flagByte: UInt8 {
        get { pointer.load(fromByteOffset: 11, as: UInt8.self) }
        nonmutating set { pointer.storeBytes(of: newValue, toByteOffset: 11, as: UInt8.self) }
    }

    public var flags: EntryFlags { EntryFlags(rawValue: flagByte & ~EntryFlags.kindMask) }
    public var kind: ValueKind { ValueKind(rawValue: flagByte >> EntryFlags.kindShift)! }
    public var hasExpire: Bool { flagByte & EntryFlags.hasExpire.rawValue != 0 }

    /// 24-bit LRU clock or LFU data.
    public var accessClock: UInt32 {
        get { pointer.loadUnaligned(fromByteOffset: 8, as: UInt32.self) & 0xFF_FFFF }
        nonmutating set {
            let flags = UInt32(flagByte) << 24
            pointer.storeBytes(of: (newValue & 0xFF_FFFF) | flags, toByteOffset: 8, as: UInt32.self)
        }
    }

    public var keyLength: Int { Int(pointer.loadUnaligned(fromByteOffset: 12, as: UInt32.self)) }
    var valueLength: Int { Int(pointer.loadUnaligned(fromByteOffset: 16, as: UInt32.self)) }
    private var keyOffset: Int { Entry.headerSize + (hasExpire ? 8 : 0) }

    public var key: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: pointer + keyOffset, count: keyLength)
    }

    /// Absolute expire time in ms, or nil for a persistent key.
    public var expireAt: Int64? {
        hasExpire ? pointer.loadUnaligned(fromByteOffset: Entry.headerSize, as: Int64.self) : nil
    }

    /// Overwrites the expire time in place; only valid when the entry already has one.
    public func updateExpire(_ when: Int64) {
        precondition(hasExpire)
        pointer.storeBytes(of: when, toByteOffset: Entry.headerSize, as: Int64.self)
    }

    /// Overwrites the value of an `.integer` entry in place (INCR's fast path).
    public func updateInteger(_ value: Int64) {
        precondition(kind == .integer)
        valuePointer.storeBytes(of: value, as: Int64.self)
    }

    var valuePointer: UnsafeMutableRawPointer { pointer + keyOffset + keyLength }

    /// String bytes of a `.string` entry.
    public var stringBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: valuePointer, count: valueLength)
    }

    /// Integer of an `.integer` entry.
    public var integer: Int64 { valuePointer.loadUnaligned(as: Int64.self) }

    /// Total bytes malloc'd for this entry (for memory accounting).
    public var allocationSize: Int { malloc_usable_size(pointer) }

    func keyEquals(_ other: UnsafeRawBufferPointer) -> Bool {
        let length = keyLength
        guard length == other.count else { return false }
        return length == 0 || memcmp(pointer + keyOffset, other.baseAddress!, length) == 0
    }

    /// The value to store in a new entry.
    public enum Payload {
        case bytes(UnsafeRawBufferPointer)
        case integer(Int64)

        var byteCount: Int {
            switch self {
            case .bytes(let b): return b.count
            case .integer: return 8
            }
        }
        var kind: ValueKind {
            switch self {
            case .bytes: return .string
            case .integer: return .integer
            }
        }
    }

    /// Allocates an entry. `rawEncoding` only matters for strings.
    public static func make(key: UnsafeRawBufferPointer, payload: Payload, expireAt: Int64?,
                            rawEncoding: Bool, accessClock: UInt32) -> Entry {
        let valueLength = payload.byteCount
        let expireBytes = expireAt == nil ? 0 : 8
        let size = headerSize + expireBytes + key.count + valueLength
        let memory = malloc(size)!
        memory.storeBytes(of: nil, as: UnsafeMutableRawPointer?.self)
        var flagByte = payload.kind.rawValue << EntryFlags.kindShift
        if expireAt != nil { flagByte |= EntryFlags.hasExpire.rawValue }
        if rawEncoding { flagByte |= EntryFlags.rawEncoding.rawValue }
        memory.storeBytes(of: (accessClock & 0xFF_FFFF) | UInt32(flagByte) << 24, toByteOffset: 8, as: UInt32.self)
        memory.storeBytes(of: UInt32(key.count), toByteOffset: 12, as: UInt32.self)
        memory.storeBytes(of: UInt32(valueLength), toByteOffset: 16, as: UInt32.self)
        if let expireAt { memory.storeBytes(of: expireAt, toByteOffset: headerSize, as: Int64.self) }
        let keyStart = memory + headerSize + expireBytes
        if key.count > 0 { keyStart.copyMemory(from: key.baseAddress!, byteCount: key.count) }
        let valueStart = keyStart + key.count
        switch payload {
        case .bytes(let bytes):
            if bytes.count > 0 { valueStart.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        case .integer(let value):
            valueStart.storeBytes(of: value, as: Int64.self)
        }
        return Entry(memory)
    }

    /// Replaces the value in place when the new one has the same layout (kind, byte length,
    /// encoding flag and presence of an expire time), sparing a free and a malloc; returns
    /// false when the entry must be rebuilt instead.
    public func overwrite(with payload: Payload, expireAt: Int64?, rawEncoding: Bool, accessClock: UInt32) -> Bool {
        guard kind == payload.kind, valueLength == payload.byteCount, hasExpire == (expireAt != nil),
              flags.contains(.rawEncoding) == rawEncoding else { return false }
        switch payload {
        case .bytes(let bytes):
            if bytes.count > 0 { valuePointer.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        case .integer(let value):
            valuePointer.storeBytes(of: value, as: Int64.self)
        }
        if let expireAt { updateExpire(expireAt) }
        self.accessClock = accessClock
        return true
    }

    /// A copy of this entry under `key` (RENAME/MOVE/COPY) with the given expire time.
    public func copy(key newKey: UnsafeRawBufferPointer, expireAt: Int64?) -> Entry {
        let payload: Payload = kind == .integer ? .integer(integer) : .bytes(stringBytes)
        return Entry.make(key: newKey, payload: payload, expireAt: expireAt,
                          rawEncoding: flags.contains(.rawEncoding), accessClock: accessClock)
    }

    public func free() { Glibc.free(pointer) }
}
