// The building blocks of Redis's RDB format shared by files and DUMP payloads: type and
// opcode bytes, the variable-length length encoding (6, 14, 32 or 64 bits), strings that may
// be stored as small integers or LZF-compressed, and doubles (binary, or the old text form).
// `RDBOutput` appends them to a byte buffer; `RDBInput` reads them back and throws
// `RDBError` on anything truncated or malformed.
import Support

public enum RDBType: UInt8 {
    case string = 0, list = 1, set = 2, zset = 3, hash = 4, zset2 = 5
    case hashZipmap = 9, listZiplist = 10, setIntset = 11, zsetZiplist = 12, hashZiplist = 13
    case listQuicklist = 14, hashListpack = 16, zsetListpack = 17, listQuicklist2 = 18
}

public enum RDBOpcode {
    public static let function2: UInt8 = 245
    public static let function: UInt8 = 246
    public static let moduleAux: UInt8 = 247
    public static let idle: UInt8 = 248
    public static let freq: UInt8 = 249
    public static let aux: UInt8 = 250
    public static let resizeDB: UInt8 = 251
    public static let expireTimeMs: UInt8 = 252
    public static let expireTime: UInt8 = 253
    public static let selectDB: UInt8 = 254
    public static let eof: UInt8 = 255
}

public enum RDBError: Error, Equatable, CustomStringConvertible {
    case truncated
    case corrupt(String)
    case unsupportedVersion(Int)
    /// A file system failure, with Redis's log wording.
    case io(String)
    /// The stored checksum does not match the file.
    case checksum(expected: UInt64, stored: UInt64)
    /// The snapshot was cancelled while being written.
    case aborted

    public var description: String {
        switch self {
        case .truncated: return "Short read or OOM loading DB. Unrecoverable error, aborting now."
        case .corrupt(let reason): return "Internal error in RDB reading offset 0, function at rdb.c:0 -> \(reason)"
        case .unsupportedVersion(let version): return "Can't handle RDB format version \(version)"
        case .io(let message): return message
        case .checksum(let expected, let stored):
            return "Wrong RDB checksum expected: (\(String(expected, radix: 16))) but got (\(String(stored, radix: 16))). Aborting now. RDB CRC error"
        case .aborted: return "Background saving aborted"
        }
    }
}

/// The RDB version this server writes (Redis 7.0's).
public let rdbVersion = 10

private enum LengthPrefix {
    static let bits6: UInt8 = 0, bits14: UInt8 = 1, wide: UInt8 = 2, encoded: UInt8 = 3
    static let bits32: UInt8 = 0x80, bits64: UInt8 = 0x81
    static let int8: UInt8 = 0, int16: UInt8 = 1, int32: UInt8 = 2, lzf: UInt8 = 3
}

public struct RDBOutput {
    public var bytes: [UInt8] = []
    /// Whether strings longer than 20 bytes are LZF-compressed when that saves space.
    public var compression: Bool

    public init(compression: Bool) { self.compression = compression }

    public mutating func append(_ byte: UInt8) { bytes.append(byte) }

    public mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func appendLength(_ length: Int) {
        if length < 1 << 6 {
            bytes.append(UInt8(length))
        } else if length < 1 << 14 {
            bytes.append(LengthPrefix.bits14 << 6 | UInt8(length >> 8))
            bytes.append(UInt8(length & 0xFF))
        } else if length <= Int(UInt32.max) {
            bytes.append(LengthPrefix.bits32)
            withUnsafeBytes(of: UInt32(length).bigEndian) { bytes.append(contentsOf: $0) }
        } else {
            bytes.append(LengthPrefix.bits64)
            withUnsafeBytes(of: UInt64(length).bigEndian) { bytes.append(contentsOf: $0) }
        }
    }

    /// An integer in the smallest of the INT8/16/32 string encodings; false when it needs more.
    private mutating func appendEncodedInteger(_ value: Int64) -> Bool {
        let special = LengthPrefix.encoded << 6
        if let small = Int8(exactly: value) {
            bytes.append(special | LengthPrefix.int8)
            bytes.append(UInt8(bitPattern: small))
        } else if let medium = Int16(exactly: value) {
            bytes.append(special | LengthPrefix.int16)
            appendLittleEndian(medium)
        } else if let large = Int32(exactly: value) {
            bytes.append(special | LengthPrefix.int32)
            appendLittleEndian(large)
        } else {
            return false
        }
        return true
    }

