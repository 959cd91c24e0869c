// DEBUG: the subcommands that Redis's own test suite and operators use against a server
// (SLEEP, OBJECT, SET-ACTIVE-EXPIRE, SET-DISABLE-DENY-SCRIPTS, PROTOCOL,
// QUICKLIST-PACKED-THRESHOLD, RELOAD, DIGEST, DIGEST-VALUE, POPULATE, LOADAOF, AOF-FLUSH-SLEEP). Guarded by `enable-debug-command` like Redis.
#if canImport(Glibc)
import Glibc
#endif
import Config
import Persistence
import RESP
import Storage
import Support

enum DebugCommand {
    // DIVERGENCE: our own wording, in Redis's help layout.
    static let help = [
        "DIGEST",
        "    Digest of the whole dataset, equal to Redis's for equal data.",
        "DIGEST-VALUE <key> [<key> ...]",
        "    Digest of the value of each key (all zeros for a missing key).",
        "OBJECT <key>",
        "    Describe the value stored at <key> (address, encoding, LRU clock, idle time).",
        "POPULATE <count> [<prefix>] [<size>]",
        "    Create <count> string keys <prefix>:<n> (prefix 'key') holding 'value:<n>', zero-padded or cut to <size> bytes.",
        "PROTOCOL <type>",
        "    Reply with a sample value of a RESP type: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false.",
        "RELOAD [MERGE] [NOFLUSH] [NOSAVE]",
        "    Save the dataset to the RDB file and load it back (NOSAVE: just load; NOFLUSH: keep current keys).",
        "QUICKLIST-PACKED-THRESHOLD <size>",
        "    Give list elements of at least <size> bytes a node of their own (0: back to 1gb).",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Turn the background expiry of keys off (0) or on (1).",
        "SET-DISABLE-DENY-SCRIPTS <0|1>",
        "    Let scripts call commands they may not otherwise (1), or not (0).",
        "SLEEP <seconds>",
        "    Stall the server for <seconds> (a decimal number) while holding every shard.",
    ]

