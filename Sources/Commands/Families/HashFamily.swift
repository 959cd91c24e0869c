// The hash command group of Redis 7.0: setting and reading fields (HSET, HGET, HMGET...),
// counters inside a hash (HINCRBY, HINCRBYFLOAT), whole-hash reads (HGETALL as a RESP3 map),
// random fields (HRANDFIELD) and HSCAN. Values are HashValue (listpack or hashtable with
// Redis's thresholds); replies and errors follow Redis 7.0.15 exactly.
import RESP
import Storage
import Support

public enum HashFamily {
    static let keyRO = KeySpec.single([.RO])
    static let keyReadAccess = KeySpec.single([.RO, .access])
    static let keyCounter = KeySpec.single([.RW, .access, .update])
    static let fieldValuePairs = CommandArgument("field_value", .block, flags: .multiple,
                                                 [CommandArgument("field", .string), CommandArgument("value", .string)])
    static let field = CommandArgument("field", .string)

    public static let specs: [CommandSpec] = [
        CommandSpec("hset", arity: -4, flags: [.write, .denyoom, .fast], acl: [.hash],
                    keys: [KeySpec.single([.RW, .update])], group: .hash, since: "2.0.0",
                    summary: "Set one or more fields of a hash, creating the key when absent.",
                    complexity: "O(1) per field set",
                    history: [("4.0.0", "Several field/value pairs in one call.")],
                    arguments: [.key(), fieldValuePairs], handler: { hset($0, replyCreated: true) }),
        CommandSpec("hmset", arity: -4, flags: [.write, .denyoom, .fast], acl: [.hash],
                    keys: [KeySpec.single([.RW, .update])], group: .hash, since: "2.0.0",
                    summary: "Set several hash fields (old form of HSET that replies OK).",
                    complexity: "O(1) per field set", docFlags: ["deprecated"], deprecatedSince: "4.0.0",
                    replacedBy: "`HSET` with multiple field-value pairs",
                    arguments: [.key(), fieldValuePairs], handler: { hset($0, replyCreated: false) }),
        CommandSpec("hsetnx", arity: 4, flags: [.write, .denyoom, .fast], acl: [.hash],
                    keys: [KeySpec.single([.RW, .insert])], group: .hash, since: "2.0.0",
                    summary: "Set a hash field only when it does not exist yet.", complexity: "O(1)",
                    arguments: [.key(), field, CommandArgument("value", .string)], handler: hsetnx),
        CommandSpec("hget", arity: 3, flags: [.readonly, .fast], acl: [.hash], keys: [keyReadAccess],
                    group: .hash, since: "2.0.0", summary: "Read the value of one hash field.",
                    complexity: "O(1)", arguments: [.key(), field], handler: hget),
        CommandSpec("hmget", arity: -3, flags: [.readonly, .fast], acl: [.hash], keys: [keyReadAccess],
                    group: .hash, since: "2.0.0", summary: "Read the values of several hash fields.",
                    complexity: "O(N) for N fields",
                    arguments: [.key(), CommandArgument("field", .string, flags: .multiple)], handler: hmget),
        CommandSpec("hdel", arity: -3, flags: [.write, .fast], acl: [.hash],
                    keys: [KeySpec.single([.RW, .delete])], group: .hash, since: "2.0.0",
                    summary: "Remove fields from a hash; the key goes when no field is left.",
                    complexity: "O(N) for N fields",
                    history: [("2.4.0", "Several fields in one call.")],
                    arguments: [.key(), CommandArgument("field", .string, flags: .multiple)], handler: hdel),
        CommandSpec("hlen", arity: 2, flags: [.readonly, .fast], acl: [.hash], keys: [keyRO],
                    group: .hash, since: "2.0.0", summary: "Number of fields in a hash.",
                    complexity: "O(1)", arguments: [.key()], handler: hlen),
        CommandSpec("hstrlen", arity: 3, flags: [.readonly, .fast], acl: [.hash], keys: [keyRO],
                    group: .hash, since: "3.2.0", summary: "Byte length of a hash field's value.",
                    complexity: "O(1)", arguments: [.key(), field], handler: hstrlen),
        CommandSpec("hexists", arity: 3, flags: [.readonly, .fast], acl: [.hash], keys: [keyRO],
                    group: .hash, since: "2.0.0", summary: "Whether a hash has a field.",
                    complexity: "O(1)", arguments: [.key(), field], handler: hexists),
        wholeHashSpec("hkeys", summary: "Every field name of a hash.", fields: true, values: false),
        wholeHashSpec("hvals", summary: "Every value of a hash.", fields: false, values: true),
        wholeHashSpec("hgetall", summary: "Every field and value of a hash.", fields: true, values: true),
        CommandSpec("hincrby", arity: 4, flags: [.write, .denyoom, .fast], acl: [.hash], keys: [keyCounter],
                    group: .hash, since: "2.0.0",
                    summary: "Add an integer to a hash field (a missing field counts as 0).", complexity: "O(1)",
                    arguments: [.key(), field, CommandArgument("increment", .integer)], handler: hincrby),
        CommandSpec("hincrbyfloat", arity: 4, flags: [.write, .denyoom, .fast], acl: [.hash], keys: [keyCounter],
                    group: .hash, since: "2.6.0",
                    summary: "Add a decimal amount to a hash field (a missing field counts as 0).",
                    complexity: "O(1)",
                    arguments: [.key(), field, CommandArgument("increment", .double)], handler: hincrbyfloat),
        CommandSpec("hrandfield", arity: -2, flags: [.readonly], acl: [.hash], keys: [keyReadAccess],
                    tips: ["nondeterministic_output"], group: .hash, since: "6.2.0",
                    summary: "Pick random fields of a hash, optionally with their values.",
                    complexity: "O(N) for N fields returned",
                    arguments: [.key(), CommandArgument("options", .block, flags: .optional,
                                                        [CommandArgument("count", .integer),
                                                         .token("WITHVALUES", flags: .optional)])],
                    handler: hrandfield),
        CommandSpec("hscan", arity: -3, flags: [.readonly], acl: [.hash], keys: [keyReadAccess],
                    tips: ["nondeterministic_output"], group: .hash, since: "2.8.0",
                    summary: "Walk the fields and values of a hash with a cursor.",
                    complexity: "O(1) per call, O(N) for a full walk",
                    arguments: [.key(), CommandArgument("cursor", .integer),
                                CommandArgument("pattern", .pattern, token: "MATCH", flags: .optional),
                                CommandArgument("count", .integer, token: "COUNT", flags: .optional)],
                    handler: hscan),
    ]

