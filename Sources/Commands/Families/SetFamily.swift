// The set command group of Redis 7.0, single-key part: adding, removing and testing members
// (SADD, SREM, SISMEMBER, SMISMEMBER, SCARD), random members (SRANDMEMBER, SPOP), SMOVE and
// SSCAN. The multi-set algebra (SINTER, SUNION, SDIFF and their variants) lives in
// SetFamily+Algebra.swift. Values are SetValue (intset or hashtable with Redis's thresholds).
import RESP
import Storage
import Support

public enum SetFamily {
    static let keyRO = KeySpec.single([.RO])
    static let keyReadAccess = KeySpec.single([.RO, .access])
    static let members = CommandArgument("member", .string, flags: .multiple)

    public static let specs: [CommandSpec] = [
        CommandSpec("sadd", arity: -3, flags: [.write, .denyoom, .fast], acl: [.set],
                    keys: [KeySpec.single([.RW, .insert])], group: .set, since: "1.0.0",
                    summary: "Add members to a set, creating the key when absent.",
                    complexity: "O(1) per member", history: [("2.4.0", "Several members in one call.")],
                    arguments: [.key(), members], handler: sadd),
        CommandSpec("srem", arity: -3, flags: [.write, .fast], acl: [.set],
                    keys: [KeySpec.single([.RW, .delete])], group: .set, since: "1.0.0",
                    summary: "Remove members from a set; the key goes when no member is left.",
                    complexity: "O(1) per member", history: [("2.4.0", "Several members in one call.")],
                    arguments: [.key(), members], handler: srem),
        CommandSpec("scard", arity: 2, flags: [.readonly, .fast], acl: [.set], keys: [keyRO],
                    group: .set, since: "1.0.0", summary: "Number of members in a set.",
                    complexity: "O(1)", arguments: [.key()], handler: scard),
        CommandSpec("sismember", arity: 3, flags: [.readonly, .fast], acl: [.set], keys: [keyRO],
                    group: .set, since: "1.0.0", summary: "Whether a value is a member of a set.",
                    complexity: "O(1)", arguments: [.key(), CommandArgument("member", .string)], handler: sismember),
        CommandSpec("smismember", arity: -3, flags: [.readonly, .fast], acl: [.set], keys: [keyReadAccess],
                    group: .set, since: "6.2.0", summary: "Whether each of several values is a member of a set.",
                    complexity: "O(N) for N values", arguments: [.key(), members], handler: smismember),
        CommandSpec("smembers", arity: 2, flags: [.readonly], acl: [.set], keys: [keyReadAccess],
                    tips: ["nondeterministic_output_order"], group: .set, since: "1.0.0",
                    summary: "Every member of a set.", complexity: "O(N) for a set of N members",
                    arguments: [.key()], handler: { intersection($0, keysFrom: 1, store: nil) }),
        CommandSpec("srandmember", arity: -2, flags: [.readonly], acl: [.set], keys: [keyReadAccess],
                    tips: ["nondeterministic_output"], group: .set, since: "1.0.0",
                    summary: "Pick random members of a set without removing them.",
                    complexity: "O(1) without count, else O(N) for N members returned",
                    history: [("2.6.0", "The optional count.")],
                    arguments: [.key(), CommandArgument("count", .integer, flags: .optional, since: "2.6.0")],
                    handler: srandmember),
        CommandSpec("spop", arity: -2, flags: [.write, .fast], acl: [.set],
                    keys: [KeySpec.single([.RW, .access, .delete])],
                    tips: ["nondeterministic_output"], group: .set, since: "1.0.0",
                    summary: "Remove and return random members of a set.",
                    complexity: "O(1) without count, else O(N) for N members removed",
                    history: [("3.2.0", "The optional count.")],
                    arguments: [.key(), CommandArgument("count", .integer, flags: .optional, since: "3.2.0")],
                    handler: spop),
        CommandSpec("smove", arity: 4, flags: [.write, .fast], acl: [.set],
                    keys: [KeySpec.single([.RW, .access, .delete]), KeySpec.single([.RW, .insert], at: 2)],
                    group: .set, since: "1.0.0", summary: "Move a member from one set to another.",
                    complexity: "O(1)",
                    arguments: [.key("source"), .key("destination", spec: 1), CommandArgument("member", .string)],
                    handler: smove),
        CommandSpec("sscan", arity: -3, flags: [.readonly], acl: [.set], keys: [keyReadAccess],
                    tips: ["nondeterministic_output"], group: .set, since: "2.8.0",
                    summary: "Walk the members of a set with a cursor.",
                    complexity: "O(1) per call, O(N) for a full walk",
                    arguments: [.key(), CommandArgument("cursor", .integer),
                                CommandArgument("pattern", .pattern, token: "MATCH", flags: .optional),
                                CommandArgument("count", .integer, token: "COUNT", flags: .optional)],
                    handler: sscan),
    ] + algebraSpecs

