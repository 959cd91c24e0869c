// The blocking sorted-set pops: BZPOPMIN, BZPOPMAX and BZMPOP. Each acts like its
// non-blocking twin when one of its keys holds a sorted set; otherwise it parks the
// connection on its keys (Blocking.swift) until a write creates one, the timeout passes or
// CLIENT UNBLOCK, exactly as the blocking list pops do.
import RESP
import Storage

extension ZSetFamily {
    static let blockingSpecs: [CommandSpec] = [
        blockingPopSpec("bzpopmin", summary: "Pop the lowest-scored member of the first non-empty sorted set, waiting for one if all are empty.",
                        handler: { blockingPop($0, fromMax: false) }),
        blockingPopSpec("bzpopmax", summary: "Pop the highest-scored member of the first non-empty sorted set, waiting for one if all are empty.",
                        handler: { blockingPop($0, fromMax: true) }),
        CommandSpec("bzmpop", arity: -5, flags: [.write, .blocking], acl: [.sortedset],
            keys: [KeySpec([.RW, .access, .delete], .index(2), .keyNum(index: 0, firstKey: 1, step: 1))],
            group: .sortedSet, since: "7.0.0",
            summary: "Like ZMPOP, but waits for a sorted set to pop from when every key is empty.",
            complexity: "O(K) + O(M log N), K keys given, M members popped, N members in the set",
            arguments: [CommandArgument("timeout", .double),
                        CommandArgument("numkeys", .integer),
                        .key(flags: .multiple),
                        CommandArgument("where", .oneof, [.token("MIN"), .token("MAX")]),
                        CommandArgument("count", .integer, token: "COUNT", flags: .optional)],
            handler: bzmpop),
    ]

    private static func blockingPopSpec(_ name: String, summary: String, handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: -3, flags: [.write, .noscript, .fast, .blocking], acl: [.sortedset],
                    keys: [KeySpec([.RW, .access, .delete], .index(1), .range(lastKey: -2, step: 1, limit: 0))],
                    group: .sortedSet, since: "5.0.0", summary: summary,
                    complexity: "O(log N) for a set of N members",
                    history: [("6.0.0", "The timeout may have a fractional part.")],
                    arguments: [.key(flags: .multiple), CommandArgument("timeout", .double)], handler: handler)
    }

    /// BZPOPMIN/BZPOPMAX: replies [key, member, score] from the first existing sorted set.
    static func blockingPop(_ c: CommandContext, fromMax: Bool) {
        let keys = 1..<c.args.count - 1
        guard let deadline = c.blockingDeadline(c.args.count - 1) else { return }
        c.attemptOrBlock(keysAt: keys, deadline: deadline, nothing: { c.reply.nullArray() }) {
            for position in keys {
                let key = c.args[position]
                if passedOverWhileRetrying(c, key) { continue }
                var keyMissing = false
                let popped: Void? = c.modifyCollection(c.keyspace.shard(for: key), key, KeyHash.hash(key), ZSetValue.self,
                                                       missing: { keyMissing = true }) { zset in
                    let rank = fromMax ? zset.count - 1 : 0
                    propagateAsPop(c, key, fromMax: fromMax, count: nil)
                    c.reply.arrayHeader(3)
                    c.reply.bulk(key)
                    zset.forEach(ranks: rank..<rank + 1, reverse: false) { member, score in
                        c.reply.bulk(member)
                        c.reply.double(score)
                    }
                    zset.removeRanks(rank..<rank + 1)
                    poppedEvent(c, key, fromMax: fromMax)
                }
                if popped != nil || !keyMissing { return true }
            }
            return false
        }
    }

    static func bzmpop(_ c: CommandContext) {
        // Redis reads the keys and options before the timeout.
        guard let (keys, fromMax, count) = multiPopArguments(c, numkeysIndex: 2),
              let deadline = c.blockingDeadline(1) else { return }
        c.attemptOrBlock(keysAt: keys, deadline: deadline, nothing: { c.reply.nullArray() }) {
            popFirstNonEmpty(c, keys: keys, fromMax: fromMax, count: count)
        }
    }
}