    private static func wholeHashSpec(_ name: String, summary: String, fields: Bool, values: Bool) -> CommandSpec {
        CommandSpec(name, arity: 2, flags: [.readonly], acl: [.hash], keys: [keyReadAccess],
                    tips: ["nondeterministic_output_order"], group: .hash, since: "2.0.0", summary: summary,
                    complexity: "O(N) for a hash of N fields", arguments: [.key()],
                    handler: { wholeHash($0, fields: fields, values: values) })
    }

    // MARK: Helpers

    /// Runs `body` on the hash at argument 1 for writing, creating an empty one when missing.
    private static func modifyHash<T>(_ c: CommandContext, _ body: (HashValue) -> T) {
        c.withKey(1) { shard, key, hash in
            _ = c.modifyCollection(shard, key, hash, HashValue.self, create: { HashValue() }, body)
        }
    }

    /// Sets `field` to `value` with the configured listpack thresholds; true when new.
    @discardableResult
    private static func store(_ c: CommandContext, _ object: HashValue, _ field: UnsafeRawBufferPointer,
                              _ value: UnsafeRawBufferPointer) -> Bool {
        let config = c.server.config
        return object.set(field, value, maxEntries: config.hashMaxListpackEntries, maxValue: config.hashMaxListpackValue)
    }

