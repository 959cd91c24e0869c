// The string command group of Redis 7.0: GET/SET and their variants, multi-key MGET/MSET,
// in-place edits (APPEND, SETRANGE), counters (INCR family, INCRBYFLOAT) and LCS. Each
// command's spec sits beside its handler; replies and errors follow Redis 7.0.15 exactly.
import RESP
import Storage
import Support

public enum StringFamily {
    static let keyRO = KeySpec.single([.RO, .access])
    static let keyRW = KeySpec.single([.RW, .access, .update])
    static let keyOW = KeySpec.single([.OW, .update])

    public static let specs: [CommandSpec] = [
        CommandSpec("get", arity: 2, flags: [.readonly, .fast], acl: [.string], keys: [keyRO],
                    group: .string, since: "1.0.0", summary: "Read the string value of a key.",
                    complexity: "O(1)", arguments: [.key()], handler: get),
        CommandSpec("set", arity: -3, flags: [.write, .denyoom], acl: [.string],
                    keys: [KeySpec([.RW, .access, .update, .variableFlags], .index(1),
                                   .range(lastKey: 0, step: 1, limit: 0),
                                   notes: "RW and ACCESS due to the optional `GET` argument")],
                    group: .string, since: "1.0.0",
                    summary: "Store a string value at a key, with optional conditions and expiry.",
                    complexity: "O(1)",
                    history: [("2.6.12", "EX, PX, NX and XX options."),
                              ("6.0.0", "KEEPTTL option."),
                              ("6.2.0", "GET, EXAT and PXAT options."),
                              ("7.0.0", "NX and GET may be combined.")],
                    arguments: [.key(), CommandArgument("value", .string),
                                CommandArgument("condition", .oneof, flags: .optional, since: "2.6.12",
                                                [.token("NX"), .token("XX")]),
                                .token("GET", flags: .optional, since: "6.2.0"),
                                CommandArgument("expiration", .oneof, flags: .optional, [
                                    CommandArgument("seconds", .integer, token: "EX", since: "2.6.12"),
                                    CommandArgument("milliseconds", .integer, token: "PX", since: "2.6.12"),
                                    CommandArgument("unix-time-seconds", .unixTime, token: "EXAT", since: "6.2.0"),
                                    CommandArgument("unix-time-milliseconds", .unixTime, token: "PXAT", since: "6.2.0"),
                                    .token("KEEPTTL", since: "6.0.0")])],
                    handler: set).withKeyFlags(setKeyFlags),
        CommandSpec("setnx", arity: 3, flags: [.write, .denyoom, .fast], acl: [.string],
                    keys: [KeySpec.single([.OW, .insert])], group: .string, since: "1.0.0",
                    summary: "Set a string value unless the key exists.", complexity: "O(1)",
                    arguments: [.key(), CommandArgument("value", .string)], handler: setnx),
        CommandSpec("setex", arity: 4, flags: [.write, .denyoom], acl: [.string], keys: [keyOW],
                    group: .string, since: "2.0.0",
                    summary: "Set a string value with a time to live in seconds.",
                    complexity: "O(1)",
                    arguments: [.key(), CommandArgument("seconds", .integer), CommandArgument("value", .string)],
                    handler: setex),
        CommandSpec("psetex", arity: 4, flags: [.write, .denyoom], acl: [.string], keys: [keyOW],
                    group: .string, since: "2.6.0",
                    summary: "Set a string value with a time to live in milliseconds.",
                    complexity: "O(1)",
                    arguments: [.key(), CommandArgument("milliseconds", .integer), CommandArgument("value", .string)],
                    handler: psetex),
        CommandSpec("getset", arity: 3, flags: [.write, .denyoom, .fast], acl: [.string], keys: [keyRW],
                    group: .string, since: "1.0.0",
                    summary: "Set a string value and reply with the one it replaced.",
                    complexity: "O(1)", docFlags: ["deprecated"], deprecatedSince: "6.2.0",
                    replacedBy: "`SET` with the `!GET` argument",
                    arguments: [.key(), CommandArgument("value", .string)], handler: getset),
        CommandSpec("getdel", arity: 2, flags: [.write, .fast], acl: [.string],
                    keys: [KeySpec.single([.RW, .access, .delete])], group: .string, since: "6.2.0",
                    summary: "Read a string value and remove its key.", complexity: "O(1)",
                    arguments: [.key()], handler: getdel),
        CommandSpec("getex", arity: -2, flags: [.write, .fast], acl: [.string],
                    keys: [KeySpec([.RW, .access, .update], .index(1), .range(lastKey: 0, step: 1, limit: 0),
                                   notes: "RW and UPDATE because it changes the TTL")],
                    group: .string, since: "6.2.0",
                    summary: "Read a string value and change its expiry.",
                    complexity: "O(1)",
                    arguments: [.key(), CommandArgument("expiration", .oneof, flags: .optional, [
                        CommandArgument("seconds", .integer, token: "EX"),
                        CommandArgument("milliseconds", .integer, token: "PX"),
                        CommandArgument("unix-time-seconds", .unixTime, token: "EXAT"),
                        CommandArgument("unix-time-milliseconds", .unixTime, token: "PXAT"),
                        .token("PERSIST")])],
                    handler: getex),
        CommandSpec("mget", arity: -2, flags: [.readonly, .fast], acl: [.string],
                    keys: [KeySpec.rest([.RO, .access])],
                    tips: ["request_policy:multi_shard"], group: .string, since: "1.0.0",
                    summary: "Fetch the values of several string keys.", complexity: "O(N) for N keys",
                    arguments: [.key(flags: .multiple)], handler: mget),
        CommandSpec("mset", arity: -3, flags: [.write, .denyoom], acl: [.string],
                    keys: [KeySpec.rest([.OW, .update], step: 2)],
                    tips: ["request_policy:multi_shard", "response_policy:all_succeeded"],
                    group: .string, since: "1.0.1",
                    summary: "Set several string keys in one step.",
                    complexity: "O(N) for N keys",
                    arguments: [CommandArgument("key_value", .block, flags: .multiple,
                                                [.key(), CommandArgument("value", .string)])],
                    handler: mset),
        CommandSpec("msetnx", arity: -3, flags: [.write, .denyoom], acl: [.string],
                    keys: [KeySpec.rest([.OW, .insert], step: 2)],
                    tips: ["request_policy:multi_shard", "response_policy:agg_min"],
                    group: .string, since: "1.0.1",
                    summary: "Set several string keys in one step, only if none of them exists.",
                    complexity: "O(N) for N keys",
                    arguments: [CommandArgument("key_value", .block, flags: .multiple,
                                                [.key(), CommandArgument("value", .string)])],
                    handler: msetnx),
        CommandSpec("append", arity: 3, flags: [.write, .denyoom, .fast], acl: [.string],
                    keys: [KeySpec.single([.RW, .insert])], group: .string, since: "2.0.0",
                    summary: "Add bytes to the end of a string value, creating the key when absent.",
                    complexity: "O(1) amortized",
                    arguments: [.key(), CommandArgument("value", .string)], handler: append),
        CommandSpec("strlen", arity: 2, flags: [.readonly, .fast], acl: [.string],
                    keys: [KeySpec.single([.RO])], group: .string, since: "2.2.0",
                    summary: "Byte length of a string value.", complexity: "O(1)",
                    arguments: [.key()], handler: strlen),
        CommandSpec("getrange", arity: 4, flags: [.readonly], acl: [.string],
                    keys: [KeySpec.single([.RO, .access])], group: .string, since: "2.4.0",
                    summary: "Read a byte range of a string value.",
                    complexity: "O(N) for a result of N bytes",
                    arguments: [.key(), CommandArgument("start", .integer), CommandArgument("end", .integer)],
                    handler: getrange),
        CommandSpec("substr", arity: 4, flags: [.readonly], acl: [.string],
                    keys: [KeySpec.single([.RO, .access])], group: .string, since: "1.0.0",
                    summary: "Old name of GETRANGE.",
                    complexity: "O(N) for a result of N bytes",
                    docFlags: ["deprecated"], deprecatedSince: "2.0.0", replacedBy: "`GETRANGE`",
                    arguments: [.key(), CommandArgument("start", .integer), CommandArgument("end", .integer)],
                    handler: getrange),
        CommandSpec("setrange", arity: 4, flags: [.write, .denyoom], acl: [.string],
                    keys: [KeySpec.single([.RW, .update])], group: .string, since: "2.2.0",
                    summary: "Write bytes into a string value at an offset, padding with zero bytes.",
                    complexity: "O(M) for a value of M bytes",
                    arguments: [.key(), CommandArgument("offset", .integer), CommandArgument("value", .string)],
                    handler: setrange),
        counterSpec("incr", arity: 2, since: "1.0.0", summary: "Add one to an integer value (missing keys count as 0).",
                    arguments: [.key()], handler: { incrementBy($0, fixed: 1) }),
        counterSpec("decr", arity: 2, since: "1.0.0", summary: "Subtract one from an integer value (missing keys count as 0).",
                    arguments: [.key()], handler: { incrementBy($0, fixed: -1) }),
        counterSpec("incrby", arity: 3, since: "1.0.0", summary: "Add an amount to an integer value (missing keys count as 0).",
                    arguments: [.key(), CommandArgument("increment", .integer)], handler: { incrementBy($0, fixed: nil) }),
        counterSpec("decrby", arity: 3, since: "1.0.0", summary: "Subtract an amount from an integer value (missing keys count as 0).",
                    arguments: [.key(), CommandArgument("decrement", .integer)], handler: { decrementBy($0) }),
        CommandSpec("incrbyfloat", arity: 3, flags: [.write, .denyoom, .fast], acl: [.string],
                    keys: [KeySpec.single([.RW, .access, .update])], group: .string, since: "2.6.0",
                    summary: "Add a decimal amount to a numeric value (missing keys count as 0).",
                    complexity: "O(1)", arguments: [.key(), CommandArgument("increment", .double)],
                    handler: incrbyfloat),
        CommandSpec("lcs", arity: -3, flags: [.readonly], acl: [.string],
                    keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 1, step: 1, limit: 0))],
                    group: .string, since: "7.0.0", summary: "Longest common subsequence of two string values.",
                    complexity: "O(N*M) for strings of lengths N and M",
                    arguments: [.key("key1", spec: 0), .key("key2", spec: 0),
                                .token("LEN", flags: .optional), .token("IDX", flags: .optional),
                                CommandArgument("len", .integer, token: "MINMATCHLEN", flags: .optional),
                                .token("WITHMATCHLEN", flags: .optional)],
                    handler: lcs),
    ]

    private static func counterSpec(_ name: String, arity: Int, since: String, summary: String,
                                    arguments: [CommandArgument], handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: arity, flags: [.write, .denyoom, .fast], acl: [.string],
                    keys: [KeySpec.single([.RW, .access, .update])], group: .string, since: since,
                    summary: summary, complexity: "O(1)", arguments: arguments, handler: handler)
    }

    // MARK: GET / SET family

    static func get(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            guard let entry = c.lookupRead(shard, key, hash) else { return c.reply.nullBulk() }
            if c.rejectNonString(entry) { return }
            c.replyValue(entry)
        }
    }

    /// SET's parsed options (also GETEX's, which accepts PERSIST instead of NX/XX/GET/KEEPTTL).
    struct SetOptions {
        var onlyIfAbsent = false, onlyIfPresent = false, returnOld = false
        var keepTTL = false, persist = false
        /// Expire argument position and how to read it.
        var expireArgument = 0
        var unitIsSeconds = true, absolute = false
        var hasExpire: Bool { expireArgument > 0 }
    }

    /// Parses SET/GETEX options from `first`, replying "syntax error" on a bad combination.
    static func parseSetOptions(_ c: CommandContext, from first: Int, forGetEx: Bool) -> SetOptions? {
        var options = SetOptions()
        var j = first
        let args = c.args
        while j < args.count {
            let hasNext = j + 1 < args.count
            if !forGetEx && args.equals(j, "nx") && !options.onlyIfPresent {
                options.onlyIfAbsent = true
            } else if !forGetEx && args.equals(j, "xx") && !options.onlyIfAbsent {
                options.onlyIfPresent = true
            } else if !forGetEx && args.equals(j, "get") {
                options.returnOld = true
            } else if !forGetEx && args.equals(j, "keepttl") && !options.hasExpire {
                options.keepTTL = true
            } else if forGetEx && args.equals(j, "persist") && !options.hasExpire {
                options.persist = true
            } else if hasNext && !options.keepTTL && !options.persist, let (seconds, absolute) = expireKeyword(args, j),
                      // The same expire option may repeat (the last one counts), as in Redis.
                      !options.hasExpire || (options.unitIsSeconds == seconds && options.absolute == absolute) {
                options.expireArgument = j + 1
                options.unitIsSeconds = seconds
                options.absolute = absolute
                j += 1
            } else {
                c.error(RedisError.syntax)
                return nil
            }
            j += 1
        }
        return options
    }

    private static func expireKeyword(_ args: CommandArgs, _ j: Int) -> (seconds: Bool, absolute: Bool)? {
        if args.equals(j, "ex") { return (true, false) }
        if args.equals(j, "px") { return (false, false) }
        if args.equals(j, "exat") { return (true, true) }
        if args.equals(j, "pxat") { return (false, true) }
        return nil
    }

    /// Reads an expire argument into an absolute time in ms, replying Redis's errors.
    static func expireTime(_ c: CommandContext, argument: Int, seconds: Bool, absolute: Bool,
                           command: String) -> Int64? {
        guard let value = c.integer(argument) else { return nil }
        if value <= 0 || (seconds && value > Int64.max / 1000) {
            c.error(RedisError.invalidExpireTime(command))
            return nil
        }
        let milliseconds = seconds ? value * 1000 : value
        if absolute { return milliseconds }
        if milliseconds > Int64.max - c.now {
            c.error(RedisError.invalidExpireTime(command))
            return nil
        }
        return milliseconds + c.now
    }

    /// SET's key is read too when GET asks for the old value (Redis's setGetKeys).
    private static func setKeyFlags(_ count: Int, _ argument: (Int) -> UnsafeRawBufferPointer) -> KeySpec.Flags {
        (3..<max(count, 3)).contains { ASCII.equalsIgnoringCase(argument($0), keyword: "get") }
            ? [.RW, .access, .update] : [.OW, .update]
    }

    static func set(_ c: CommandContext) {
        guard let options = parseSetOptions(c, from: 3, forGetEx: false) else { return }
        var expireAt: Int64?
        if options.hasExpire {
            guard let when = expireTime(c, argument: options.expireArgument, seconds: options.unitIsSeconds,
                                        absolute: options.absolute, command: "set") else { return }
            expireAt = when
        }
        let value = c.prepareString(c.args[2])
        defer { value.release() }
        c.withKey(1) { shard, key, hash in
            let link = c.lookupWrite(shard, key, hash)
            let existing = link.map { Entry($0.pointee!) }
            if options.returnOld {
                c.countRead(shard, key, found: existing != nil)
                if let existing {
                    if c.rejectNonString(existing) { return }
                    c.replyValue(existing)
                } else {
                    c.reply.nullBulk()
                }
            }
            if (options.onlyIfAbsent && existing != nil) || (options.onlyIfPresent && existing == nil) {
                if !options.returnOld { c.reply.nullBulk() }
                return
            }
            let keptExpire = options.keepTTL ? existing?.expireAt : nil
            // An EXAT/PXAT in the past is stored as given; the key then expires on next access.
            c.storeString(shard, key: key, hash: hash, replacing: link, value: value, encoding: .automatic,
                          expireAt: expireAt ?? keptExpire)
            if let expireAt {
                propagateAsSet(c, key, valueIndex: 2, expireAt: expireAt)
            } else if options.returnOld {
                // Propagated without its GET, which may be repeated.
                c.rewritePropagated { command in
                    for index in 0..<c.args.count where index < 3 || !c.args.equals(index, "get") { command.add(c.args[index]) }
                }
            }
            stored(c, key, expiring: expireAt != nil)
            if !options.returnOld { c.reply.ok() }
        }
    }

    static func setnx(_ c: CommandContext) {
        let value = c.prepareString(c.args[2])
        defer { value.release() }
        c.withKey(1) { shard, key, hash in
            if c.lookupWrite(shard, key, hash) != nil { return c.reply.integer(0) }
            c.storeString(shard, key: key, hash: hash, replacing: nil, value: value, encoding: .automatic, expireAt: nil)
            stored(c, key, expiring: false)
            c.reply.integer(1)
        }
    }

    static func setex(_ c: CommandContext) { setWithExpire(c, seconds: true, command: "setex") }
    static func psetex(_ c: CommandContext) { setWithExpire(c, seconds: false, command: "psetex") }

    private static func setWithExpire(_ c: CommandContext, seconds: Bool, command: String) {
        guard let expireAt = expireTime(c, argument: 2, seconds: seconds, absolute: false, command: command) else { return }
        let value = c.prepareString(c.args[3])
        defer { value.release() }
        c.withKey(1) { shard, key, hash in
            c.storeString(shard, key: key, hash: hash, replacing: c.lookupWrite(shard, key, hash), value: value,
                          encoding: .automatic, expireAt: expireAt)
            propagateAsSet(c, key, valueIndex: 3, expireAt: expireAt)
            stored(c, key, expiring: true)
            c.reply.ok()
        }
    }

    static func getset(_ c: CommandContext) {
        let value = c.prepareString(c.args[2])
        defer { value.release() }
        c.withKey(1) { shard, key, hash in
            let link = c.lookupWrite(shard, key, hash)
            c.countRead(shard, key, found: link != nil)
            if let link {
                let existing = Entry(link.pointee!)
                if c.rejectNonString(existing) { return }
                c.replyValue(existing)
            } else {
                c.reply.nullBulk()
            }
            c.storeString(shard, key: key, hash: hash, replacing: link, value: value, encoding: .automatic, expireAt: nil)
            c.rewritePropagated { command in
                command.add("SET")
                command.add(key)
                command.add(c.args[2])
            }
            stored(c, key, expiring: false)
        }
    }

    /// Redis propagates a deletion made by GETDEL, GETEX, EXPIRE... as `DEL key`.
    static func propagateAsDel(_ c: CommandContext, _ key: UnsafeRawBufferPointer) {
        c.rewritePropagated { command in
            command.add("DEL")
            command.add(key)
        }
    }

    /// SET with a TTL (and SETEX, PSETEX) propagates as `SET key value PXAT <ms>`, as Redis 7.0
    /// does: the TTL made absolute, other options dropped (CACHE.FILL too, with or without one).
    static func propagateAsSet(_ c: CommandContext, _ key: UnsafeRawBufferPointer, valueIndex: Int, expireAt: Int64?) {
        c.rewritePropagated { command in
            command.add("SET")
            command.add(key)
            command.add(c.args[valueIndex])
            if let expireAt {
                command.add("PXAT")
                command.add(expireAt)
            }
        }
    }

    /// The key events of a value stored by SET and its relatives (CACHE.FILL too): "set",
    /// then "expire" when the command gave the key a TTL.
    static func stored(_ c: CommandContext, _ key: UnsafeRawBufferPointer, expiring: Bool) {
        c.keyChanged(key, .string, "set")
        if expiring { c.notifyKeyspaceEvent(.generic, "expire", key) }
    }

    static func getdel(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            guard c.lookupRead(shard, key, hash) != nil, let link = c.lookupWrite(shard, key, hash) else {
                return c.reply.nullBulk()
            }
            let entry = Entry(link.pointee!)
            if c.rejectNonString(entry) { return }
            c.replyValue(entry)
            shard.remove(db: c.session.db, at: link, hash: hash)
            propagateAsDel(c, key)
            c.keyChanged(key, .generic, "del")
        }
    }

    static func getex(_ c: CommandContext) {
        guard let options = parseSetOptions(c, from: 2, forGetEx: true) else { return }
        c.withKey(1) { shard, key, hash in
            guard c.lookupRead(shard, key, hash) != nil, let link = c.lookupWrite(shard, key, hash) else {
                return c.reply.nullBulk()
            }
            let entry = Entry(link.pointee!)
            if c.rejectNonString(entry) { return }
            var expireAt: Int64?
            if options.hasExpire {
                guard let when = expireTime(c, argument: options.expireArgument, seconds: options.unitIsSeconds,
                                            absolute: options.absolute, command: "getex") else { return }
                expireAt = when
            }
            c.replyValue(entry)
            if let expireAt {
                if options.absolute && expireAt <= c.now {
                    shard.remove(db: c.session.db, at: link, hash: hash)
                    propagateAsDel(c, key)
                    c.keyChanged(key, .generic, "del")
                } else {
                    c.setExpire(shard, link: link, hash: hash, expireAt: expireAt)
                    c.rewritePropagated { command in
                        command.add("PEXPIREAT")
                        command.add(key)
                        command.add(expireAt)
                    }
                    c.keyChanged(key, .generic, "expire")
                }
            } else if options.persist && entry.hasExpire {
                c.setExpire(shard, link: link, hash: hash, expireAt: nil)
                c.rewritePropagated { command in
                    command.add("PERSIST")
                    command.add(key)
                }
                c.keyChanged(key, .generic, "persist")
            }
        }
    }

    static func mget(_ c: CommandContext) {
        c.reply.arrayHeader(c.args.count - 1)
        c.withEachKey(stride(from: 1, to: c.args.count, by: 1)) { shard, key, hash in
            // MGET replies nil for keys of other types instead of failing.
            if let entry = c.lookupRead(shard, key, hash), CommandContext.holdsString(entry) {
                c.replyValue(entry)
            } else {
                c.reply.nullBulk()
            }
        }
    }

    static func mset(_ c: CommandContext) {
        guard c.args.count % 2 == 1 else { return c.error(RedisError.wrongArity("mset")) }
        c.withKeys(stride(from: 1, to: c.args.count, by: 2)) {
            storePairs(c)
        }
        c.reply.ok()
    }

    static func msetnx(_ c: CommandContext) {
        guard c.args.count % 2 == 1 else { return c.error(RedisError.wrongArity("msetnx")) }
        let keys = stride(from: 1, to: c.args.count, by: 2)
        c.withKeys(keys) {
            for index in keys {
                let key = c.args[index]
                if c.inLockedShard(of: key, { shard, hash in c.lookupWrite(shard, key, hash) }) != nil {
                    return c.reply.integer(0)
                }
            }
            storePairs(c)
            c.reply.integer(1)
        }
    }

    /// Stores every key/value pair of MSET/MSETNX; the shards are already locked.
    private static func storePairs(_ c: CommandContext) {
        for index in stride(from: 1, to: c.args.count, by: 2) {
            let key = c.args[index]
            c.inLockedShard(of: key) { shard, hash in
                c.storeString(shard, key: key, hash: hash, replacing: c.lookupWrite(shard, key, hash),
                              value: c.args[index + 1], encoding: .automatic, expireAt: nil)
            }
            stored(c, key, expiring: false)
        }
    }

    // MARK: In-place edits

    /// Whether a string of `size + extra` bytes stays within proto-max-bulk-len.
    private static func checkLength(_ c: CommandContext, _ size: Int, _ extra: Int) -> Bool {
        if size + extra > c.server.config.protoMaxBulkLen {
            c.error(RedisError.stringTooLong)
            return false
        }
        return true
    }

    static func append(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            let addition = c.args[2]
            guard let link = c.lookupWrite(shard, key, hash) else {
                c.storeString(shard, key: key, hash: hash, replacing: nil, value: addition, encoding: .automatic, expireAt: nil)
                c.keyChanged(key, .string, "append")
                return c.reply.integer(addition.count)
            }
            let existing = Entry(link.pointee!)
            if c.rejectNonString(existing) { return }
            let combined: [UInt8] = c.withValueBytes(existing) { old in
                guard checkLength(c, old.count, addition.count) else { return [] }
                return Array(old) + Array(addition)
            }
            if c.failed { return }
            combined.withUnsafeBytes { bytes in
                c.storeString(shard, key: key, hash: hash, replacing: link, value: bytes, encoding: .raw, expireAt: existing.expireAt,
                              isEdit: true)
            }
            c.keyChanged(key, .string, "append")
            c.reply.integer(combined.count)
        }
    }

    static func strlen(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            guard let entry = c.lookupRead(shard, key, hash) else { return c.reply.integer(0) }
            if c.rejectNonString(entry) { return }
            c.reply.integer(c.valueLength(entry))
        }
    }

    static func getrange(_ c: CommandContext) {
        guard var start = c.integer(2), var end = c.integer(3) else { return }
        c.withKey(1) { shard, key, hash in
            guard let entry = c.lookupRead(shard, key, hash) else { return c.reply.bulk([]) }
            if c.rejectNonString(entry) { return }
            let length = Int64(c.valueLength(entry))
            if start < 0 && end < 0 && start > end { return c.reply.bulk([]) }
            if start < 0 { start = length + start }
            if end < 0 { end = length + end }
            start = max(start, 0)
            end = max(end, 0)
            if end >= length { end = length - 1 }
            if start > end || length == 0 { return c.reply.bulk([]) }
            c.withValueBytes(entry, prefix: Int(end) + 1) { value in
                c.reply.bulk(value.baseAddress! + Int(start), Int(end - start + 1))
            }
        }
    }

    static func setrange(_ c: CommandContext) {
        guard let offset64 = c.integer(2) else { return }
        guard offset64 >= 0 else { return c.error(RedisError.offsetOutOfRange) }
        let patch = c.args[3]
        c.withKey(1) { shard, key, hash in
            let link = c.lookupWrite(shard, key, hash)
            let existing = link.map { Entry($0.pointee!) }
            if let existing, c.rejectNonString(existing) { return }
            let currentLength = existing.map { c.valueLength($0) } ?? 0
            if patch.count == 0 { return c.reply.integer(currentLength) }
            guard offset64 <= Int64(Int.max / 2), checkLength(c, Int(offset64), patch.count) else {
                if !c.failed { c.error(RedisError.stringTooLong) }
                return
            }
            let offset = Int(offset64)
            let length = c.editString(shard, key: key, hash: hash, link: link,
                                      minimumLength: offset + patch.count) { value, _ in
                (value.baseAddress! + offset).copyMemory(from: patch.baseAddress!, byteCount: patch.count)
                return value.count
            }
            shard.stats.dirty += 1
            c.keyChanged(key, .string, "setrange")
            c.reply.integer(length)
        }
    }

    // MARK: Counters

    static func incrementBy(_ c: CommandContext, fixed: Int64?) {
        var increment: Int64
        if let fixed { increment = fixed } else {
            guard let parsed = c.integer(2) else { return }
            increment = parsed
        }
        applyIncrement(c, increment)
    }

    static func decrementBy(_ c: CommandContext) {
        guard let decrement = c.integer(2) else { return }
        guard decrement != Int64.min else { return c.error("ERR decrement would overflow") }
        applyIncrement(c, -decrement)
    }

    private static func applyIncrement(_ c: CommandContext, _ increment: Int64) {
        c.withKey(1) { shard, key, hash in
            let link = c.lookupWrite(shard, key, hash)
            var current: Int64 = 0
            var expireAt: Int64?
            if let link {
                let entry = Entry(link.pointee!)
                if c.rejectNonString(entry) { return }
                guard let value = c.integerValue(entry) else { return c.error(RedisError.notInteger) }
                current = value
                expireAt = entry.expireAt
            }
            let (result, overflow) = current.addingReportingOverflow(increment)
            if overflow { return c.error(RedisError.overflow) }
            if let link, Entry(link.pointee!).kind == .integer {
                Entry(link.pointee!).updateInteger(result)
                shard.stats.dirty += 1
            } else {
                c.signalStringWritten(key)
                if link == nil { c.notifyKeyspaceEvent(.newKey, "new", key) }
                shard.store(db: c.session.db, c.integerEntry(key: key, value: result, expireAt: expireAt),
                            hash: hash, replacing: link, keepTags: true)
            }
            c.keyChanged(key, .string, "incrby")
            c.reply.integer(result)
        }
    }

    static func incrbyfloat(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            let link = c.lookupWrite(shard, key, hash)
            var current: Float80 = 0
            var expireAt: Int64?
            // Unlike INCRBY, Redis checks the key's type and value before the increment.
            if let link {
                let entry = Entry(link.pointee!)
                if c.rejectNonString(entry) { return }
                guard let value = c.withValueBytes(entry, { Numbers.parseLongDouble($0) }) else {
                    return c.error(RedisError.notFloat)
                }
                current = value
                expireAt = entry.expireAt
            }
            guard let increment = Numbers.parseLongDouble(c.args[2]) else { return c.error(RedisError.notFloat) }
            let result = current + increment
            if result.isNaN || result.isInfinite { return c.error(RedisError.nanOrInfinity) }
            let text = Numbers.humanLongDouble(result)
            text.withUnsafeBytes { bytes in
                c.storeString(shard, key: key, hash: hash, replacing: link, value: bytes, encoding: .plain, expireAt: expireAt,
                              isEdit: true)
            }
            // Propagated as the value it produced, so replaying does not depend on float formatting.
            c.rewritePropagated { command in
                command.add("SET")
                command.add(key)
                command.add(text)
                command.add("KEEPTTL")
            }
            c.keyChanged(key, .string, "incrbyfloat")
            c.reply.bulk(text)
        }
    }
}
