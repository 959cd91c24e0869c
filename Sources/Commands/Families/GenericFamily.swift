// The generic (keyspace) command group: deleting, testing, listing and scanning keys,
// renaming/moving/copying them, OBJECT introspection, and key expiry (EXPIRE family, TTL,
// PERSIST). Multi-key commands lock all their shards in ascending order first.
import Config
import RESP
import Storage
import Support

public enum GenericFamily {
    static let keyRO = KeySpec.single([.RO])

    public static let specs: [CommandSpec] = [
        CommandSpec("del", arity: -2, flags: [.write], acl: [.keyspace], keys: [KeySpec.rest([.RM, .delete])],
                    tips: ["request_policy:multi_shard", "response_policy:agg_sum"], group: .generic, since: "1.0.0",
                    summary: "Remove keys.",
                    complexity: "O(N) for N keys, plus O(M) for a collection of M elements",
                    arguments: [.key(flags: .multiple)], handler: { delete($0, lazily: $0.server.config.lazyfreeLazyUserDel) }),
        CommandSpec("unlink", arity: -2, flags: [.write, .fast], acl: [.keyspace], keys: [KeySpec.rest([.RM, .delete])],
                    tips: ["request_policy:multi_shard", "response_policy:agg_sum"], group: .generic, since: "4.0.0",
                    summary: "Remove keys, reclaiming their memory in the background.",
                    complexity: "O(1) per key; memory is reclaimed afterwards",
                    arguments: [.key(flags: .multiple)], handler: { delete($0, lazily: true) }),
        CommandSpec("exists", arity: -2, flags: [.readonly, .fast], acl: [.keyspace], keys: [KeySpec.rest([.RO])],
                    tips: ["request_policy:multi_shard", "response_policy:agg_sum"], group: .generic, since: "1.0.0",
                    summary: "Count how many of the given keys exist.", complexity: "O(N) for N keys",
                    history: [("3.0.3", "Takes several keys.")],
                    arguments: [.key(flags: .multiple)], handler: exists),
        CommandSpec("touch", arity: -2, flags: [.readonly, .fast], acl: [.keyspace], keys: [KeySpec.rest([.RO])],
                    tips: ["request_policy:multi_shard", "response_policy:agg_sum"], group: .generic, since: "3.2.1",
                    summary: "Mark keys as just accessed and count those that exist.",
                    complexity: "O(N) for N keys",
                    arguments: [.key(flags: .multiple)], handler: touch),
        CommandSpec("type", arity: 2, flags: [.readonly, .fast], acl: [.keyspace], keys: [keyRO], group: .generic,
                    since: "1.0.0", summary: "Name the data type stored at a key.", complexity: "O(1)",
                    arguments: [.key()], handler: type),
        CommandSpec("keys", arity: 2, flags: [.readonly], acl: [.keyspace, .dangerous],
                    tips: ["request_policy:all_shards", "nondeterministic_output_order"], group: .generic, since: "1.0.0",
                    summary: "List every key matching a glob pattern.",
                    complexity: "O(N) for N keys in the database",
                    arguments: [CommandArgument("pattern", .pattern)], handler: keys),
        CommandSpec("scan", arity: -2, flags: [.readonly], acl: [.keyspace],
                    tips: ["nondeterministic_output", "request_policy:special"], group: .generic, since: "2.8.0",
                    summary: "Walk the keys of the database with a cursor.",
                    complexity: "O(1) per call, O(N) for a full iteration over N keys",
                    history: [("6.0.0", "TYPE filter.")],
                    arguments: [CommandArgument("cursor", .integer),
                                CommandArgument("pattern", .pattern, token: "MATCH", flags: .optional),
                                CommandArgument("count", .integer, token: "COUNT", flags: .optional),
                                CommandArgument("type", .string, token: "TYPE", flags: .optional, since: "6.0.0")],
                    handler: scan),
        CommandSpec("randomkey", arity: 1, flags: [.readonly], acl: [.keyspace],
                    tips: ["request_policy:all_shards", "nondeterministic_output"], group: .generic, since: "1.0.0",
                    summary: "Pick a key of the database at random.", complexity: "O(1)", handler: randomkey),
        CommandSpec("rename", arity: 3, flags: [.write], acl: [.keyspace],
                    keys: [KeySpec.single([.RW, .access, .delete]), KeySpec.single([.OW, .update], at: 2)],
                    group: .generic, since: "1.0.0", summary: "Give a key a new name, replacing any key already there.",
                    complexity: "O(1)", arguments: [.key(), .key("newkey", spec: 1)], handler: { rename($0, onlyIfAbsent: false) }),
        CommandSpec("renamenx", arity: 3, flags: [.write, .fast], acl: [.keyspace],
                    keys: [KeySpec.single([.RW, .access, .delete]), KeySpec.single([.OW, .insert], at: 2)],
                    group: .generic, since: "1.0.0", summary: "Give a key a new name, unless that name is taken.",
                    complexity: "O(1)", history: [("3.2.0", "Same source and target name is no longer an error.")],
                    arguments: [.key(), .key("newkey", spec: 1)], handler: { rename($0, onlyIfAbsent: true) }),
        CommandSpec("move", arity: 3, flags: [.write, .fast], acl: [.keyspace], keys: [KeySpec.single([.RW, .access, .update])],
                    group: .generic, since: "1.0.0", summary: "Transfer a key to another numbered database.", complexity: "O(1)",
                    arguments: [.key(), CommandArgument("db", .integer)], handler: move),
        CommandSpec("copy", arity: -3, flags: [.write, .denyoom], acl: [.keyspace],
                    keys: [KeySpec.single([.RO, .access]), KeySpec.single([.OW, .update], at: 2)],
                    group: .generic, since: "6.2.0", summary: "Duplicate a key's value under another name.",
                    complexity: "O(1) for strings, O(N) for a collection of N elements",
                    arguments: [.key("source"), .key("destination", spec: 1),
                                CommandArgument("destination-db", .integer, token: "DB", flags: .optional),
                                .token("REPLACE", flags: .optional)], handler: copy),
        CommandSpec("object", arity: -2, flags: [], group: .generic, since: "2.2.3",
                    summary: "Inspect how a key's value is stored.", complexity: "Depends on subcommand.",
                    subcommands: [
                        objectSub("encoding", summary: "Name the internal representation of a value.", handler: objectEncoding),
                        objectSub("freq", summary: "Access-frequency counter of a key (LFU policies).", handler: objectFreq),
                        objectSub("idletime", summary: "Seconds since a key was last accessed.", handler: objectIdletime),
                        objectSub("refcount", summary: "Number of references to a key's value.", handler: objectRefcount),
                        CommandSpec("help", arity: 2, flags: [.loading, .stale], acl: [.keyspace], group: .generic, since: "6.2.0",
                                    summary: "Explain the subcommands.", complexity: "O(1)",
                                    handler: { HelpText.reply($0, command: "OBJECT", lines: objectHelp) }),
                    ], handler: nil),
        expireSpec("expire", since: "1.0.0", unit: "seconds", summary: "Give a key a time to live in seconds.",
                   handler: { expire($0, seconds: true, absolute: false) }),
        expireSpec("pexpire", since: "2.6.0", unit: "milliseconds", summary: "Give a key a time to live in milliseconds.",
                   handler: { expire($0, seconds: false, absolute: false) }),
        expireSpec("expireat", since: "1.2.0", unit: "unix-time-seconds", summary: "Expire a key at a Unix time in seconds.",
                   handler: { expire($0, seconds: true, absolute: true) }),
        expireSpec("pexpireat", since: "2.6.0", unit: "unix-time-milliseconds", summary: "Expire a key at a Unix time in milliseconds.",
                   handler: { expire($0, seconds: false, absolute: true) }),
        ttlSpec("ttl", since: "1.0.0", summary: "Remaining time to live of a key, in seconds.",
                history: [("2.8.0", "Missing keys reply -2.")], tips: ["nondeterministic_output"], handler: { ttl($0, milliseconds: false, absolute: false) }),
        ttlSpec("pttl", since: "2.6.0", summary: "Remaining time to live of a key, in milliseconds.",
                history: [("2.8.0", "Missing keys reply -2.")], tips: ["nondeterministic_output"], handler: { ttl($0, milliseconds: true, absolute: false) }),
        ttlSpec("expiretime", since: "7.0.0", summary: "Absolute expiry of a key, in Unix seconds.",
                history: [], handler: { ttl($0, milliseconds: false, absolute: true) }),
        ttlSpec("pexpiretime", since: "7.0.0", summary: "Absolute expiry of a key, in Unix milliseconds.",
                history: [], handler: { ttl($0, milliseconds: true, absolute: true) }),
        CommandSpec("persist", arity: 2, flags: [.write, .fast], acl: [.keyspace], keys: [KeySpec.single([.RW, .update])],
                    group: .generic, since: "2.2.0", summary: "Make a key persistent again.", complexity: "O(1)",
                    arguments: [.key()], handler: persist),
    ] + sortSpecs

