// One key-value pair in a single malloc'd block: the chain link, LRU/LFU bits, flags,
// lengths, an optional absolute expire time, the key bytes and the value. One allocation per
// key is what keeps a 16-byte key with a 3-byte value in a 48-byte malloc chunk.
//
// Layout (byte offsets):
//   0  next entry in the bucket chain (8)
//   8  access clock: 24-bit LRU clock or LFU (16-bit minutes, 8-bit counter) (3), flags (1)
//  12  key length (4)
//  16  value length in bytes (4): string bytes; 8 for an int; 8 for a collection reference;
//      for a compressed string, 4 (original length) + the zlib stream's length
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
    /// Collections: the value is a retained reference to a `CollectionObject` of that kind.
    case list = 2
    case set = 3
    case zset = 4
    case hash = 5

    /// Whether the value is a reference to a `CollectionObject`.
    @inline(__always) public var isCollection: Bool { rawValue >= ValueKind.list.rawValue }
}

public struct EntryFlags: OptionSet {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let hasExpire = EntryFlags(rawValue: 1 << 0)
    /// A string that Redis would report as "raw" rather than "embstr".
    public static let rawEncoding = EntryFlags(rawValue: 1 << 1)
    /// A string stored zlib-compressed: the value bytes are its original length (4) and the
    /// zlib stream, so it must be read through `withStringBytes`, never `plainStringBytes`.
    public static let compressed = EntryFlags(rawValue: 1 << 2)
    /// The key has tags in its shard's tag index (TagIndex.swift): removing or replacing the
    /// entry must drop them. Untagged keys never touch the index.
    public static let tagged = EntryFlags(rawValue: 1 << 3)
    static let kindMask: UInt8 = 0b1110_0000
    static let kindShift: UInt8 = 5
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
    public var isCompressed: Bool { flagByte & EntryFlags.compressed.rawValue != 0 }

    /// Whether the key has tags; set and cleared by the shard's tag index.
    public internal(set) var isTagged: Bool {
        get { flagByte & EntryFlags.tagged.rawValue != 0 }
        nonmutating set {
            flagByte = newValue ? flagByte | EntryFlags.tagged.rawValue : flagByte & ~EntryFlags.tagged.rawValue
        }
    }

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

    /// Bytes in front of a compressed string's zlib stream: its original length.
    public static let compressedLengthSize = 4

    /// String bytes of a `.string` entry that is not compressed.
    public var plainStringBytes: UnsafeRawBufferPointer {
        precondition(!isCompressed, "a compressed string read without decompressing")
        return UnsafeRawBufferPointer(start: valuePointer, count: valueLength)
    }

    /// String bytes of a `.string` entry that is not compressed, writable in place (edits that
    /// keep the length).
    public var mutablePlainStringBytes: UnsafeMutableRawBufferPointer {
        precondition(!isCompressed, "a compressed string edited in place")
        return UnsafeMutableRawBufferPointer(start: valuePointer, count: valueLength)
    }

    /// Length of a `.string` entry's value as the client sees it, compressed or not.
    public var stringLength: Int {
        isCompressed ? Int(valuePointer.loadUnaligned(as: UInt32.self)) : valueLength
    }

