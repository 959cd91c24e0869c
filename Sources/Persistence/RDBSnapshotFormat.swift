// The RDB file a snapshot writes (SAVE, BGSAVE, AOF base files with `aof-use-rdb-preamble
// yes`): the header with its aux fields and function libraries, each key with its expire and
// access record before its type, key and value, SELECTDB at each change of database (with
// RESIZEDB the first time), then EOF and the CRC-64 of everything before it.
import Storage
import Support

/// What the RDB file says about a key's access pattern, per the maxmemory policy.
public enum AccessRecord {
    case none
    /// Seconds since the last access (LRU policies).
    case idle(UInt64)
    /// The LFU counter (LFU policies).
    case frequency(UInt8)
}

struct RDBSnapshotFormat: SnapshotFormat {
    private let options: KeyspaceSnapshot.Options

    init(_ options: KeyspaceSnapshot.Options) { self.options = options }

    var checksummed: Bool { true }

    /// "REDIS" and the version in four digits.
    static let magic: [UInt8] = {
        let digits = String(rdbVersion)
        return Array(("REDIS" + String(repeating: "0", count: 4 - digits.count) + digits).utf8)
    }()

    func preamble() -> [UInt8] {
        var header = RDBOutput(compression: false)
        header.bytes.append(contentsOf: RDBSnapshotFormat.magic)
        for (name, value) in [("redis-ver", "7.0.15"), ("redis-bits", "64")] + options.auxFields {
            header.append(RDBOpcode.aux)
            header.appendString(name)
            header.appendString(value)
        }
        var functions = RDBOutput(compression: options.compression)
        for code in options.functionCodes {
            functions.append(RDBOpcode.function2)
            functions.appendString(code)
        }
        return header.bytes + functions.bytes
    }

    func serialize(_ entries: ((Entry) -> Void) -> Void, appendingTo bytes: inout [UInt8]) {
        var out = RDBOutput(compression: options.compression)
        swap(&out.bytes, &bytes)
        entries { entry in append(entry, to: &out) }
        swap(&out.bytes, &bytes)
    }

    private func append(_ entry: Entry, to out: inout RDBOutput) {
        if let expireAt = entry.expireAt {
            out.append(RDBOpcode.expireTimeMs)
            out.appendLittleEndian(expireAt)
        }
        switch options.access(entry) {
        case .none: break
        case .idle(let seconds):
            out.append(RDBOpcode.idle)
            out.appendLength(Int(seconds))
        case .frequency(let counter):
            out.append(RDBOpcode.freq)
            out.append(counter)
        }
        out.append(ValueCodec.rdbType(of: entry).rawValue)
        out.appendString(entry.key)
        ValueCodec.appendValue(of: entry, to: &out)
    }

    func databaseSwitch(to db: Int, firstTime: Bool, keys: Int, volatile: Int) -> [UInt8] {
        var select = RDBOutput(compression: false)
        select.append(RDBOpcode.selectDB)
        select.appendLength(db)
        if firstTime {
            select.append(RDBOpcode.resizeDB)
            select.appendLength(keys)
            select.appendLength(volatile)
        }
        return select.bytes
    }

    func finish(_ file: SnapshotFileSink) throws {
        try file.write([RDBOpcode.eof])
        var footer = RDBOutput(compression: false)
        footer.appendLittleEndian(options.checksum ? file.crc : 0)
        try file.write(footer.bytes, checksummed: false)
    }
}
