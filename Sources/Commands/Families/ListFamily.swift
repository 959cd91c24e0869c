// The list command group of Redis 7.0: pushes and pops at both ends (with COUNT), ranges,
// indexes, LINSERT/LREM/LTRIM/LPOS, moves between lists (LMOVE, RPOPLPUSH) and LMPOP. The
// blocking variants live in ListFamily+Blocking.swift. Replies and errors follow Redis
// 7.0.15 exactly; values are ListValue (a quicklist of listpack nodes).
import RESP
import Storage
import Support

public enum ListFamily {
    static let popKey = KeySpec.single([.RW, .access, .delete])
    static let insertKey = KeySpec.single([.RW, .insert])
    static let sides = [CommandArgument.token("LEFT"), .token("RIGHT")]

    public static let specs: [CommandSpec] = [
        pushSpec("lpush", since: "1.0.0", multipleSince: "2.4.0", summary: "Add elements at the head of a list, creating it when absent.",
                 handler: { push($0, atHead: true, existingOnly: false) }),
        pushSpec("rpush", since: "1.0.0", multipleSince: "2.4.0", summary: "Add elements at the tail of a list, creating it when absent.",
                 handler: { push($0, atHead: false, existingOnly: false) }),
        pushSpec("lpushx", since: "2.2.0", multipleSince: "4.0.0", summary: "Add elements at the head of a list that already exists.",
                 handler: { push($0, atHead: true, existingOnly: true) }),
        pushSpec("rpushx", since: "2.2.0", multipleSince: "4.0.0", summary: "Add elements at the tail of a list that already exists.",
                 handler: { push($0, atHead: false, existingOnly: true) }),
        popSpec("lpop", summary: "Remove and return elements from the head of a list.", handler: { pop($0, atHead: true) }),
        popSpec("rpop", summary: "Remove and return elements from the tail of a list.", handler: { pop($0, atHead: false) }),
        CommandSpec("llen", arity: 2, flags: [.readonly, .fast], acl: [.list], keys: [KeySpec.single([.RO])],
                    group: .list, since: "1.0.0", summary: "Number of elements in a list.", complexity: "O(1)",
                    arguments: [.key()], handler: llen),
        CommandSpec("lrange", arity: 4, flags: [.readonly], acl: [.list], keys: [KeySpec.single([.RO, .access])],
                    group: .list, since: "1.0.0", summary: "Read the elements between two indexes of a list.",
                    complexity: "O(S+N): S to reach the start, N elements returned",
                    arguments: [.key(), CommandArgument("start", .integer), CommandArgument("stop", .integer)],
                    handler: lrange),
        CommandSpec("lindex", arity: 3, flags: [.readonly], acl: [.list], keys: [KeySpec.single([.RO, .access])],
                    group: .list, since: "1.0.0", summary: "Read the element at an index of a list.",
                    complexity: "O(N) in the distance walked", arguments: [.key(), CommandArgument("index", .integer)],
                    handler: lindex),
        CommandSpec("lset", arity: 4, flags: [.write, .denyoom], acl: [.list], keys: [KeySpec.single([.RW, .update])],
                    group: .list, since: "1.0.0", summary: "Overwrite the element at an index of a list.",
                    complexity: "O(N) in the distance walked",
                    arguments: [.key(), CommandArgument("index", .integer), CommandArgument("element", .string)],
                    handler: lset),
        CommandSpec("linsert", arity: 5, flags: [.write, .denyoom], acl: [.list], keys: [insertKey],
                    group: .list, since: "2.2.0", summary: "Insert an element next to the first occurrence of a pivot.",
                    complexity: "O(N) in the distance to the pivot",
                    arguments: [.key(), CommandArgument("where", .oneof, [.token("BEFORE"), .token("AFTER")]),
                                CommandArgument("pivot", .string), CommandArgument("element", .string)],
                    handler: linsert),
        CommandSpec("lrem", arity: 4, flags: [.write], acl: [.list], keys: [KeySpec.single([.RW, .delete])],
                    group: .list, since: "1.0.0", summary: "Remove occurrences of an element from a list.",
                    complexity: "O(N+M): N elements scanned, M removed",
                    arguments: [.key(), CommandArgument("count", .integer), CommandArgument("element", .string)],
                    handler: lrem),
        CommandSpec("ltrim", arity: 4, flags: [.write], acl: [.list], keys: [KeySpec.single([.RW, .delete])],
                    group: .list, since: "1.0.0", summary: "Keep only the elements between two indexes of a list.",
                    complexity: "O(N) in the elements removed",
                    arguments: [.key(), CommandArgument("start", .integer), CommandArgument("stop", .integer)],
                    handler: ltrim),
        CommandSpec("lpos", arity: -3, flags: [.readonly], acl: [.list], keys: [KeySpec.single([.RO, .access])],
                    group: .list, since: "6.0.6", summary: "Find the indexes of elements equal to a value.",
                    complexity: "O(N) in the elements scanned",
                    arguments: [.key(), CommandArgument("element", .string),
                                CommandArgument("rank", .integer, token: "RANK", flags: .optional),
                                CommandArgument("num-matches", .integer, token: "COUNT", flags: .optional),
                                CommandArgument("len", .integer, token: "MAXLEN", flags: .optional)],
                    handler: lpos),
        CommandSpec("lmove", arity: 5, flags: [.write, .denyoom], acl: [.list], keys: [popKey, KeySpec.single(insertKey.flags, at: 2)],
                    group: .list, since: "6.2.0", summary: "Pop an element from one end of a list and push it onto an end of another.",
                    complexity: "O(1)",
                    arguments: [.key("source"), .key("destination", spec: 1),
                                CommandArgument("wherefrom", .oneof, sides), CommandArgument("whereto", .oneof, sides)],
                    handler: lmove),
        CommandSpec("rpoplpush", arity: 3, flags: [.write, .denyoom], acl: [.list], keys: [popKey, KeySpec.single(insertKey.flags, at: 2)],
                    group: .list, since: "1.2.0", summary: "Pop the tail of a list and push it onto the head of another.",
                    complexity: "O(1)", docFlags: ["deprecated"], deprecatedSince: "6.2.0",
                    replacedBy: "`LMOVE` with the `RIGHT` and `LEFT` arguments",
                    arguments: [.key("source"), .key("destination", spec: 1)],
                    handler: { c in c.withKeys([1, 2]) { if !moveElement(c, fromHead: false, toHead: true) { c.reply.nullBulk() } } }),
        CommandSpec("lmpop", arity: -4, flags: [.write], acl: [.list],
                    keys: [KeySpec(popKey.flags, .index(1), .keyNum(index: 0, firstKey: 1, step: 1))],
                    group: .list, since: "7.0.0", summary: "Pop elements from the first non-empty list among several keys.",
                    complexity: "O(N+M): N keys tried, M elements popped",
                    arguments: multiPopArguments, handler: lmpop),
    ] + blockingSpecs