    private static func objectSub(_ name: String, summary: String, handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: 3, flags: [.readonly], acl: [.keyspace], keys: [KeySpec.single([.RO], at: 2)],
                    tips: ["nondeterministic_output"], group: .generic, since: name == "freq" ? "4.0.0" : "2.2.3",
                    summary: summary, complexity: "O(1)", arguments: [.key()], handler: handler)
    }

    private static func expireSpec(_ name: String, since: String, unit: String, summary: String,
                                   handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: -3, flags: [.write, .fast], acl: [.keyspace], keys: [KeySpec.single([.RW, .update])],
                    group: .generic, since: since, summary: summary, complexity: "O(1)",
                    history: [("7.0.0", "NX, XX, GT and LT conditions.")],
                    arguments: [.key(), CommandArgument(unit, unit.hasPrefix("unix") ? .unixTime : .integer),
                                CommandArgument("condition", .oneof, flags: .optional, since: "7.0.0",
                                                [.token("NX"), .token("XX"), .token("GT"), .token("LT")])],
                    handler: handler)
    }

    private static func ttlSpec(_ name: String, since: String, summary: String, history: [(String, String)],
                                tips: [String] = [], handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: 2, flags: [.readonly, .fast], acl: [.keyspace], keys: [KeySpec.single([.RO, .access])],
                    tips: tips, group: .generic, since: since, summary: summary, complexity: "O(1)", history: history,
                    arguments: [.key()], handler: handler)
    }

    // MARK: Existence and deletion

    /// DEL and UNLINK; `lazily` hands large values to the background freer.
    static func delete(_ c: CommandContext, lazily: Bool) {
        var deleted = 0
        let freer = lazily ? c.server.lazyFreer : nil
        c.withEachKey(stride(from: 1, to: c.args.count, by: 1)) { shard, key, hash in
            guard let link = c.lookupWrite(shard, key, hash) else { return }
            shard.remove(db: c.session.db, at: link, hash: hash, freer: freer)
            c.keyChanged(key, .generic, "del")
            deleted += 1
        }
        c.reply.integer(deleted)
    }

    /// Counts the live keys among the arguments (EXISTS, TOUCH; duplicates count each time);
    /// with `touch`, the lookups count as accesses (TOUCH).
    private static func countExisting(_ c: CommandContext, touch: Bool) {
        var found = 0
        c.withEachKey(stride(from: 1, to: c.args.count, by: 1)) { shard, key, hash in
            if c.lookupRead(shard, key, hash, touch: touch) != nil { found += 1 }
        }
        c.reply.integer(found)
    }

    static func exists(_ c: CommandContext) { countExisting(c, touch: false) }
    static func touch(_ c: CommandContext) { countExisting(c, touch: true) }

    static func typeName(_ entry: Entry) -> StaticString {
        switch entry.kind {
        case .string, .integer: return "string"
        case .list: return "list"
        case .set: return "set"
        case .zset: return "zset"
        case .hash: return "hash"
        }
    }

    static func type(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            guard let entry = c.lookupRead(shard, key, hash, touch: false) else { return c.reply.simple("none") }
            c.reply.simple(typeName(entry))
        }
    }

    // MARK: Listing

    static func keys(_ c: CommandContext) {
        let pattern = c.args[1]
        let matchAll = pattern.count == 1 && pattern[0] == 42
        let start = c.reply.deferredStart()
        var count = 0
        c.keyspace.withAllShardsLocked {
            for shard in c.keyspace.shards {
                shard.dicts[c.session.db].forEach { entry in
                    if Shard.isLive(entry, now: c.now),
                       matchAll || Glob.matches(pattern: pattern, string: entry.key) {
                        c.reply.bulk(entry.key)
                        count += 1
                    }
                }
            }
        }
        c.reply.deferredArray(at: start, count: count)
    }

    static func scan(_ c: CommandContext) {
        guard let cursor = parseCursor(c.args[1]) else { return c.error("ERR invalid cursor") }
        var count = 10
        var pattern: UnsafeRawBufferPointer?
        var typeFilter: UnsafeRawBufferPointer?
        var j = 2
        while j < c.args.count {
            guard j + 1 < c.args.count else { return c.error(RedisError.syntax) }
            if c.args.equals(j, "count") {
                guard let value = c.integer(j + 1) else { return }
                guard value >= 1 else { return c.error(RedisError.syntax) }
                count = Int(min(value, Int64(Int32.max)))
            } else if c.args.equals(j, "match") {
                pattern = c.args[j + 1]
            } else if c.args.equals(j, "type") {
                typeFilter = c.args[j + 1]
            } else {
                return c.error(RedisError.syntax)
            }
            j += 2
        }
        let shardBits = c.keyspace.shardCount.trailingZeroBitCount
        let shardMask = UInt64(c.keyspace.shardCount - 1)
        var shardIndex = Int(cursor & shardMask)
        var dictCursor = cursor >> UInt64(shardBits)
        var found: [[UInt8]] = []
        var visits = 0
        let maxVisits = count * 10
        while visits < maxVisits && found.count < count {
            let shard = c.keyspace.shards[shardIndex]
            shard.withLock {
                dictCursor = shard.dicts[c.session.db].scan(cursor: dictCursor) { entry in
                    guard Shard.isLive(entry, now: c.now) else { return }
                    if let pattern, !Glob.matches(pattern: pattern, string: entry.key) { return }
                    if let typeFilter {
                        let name = typeName(entry)
                        let matches = ASCII.equalsIgnoringCase(
                            UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), typeFilter)
                        if !matches { return }
                    }
                    found.append(Array(entry.key))
                }
            }
            visits += 1
            if dictCursor == 0 {
                shardIndex += 1
                if shardIndex == c.keyspace.shardCount { break }
            }
        }
        let next: UInt64 = shardIndex == c.keyspace.shardCount ? 0 : (dictCursor << UInt64(shardBits)) | UInt64(shardIndex)
        c.reply.arrayHeader(2)
        c.reply.bulk(String(next))
        c.reply.arrayHeader(found.count)
        for key in found { c.reply.bulk(key) }
    }

    /// Parses an unsigned decimal cursor the way strtoul does for SCAN (no leading space,
    /// nothing trailing, no overflow; a leading '-' wraps like strtoul).
    static func parseCursor(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        var index = 0
        var negative = false
        if index < bytes.count && (bytes[index] == 43 || bytes[index] == 45) {
            negative = bytes[index] == 45
            index += 1
        }
        var value: UInt64 = 0
        var digits = 0
        while index < bytes.count {
            let c = bytes[index]
            guard c >= 48 && c <= 57 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(c - 48))
            if o1 || o2 { return nil }
            value = s
            digits += 1
            index += 1
        }
        if digits == 0 && bytes.count > 0 { return nil }
        return negative ? 0 &- value : value
    }

    static func randomkey(_ c: CommandContext) {
        let shardCount = c.keyspace.shardCount
        let start = Int.random(in: 0..<shardCount)
        for offset in 0..<shardCount {
            let shard = c.keyspace.shards[(start + offset) % shardCount]
            let key: [UInt8]? = shard.withLock {
                for _ in 0..<100 {
                    guard let entry = shard.dicts[c.session.db].randomEntry() else { return nil }
                    if Shard.isLive(entry, now: c.now) || !c.expiresKeys { return Array(entry.key) }
                    let hash = KeyHash.hash(entry.key)
                    _ = shard.link(db: c.session.db, key: entry.key, hash: hash, now: c.now)
                }
                return nil
            }
            if let key { return c.reply.bulk(key) }
        }
        c.reply.nullBulk()
    }

    // MARK: Renaming, moving, copying

    static func rename(_ c: CommandContext, onlyIfAbsent: Bool) {
        let sameKey = c.args[1].elementsEqual(c.args[2])
        c.withKeys([1, 2]) {
            let source = c.args[1], target = c.args[2]
            let sourceShard = c.keyspace.shard(for: source), targetShard = c.keyspace.shard(for: target)
            let sourceHash = KeyHash.hash(source), targetHash = KeyHash.hash(target)
            guard let sourceLink = c.lookupWrite(sourceShard, source, sourceHash) else {
                return c.error(RedisError.noSuchKey)
            }
            if sameKey { return onlyIfAbsent ? c.reply.integer(0) : c.reply.ok() }
            if let targetLink = c.lookupWrite(targetShard, target, targetHash) {
                if onlyIfAbsent { return c.reply.integer(0) }
                targetShard.remove(db: c.session.db, at: targetLink, hash: targetHash)
            }
            // Removing the target may have moved the source's link; look it up again.
            let link = c.lookupWrite(sourceShard, source, sourceHash) ?? sourceLink
            let entry = sourceShard.detach(db: c.session.db, at: link, hash: sourceHash)
            // Redis re-adds the value under the new name, so the target is always "new".
            c.notifyKeyspaceEvent(.newKey, "new", target)
            targetShard.store(db: c.session.db, entry.copy(key: target, expireAt: entry.expireAt),
                              hash: targetHash, replacing: nil)
            entry.free()
            c.signalKeyReady(target)
            c.signalModifiedKey(source)
            c.signalModifiedKey(target)
            c.notifyKeyspaceEvent(.generic, "rename_from", source)
            c.notifyKeyspaceEvent(.generic, "rename_to", target)
            onlyIfAbsent ? c.reply.integer(1) : c.reply.ok()
        }
    }

    /// Parses a database index argument, replying Redis's errors.
    static func databaseIndex(_ c: CommandContext, _ argument: Int) -> Int? {
        guard let value = c.integer(argument, in: Int64(Int32.min)...Int64(Int32.max)) else {
            return nil
        }
        guard value >= 0 && value < Int64(c.keyspace.databaseCount) else {
            c.error(RedisError.dbIndexOutOfRange)
            return nil
        }
        return Int(value)
    }

    static func move(_ c: CommandContext) {
        guard let target = databaseIndex(c, 2) else { return }
        guard target != c.session.db else { return c.error(RedisError.sameObject) }
        c.withKey(1) { shard, key, hash in
            guard let link = c.lookupWrite(shard, key, hash) else { return c.reply.integer(0) }
            if c.lookupWrite(shard, key, hash, db: target) != nil { return c.reply.integer(0) }
            let entry = shard.detach(db: c.session.db, at: link, hash: hash)
            c.notifyKeyspaceEvent(.newKey, "new", key, db: target)
            shard.store(db: target, entry, hash: hash, replacing: nil)
            c.signalKeyReady(key, db: target)
            c.signalModifiedKey(key)
            c.signalModifiedKey(key, db: target)
            c.notifyKeyspaceEvent(.generic, "move_from", key)
            c.notifyKeyspaceEvent(.generic, "move_to", key, db: target)
            c.reply.integer(1)
        }
    }

    static func copy(_ c: CommandContext) {
        var replace = false
        var targetDB = c.session.db
        var j = 3
        while j < c.args.count {
            if c.args.equals(j, "replace") {
                replace = true
            } else if c.args.equals(j, "db") && j + 1 < c.args.count {
                guard let db = databaseIndex(c, j + 1) else { return }
                targetDB = db
                j += 1
            } else {
                return c.error(RedisError.syntax)
            }
            j += 1
        }
        if targetDB == c.session.db && c.args[1].elementsEqual(c.args[2]) { return c.error(RedisError.sameObject) }
        c.withKeys([1, 2]) {
            let source = c.args[1], target = c.args[2]
            let sourceShard = c.keyspace.shard(for: source), targetShard = c.keyspace.shard(for: target)
            let targetHash = KeyHash.hash(target)
            guard let entry = c.lookupRead(sourceShard, source, KeyHash.hash(source)) else { return c.reply.integer(0) }
            let existing = c.lookupWrite(targetShard, target, targetHash, db: targetDB)
            if existing != nil && !replace { return c.reply.integer(0) }
            // Redis deletes a replaced target and adds the copy, so the target is always "new".
            c.notifyKeyspaceEvent(.newKey, "new", target, db: targetDB)
            targetShard.store(db: targetDB, entry.duplicate(key: target), hash: targetHash, replacing: existing)
            c.signalKeyReady(target, db: targetDB)
            c.keyChanged(target, .generic, "copy_to", db: targetDB)
            c.reply.integer(1)
        }
    }

    // MARK: OBJECT

    // DIVERGENCE: help texts are our own words, in Redis's layout (subcommand line, then
    // indented explanation), so tools that show them work alike.
    static let objectHelp = [
        "ENCODING <key>",
        "    Name the internal representation of the value stored at <key>.",
        "FREQ <key>",
        "    Report the logarithmic access-frequency counter of <key> (LFU policies only).",
        "IDLETIME <key>",
        "    Report the seconds since <key> was last read or written (not with LFU policies).",
        "REFCOUNT <key>",
        "    Report how many references share the value stored at <key>.",
    ]

    /// Looks the key up without touching its access time or raising keymiss, replying null
    /// when missing.
    private static func withObject(_ c: CommandContext, _ body: (Entry) -> Void) {
        c.withKey(2) { shard, key, hash in
            guard let entry = c.lookupRead(shard, key, hash, touch: false, notifyMiss: false) else {
                return c.reply.nullBulk()
            }
            body(entry)
        }
    }

    static func encodingName(_ entry: Entry) -> String {
        switch entry.kind {
        case .integer: return "int"
        case .string: return entry.flags.contains(.rawEncoding) ? "raw" : "embstr"
        default: return entry.collection.encodingName
        }
    }

    static func objectEncoding(_ c: CommandContext) {
        withObject(c) { c.reply.bulk(encodingName($0)) }
    }

    static func objectRefcount(_ c: CommandContext) {
        withObject(c) { entry in
            // Redis shares the objects for 0...9999 unless an LRU/LFU policy needs per-key clocks.
            let shared = entry.kind == .integer && (0..<10000).contains(entry.integer)
                && !c.server.config.maxmemoryPolicy.usesAccessClock
            c.reply.integer(shared ? Int(Int32.max) : 1)
        }
    }

    static func objectIdletime(_ c: CommandContext) {
        withObject(c) { entry in
            if c.server.config.maxmemoryPolicy.isLFU {
                return c.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
            }
            c.reply.integer(Int(c.server.idleSeconds(entry)))
        }
    }

    static func objectFreq(_ c: CommandContext) {
        withObject(c) { entry in
            guard c.server.config.maxmemoryPolicy.isLFU else {
                return c.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
            }
            c.reply.integer(Int(c.server.decayedFrequency(entry)))
        }
    }

    // MARK: Expiry

    static func expire(_ c: CommandContext, seconds: Bool, absolute: Bool) {
        var nx = false, xx = false, gt = false, lt = false
        for j in 3..<max(3, c.args.count) {
            if c.args.equals(j, "nx") { nx = true }
            else if c.args.equals(j, "xx") { xx = true }
            else if c.args.equals(j, "gt") { gt = true }
            else if c.args.equals(j, "lt") { lt = true }
            else { return c.error(bytes: Array("ERR Unsupported option ".utf8) + c.args[j]) }
        }
        if nx && (xx || gt || lt) { return c.error("ERR NX and XX, GT or LT options at the same time are not compatible") }
        if gt && lt { return c.error("ERR GT and LT options at the same time are not compatible") }
        guard var when = c.integer(2) else { return }
        let name = c.commandName
        if seconds {
            guard when <= Int64.max / 1000 && when >= Int64.min / 1000 else { return c.error(RedisError.invalidExpireTime(name)) }
            when *= 1000
        }
        let base = absolute ? 0 : c.now
        guard when <= Int64.max - base else { return c.error(RedisError.invalidExpireTime(name)) }
        when += base
        c.withKey(1) { shard, key, hash in
            guard let link = c.lookupWrite(shard, key, hash) else { return c.reply.integer(0) }
            let current = Entry(link.pointee!).expireAt
            if nx && current != nil { return c.reply.integer(0) }
            if xx && current == nil { return c.reply.integer(0) }
            if gt, current == nil || when <= current! { return c.reply.integer(0) }
            if lt, let current, when >= current { return c.reply.integer(0) }
            if when <= c.now && c.expiresKeys {
                shard.remove(db: c.session.db, at: link, hash: hash)
                StringFamily.propagateAsDel(c, key)
                c.keyChanged(key, .generic, "del")
            } else {
                c.setExpire(shard, link: link, hash: hash, expireAt: when)
                // Propagated as PEXPIREAT with the absolute time, options kept (Redis 7.0).
                if !(absolute && !seconds) {
                    c.rewritePropagated { command in
                        command.add("PEXPIREAT")
                        command.add(key)
                        command.add(when)
                        for index in 3..<max(3, c.args.count) { command.add(c.args[index]) }
                    }
                }
                c.keyChanged(key, .generic, "expire")
            }
            c.reply.integer(1)
        }
    }

    static func ttl(_ c: CommandContext, milliseconds: Bool, absolute: Bool) {
        c.withKey(1) { shard, key, hash in
            guard let entry = c.lookupRead(shard, key, hash, touch: false) else { return c.reply.integer(-2) }
            guard let expireAt = entry.expireAt else { return c.reply.integer(-1) }
            var value = absolute ? expireAt : max(expireAt - c.now, 0)
            if !milliseconds { value = (value + 500) / 1000 }
            c.reply.integer(value)
        }
    }

    static func persist(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            guard let link = c.lookupWrite(shard, key, hash), Entry(link.pointee!).hasExpire else {
                return c.reply.integer(0)
            }
            c.setExpire(shard, link: link, hash: hash, expireAt: nil)
            c.keyChanged(key, .generic, "persist")
            c.reply.integer(1)
        }
    }
}
