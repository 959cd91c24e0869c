// Reads an RDB file (versions 1 to 10, as Redis 7.0 does) into entries grouped by database,
// without touching the keyspace: the caller swaps them in only once the whole file has been
// read and its checksum verified, so a truncated or corrupt file never leaves half a
// dataset behind. Keys whose expire time has passed are skipped, as a master skips them.
#if canImport(Glibc)
import Glibc
#endif
import Storage
import Support

public struct LoadedDataset {
    /// Entries per database, each with its key hash.
    public var databases: [[Entry]]
    /// Keys skipped because their expire time had passed.
    public var expiredCount = 0
    public var keyCount: Int { databases.reduce(0) { $0 + $1.count } }
    /// The code of each function library (RDB_OPCODE_FUNCTION2), in file order.
    public var functionCodes: [[UInt8]] = []

    /// Frees entries that were never installed (a load that failed or was superseded).
    public func discard() {
        for entries in databases { for entry in entries { entry.free() } }
    }
}

public struct LoadOptions {
    public var databases = 16
    public var limits = EncodingLimits()
    public var verifyChecksum = true
    public var now: Int64 = 0
    /// The access bits of a loaded key from the file's IDLE/FREQ record.
    public var accessClock: (AccessRecord) -> UInt32 = { _ in 0 }
    public init() {}
}

public enum RDBLoader {
    /// The file at `path`, or nil when there is none.
    public static func readFile(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw RDBError.io("Fatal error loading the DB: \(String(cString: strerror(errno))). Exiting.")
        }
        defer { close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw RDBError.io("Fatal error loading the DB: \(String(cString: strerror(errno))). Exiting.") }
            if count == 0 { return contents }
            contents.append(contentsOf: chunk[0..<count])
        }
    }

    public static func load(_ bytes: [UInt8], options: LoadOptions) throws -> LoadedDataset {
        var dataset = LoadedDataset(databases: Array(repeating: [], count: options.databases))
        do {
            try bytes.withUnsafeBytes { try parse($0, into: &dataset, options: options) }
        } catch {
            dataset.discard()
            throw error
        }
        return dataset
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer, into dataset: inout LoadedDataset, options: LoadOptions) throws {
        var input = RDBInput(bytes)
        let magic = try input.readBytes(9)
        guard magic.prefix(5).elementsEqual("REDIS".utf8) else {
            throw RDBError.corrupt("Wrong signature trying to load DB from file")
        }
        guard let version = Int(String(decoding: magic.suffix(4), as: UTF8.self)) else {
            throw RDBError.corrupt("Wrong signature trying to load DB from file")
        }
        guard version >= 1 && version <= rdbVersion else { throw RDBError.unsupportedVersion(version) }
        var db = 0
        var expireAt: Int64?
        var access = AccessRecord.none
        while true {
            let type = try input.readByte()
            switch type {
            case RDBOpcode.expireTime:
                expireAt = Int64(try input.readLittleEndian(Int32.self)) * 1000
            case RDBOpcode.expireTimeMs:
                expireAt = try input.readLittleEndian(Int64.self)
            case RDBOpcode.freq:
                access = .frequency(try input.readByte())
            case RDBOpcode.idle:
                access = .idle(UInt64(try input.readLength()))
            case RDBOpcode.eof:
                try verifyChecksum(bytes, input: &input, version: version, enabled: options.verifyChecksum)
                return
            case RDBOpcode.selectDB:
                db = try input.readLength()
                guard db < options.databases else {
                    throw RDBError.corrupt("FATAL: Data file was created with a Redis server configured to handle more than \(options.databases) databases. Exiting\n")
                }
            case RDBOpcode.resizeDB:
                _ = try input.readLength()
                _ = try input.readLength()
            case RDBOpcode.aux:
                _ = try input.readString()
                _ = try input.readString()
            case RDBOpcode.function2:
                dataset.functionCodes.append(try input.readString())
            case RDBOpcode.moduleAux, RDBOpcode.function:
                // RDB_OPCODE_FUNCTION is the format of 7.0's release candidates only.
                throw RDBError.corrupt("This RDB file holds module or pre-release function data, which this server cannot load")
            default:
                let key = try input.readString()
                let value = try ValueCodec.read(type: type, from: &input, limits: options.limits)
                defer {
                    expireAt = nil
                    access = .none
                }
                guard let value else { continue }
                if let when = expireAt, when < options.now {
                    dataset.expiredCount += 1
                    continue
                }
                let entry = key.withUnsafeBytes {
                    ValueCodec.makeEntry(key: $0, value: value, expireAt: expireAt, accessClock: options.accessClock(access))
                }
                dataset.databases[db].append(entry)
            }
        }
    }

    private static func verifyChecksum(_ bytes: UnsafeRawBufferPointer, input: inout RDBInput, version: Int, enabled: Bool) throws {
        guard version >= 5 else { return }
        let covered = input.position
        let stored = try input.readLittleEndian(UInt64.self)
        guard enabled, stored != 0 else { return }
        let computed = CRC64.update(0, UnsafeRawBufferPointer(rebasing: bytes[0..<covered]))
        guard computed == stored else {
            throw RDBError.checksum(expected: computed, stored: stored)
        }
    }
}