    /// Converts to hashtable first when any argument from `first` on is too long for a listpack,
    /// as Redis checks a command's fields and values before writing any of them.
    private static func convertForLongArguments(_ c: CommandContext, _ object: HashValue, from first: Int) {
        let maxValue = c.server.config.hashMaxListpackValue
        if object.isListpack && (first..<c.args.count).contains(where: { c.args[$0].count > maxValue }) {
            object.convertToHashtable()
        }
    }

    // MARK: Setting and reading fields

    static func hset(_ c: CommandContext, replyCreated: Bool) {
        guard c.args.count % 2 == 0 else { return c.error(RedisError.wrongArity(c.commandName)) }
        modifyHash(c) { object in
            convertForLongArguments(c, object, from: 2)
            var created = 0
            for index in stride(from: 2, to: c.args.count, by: 2) where store(c, object, c.args[index], c.args[index + 1]) {
                created += 1
            }
            c.keyChanged(c.args[1], .hash, "hset")
            replyCreated ? c.reply.integer(created) : c.reply.ok()
        }
    }

    static func hsetnx(_ c: CommandContext) {
        modifyHash(c) { object in
            if object.contains(c.args[2]) { return c.reply.integer(0) }
            convertForLongArguments(c, object, from: 2)
            store(c, object, c.args[2], c.args[3])
            c.keyChanged(c.args[1], .hash, "hset")
            c.reply.integer(1)
        }
    }

    static func hget(_ c: CommandContext) {
        c.readCollection(keyAt: 1, HashValue.self, missing: { c.reply.nullBulk() }) { object in
            if object.withValue(c.args[2], { c.reply.bulk($0) }) == nil { c.reply.nullBulk() }
        }
    }

    static func hmget(_ c: CommandContext) {
        let fieldCount = c.args.count - 2
        c.withKey(1) { shard, key, hash in
            var absent = false
            let object = c.readCollection(shard, key, hash, HashValue.self, missing: { absent = true })
            guard object != nil || absent else { return }
            c.reply.arrayHeader(fieldCount)
            for index in 2..<c.args.count where object?.withValue(c.args[index], { c.reply.bulk($0) }) == nil {
                c.reply.nullBulk()
            }
        }
    }