    // MARK: Helpers

    /// Argument `index` with its integer form (Redis's strict string2ll), as SetValue takes members.
    static func member(_ c: CommandContext, _ index: Int) -> (bytes: UnsafeRawBufferPointer, integer: Int64?) {
        let bytes = c.args[index]
        return (bytes, Numbers.parseInt64(bytes))
    }

    /// Adds `bytes` with the configured intset limit; true when new.
    @discardableResult
    static func add(_ c: CommandContext, _ set: SetValue, _ bytes: UnsafeRawBufferPointer) -> Bool {
        set.add(bytes, integer: Numbers.parseInt64(bytes), maxIntsetEntries: c.server.config.setMaxIntsetEntries)
    }

    /// A fresh set (intset first, as Redis builds results) holding `members`.
    static func makeSet(_ c: CommandContext, _ members: [[UInt8]]) -> SetValue {
        let set = SetValue()
        for member in members { _ = member.withUnsafeBytes { add(c, set, $0) } }
        return set
    }

    /// Removes `member` (a copy of one of the set's members).
    static func remove(_ set: SetValue, _ member: [UInt8]) {
        member.withUnsafeBytes { _ = set.remove($0, integer: Numbers.parseInt64(member)) }
    }

    // MARK: Members

    static func sadd(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            c.modifyCollection(shard, key, hash, SetValue.self, create: { SetValue() }) { set in
                var added = 0
                for index in 2..<c.args.count where add(c, set, c.args[index]) { added += 1 }
                if added > 0 { c.keyChanged(key, .set, "sadd") }
                c.reply.integer(added)
            }
        }
    }

    static func srem(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            c.modifyCollection(shard, key, hash, SetValue.self, missing: { c.reply.integer(0) }) { set in
                var removed = 0
                for index in 2..<c.args.count {
                    let (bytes, integer) = member(c, index)
                    guard set.remove(bytes, integer: integer) else { continue }
                    removed += 1
                    if set.count == 0 { break }
                }
                if removed > 0 { c.keyChanged(key, .set, "srem") }
                c.reply.integer(removed)
            }
        }
    }

    static func scard(_ c: CommandContext) {
        c.readCollection(keyAt: 1, SetValue.self, missing: { c.reply.integer(0) }) { c.reply.integer($0.count) }
    }

    static func sismember(_ c: CommandContext) {
        c.readCollection(keyAt: 1, SetValue.self, missing: { c.reply.integer(0) }) { set in
            let (bytes, integer) = member(c, 2)
            c.reply.integer(set.contains(bytes, integer: integer) ? 1 : 0)
        }
    }

    static func smismember(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            var absent = false
            let set = c.readCollection(shard, key, hash, SetValue.self, missing: { absent = true })
            guard set != nil || absent else { return }
            c.reply.arrayHeader(c.args.count - 2)
            for index in 2..<c.args.count {
                let (bytes, integer) = member(c, index)
                c.reply.integer(set?.contains(bytes, integer: integer) == true ? 1 : 0)
            }
        }
    }

    static func smove(_ c: CommandContext) {
        c.withKeys([1, 2]) {
            let source = c.args[1], destination = c.args[2]
            let sourceShard = c.keyspace.shard(for: source), sourceHash = KeyHash.hash(source)
            let destinationShard = c.keyspace.shard(for: destination), destinationHash = KeyHash.hash(destination)
            guard let sourceLink = c.lookupWrite(sourceShard, source, sourceHash) else { return c.reply.integer(0) }
            if Entry(sourceLink.pointee!).kind != .set { return c.error(RedisError.wrongType) }
            if let link = c.lookupWrite(destinationShard, destination, destinationHash),
               Entry(link.pointee!).kind != .set {
                return c.error(RedisError.wrongType)
            }
            let (bytes, integer) = member(c, 3)
            if source.elementsEqual(destination) {
                let set = Entry(sourceLink.pointee!).collection(as: SetValue.self)
                return c.reply.integer(set.contains(bytes, integer: integer) ? 1 : 0)
            }
            let moved = c.modifyCollection(sourceShard, source, sourceHash, SetValue.self) { set in
                guard set.remove(bytes, integer: integer) else { return false }
                c.notifyKeyspaceEvent(.set, "srem", source)
                return true
            }
            guard moved == true else { return c.reply.integer(0) }
            c.signalModifiedKey(source)
            c.modifyCollection(destinationShard, destination, destinationHash, SetValue.self, create: { SetValue() }) {
                if add(c, $0, bytes) { c.keyChanged(destination, .set, "sadd") }
            }
            c.reply.integer(1)
        }
    }

    // MARK: Random members

    static func srandmember(_ c: CommandContext) {
        if c.args.count > 3 { return c.error(RedisError.syntax) }
        guard c.args.count == 3 else {
            return c.readCollection(keyAt: 1, SetValue.self, missing: { c.reply.nullBulk() }) { c.reply.bulk($0.randomMember()) }
        }
        guard let requested = c.integer(2, in: -Int64.max...Int64.max) else { return }
        c.readCollection(keyAt: 1, SetValue.self, missing: { c.reply.arrayHeader(0) }) { set in
            if requested < 0 || requested == 1 {
                // Repeats allowed: each pick is independent.
                c.reply.arrayHeader(Int(requested.magnitude))
                for _ in 0..<requested.magnitude {
                    if c.replyOverflowed { break }
                    c.reply.bulk(set.randomMember())
                }
                return
            }
            var chosen = set.members()
            if requested < chosen.count {
                chosen.shuffle()
                chosen.removeLast(chosen.count - Int(requested))
            }
            c.reply.arrayHeader(chosen.count)
            for member in chosen { c.reply.bulk(member) }
        }
    }

    static func spop(_ c: CommandContext) {
        if c.args.count > 3 { return c.error(RedisError.syntax) }
        guard c.args.count == 3 else {
            return c.withKey(1) { shard, key, hash in
                c.modifyCollection(shard, key, hash, SetValue.self, missing: { c.reply.nullBulk() }) { set in
                    let member = set.randomMember()
                    remove(set, member)
                    c.rewritePropagated { command in
                        command.add("SREM")
                        command.add(key)
                        command.add(member)
                    }
                    c.keyChanged(key, .set, "spop")
                    c.reply.bulk(member)
                }
            }
        }
        guard let count = c.integer(2, in: 0...Int64.max, orReply: RedisError.mustBePositive) else {
            return
        }
        c.withKey(1) { shard, key, hash in
            c.modifyCollection(shard, key, hash, SetValue.self, missing: { c.reply.setHeader(0) }) { set in
                if count > 0 { c.keyChanged(key, .set, "spop") }
                popMembers(c, set, key: key, count: Int(count))
            }
        }
    }

    /// SPOP with a count: the whole set when it has no more members than asked (replied in
    /// the order of a freshly built set, as Redis replies through SUNION), else `count` random
    /// members; when few would remain, the rest is rebuilt into a fresh set as Redis does
    /// (which may turn a hashtable of integers back into an intset). Propagated as Redis does:
    /// `DEL key` for the whole set, else one `SREM key member` per member popped.
    private static func popMembers(_ c: CommandContext, _ set: SetValue, key: UnsafeRawBufferPointer, count: Int) {
        var all = set.members()
        if count >= all.count {
            StringFamily.propagateAsDel(c, key)
            let whole = makeSet(c, all)
            c.reply.setHeader(whole.count)
            whole.forEach { c.reply.bulk($0) }
            set.replaceContents(with: SetValue())
            return
        }
        all.shuffle()
        c.reply.setHeader(count)
        for member in all.prefix(count) { c.reply.bulk(member) }
        c.preventCommandPropagation()
        for member in all.prefix(count) {
            c.alsoPropagate { command in
                command.add("SREM")
                command.add(key)
                command.add(member)
            }
        }
        let remaining = all.count - count
        if remaining * 5 > count {
            for member in all.prefix(count) { remove(set, member) }
        } else {
            set.replaceContents(with: makeSet(c, Array(all.suffix(remaining))))
        }
    }

    // MARK: Scanning

    static func sscan(_ c: CommandContext) {
        guard let cursor = c.scanCursor(2) else { return }
        c.readCollection(keyAt: 1, SetValue.self, missing: { c.replyCollectionScan(cursor: 0, [], groupSize: 1, pattern: nil) }) { set in
            guard let options = c.collectionScanOptions(from: 3) else { return }
            var elements: [[UInt8]] = []
            let next = c.collectionScanSteps(from: cursor, target: options.count, &elements) { cursor, elements in
                set.scan(cursor: cursor) { elements.append(Array($0)) }
            }
            c.replyCollectionScan(cursor: next, elements, groupSize: 1, pattern: options.pattern)
        }
    }
}
