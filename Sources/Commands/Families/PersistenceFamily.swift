// Persistence commands: SAVE, BGSAVE [SCHEDULE] and LASTSAVE over the server's Snapshots, and
// DUMP/RESTORE, which move one value in RDB form (Redis's payload layout and checksum, so
// payloads cross between Swiftlet and Redis both ways).
import Config
import Persistence
import RESP
import Storage
import Support

public enum PersistenceFamily {
    static let restoreArguments = [
        .key(), CommandArgument("ttl", .integer), CommandArgument("serialized-value", .string),
        .token("REPLACE", flags: .optional, since: "3.0.0"), .token("ABSTTL", flags: .optional, since: "5.0.0"),
        CommandArgument("seconds", .integer, token: "IDLETIME", flags: .optional, since: "5.0.0"),
        CommandArgument("frequency", .integer, token: "FREQ", flags: .optional, since: "5.0.0"),
    ]

    public static let specs: [CommandSpec] = [
        CommandSpec("save", arity: 1, flags: [.noAsyncLoading, .admin, .noscript, .noMulti], group: .server, since: "1.0.0",
                    summary: "Write a snapshot of the dataset to disk, blocking until it is done.",
                    complexity: "O(N) for N keys in all databases", handler: save),
        CommandSpec("bgsave", arity: -1, flags: [.noAsyncLoading, .admin, .noscript], group: .server, since: "1.0.0",
                    summary: "Write a snapshot of the dataset to disk in the background.",
                    complexity: "O(1) to start; the snapshot itself is O(N) for N keys",
                    history: [("3.2.2", "SCHEDULE to queue behind a running save.")],
                    arguments: [.token("SCHEDULE", flags: .optional, since: "3.2.2")], handler: backgroundSave),
        CommandSpec("bgrewriteaof", arity: 1, flags: [.noAsyncLoading, .admin, .noscript], group: .server, since: "1.0.0",
                    summary: "Asynchronously rewrite the append-only file to disk.", complexity: "O(1)",
                    handler: rewriteAppendOnlyFile),
        CommandSpec("lastsave", arity: 1, flags: [.loading, .stale, .fast], acl: [.admin, .dangerous],
                    tips: ["nondeterministic_output"], group: .server, since: "1.0.0",
                    summary: "Unix time of the last successful snapshot.", complexity: "O(1)",
                    handler: { $0.reply.integer($0.server.snapshots.lastSaveTime) }),
        CommandSpec("dump", arity: 2, flags: [.readonly], acl: [.keyspace], keys: [KeySpec.single([.RO, .access])],
                    tips: ["nondeterministic_output"], group: .generic, since: "2.6.0",
                    summary: "Serialize a key's value in the RDB form RESTORE accepts.",
                    complexity: "O(1) to find the key, then O(N*M) for N elements of M bytes",
                    arguments: [.key()], handler: dump),
        CommandSpec("restore", arity: -4, flags: [.write, .denyoom], acl: [.keyspace, .dangerous],
                    keys: [KeySpec.single([.OW, .update])], group: .generic, since: "2.6.0",
                    summary: "Create a key from a value serialized by DUMP.",
                    complexity: "O(1) to create the key, then O(N*M) for N elements of M bytes",
                    history: [("3.0.0", "REPLACE."), ("5.0.0", "ABSTTL."), ("5.0.0", "IDLETIME and FREQ.")],
                    arguments: restoreArguments, handler: restore),
        // A cluster node's form of RESTORE (MIGRATE sends it); the same command here.
        CommandSpec("restore-asking", arity: -4, flags: [.write, .denyoom, .asking], acl: [.keyspace, .dangerous],
                    keys: [KeySpec.single([.OW, .update])], group: .server, since: "3.0.0",
                    summary: "RESTORE as a cluster node receives it from MIGRATE.",
                    complexity: "O(1) to create the key, then O(N*M) for N elements of M bytes",
                    docFlags: ["syscmd"],
                    history: [("3.0.0", "REPLACE."), ("5.0.0", "ABSTTL."), ("5.0.0", "IDLETIME and FREQ.")],
                    arguments: restoreArguments, handler: restore),
    ]

    static func save(_ c: CommandContext) {
        switch c.server.snapshots.saveInForeground() {
        case .saved: c.reply.ok()
        case .failed(let message): c.error(message)
        }
    }

