// DUMP/RESTORE payloads as Redis builds them: the value's RDB type byte and serialization,
// then the RDB version (2 bytes, little-endian) and the CRC-64 of everything before it
// (8 bytes, little-endian), so payloads cross between Swiftlet and Redis both ways.
import Storage

public enum DumpPayload {
    private static let footerSize = 10

    public static func make(_ entry: Entry, compression: Bool) -> [UInt8] {
        var out = RDBOutput(compression: compression)
        ValueCodec.append(entry, to: &out)
        return sealed(&out)
    }

    /// FUNCTION DUMP: each library's code behind the function2 opcode, then the footer.
    public static func functions(_ codes: [[UInt8]], compression: Bool) -> [UInt8] {
        var out = RDBOutput(compression: compression)
        for code in codes {
            out.append(RDBOpcode.function2)
            out.appendString(code)
        }
        return sealed(&out)
    }

    /// The library codes of a verified FUNCTION DUMP payload, or Redis's error text.
    public static func functionCodes(_ payload: UnsafeRawBufferPointer) -> Result<[[UInt8]], FunctionPayloadError> {
        var input = RDBInput(UnsafeRawBufferPointer(rebasing: payload[0..<payload.count - footerSize]))
        var codes: [[UInt8]] = []
        while input.position < input.bytes.count {
            guard let type = try? input.readByte() else { return .failure(.unreadableType) }
            guard type == RDBOpcode.function2 else { return .failure(.notAFunction) }
            guard let code = try? input.readString() else { return .failure(.malformed) }
            codes.append(code)
        }
        return .success(codes)
    }

    public enum FunctionPayloadError: Error {
        case unreadableType, notAFunction, malformed
    }

    /// Appends the RDB version and the CRC-64 of everything before it.
    private static func sealed(_ out: inout RDBOutput) -> [UInt8] {
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
