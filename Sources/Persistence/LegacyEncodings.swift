// Decoders for the compact blobs older RDB versions (7 to 9) hold and Redis 7.0 still reads:
// ziplist (lists, hashes and sorted sets before listpack), zipmap (hashes before Redis 2.6)
// and intset (sets, still written today). Each yields the elements as bytes.
import Support

public enum LegacyEncodings {
    private static func corrupt(_ what: String) -> RDBError { .corrupt("\(what) integrity check failed.") }

    /// Elements of a ziplist: header (bytes u32, tail offset u32, count u16), entries of
    /// (previous length, encoding, data), 0xFF.
    public static func ziplistElements(_ blob: [UInt8]) throws -> [[UInt8]] {
        guard blob.count >= 11, blob.last == 0xFF,
              Int(UInt32(blob[0]) | UInt32(blob[1]) << 8 | UInt32(blob[2]) << 16 | UInt32(blob[3]) << 24) == blob.count else {
            throw corrupt("Ziplist")
        }
        var position = 10
        var elements: [[UInt8]] = []
        func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, position + count < blob.count else { throw corrupt("Ziplist") }
            defer { position += count }
            return blob[position..<position + count]
        }
        func signed(_ width: Int) throws -> Int64 {
            let raw = try take(width)
            var value: UInt64 = 0
            for (index, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
            let shift = UInt64(64 - 8 * width)
            return Int64(bitPattern: value << shift) >> shift
        }
        while blob[position] != 0xFF {
            _ = try take(blob[position] == 0xFE ? 5 : 1)
            let encoding = try take(1).first!
            switch encoding >> 6 {
            case 0: elements.append(Array(try take(Int(encoding & 0x3F))))
            case 1: elements.append(Array(try take(Int(encoding & 0x3F) << 8 | Int(try take(1).first!))))
            case 2:
                let length = try take(4).reduce(0) { $0 << 8 | Int($1) }
                elements.append(Array(try take(length)))
            default:
                let value: Int64
                switch encoding {
                case 0xC0: value = try signed(2)
                case 0xD0: value = try signed(4)
                case 0xE0: value = try signed(8)
                case 0xF0: value = try signed(3)
                case 0xFE: value = try signed(1)
                case 0xF1...0xFD: value = Int64(encoding & 0x0F) - 1
                default: throw corrupt("Ziplist")
                }
                elements.append(Numbers.decimalBytes(value))
            }
        }
        return elements
    }

    /// Field/value pairs of a zipmap: a count byte, then (length, field, length, free, value,
    /// free bytes) entries and 0xFF; lengths of 254 and above take four more bytes.
    public static func zipmapPairs(_ blob: [UInt8]) throws -> [[UInt8]] {
        var position = 1
        var elements: [[UInt8]] = []
        func length() throws -> Int {
            guard position < blob.count else { throw corrupt("Zipmap") }
            let first = blob[position]
            position += 1
            guard first >= 254 else { return Int(first) }
            guard position + 4 <= blob.count else { throw corrupt("Zipmap") }
            defer { position += 4 }
            return (0..<4).reduce(0) { $0 | Int(blob[position + $1]) << (8 * $1) }
        }
        func take(_ count: Int) throws -> [UInt8] {
            guard position + count <= blob.count else { throw corrupt("Zipmap") }
            defer { position += count }
            return Array(blob[position..<position + count])
        }
        while position < blob.count && blob[position] != 0xFF {
            let fieldLength = try length()
            elements.append(try take(fieldLength))
            let valueLength = try length()
            let free = Int(try take(1)[0])
            elements.append(try take(valueLength))
            _ = try take(free)
        }
        guard position < blob.count else { throw corrupt("Zipmap") }
        return elements
    }

    /// Integers of an intset blob: element width (u32), count (u32), values little-endian.
    public static func intsetValues(_ blob: [UInt8]) throws -> [Int64] {
        guard blob.count >= 8 else { throw corrupt("Intset") }
        let width = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        let count = Int(blob[4]) | Int(blob[5]) << 8 | Int(blob[6]) << 16 | Int(blob[7]) << 24
        guard [2, 4, 8].contains(width), blob.count == 8 + width * count else { throw corrupt("Intset") }
        return (0..<count).map { index in
            let start = 8 + index * width
            var value: UInt64 = 0
            for byte in 0..<width { value |= UInt64(blob[start + byte]) << (8 * UInt64(byte)) }
            let shift = UInt64(64 - 8 * width)
            return Int64(bitPattern: value << shift) >> shift
        }
    }

    /// An intset blob of ascending `values`, every one stored in `width` bytes.
    public static func intsetBlob(width: Int, count: Int, value: (Int) -> Int64) -> [UInt8] {
        var blob: [UInt8] = []
        blob.reserveCapacity(8 + width * count)
        withUnsafeBytes(of: UInt32(width).littleEndian) { blob.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(count).littleEndian) { blob.append(contentsOf: $0) }
        for index in 0..<count {
            withUnsafeBytes(of: value(index).littleEndian) { blob.append(contentsOf: $0.prefix(width)) }
        }
        return blob
    }
}