    static func run(_ c: CommandContext) {
        guard c.server.allowsProtectedCommand(c.server.config.enableDebugCommand, c.session) else {
            return c.error("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
        }
        let count = c.args.count
        if c.args.equals(1, "help") && count == 2 {
            HelpText.reply(c, command: "DEBUG", lines: help)
        } else if c.args.equals(1, "sleep") && count == 3 {
            let seconds = strtod(c.string(2), nil)
            let microseconds = seconds.isFinite ? Int64(max(min(seconds, 1e9), 0) * 1_000_000) : 0
            var pause = timespec(tv_sec: Int(microseconds / 1_000_000), tv_nsec: Int(microseconds % 1_000_000) * 1000)
            c.keyspace.withAllShardsLocked { _ = nanosleep(&pause, nil) }
            c.reply.ok()
        } else if c.args.equals(1, "set-active-expire") && count == 3 {
            c.server.config.activeExpireEnabled = Numbers.parseInt64(c.args[2]).map { $0 != 0 } ?? false
            c.reply.ok()
        } else if c.args.equals(1, "set-disable-deny-scripts") && count == 3 {
            c.server.scripts.denyScriptsDisabled = Numbers.parseInt64(c.args[2]).map { $0 != 0 } ?? false
            c.reply.ok()
        } else if c.args.equals(1, "object") && count == 3 {
            object(c)
        } else if c.args.equals(1, "protocol") && count == 3 {
            sampleReply(c)
        } else if c.args.equals(1, "populate") && count >= 3 && count <= 5 {
            populate(c)
        } else if c.args.equals(1, "reload") {
            reload(c)
        } else if c.args.equals(1, "aof-flush-sleep") && count == 3 {
            c.server.aof.flushSleepMicroseconds = max(0, Int(Numbers.parseInt64(c.args[2]) ?? 0))
            c.reply.ok()
        } else if c.args.equals(1, "loadaof") {
            if c.server.aof.reloadFromDisk() { c.reply.ok() } else { c.error("ERR Error trying to load the AOF files") }
        } else if c.args.equals(1, "digest") && count == 2 {
            let digest = c.keyspace.withAllShardsLocked { DatasetDigest.dataset(c.keyspace) }
            c.reply.simple(DatasetDigest.hex(digest))
        } else if c.args.equals(1, "digest-value") && count >= 2 {
            c.reply.arrayHeader(count - 2)
            for index in 2..<count {
                c.withKey(index) { shard, key, hash in
                    let digest = shard.dicts[c.session.db].find(key, hash: hash).map(DatasetDigest.value)
                    c.reply.simple(DatasetDigest.hex(digest ?? DatasetDigest.Digest(repeating: 0, count: 20)))
                }
            }
        } else if c.args.equals(1, "quicklist-packed-threshold") && count == 3 {
            // Redis accepts up to 4 GB minus 1 MB; 0 restores the 1 GB default.
            guard let bytes = MemoryUnits.parse(c.string(2)), bytes <= (1 << 32) - (1 << 20) else {
                return c.error("ERR argument must be a memory value bigger than 1 and smaller than 4gb")
            }
            ListValue.packedThreshold = bytes == 0 ? 1 << 30 : bytes
            c.reply.ok()
        } else {
            c.error(bytes: Array("ERR unknown subcommand or wrong number of arguments for '".utf8) + c.args[1]
                    + Array("'. Try DEBUG HELP.".utf8))
        }
    }

    /// DEBUG POPULATE: string keys `prefix:n` holding "value:n" (keys that exist are left alone).
    private static func populate(_ c: CommandContext) {
        func positive(_ index: Int) -> Int? {
            guard let value = c.integer(index) else { return nil }
            guard value >= 0 else {
                c.error(RedisError.mustBePositive)
                return nil
            }
            return Int(value)
        }
        guard let keys = positive(2) else { return }
        var size = 0
        if c.args.count == 5 {
            guard let parsed = positive(4) else { return }
            size = parsed
        }
        let prefix = c.args.count >= 4 ? Array(c.args[3]) : Array("key".utf8)
        for index in 0..<keys {
            let key = prefix + Array(":\(index)".utf8)
            var value = Array("value:\(index)".utf8)
            if size > 0 { value = Array((value + [UInt8](repeating: 0, count: max(0, size - value.count))).prefix(size)) }
            key.withUnsafeBytes { key in
                let shard = c.keyspace.shard(for: key)
                let hash = KeyHash.hash(key)
                shard.withLock {
                    guard c.lookupWrite(shard, key, hash) == nil else { return }
                    let entry = value.withUnsafeBytes {
                        Entry.make(key: key, payload: .bytes($0), expireAt: nil,
                                   rawEncoding: $0.count > CommandContext.embstrLimit, accessClock: c.server.initialAccessClock)
                    }
                    shard.store(db: c.session.db, entry, hash: hash, replacing: nil)
                    c.signalModifiedKey(key)
                }
            }
        }
        c.reply.ok()
    }

    private static func reload(_ c: CommandContext) {
        var flush = true, save = true, merge = false
        for index in 2..<c.args.count {
            if c.args.equals(index, "merge") {
                merge = true
            } else if c.args.equals(index, "noflush") {
                flush = false
            } else if c.args.equals(index, "nosave") {
                save = false
            } else {
                return c.error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
            }
        }
        let snapshots = c.server.snapshots!
        if save, case .failed = snapshots.saveInForeground() { return c.error("ERR") }
        do {
            try snapshots.load(replacingAll: flush, mergingLibraries: merge)
        } catch {
            snapshots.log(true, "\(error)")
            return c.error("ERR Error trying to load the RDB dump")
        }
        snapshots.log(true, "DB reloaded by DEBUG RELOAD")
        c.reply.ok()
    }

    private static func object(_ c: CommandContext) {
        c.withKey(2) { shard, key, hash in
            // Raw lookup, as Redis's: a logically expired key is still described, not deleted.
            guard let entry = shard.dicts[c.session.db].find(key, hash: hash) else {
                return c.error(RedisError.noSuchKey)
            }
            let idle = c.server.idleSeconds(entry)
            let address = String(UInt(bitPattern: entry.pointer), radix: 16)
            let length = c.valueLength(entry)
            c.reply.simple("Value at:0x\(address) refcount:1 encoding:\(GenericFamily.encodingName(entry)) "
                           + "serializedlength:\(length + 1) lru:\(entry.accessClock) lru_seconds_idle:\(idle)")
        }
    }

    /// DEBUG PROTOCOL: one sample reply of each RESP type, for protocol tests.
    private static func sampleReply(_ c: CommandContext) {
        let kind = c.string(2).lowercased()
        switch kind {
        case "string": c.reply.bulk("Hello World")
        case "integer": c.reply.integer(12345)
        case "double": c.reply.double(3.141)
        case "bignum": c.reply.bigNumber("1234567999999999999999999999999999999")
        case "null": c.reply.nullBulk()
        case "array", "set":
            if kind == "array" { c.reply.arrayHeader(3) } else { c.reply.setHeader(3) }
            for value in 0..<3 { c.reply.integer(value) }
        case "map":
            c.reply.mapHeader(3)
            for value in 0..<3 {
                c.reply.integer(value)
                c.reply.bool(value == 1)
            }
        case "attrib":
            if c.reply.resp3 {
                c.reply.attributeHeader(1)
                c.reply.bulk("key-popularity")
                c.reply.arrayHeader(2)
                c.reply.bulk("key:123")
                c.reply.integer(90)
            }
            c.reply.bulk("Some real reply following the attribute")
        case "push":
            guard c.reply.resp3 else { return c.error("ERR RESP2 is not supported by this command") }
            c.reply.pushHeader(2)
            c.reply.bulk("server-cpu-usage")
            c.reply.integer(42)
            c.reply.bulk("Some real reply following the push reply")
        case "true": c.reply.bool(true)
        case "false": c.reply.bool(false)
        case "verbatim": c.reply.verbatim("This is a verbatim\nstring")
        default:
            c.error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")
        }
    }
}