    static func hdel(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            c.modifyCollection(shard, key, hash, HashValue.self, missing: { c.reply.integer(0) }) { object in
                var deleted = 0
                for index in 2..<c.args.count where object.remove(c.args[index]) {
                    deleted += 1
                    if object.count == 0 { break }
                }
                if deleted > 0 { c.keyChanged(key, .hash, "hdel") }
                c.reply.integer(deleted)
            }
        }
    }

    static func hlen(_ c: CommandContext) {
        c.readCollection(keyAt: 1, HashValue.self, missing: { c.reply.integer(0) }) { c.reply.integer($0.count) }
    }

    static func hstrlen(_ c: CommandContext) {
        c.readCollection(keyAt: 1, HashValue.self, missing: { c.reply.integer(0) }) { object in
            c.reply.integer(object.withValue(c.args[2]) { $0.count } ?? 0)
        }
    }

    static func hexists(_ c: CommandContext) {
        c.readCollection(keyAt: 1, HashValue.self, missing: { c.reply.integer(0) }) { c.reply.integer($0.contains(c.args[2]) ? 1 : 0) }
    }

    /// HKEYS, HVALS and HGETALL (a map in RESP3).
    static func wholeHash(_ c: CommandContext, fields: Bool, values: Bool) {
        let both = fields && values
        c.readCollection(keyAt: 1, HashValue.self, missing: { both ? c.reply.mapHeader(0) : c.reply.arrayHeader(0) }) { object in
            both ? c.reply.mapHeader(object.count) : c.reply.arrayHeader(object.count)
            object.forEach { field, value in
                if fields { c.reply.bulk(field) }
                if values { c.reply.bulk(value) }
            }
        }
    }

    // MARK: Counters

    static func hincrby(_ c: CommandContext) {
        guard let increment = c.integer(3) else { return }
        modifyHash(c) { object in
            var current: Int64 = 0
            if let stored = object.withValue(c.args[2], { Numbers.parseInt64($0) }) {
                guard let stored else { return c.error("ERR hash value is not an integer") }
                current = stored
            }
            let (result, overflow) = current.addingReportingOverflow(increment)
            if overflow { return c.error(RedisError.overflow) }
            _ = Numbers.decimalBytes(result).withUnsafeBytes { store(c, object, c.args[2], $0) }
            c.keyChanged(c.args[1], .hash, "hincrby")
            c.reply.integer(result)
        }
    }

    static func hincrbyfloat(_ c: CommandContext) {
        guard let increment = Numbers.parseLongDouble(c.args[3]) else { return c.error(RedisError.notFloat) }
        if increment.isInfinite { return c.error("ERR value is NaN or Infinity") }
        modifyHash(c) { object in
            var current: Float80 = 0
            if let stored = object.withValue(c.args[2], { Numbers.parseLongDouble($0) }) {
                guard let stored else { return c.error("ERR hash value is not a float") }
                current = stored
            }
            let result = current + increment
            if result.isNaN || result.isInfinite { return c.error(RedisError.nanOrInfinity) }
            let text = Numbers.humanLongDouble(result)
            _ = text.withUnsafeBytes { store(c, object, c.args[2], $0) }
            // Propagated as the value it produced (HSET), as Redis does.
            c.rewritePropagated { command in
                command.add("HSET")
                command.add(c.args[1])
                command.add(c.args[2])
                command.add(text)
            }
            c.keyChanged(c.args[1], .hash, "hincrbyfloat")
            c.reply.bulk(text)
        }
    }

    // MARK: Random fields and scanning

    static func hrandfield(_ c: CommandContext) {
        guard c.args.count >= 3 else {
            return c.readCollection(keyAt: 1, HashValue.self, missing: { c.reply.nullBulk() }) { c.reply.bulk($0.randomPair().field) }
        }
        guard let requested = c.integer(2, in: -Int64.max...Int64.max) else { return }
        let withValues = c.args.count == 4
        if c.args.count > 4 || (withValues && !c.args.equals(3, "withvalues")) { return c.error(RedisError.syntax) }
        if withValues && (requested < -Int64.max / 2 || requested > Int64.max / 2) {
            return c.error("ERR value is out of range")
        }
        c.readCollection(keyAt: 1, HashValue.self, missing: { c.reply.arrayHeader(0) }) { object in
            let flat = withValues && !c.reply.resp3
            func emit(_ field: [UInt8], _ value: [UInt8]) {
                if withValues && c.reply.resp3 { c.reply.arrayHeader(2) }
                c.reply.bulk(field)
                if withValues { c.reply.bulk(value) }
            }
            if requested < 0 || requested == 1 {
                // Repeats allowed: each pick is independent.
                let count = Int(requested.magnitude)
                c.reply.arrayHeader(flat ? count * 2 : count)
                for _ in 0..<count {
                    if c.replyOverflowed { break }
                    let (field, value) = object.randomPair()
                    emit(field, value)
                }
                return
            }
            // Distinct fields: the whole hash in its order, or a random subset.
            var pairs = object.allPairs()
            if requested < pairs.count {
                pairs.shuffle()
                pairs.removeLast(pairs.count - Int(requested))
            }
            c.reply.arrayHeader(flat ? pairs.count * 2 : pairs.count)
            for (field, value) in pairs { emit(field, value) }
        }
    }

    static func hscan(_ c: CommandContext) {
        guard let cursor = c.scanCursor(2) else { return }
        c.readCollection(keyAt: 1, HashValue.self, missing: { c.replyCollectionScan(cursor: 0, [], groupSize: 2, pattern: nil) }) { object in
            guard let options = c.collectionScanOptions(from: 3) else { return }
            var elements: [[UInt8]] = []
            let next = c.collectionScanSteps(from: cursor, target: options.count * 2, &elements) { cursor, elements in
                object.scan(cursor: cursor) { field, value in
                    elements.append(Array(field))
                    elements.append(Array(value))
                }
            }
            c.replyCollectionScan(cursor: next, elements, groupSize: 2, pattern: options.pattern)
        }
    }
}