    static func backgroundSave(_ c: CommandContext) {
        var schedule = false
        if c.args.count > 1 {
            guard c.args.count == 2, c.args.equals(1, "schedule") else { return c.error(RedisError.syntax) }
            schedule = true
        }
        let snapshots = c.server.snapshots!
        switch snapshots.startBackgroundSave() {
        case .started: c.reply.simple("Background saving started")
        case .alreadyRunning: c.error("ERR Background save already in progress")
        case .busy:
            guard schedule else {
                return c.error("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
            }
            snapshots.scheduleBackgroundSave()
            c.reply.simple("Background saving scheduled")
        }
    }

    static func rewriteAppendOnlyFile(_ c: CommandContext) {
        switch c.server.aof.startRewrite() {
        case .started: c.reply.simple("Background append only file rewriting started")
        case .scheduled: c.reply.simple("Background append only file rewriting scheduled")
        case .alreadyRunning: c.error("ERR Background append only file rewriting already in progress")
        case .failed: c.error("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.")
        }
    }

    static func dump(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            guard let entry = c.lookupRead(shard, key, hash) else { return c.reply.nullBulk() }
            let payload = DumpPayload.make(entry, compression: c.server.config.rdbCompression)
            payload.withUnsafeBytes { c.reply.bulk($0.baseAddress!, $0.count) }
        }
    }

    /// RESTORE's options, checked in Redis's order before anything else.
    private struct RestoreOptions {
        var replace = false
        var absoluteTTL = false
        var record = AccessRecord.none
    }

    private static func restoreOptions(_ c: CommandContext) -> RestoreOptions? {
        var options = RestoreOptions()
        var j = 4
        while j < c.args.count {
            let hasValue = j + 1 < c.args.count
            if c.args.equals(j, "replace") {
                options.replace = true
            } else if c.args.equals(j, "absttl") {
                options.absoluteTTL = true
            } else if c.args.equals(j, "idletime"), hasValue, !options.record.isFrequency {
                guard let idle = c.integer(j + 1) else { return nil }
                guard idle >= 0 else {
                    c.error("ERR Invalid IDLETIME value, must be >= 0")
                    return nil
                }
                options.record = .idle(UInt64(idle))
                j += 1
            } else if c.args.equals(j, "freq"), hasValue, !options.record.isIdle {
                guard let frequency = c.integer(j + 1) else { return nil }
                guard frequency >= 0 && frequency <= 255 else {
                    c.error("ERR Invalid FREQ value, must be >= 0 and <= 255")
                    return nil
                }
                options.record = .frequency(UInt8(frequency))
                j += 1
            } else {
                c.error(RedisError.syntax)
                return nil
            }
            j += 1
        }
        return options
    }

    static func restore(_ c: CommandContext) {
        guard let options = restoreOptions(c) else { return }
        c.withKey(1) { shard, key, hash in
            let existing = c.lookupWrite(shard, key, hash)
            if existing != nil && !options.replace { return c.error("BUSYKEY Target key name already exists.") }
            guard var ttl = c.integer(2) else { return }
            guard ttl >= 0 else { return c.error("ERR Invalid TTL value, must be >= 0") }
            let payload = c.args[3]
            guard DumpPayload.verify(payload) else { return c.error("ERR DUMP payload version or checksum are wrong") }
            guard let value = DumpPayload.decode(payload, limits: c.server.encodingLimits) else {
                return c.error("ERR Bad data format")
            }
            if ttl > 0 && !options.absoluteTTL { ttl += c.now }
            if ttl > 0 && ttl <= c.now {
                if let existing {
                    shard.remove(db: c.session.db, at: existing, hash: hash)
                    StringFamily.propagateAsDel(c, key)
                    c.signalModifiedKey(key)
                    c.notifyKeyspaceEvent(.generic, "del", key)
                }
                return c.reply.ok()
            }
            let entry = ValueCodec.makeEntry(key: key, value: value, expireAt: ttl > 0 ? ttl : nil,
                                             accessClock: c.server.accessClock(for: options.record))
            shard.store(db: c.session.db, entry, hash: hash, replacing: existing)
            if ttl > 0 && !options.absoluteTTL {
                // A relative TTL is propagated absolute, with ABSTTL added, as Redis does.
                c.rewritePropagated { command in
                    for index in 0..<c.args.count {
                        if index == 2 { command.add(ttl) } else { command.add(c.args[index]) }
                    }
                    command.add("ABSTTL")
                }
            }
            c.signalModifiedKey(key)
            c.notifyKeyspaceEvent(.generic, "restore", key)
            c.signalKeyReady(key)
            c.reply.ok()
        }
    }
}

extension AccessRecord {
    var isIdle: Bool { if case .idle = self { return true } else { return false } }
    var isFrequency: Bool { if case .frequency = self { return true } else { return false } }
}

extension ServerContext {
    /// The collection encoding thresholds in force, for values built from RDB form.
    var encodingLimits: EncodingLimits {
        var limits = EncodingLimits()
        limits.hashMaxListpackEntries = config.hashMaxListpackEntries
        limits.hashMaxListpackValue = config.hashMaxListpackValue
        limits.setMaxIntsetEntries = config.setMaxIntsetEntries
        limits.zsetMaxListpackEntries = config.zsetMaxListpackEntries
        limits.zsetMaxListpackValue = config.zsetMaxListpackValue
        limits.listFill = config.listMaxListpackSize
        return limits
    }
}