    /// The zlib stream of a compressed string.
    private var compressedStream: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: valuePointer + Entry.compressedLengthSize,
                               count: valueLength - Entry.compressedLengthSize)
    }

    /// Writes the first `count` bytes (at most `stringLength`) of a `.string` entry's value to
    /// `destination`.
    public func copyString(prefix count: Int, to destination: UnsafeMutableRawPointer) {
        if isCompressed {
            ValueCompression.decompress(compressedStream, into: destination, count: count, of: stringLength)
        } else if count > 0 {
            destination.copyMemory(from: valuePointer, byteCount: count)
        }
    }

    /// Calls `body` with the first `prefix` bytes of a `.string` entry's value (all of it when
    /// nil or longer), decompressed into a temporary buffer when the entry is compressed.
    public func withStringBytes<T>(prefix: Int? = nil, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        guard isCompressed else { return try body(plainStringBytes) }
        let count = min(prefix ?? Int.max, stringLength)
        let buffer = malloc(max(count, 1))!
        defer { Glibc.free(buffer) }
        copyString(prefix: count, to: buffer)
        return try body(UnsafeRawBufferPointer(start: buffer, count: count))
    }

    /// Bytes that compression saves on this entry's value (0 when it is not compressed).
    public var compressionSavings: Int { isCompressed ? stringLength - valueLength : 0 }

    /// Integer of an `.integer` entry.
    public var integer: Int64 { valuePointer.loadUnaligned(as: Int64.self) }

    /// The collection of a collection entry, unretained (the entry holds the reference).
    public var collection: CollectionObject {
        Unmanaged<AnyObject>.fromOpaque(valuePointer.loadUnaligned(as: UnsafeRawPointer.self)).takeUnretainedValue()
            as! CollectionObject
    }

    /// The collection of a collection entry as its concrete type, which `kind` guarantees.
    @inline(__always)
    public func collection<Object: CollectionObject>(as type: Object.Type) -> Object {
        Unmanaged<Object>.fromOpaque(valuePointer.loadUnaligned(as: UnsafeRawPointer.self)).takeUnretainedValue()
    }

    /// Total bytes this entry holds, its collection included (for memory accounting): its
    /// malloc chunk with glibc's 8-byte size field, which usable sizes leave out. Redis on
    /// jemalloc has no per-allocation header, so counting it keeps an equal maxmemory an
    /// equal heap (about 5% of the heap at 100-byte values).
    public var allocationSize: Int {
        let requested = Entry.headerSize + (hasExpire ? 8 : 0) + keyLength + valueLength
        let block = requested < Entry.computedSizeLimit ? Entry.usableSize(forRequest: requested) : malloc_usable_size(pointer)
        return block + Entry.chunkSizeField + (kind.isCollection ? collection.memoryUsage : 0)
    }

    /// The size field glibc keeps in front of every chunk it hands out.
    static let chunkSizeField = 8

    /// Below this request size glibc serves malloc from its heap (its mmap threshold starts
    /// at 128 KB), where the usable size follows from the request alone.
    static let computedSizeLimit = 64 * 1024

    /// glibc's usable size for a heap request of `size` bytes: a chunk is the request plus its
    /// 8-byte size field rounded up to 16 (at least 32), and all of it but that field is
    /// usable. Computed instead of asking malloc_usable_size, which reads the chunk header —
    /// one more memory access for every store and delete (about 5% of the CPU of SET under
    /// eviction). When glibc reuses a free chunk too small to split, the real chunk is up to
    /// 16 bytes larger than this; the accounting stays consistent because stores and
    /// deletes use the same figure.
    static func usableSize(forRequest size: Int) -> Int { max(32, (size + 8 + 15) & ~15) - 8 }

    func keyEquals(_ other: UnsafeRawBufferPointer) -> Bool {
        let length = keyLength
        guard length == other.count else { return false }
        return length == 0 || memcmp(pointer + keyOffset, other.baseAddress!, length) == 0
    }

    /// The value to store in a new entry.
    public enum Payload {
        case bytes(UnsafeRawBufferPointer)
        /// A zlib stream (`ValueCompression.compress`) of a string of `originalLength` bytes.
        case compressed(UnsafeRawBufferPointer, originalLength: Int)
        case integer(Int64)
        /// The entry takes its own reference to the collection.
        case collection(CollectionObject)

        var byteCount: Int {
            switch self {
            case .bytes(let b): return b.count
            case .compressed(let stream, _): return Entry.compressedLengthSize + stream.count
            case .integer, .collection: return 8
            }
        }
        var kind: ValueKind {
            switch self {
            case .bytes, .compressed: return .string
            case .integer: return .integer
            case .collection(let object): return type(of: object).kind
            }
        }

        func write(to destination: UnsafeMutableRawPointer) {
            switch self {
            case .bytes(let bytes):
                if bytes.count > 0 { destination.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            case .compressed(let stream, let originalLength):
                destination.storeBytes(of: UInt32(originalLength), as: UInt32.self)
                (destination + Entry.compressedLengthSize).copyMemory(from: stream.baseAddress!, byteCount: stream.count)
            case .integer(let value):
                destination.storeBytes(of: value, as: Int64.self)
            case .collection(let object):
                destination.storeBytes(of: UnsafeRawPointer(Unmanaged<AnyObject>.passRetained(object).toOpaque()),
                                       as: UnsafeRawPointer.self)
            }
        }
    }

    /// The payload that recreates this entry's value, sharing its collection (a compressed
    /// string is copied as it is stored).
    private var payload: Payload {
        switch kind {
        case .integer: return .integer(integer)
        case .string: return isCompressed ? .compressed(compressedStream, originalLength: stringLength) : .bytes(plainStringBytes)
        default: return .collection(collection)
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
        if case .compressed = payload { flagByte |= EntryFlags.compressed.rawValue }
        memory.storeBytes(of: (accessClock & 0xFF_FFFF) | UInt32(flagByte) << 24, toByteOffset: 8, as: UInt32.self)
        memory.storeBytes(of: UInt32(key.count), toByteOffset: 12, as: UInt32.self)
        memory.storeBytes(of: UInt32(valueLength), toByteOffset: 16, as: UInt32.self)
        if let expireAt { memory.storeBytes(of: expireAt, toByteOffset: headerSize, as: Int64.self) }
        let keyStart = memory + headerSize + expireBytes
        if key.count > 0 { keyStart.copyMemory(from: key.baseAddress!, byteCount: key.count) }
        payload.write(to: keyStart + key.count)
        return Entry(memory)
    }

    /// Replaces the value in place when the new one has the same layout (kind, byte length,
    /// encoding flag and presence of an expire time), sparing a free and a malloc; returns
    /// false when the entry must be rebuilt instead. Only for plain strings: a collection entry
    /// owns a reference that overwriting would leak, and the shard counts compressed entries.
    public func overwrite(with payload: Payload, expireAt: Int64?, rawEncoding: Bool, accessClock: UInt32) -> Bool {
        if case .compressed = payload { return false }
        guard !kind.isCollection, !isCompressed, kind == payload.kind, valueLength == payload.byteCount, hasExpire == (expireAt != nil),
              flags.contains(.rawEncoding) == rawEncoding else { return false }
        payload.write(to: valuePointer)
        if let expireAt { updateExpire(expireAt) }
        self.accessClock = accessClock
        return true
    }

    /// This entry rebuilt under `key` with the given expire time (RENAME, changing whether a
    /// TTL exists). A collection is shared, not copied: the old entry is about to be freed.
    public func copy(key newKey: UnsafeRawBufferPointer, expireAt: Int64?) -> Entry {
        Entry.make(key: newKey, payload: payload, expireAt: expireAt,
                   rawEncoding: flags.contains(.rawEncoding), accessClock: accessClock)
    }

    /// An independent copy under `key` (the COPY command): collections are duplicated.
    public func duplicate(key newKey: UnsafeRawBufferPointer) -> Entry {
        let value = kind.isCollection ? .collection(collection.duplicate()) : payload
        return Entry.make(key: newKey, payload: value, expireAt: expireAt,
                          rawEncoding: flags.contains(.rawEncoding), accessClock: accessClock)
    }

    /// Frees the entry; a collection that costs more than `LazyFreer.effortThreshold` steps to
    /// free goes to `freer`'s background thread instead.
    public func free(deferringTo freer: LazyFreer) {
        guard kind.isCollection, Entry.freeEffort(of: collection) > LazyFreer.effortThreshold else { return free() }
        // Take over the entry's reference: the job's capture is the last one.
        let object = Unmanaged<AnyObject>.fromOpaque(valuePointer.loadUnaligned(as: UnsafeRawPointer.self)).takeRetainedValue()
        Glibc.free(pointer)
        freer.submit(objects: 1) { withExtendedLifetime(object) {} }
    }

    /// Steps freeing a collection takes: one block for the compact encodings, one per
    /// element otherwise. DIVERGENCE: Redis counts a quicklist's nodes, not its elements, so
    /// lists of 65 to a few thousand elements are freed in the background here, not there.
    static func freeEffort(of collection: CollectionObject) -> Int {
        switch collection.encodingName {
        case "listpack", "intset": return 1
        default: return collection.count
        }
    }

    /// Frees the entry, dropping its reference to a collection.
    public func free() {
        if kind.isCollection {
            Unmanaged<AnyObject>.fromOpaque(valuePointer.loadUnaligned(as: UnsafeRawPointer.self)).release()
        }
        Glibc.free(pointer)
    }
}