    /// A string the way Redis's rdbSaveRawString writes it: short canonical integers in an
    /// integer encoding, longer strings LZF-compressed when enabled and at least 4 bytes shorter.
    public mutating func appendString(_ string: UnsafeRawBufferPointer) {
        if string.count <= 11, let value = Numbers.parseInt64(string), appendEncodedInteger(value) { return }
        if compression && string.count > 20,
           let compressed = LZF.compress(string, limit: string.count - 4) {
            bytes.append(LengthPrefix.encoded << 6 | LengthPrefix.lzf)
            appendLength(compressed.count)
            appendLength(string.count)
            bytes.append(contentsOf: compressed)
            return
        }
        appendLength(string.count)
        bytes.append(contentsOf: string)
    }

    public mutating func appendString(_ string: [UInt8]) { string.withUnsafeBytes { appendString($0) } }
    public mutating func appendString(_ string: String) { appendString(Array(string.utf8)) }

    /// An integer value as a string (Redis saves int-encoded strings through the same path).
    public mutating func appendInteger(_ value: Int64) {
        if !appendEncodedInteger(value) { appendString(Numbers.decimalBytes(value)) }
    }

    public mutating func appendBinaryDouble(_ value: Double) { appendLittleEndian(value.bitPattern) }
}

public struct RDBInput {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var position = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public mutating func readByte() throws -> UInt8 {
        guard position < bytes.count else { throw RDBError.truncated }
        position += 1
        return bytes[position - 1]
    }

    public mutating func readBytes(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - position else { throw RDBError.truncated }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
    }

    public mutating func readLittleEndian<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        let raw = try readBytes(MemoryLayout<T>.size)
        return T(littleEndian: raw.loadUnaligned(as: T.self))
    }

    private mutating func readBigEndian<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        let raw = try readBytes(MemoryLayout<T>.size)
        return T(bigEndian: raw.loadUnaligned(as: T.self))
    }

    /// A length, or the special string encoding (INT8/16/32, LZF) that takes its place.
    private mutating func readLengthOrEncoding() throws -> (value: UInt64, encoded: Bool) {
        let first = try readByte()
        switch first >> 6 {
        case LengthPrefix.bits6: return (UInt64(first & 0x3F), false)
        case LengthPrefix.bits14: return (UInt64(first & 0x3F) << 8 | UInt64(try readByte()), false)
        case LengthPrefix.encoded: return (UInt64(first & 0x3F), true)
        default:
            if first == LengthPrefix.bits32 { return (UInt64(try readBigEndian(UInt32.self)), false) }
            if first == LengthPrefix.bits64 { return (try readBigEndian(UInt64.self), false) }
            throw RDBError.corrupt("Unknown length encoding \(first) in rdbLoadLen()")
        }
    }

    public mutating func readLength() throws -> Int {
        let (value, encoded) = try readLengthOrEncoding()
        guard !encoded, value <= UInt64(Int.max) else { throw RDBError.corrupt("Unexpected encoded length") }
        return Int(value)
    }

    /// A count of elements that follow, each taking at least one byte: a count the remaining
    /// input cannot hold is corrupt (and must not size anything).
    public mutating func readCount() throws -> Int {
        let count = try readLength()
        guard count <= bytes.count - position else { throw RDBError.truncated }
        return count
    }

    /// A string in any of its encodings, as bytes.
    public mutating func readString() throws -> [UInt8] {
        let (value, encoded) = try readLengthOrEncoding()
        guard encoded else { return Array(try readBytes(try checkedCount(value))) }
        switch UInt8(value) {
        case LengthPrefix.int8: return Numbers.decimalBytes(Int64(Int8(bitPattern: try readByte())))
        case LengthPrefix.int16: return Numbers.decimalBytes(Int64(try readLittleEndian(Int16.self)))
        case LengthPrefix.int32: return Numbers.decimalBytes(Int64(try readLittleEndian(Int32.self)))
        case LengthPrefix.lzf:
            let compressedLength = try readLength()
            let length = try readLength()
            let compressed = try readBytes(compressedLength)
            guard let output = LZF.decompress(compressed, length: length) else {
                throw RDBError.corrupt("Invalid LZF compressed string")
            }
            return output
        default:
            throw RDBError.corrupt("Unknown RDB string encoding type \(value)")
        }
    }

    private func checkedCount(_ value: UInt64) throws -> Int {
        guard value <= UInt64(bytes.count - position) else { throw RDBError.truncated }
        return Int(value)
    }

    public mutating func readBinaryDouble() throws -> Double {
        Double(bitPattern: try readLittleEndian(UInt64.self))
    }

    /// The text form of doubles in RDB_TYPE_ZSET: a length byte (253 nan, 254 +inf, 255 -inf).
    public mutating func readTextDouble() throws -> Double {
        let length = try readByte()
        switch length {
        case 253: return .nan
        case 254: return .infinity
        case 255: return -.infinity
        default:
            let text = try readBytes(Int(length))
            guard let value = Double(String(decoding: text, as: UTF8.self)) else {
                throw RDBError.corrupt("Invalid double value")
            }
            return value
        }
    }
}