    static let multiPopArguments = [CommandArgument("numkeys", .integer), .key(flags: .multiple),
                                    CommandArgument("where", .oneof, sides),
                                    CommandArgument("count", .integer, token: "COUNT", flags: .optional)]

    private static func pushSpec(_ name: String, since: String, multipleSince: String, summary: String,
                                 handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: -3, flags: [.write, .denyoom, .fast], acl: [.list], keys: [insertKey],
                    group: .list, since: since, summary: summary, complexity: "O(1) per element",
                    history: [(multipleSince, "Several elements may be pushed in one call.")],
                    arguments: [.key(), CommandArgument("element", .string, flags: .multiple)], handler: handler)
    }

    private static func popSpec(_ name: String, summary: String, handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: -2, flags: [.write, .fast], acl: [.list], keys: [popKey],
                    group: .list, since: "1.0.0", summary: summary, complexity: "O(N) for N elements popped",
                    history: [("6.2.0", "Optional `count` of elements to pop.")],
                    arguments: [.key(), CommandArgument("count", .integer, flags: .optional, since: "6.2.0")],
                    handler: handler)
    }

    // MARK: Shared helpers

    static func newList(_ c: CommandContext) -> ListValue { ListValue(fill: c.server.config.listMaxListpackSize) }

    /// LEFT (the head: true) or RIGHT (false) at argument `index`, or a syntax error.
    static func side(_ c: CommandContext, _ index: Int) -> Bool? {
        if c.args.equals(index, "left") { return true }
        if c.args.equals(index, "right") { return false }
        c.error(RedisError.syntax)
        return nil
    }

    /// Pops up to `count` elements from one end of the list at `key`, replying them as an
    /// array (and raising "lpop"/"rpop" when any were popped).
    static func popReply(_ c: CommandContext, _ key: UnsafeRawBufferPointer, _ list: ListValue, atHead: Bool, count: Int) {
        let popped = min(count, list.count)
        c.reply.arrayHeader(popped)
        for _ in 0..<popped { list.pop(atHead: atHead) { c.reply.bulk($0) } }
        if popped > 0 { poppedEvent(c, key, atHead: atHead) }
    }

    /// Pops one element from the list at `key`, replying it as a bulk string.
    static func popOne(_ c: CommandContext, _ key: UnsafeRawBufferPointer, _ list: ListValue, atHead: Bool) {
        list.pop(atHead: atHead) { c.reply.bulk($0) }
        poppedEvent(c, key, atHead: atHead)
    }

    /// The key events of elements popped from `key` (a key left empty also gets "del", from
    /// `modifyCollection`).
    static func poppedEvent(_ c: CommandContext, _ key: UnsafeRawBufferPointer, atHead: Bool) {
        c.keyChanged(key, .list, atHead ? "lpop" : "rpop")
    }

    /// The key events of elements pushed onto `key`.
    static func pushedEvent(_ c: CommandContext, _ key: UnsafeRawBufferPointer, atHead: Bool) {
        c.keyChanged(key, .list, atHead ? "lpush" : "rpush")
    }

    // MARK: Handlers

    static func push(_ c: CommandContext, atHead: Bool, existingOnly: Bool) {
        c.withKey(1) { shard, key, hash in
            let length = c.modifyCollection(shard, key, hash, ListValue.self, create: existingOnly ? nil : { newList(c) },
                                            missing: { c.reply.integer(0) }) { list -> Int in
                for index in 2..<c.args.count { list.push(c.args[index], atHead: atHead) }
                pushedEvent(c, key, atHead: atHead)
                return list.count
            }
            if let length { c.reply.integer(length) }
        }
    }

    static func pop(_ c: CommandContext, atHead: Bool) {
        if c.args.count > 3 { return c.error(RedisError.wrongArity(c.commandName)) }
        var count: Int?
        if c.args.count == 3 {
            guard let value = c.integer(2, in: 0...Int64.max, orReply: RedisError.mustBePositive) else { return }
            count = Int(value)
        }
        c.withKey(1) { shard, key, hash in
            c.modifyCollection(shard, key, hash, ListValue.self,
                               missing: { count == nil ? c.reply.nullBulk() : c.reply.nullArray() }) { list in
                if let count {
                    popReply(c, key, list, atHead: atHead, count: count)
                } else {
                    popOne(c, key, list, atHead: atHead)
                }
            }
        }
    }

    static func llen(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            guard let list = c.readCollection(shard, key, hash, ListValue.self, missing: { c.reply.integer(0) }) else { return }
            c.reply.integer(list.count)
        }
    }

    static func lrange(_ c: CommandContext) {
        guard let start = c.integer(2), let stop = c.integer(3) else { return }
        c.withKey(1) { shard, key, hash in
            guard let list = c.readCollection(shard, key, hash, ListValue.self, missing: { c.reply.arrayHeader(0) }) else { return }
            let length = Int64(list.count)
            let first = max(start < 0 ? start + length : start, 0)
            var last = stop < 0 ? stop + length : stop
            guard first <= last && first < length else { return c.reply.arrayHeader(0) }
            last = min(last, length - 1)
            let count = Int(last - first + 1)
            c.reply.arrayHeader(count)
            list.forEach(from: Int(first), length: count) { c.reply.bulk($0) }
        }
    }

    /// Index argument `position` resolved against `list` (negative counts from the tail), or
    /// nil when it falls outside.
    private static func resolvedIndex(_ index: Int64, in list: ListValue) -> Int? {
        let resolved = index < 0 ? index + Int64(list.count) : index
        return resolved >= 0 && resolved < Int64(list.count) ? Int(resolved) : nil
    }

    static func lindex(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            guard let list = c.readCollection(shard, key, hash, ListValue.self, missing: { c.reply.nullBulk() }),
                  let index = c.integer(2) else { return }
            guard let resolved = resolvedIndex(index, in: list) else { return c.reply.nullBulk() }
            list.withElement(at: resolved) { c.reply.bulk($0) }
        }
    }

    static func lset(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            c.modifyCollection(shard, key, hash, ListValue.self, missing: { c.error(RedisError.noSuchKey) }) { list in
                guard let index = c.integer(2) else { return }
                guard let resolved = resolvedIndex(index, in: list) else { return c.error(RedisError.indexOutOfRange) }
                list.replace(at: resolved, with: c.args[3])
                c.keyChanged(key, .list, "lset")
                c.reply.ok()
            }
        }
    }

    static func linsert(_ c: CommandContext) {
        let after: Bool
        if c.args.equals(2, "after") {
            after = true
        } else if c.args.equals(2, "before") {
            after = false
        } else {
            return c.error(RedisError.syntax)
        }
        c.withKey(1) { shard, key, hash in
            c.modifyCollection(shard, key, hash, ListValue.self, missing: { c.reply.integer(0) }) { list in
                let pivot = c.args[3]
                var found: Int?
                list.walk(fromTail: false) { index, element in
                    if element.elementsEqual(pivot) { found = index }
                    return found == nil
                }
                guard let found else { return c.reply.integer(-1) }
                list.insert(c.args[4], at: after ? found + 1 : found)
                c.keyChanged(key, .list, "linsert")
                c.reply.integer(list.count)
            }
        }
    }

    static func lrem(_ c: CommandContext) {
        guard let count = c.integer(2) else { return }
        c.withKey(1) { shard, key, hash in
            c.modifyCollection(shard, key, hash, ListValue.self, missing: { c.reply.integer(0) }) { list in
                // Redis negates a negative count in a C long: LONG_MIN stays "no limit".
                let limit = count == Int64.min ? 0 : Int(count.magnitude)
                let removed = list.removeAll(equalTo: c.args[3], limit: limit, fromTail: count < 0)
                if removed > 0 { c.keyChanged(key, .list, "lrem") }
                c.reply.integer(removed)
            }
        }
    }

    static func ltrim(_ c: CommandContext) {
        guard let start = c.integer(2), let stop = c.integer(3) else { return }
        c.withKey(1) { shard, key, hash in
            let trimmed: Void? = c.modifyCollection(shard, key, hash, ListValue.self, missing: { c.reply.ok() }) { list in
                let length = Int64(list.count)
                let first = max(start < 0 ? start + length : start, 0)
                let last = stop < 0 ? stop + length : stop
                if first > last || first >= length {
                    list.removeRange(from: 0, length: list.count)
                } else {
                    let keptLast = min(last, length - 1)
                    list.removeRange(from: Int(keptLast) + 1, length: Int(length - keptLast - 1))
                    list.removeRange(from: 0, length: Int(first))
                }
                c.keyChanged(key, .list, "ltrim")
            }
            if trimmed != nil { c.reply.ok() }
        }
    }

    static func lpos(_ c: CommandContext) {
        var rank: Int64 = 1, count: Int64 = -1, maxLength: Int64 = 0
        var position = 3
        while position < c.args.count {
            let hasValue = position + 1 < c.args.count
            if c.args.equals(position, "rank") && hasValue {
                guard let value = c.integer(position + 1) else { return }
                guard value != 0 else { return c.error(RedisError.rankZero) }
                rank = value
            } else if c.args.equals(position, "count") && hasValue {
                guard let value = c.integer(position + 1, in: 0...Int64.max, orReply: "ERR COUNT can't be negative") else { return }
                count = value
            } else if c.args.equals(position, "maxlen") && hasValue {
                guard let value = c.integer(position + 1, in: 0...Int64.max, orReply: "ERR MAXLEN can't be negative") else { return }
                maxLength = value
            } else {
                return c.error(RedisError.syntax)
            }
            position += 2
        }
        // A negative rank searches from the tail (LONG_MIN stays negative, as in Redis's C).
        let fromTail = rank < 0
        if fromTail && rank != Int64.min { rank = -rank }
        c.withKey(1) { shard, key, hash in
            guard let list = c.readCollection(shard, key, hash, ListValue.self, missing: {
                count != -1 ? c.reply.arrayHeader(0) : c.reply.nullBulk()
            }) else { return }
            let element = c.args[2]
            let arrayStart = c.reply.deferredStart()
            var matches: Int64 = 0, found = 0
            var firstMatch: Int?
            list.walk(fromTail: fromTail) { index, candidate in
                if maxLength != 0 && Int64(index) >= maxLength { return false }
                guard candidate.elementsEqual(element) else { return true }
                matches += 1
                guard matches >= rank else { return true }
                let listIndex = fromTail ? list.count - index - 1 : index
                guard count != -1 else {
                    firstMatch = listIndex
                    return false
                }
                found += 1
                c.reply.integer(listIndex)
                return count == 0 || matches &- rank &+ 1 < count
            }
            if count != -1 {
                c.reply.deferredArray(at: arrayStart, count: found)
            } else if let firstMatch {
                c.reply.integer(firstMatch)
            } else {
                c.reply.nullBulk()
            }
        }
    }

    static func lmove(_ c: CommandContext) {
        guard let fromHead = side(c, 3), let toHead = side(c, 4) else { return }
        c.withKeys([1, 2]) { if !moveElement(c, fromHead: fromHead, toHead: toHead) { c.reply.nullBulk() } }
    }

    /// LMOVE's work with both keys' shards locked: pops from the source (argument 1), pushes
    /// onto the destination (argument 2) and replies the element. Returns false, replying
    /// nothing, when the source is missing (or, retrying a blocked command, not a list).
    static func moveElement(_ c: CommandContext, fromHead: Bool, toHead: Bool) -> Bool {
        let source = c.args[1], destination = c.args[2]
        let sourceShard = c.keyspace.shard(for: source), sourceHash = KeyHash.hash(source)
        guard let sourceLink = c.lookupWrite(sourceShard, source, sourceHash) else { return false }
        guard Entry(sourceLink.pointee!).kind == .list else {
            if c.isRetryingBlocked { return false }
            c.error(RedisError.wrongType)
            return true
        }
        let destinationShard = c.keyspace.shard(for: destination), destinationHash = KeyHash.hash(destination)
        if let link = c.lookupWrite(destinationShard, destination, destinationHash), Entry(link.pointee!).kind != .list {
            c.error(RedisError.wrongType)
            return true
        }
        propagateBlockingMove(c, fromHead: fromHead, toHead: toHead)
        if source.elementsEqual(destination) {
            // Rotating in place keeps the key (and its TTL) even when it holds one element.
            c.modifyCollection(sourceShard, source, sourceHash, ListValue.self) { list in
                guard let value = list.pop(atHead: fromHead) else { return }
                value.withUnsafeBytes { list.push($0, atHead: toHead) }
                pushedEvent(c, destination, atHead: toHead)
                poppedEvent(c, source, atHead: fromHead)
                c.reply.bulk(value)
            }
            return true
        }
        // As in Redis, the destination's events come before the source's pop (and its "del").
        let moved = c.modifyCollection(sourceShard, source, sourceHash, ListValue.self) { list -> Bool in
            guard let value = list.pop(atHead: fromHead) else { return false }
            value.withUnsafeBytes { bytes in
                c.modifyCollection(destinationShard, destination, destinationHash, ListValue.self,
                                   create: { newList(c) }) { $0.push(bytes, atHead: toHead) }
            }
            pushedEvent(c, destination, atHead: toHead)
            poppedEvent(c, source, atHead: fromHead)
            c.reply.bulk(value)
            return true
        }
        return moved == true
    }

    /// BLMOVE and BRPOPLPUSH propagate as LMOVE and RPOPLPUSH; served after waiting, with the
    /// ends spelled "left"/"right", as Redis's blocked-client path writes them.
    private static func propagateBlockingMove(_ c: CommandContext, fromHead: Bool, toHead: Bool) {
        let isBLMove = c.args.equals(0, "blmove")
        guard isBLMove || c.args.equals(0, "brpoplpush") else { return }
        c.rewritePropagated { command in
            command.add(isBLMove ? "LMOVE" : "RPOPLPUSH")
            command.add(c.args[1])
            command.add(c.args[2])
            guard isBLMove else { return }
            if c.isRetryingBlocked {
                command.add(fromHead ? "left" : "right")
                command.add(toHead ? "left" : "right")
            } else {
                command.add(c.args[3])
                command.add(c.args[4])
            }
        }
    }

    /// LMPOP/BLMPOP's arguments from `numkeysIndex`: the key positions, the end to pop from
    /// and the count (1 unless COUNT is given); replies Redis's error and returns nil.
    static func multiPopArguments(_ c: CommandContext, numkeysIndex: Int) -> (keys: Range<Int>, atHead: Bool, count: Int)? {
        guard let numkeys = c.integer(numkeysIndex, in: 1...Int64.max, orReply: "ERR numkeys should be greater than 0") else { return nil }
        guard numkeys < c.args.count - numkeysIndex - 1 else {
            c.error(RedisError.syntax)
            return nil
        }
        let whereIndex = numkeysIndex + Int(numkeys) + 1
        guard let atHead = side(c, whereIndex) else { return nil }
        var count: Int?
        var position = whereIndex + 1
        while position < c.args.count {
            guard count == nil && c.args.equals(position, "count") && position + 1 < c.args.count else {
                c.error(RedisError.syntax)
                return nil
            }
            guard let value = c.integer(position + 1, in: 1...Int64.max, orReply: "ERR count should be greater than 0") else { return nil }
            count = Int(value)
            position += 2
        }
        return (numkeysIndex + 1..<whereIndex, atHead, count ?? 1)
    }

    /// Pops from the first non-empty list among `keys` (shards locked), replying
    /// [key, elements] (or [key, element] when `count` is nil). Returns false, replying
    /// nothing, when every key is missing; a key of another type is WRONGTYPE, except when
    /// retrying a blocked command, which keeps waiting as Redis does.
    static func popFirstNonEmpty(_ c: CommandContext, keys: some Sequence<Int>, atHead: Bool, count: Int?) -> Bool {
        for position in keys {
            let key = c.args[position]
            let shard = c.keyspace.shard(for: key), hash = KeyHash.hash(key)
            guard let link = c.lookupWrite(shard, key, hash) else { continue }
            guard Entry(link.pointee!).kind == .list else {
                if c.isRetryingBlocked { continue }
                c.error(RedisError.wrongType)
                return true
            }
            c.modifyCollection(shard, key, hash, ListValue.self) { list in
                // Propagated as the plain pop it did, as Redis does for LMPOP and the blocking pops.
                let length = list.count
                c.rewritePropagated { command in
                    command.add(atHead ? "LPOP" : "RPOP")
                    command.add(key)
                    if let count { command.add(Int64(min(count, length))) }
                }
                c.reply.arrayHeader(2)
                c.reply.bulk(key)
                if let count {
                    popReply(c, key, list, atHead: atHead, count: count)
                } else {
                    popOne(c, key, list, atHead: atHead)
                }
            }
            return true
        }
        return false
    }

    static func lmpop(_ c: CommandContext) {
        guard let (keys, atHead, count) = multiPopArguments(c, numkeysIndex: 1) else { return }
        c.withKeys(keys) {
            if !popFirstNonEmpty(c, keys: keys, atHead: atHead, count: count) { c.reply.nullArray() }
        }
    }
}
