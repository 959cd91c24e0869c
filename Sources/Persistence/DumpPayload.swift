// DUMP/RESTORE payloads as Redis builds them: the value's RDB type byte and serialization,
// then the RDB version (2 bytes, little-endian) and the CRC-64 of everything before it
// (8 bytes, little-endian), so payloads cross between Swiftlet and Redis both ways.
import Storage

public enum DumpPayload {
    private static let footerSize = 10

    public static func make(_ entry: Entry, compression: Bool) -> [UInt8] {
        var out = RDBOutput(compression: compression)
        ValueCodec.append(entry, to: &out)
        out.appendLittleEndian(UInt16(rdbVersion))
        out.appendLittleEndian(CRC64.checksum(out.bytes))
        return out.bytes
    }

    /// Whether the footer names a version this server reads and the checksum matches.
    public static func verify(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard payload.count >= footerSize else { return false }
        let footer = payload.count - footerSize
        let version = Int(payload[footer]) | Int(payload[footer + 1]) << 8
        guard version <= rdbVersion else { return false }
        let stored = UInt64(littleEndian: payload.loadUnaligned(fromByteOffset: footer + 2, as: UInt64.self))
        return CRC64.update(0, UnsafeRawBufferPointer(rebasing: payload[0..<footer + 2])) == stored
    }

    /// The value of a verified payload; nil when it is malformed or an empty collection.
    public static func decode(_ payload: UnsafeRawBufferPointer, limits: EncodingLimits) -> LoadedValue? {
        var input = RDBInput(UnsafeRawBufferPointer(rebasing: payload[0..<payload.count - footerSize]))
        guard let type = try? input.readByte(), ValueCodec.isValueType(type) else { return nil }
        return (try? ValueCodec.read(type: type, from: &input, limits: limits)) ?? nil
    }
}
