// Set algebra across keys: SINTER (and SMEMBERS, which Redis serves as a one-key SINTER),
// SINTERCARD, SUNION, SDIFF and their STORE forms. Missing keys count as empty sets; results
// are built as Redis builds them (a fresh set, intset first) so stored encodings and reply
// orders match. Every key's shard is locked for the whole command.
import RESP
import Storage
import Support

extension SetFamily {
    private static let sourceKeys = KeySpec.rest([.RO, .access])
    private static let storeSources = KeySpec.rest([.RO, .access], from: 2)
    private static let keys = CommandArgument("key", .key, keySpec: 0, flags: .multiple)
    private static let storeArguments = [CommandArgument.key("destination"),
                                         CommandArgument("key", .key, keySpec: 1, flags: .multiple)]

    static let algebraSpecs: [CommandSpec] = [
        CommandSpec("sinter", arity: -2, flags: [.readonly], acl: [.set], keys: [sourceKeys],
                    tips: ["nondeterministic_output_order"], group: .set, since: "1.0.0",
                    summary: "Members present in every one of several sets.",
                    complexity: "O(N*M) worst case for the smallest set's N members and M sets",
                    arguments: [keys], handler: { intersection($0, keysFrom: 1, store: nil) }),
        CommandSpec("sintercard", arity: -3, flags: [.readonly], acl: [.set],
                    keys: [KeySpec([.RO, .access], .index(1), .keyNum(index: 0, firstKey: 1, step: 1))],
                    group: .set, since: "7.0.0",
                    summary: "Size of the intersection of several sets, optionally capped.",
                    complexity: "O(N*M) worst case for the smallest set's N members and M sets",
                    arguments: [CommandArgument("numkeys", .integer), keys,
                                CommandArgument("limit", .integer, token: "LIMIT", flags: .optional)],
                    handler: sintercard),
        CommandSpec("sinterstore", arity: -3, flags: [.write, .denyoom], acl: [.set],
                    keys: [KeySpec.single([.RW, .update]), storeSources], group: .set, since: "1.0.0",
                    summary: "Store the intersection of several sets in a key.",
                    complexity: "O(N*M) worst case for the smallest set's N members and M sets",
                    arguments: storeArguments, handler: { intersection($0, keysFrom: 2, store: 1) }),
        CommandSpec("sunion", arity: -2, flags: [.readonly], acl: [.set], keys: [sourceKeys],
                    tips: ["nondeterministic_output_order"], group: .set, since: "1.0.0",
                    summary: "Members present in any of several sets.",
                    complexity: "O(N) for N members in all the sets",
                    arguments: [keys], handler: { unionOrDifference($0, keysFrom: 1, store: nil, difference: false) }),
        CommandSpec("sunionstore", arity: -3, flags: [.write, .denyoom], acl: [.set],
                    keys: [KeySpec.single([.OW, .update]), storeSources], group: .set, since: "1.0.0",
                    summary: "Store the union of several sets in a key.",
                    complexity: "O(N) for N members in all the sets",
                    arguments: storeArguments, handler: { unionOrDifference($0, keysFrom: 2, store: 1, difference: false) }),
        CommandSpec("sdiff", arity: -2, flags: [.readonly], acl: [.set], keys: [sourceKeys],
                    tips: ["nondeterministic_output_order"], group: .set, since: "1.0.0",
                    summary: "Members of the first set that none of the other sets has.",
                    complexity: "O(N) for N members in all the sets",
                    arguments: [keys], handler: { unionOrDifference($0, keysFrom: 1, store: nil, difference: true) }),
        CommandSpec("sdiffstore", arity: -3, flags: [.write, .denyoom], acl: [.set],
                    keys: [KeySpec.single([.OW, .update]), storeSources], group: .set, since: "1.0.0",
                    summary: "Store the difference of several sets in a key.",
                    complexity: "O(N) for N members in all the sets",
                    arguments: storeArguments, handler: { unionOrDifference($0, keysFrom: 2, store: 1, difference: true) }),
    ]

    // MARK: Loading and replying

    /// The sets at `positions` (nil for a missing key), or nil after replying WRONGTYPE for the
    /// first key of another type. Shards must be locked.
    private static func loadSets(_ c: CommandContext, _ positions: Range<Int>) -> [SetValue?]? {
        var sets: [SetValue?] = []
        for position in positions {
            let key = c.args[position]
            var missing = false
            let set = c.readCollection(c.keyspace.shard(for: key), key, KeyHash.hash(key), SetValue.self,
                                       missing: { missing = true })
            if set == nil && !missing { return nil }
            sets.append(set)
        }
        return sets
    }

