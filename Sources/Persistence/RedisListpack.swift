// Redis's own listpack blob, the form small hashes, sorted sets and list nodes take in RDB
// files and DUMP payloads (Swiftlet's in-memory Listpack is a simpler layout): a 6-byte
// header (total bytes, element count), entries each made of an encoding byte or bytes, the
// data and a "back length" for reverse walks, and a 0xFF terminator. Strings that are
// canonical integers are stored in the smallest integer encoding, as Redis's lpAppend does.
import Support

public enum RedisListpack {
    private static let headerSize = 6
    private static let terminator: UInt8 = 0xFF

    /// A listpack holding `elements` in order.
    public static func encode(_ count: Int, _ forEach: ((UnsafeRawBufferPointer) -> Void) -> Void) -> [UInt8] {
        var blob = [UInt8](repeating: 0, count: headerSize)
        forEach { element in
            let start = blob.count
            if element.count <= 20, let value = Numbers.parseInt64(element) {
                appendInteger(value, to: &blob)
            } else {
                appendStringHeader(element.count, to: &blob)
                blob.append(contentsOf: element)
            }
            appendBackLength(blob.count - start, to: &blob)
        }
        blob.append(terminator)
        withUnsafeBytes(of: UInt32(blob.count).littleEndian) { blob.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: UInt16(count < 65535 ? count : 65535).littleEndian) { blob.replaceSubrange(4..<6, with: $0) }
        return blob
    }

    private static func appendInteger(_ value: Int64, to blob: inout [UInt8]) {
        func little(_ value: Int64, _ width: Int) {
            for index in 0..<width { blob.append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
        }
        switch value {
        case 0...127: blob.append(UInt8(value))
        case -4096...4095:
            let stored = value < 0 ? value + (1 << 13) : value
            blob.append(0xC0 | UInt8(stored >> 8))
            blob.append(UInt8(stored & 0xFF))
        case -32768...32767: blob.append(0xF1); little(value, 2)
        case -8_388_608...8_388_607: blob.append(0xF2); little(value, 3)
        case Int64(Int32.min)...Int64(Int32.max): blob.append(0xF3); little(value, 4)
        default: blob.append(0xF4); little(value, 8)
        }
    }

    private static func appendStringHeader(_ length: Int, to blob: inout [UInt8]) {
        if length < 64 {
            blob.append(0x80 | UInt8(length))
        } else if length < 4096 {
            blob.append(0xE0 | UInt8(length >> 8))
            blob.append(UInt8(length & 0xFF))
        } else {
            blob.append(0xF0)
            withUnsafeBytes(of: UInt32(length).littleEndian) { blob.append(contentsOf: $0) }
        }
    }

    private static func backLengthSize(_ length: Int) -> Int {
        length <= 127 ? 1 : length < 16383 ? 2 : length < 2_097_151 ? 3 : length < 268_435_455 ? 4 : 5
    }

    /// The entry length in 7-bit groups, most significant first, every byte but the first
    /// flagged with the high bit (read from the end, the flag says "more follows").
    private static func appendBackLength(_ length: Int, to blob: inout [UInt8]) {
        let size = backLengthSize(length)
        for group in stride(from: size - 1, through: 0, by: -1) {
            let bits = UInt8((length >> (7 * group)) & 0x7F)
            blob.append(group == size - 1 ? bits : bits | 0x80)
        }
    }

    /// Calls `body` with each element of a listpack blob (integers as decimal text).
    public static func decode(_ blob: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard blob.count >= headerSize + 1,
              Int(blob.loadUnaligned(as: UInt32.self).littleEndian) == blob.count,
              blob[blob.count - 1] == terminator else {
            throw RDBError.corrupt("Listpack integrity check failed.")
        }
        var position = headerSize
        func take(_ count: Int) throws -> UnsafeRawBufferPointer {
            guard count >= 0, position + count < blob.count else { throw RDBError.corrupt("Listpack integrity check failed.") }
            defer { position += count }
            return UnsafeRawBufferPointer(rebasing: blob[position..<position + count])
        }
        func integer(_ width: Int) throws -> Int64 {
            let raw = try take(width)
            var value: UInt64 = 0
            for index in 0..<width { value |= UInt64(raw[index]) << (8 * UInt64(index)) }
            let shift = UInt64(64 - 8 * width)
            return Int64(bitPattern: value << shift) >> shift
        }
        while blob[position] != terminator {
            let start = position
            let first = try take(1)[0]
            var number: Int64?
            var text: UnsafeRawBufferPointer?
            switch first {
            case 0x00...0x7F: number = Int64(first)
            case 0x80...0xBF: text = try take(Int(first & 0x3F))
            case 0xC0...0xDF:
                let raw = Int64(first & 0x1F) << 8 | Int64(try take(1)[0])
                number = raw >= 1 << 12 ? raw - (1 << 13) : raw
            case 0xE0...0xEF: text = try take(Int(first & 0x0F) << 8 | Int(try take(1)[0]))
            case 0xF0: text = try take(Int(UInt32(littleEndian: try take(4).loadUnaligned(as: UInt32.self))))
            case 0xF1: number = try integer(2)
            case 0xF2: number = try integer(3)
            case 0xF3: number = try integer(4)
            case 0xF4: number = try integer(8)
            default: throw RDBError.corrupt("Listpack integrity check failed.")
            }
            _ = try take(backLengthSize(position - start))
            if let number {
                try Numbers.decimalBytes(number).withUnsafeBytes { try body($0) }
            } else {
                try body(text!)
            }
        }
    }

    /// The elements of a listpack blob.
    public static func elements(_ blob: [UInt8]) throws -> [[UInt8]] {
        var result: [[UInt8]] = []
        try blob.withUnsafeBytes { try decode($0) { result.append(Array($0)) } }
        return result
    }
}