    /// Locks the keys from `first` to `last` (and the destination), then runs `body`.
    private static func withSetKeys(_ c: CommandContext, _ positions: Range<Int>, store destination: Int?,
                                    _ body: () -> Void) {
        c.withKeys(positions.map { $0 } + (destination.map { [$0] } ?? []), body)
    }

    /// Replies `result` as a set, or stores it at argument `destination` (raising `event`)
    /// and replies its size.
    private static func finish(_ c: CommandContext, _ result: SetValue, store destination: Int?, event: StaticString) {
        guard let destination else {
            c.reply.setHeader(result.count)
            result.forEach { c.reply.bulk($0) }
            return
        }
        let key = c.args[destination]
        c.storeCollection(c.keyspace.shard(for: key), key, KeyHash.hash(key), result, event: (.set, event))
        c.reply.integer(result.count)
    }

    // MARK: Intersection

    /// Members of the smallest set found in all the others, in that set's order, stopping at
    /// `limit` members when one is given (0: no limit).
    private static func intersect(_ sets: [SetValue], limit: Int) -> [[UInt8]] {
        let ordered = sets.enumerated().sorted { ($0.element.count, $0.offset) < ($1.element.count, $1.offset) }
            .map(\.element)
        let smallest = ordered[0]
        var result: [[UInt8]] = []
        for member in smallest.members() {
            let integer = Numbers.parseInt64(member)
            let inAll = member.withUnsafeBytes { bytes in
                ordered.dropFirst().allSatisfy { $0 === smallest || $0.contains(bytes, integer: integer) }
            }
            if inAll {
                result.append(member)
                if result.count == limit { break }
            }
        }
        return result
    }

    static func intersection(_ c: CommandContext, keysFrom first: Int, store destination: Int?) {
        withSetKeys(c, first..<c.args.count, store: destination) {
            guard let loaded = loadSets(c, first..<c.args.count) else { return }
            let sets = loaded.compactMap { $0 }
            let members = sets.count < loaded.count ? [] : intersect(sets, limit: 0)
            guard destination == nil else { return finish(c, makeSet(c, members), store: destination, event: "sinterstore") }
            c.reply.setHeader(members.count)
            for member in members { c.reply.bulk(member) }
        }
    }

    static func sintercard(_ c: CommandContext) {
        guard let keyCount = c.integer(1, in: 1...Int64.max, orReply: "ERR numkeys should be greater than 0") else {
            return
        }
        guard keyCount <= c.args.count - 2 else {
            return c.error("ERR Number of keys can't be greater than number of args")
        }
        let keys = 2..<2 + Int(keyCount)
        var limit = 0
        var j = keys.upperBound
        while j < c.args.count {
            guard c.args.equals(j, "limit") && j + 1 < c.args.count else { return c.error(RedisError.syntax) }
            guard let value = c.integer(j + 1, in: 0...Int64.max, orReply: "ERR LIMIT can't be negative") else { return }
            limit = Int(value)
            j += 2
        }
        withSetKeys(c, keys, store: nil) {
            guard let loaded = loadSets(c, keys) else { return }
            let sets = loaded.compactMap { $0 }
            c.reply.integer(sets.count < loaded.count ? 0 : intersect(sets, limit: limit).count)
        }
    }

    // MARK: Union and difference

    static func unionOrDifference(_ c: CommandContext, keysFrom first: Int, store destination: Int?, difference: Bool) {
        withSetKeys(c, first..<c.args.count, store: destination) {
            guard let sets = loadSets(c, first..<c.args.count) else { return }
            finish(c, difference ? SetFamily.difference(c, sets) : union(c, sets), store: destination,
                   event: difference ? "sdiffstore" : "sunionstore")
        }
    }

    private static func union(_ c: CommandContext, _ sets: [SetValue?]) -> SetValue {
        let result = SetValue()
        for case let set? in sets { set.forEach { add(c, result, $0) } }
        return result
    }

    /// Redis's two difference strategies, chosen by the same work estimate, since they can
    /// leave the result in different encodings: filter the first set's members through the
    /// others, or copy the first set and remove the others' members.
    private static func difference(_ c: CommandContext, _ sets: [SetValue?]) -> SetValue {
        let result = SetValue()
        guard let first = sets[0] else { return result }
        let others = sets.dropFirst().compactMap { $0 }
        if others.contains(where: { $0 === first }) { return result }
        let present = [first] + others
        let filterWork = present.count * first.count / 2
        let copyWork = present.reduce(0) { $0 + $1.count }
        if filterWork <= copyWork {
            first.forEach { member in
                let integer = Numbers.parseInt64(member)
                if !others.contains(where: { $0.contains(member, integer: integer) }) { add(c, result, member) }
            }
        } else {
            first.forEach { add(c, result, $0) }
            for set in others where result.count > 0 {
                set.forEach { member in _ = result.remove(member, integer: Numbers.parseInt64(member)) }
            }
        }
        return result
    }
}
