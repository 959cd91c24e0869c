// The sorted set command group of Redis 7.0 (ZADD ... ZSCAN), except the blocking pops.
// This file holds the command table entries, shared reply helpers and the commands that
// touch single members; ranges are in ZSetFamily+Range.swift, pops in ZSetFamily+Pop.swift,
// ZRANDMEMBER/ZSCAN in ZSetFamily+Scan.swift and ZUNION/ZINTER/ZDIFF in
// ZSetFamily+Combine.swift. Replies and errors follow Redis 7.0.15 byte for byte, in RESP2
// and RESP3.
import RESP
import Storage
import Support

public enum ZSetFamily {
    public static let specs: [CommandSpec] = [
        CommandSpec("zadd", arity: -4, flags: [.write, .denyoom, .fast], acl: [.sortedset],
            keys: [KeySpec([.RW, .update], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "1.2.0",
            summary: "Insert members with scores into a sorted set, or change the scores of existing ones.",
            complexity: "O(log N) per member for a set of N members",
            history: [("2.4.0", "Several members in one call."), ("3.0.2", "XX, NX, CH and INCR options."), ("6.2.0", "GT and LT options.")],
            arguments: [.key(),
                        CommandArgument("condition", .oneof, flags: .optional, since: "3.0.2", [.token("NX"), .token("XX")]),
                        CommandArgument("comparison", .oneof, flags: .optional, since: "6.2.0", [.token("GT"), .token("LT")]),
                        CommandArgument("change", .pureToken, token: "CH", flags: .optional, since: "3.0.2"),
                        CommandArgument("increment", .pureToken, token: "INCR", flags: .optional, since: "3.0.2"),
                        CommandArgument("score_member", .block, flags: .multiple, [CommandArgument("score", .double), CommandArgument("member", .string)])],
            handler: zadd),
        CommandSpec("zincrby", arity: 4, flags: [.write, .denyoom, .fast], acl: [.sortedset],
            keys: [KeySpec([.RW, .access, .update], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "1.2.0",
            summary: "Add an amount to a member's score (a missing member starts at 0).",
            complexity: "O(log N) for a set of N members",
            arguments: [.key(),
                        CommandArgument("increment", .integer),
                        CommandArgument("member", .string)],
            handler: zincrby),
        CommandSpec("zrem", arity: -3, flags: [.write, .fast], acl: [.sortedset],
            keys: [KeySpec([.RW, .delete], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "1.2.0",
            summary: "Remove members from a sorted set.",
            complexity: "O(M log N), M members removed from a set of N",
            history: [("2.4.0", "Several members in one call.")],
            arguments: [.key(),
                        CommandArgument("member", .string, flags: .multiple)],
            handler: zrem),
        CommandSpec("zcard", arity: 2, flags: [.readonly, .fast], acl: [.sortedset],
            keys: [KeySpec([.RO], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "1.2.0",
            summary: "Number of members in a sorted set.",
            complexity: "O(1)",
            arguments: [.key()],
            handler: zcard),
        CommandSpec("zscore", arity: 3, flags: [.readonly, .fast], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "1.2.0",
            summary: "Score of one member of a sorted set.",
            complexity: "O(1)",
            arguments: [.key(),
                        CommandArgument("member", .string)],
            handler: zscore),
        CommandSpec("zmscore", arity: -3, flags: [.readonly, .fast], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "6.2.0",
            summary: "Scores of several members of a sorted set.",
            complexity: "O(N) for N members asked",
            arguments: [.key(),
                        CommandArgument("member", .string, flags: .multiple)],
            handler: zmscore),
        CommandSpec("zrank", arity: 3, flags: [.readonly, .fast], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "2.0.0",
            summary: "Position of a member in ascending score order.",
            complexity: "O(log N)",
            arguments: [.key(),
                        CommandArgument("member", .string)],
            handler: zrank),
        CommandSpec("zrevrank", arity: 3, flags: [.readonly, .fast], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "2.0.0",
            summary: "Position of a member in descending score order.",
            complexity: "O(log N)",
            arguments: [.key(),
                        CommandArgument("member", .string)],
            handler: zrevrank),
        CommandSpec("zcount", arity: 4, flags: [.readonly, .fast], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "2.0.0",
            summary: "Number of members whose score lies in a range.",
            complexity: "O(log N) for a set of N members",
            arguments: [.key(),
                        CommandArgument("min", .double),
                        CommandArgument("max", .double)],
            handler: zcount),
        CommandSpec("zlexcount", arity: 4, flags: [.readonly, .fast], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "2.8.9",
            summary: "Number of members between two member bounds when all scores are equal.",
            complexity: "O(log N) for a set of N members",
            arguments: [.key(),
                        CommandArgument("min", .string),
                        CommandArgument("max", .string)],
            handler: zlexcount),
        CommandSpec("zpopmin", arity: -2, flags: [.write, .fast], acl: [.sortedset],
            keys: [KeySpec([.RW, .access, .delete], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "5.0.0",
            summary: "Remove and reply with the members that have the lowest scores.",
            complexity: "O(M log N), M members popped from a set of N",
            arguments: [.key(),
                        CommandArgument("count", .integer, flags: .optional)],
            handler: zpopmin),
        CommandSpec("zpopmax", arity: -2, flags: [.write, .fast], acl: [.sortedset],
            keys: [KeySpec([.RW, .access, .delete], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "5.0.0",
            summary: "Remove and reply with the members that have the highest scores.",
            complexity: "O(M log N), M members popped from a set of N",
            arguments: [.key(),
                        CommandArgument("count", .integer, flags: .optional)],
            handler: zpopmax),
        CommandSpec("zmpop", arity: -4, flags: [.write], acl: [.sortedset],
            keys: [KeySpec([.RW, .access, .delete], .index(1), .keyNum(index: 0, firstKey: 1, step: 1))],
            group: .sortedSet, since: "7.0.0",
            summary: "Remove and reply with the lowest or highest scored members of the first non-empty sorted set.",
            complexity: "O(K) + O(M log N), K keys given, M members popped, N members in the set",
            arguments: [CommandArgument("numkeys", .integer),
                        .key(flags: .multiple),
                        CommandArgument("where", .oneof, [.token("MIN"), .token("MAX")]),
                        CommandArgument("count", .integer, token: "COUNT", flags: .optional)],
            handler: zmpop),
        CommandSpec("zrandmember", arity: -2, flags: [.readonly], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            tips: ["nondeterministic_output"],
            group: .sortedSet, since: "6.2.0",
            summary: "Random members of a sorted set, optionally with their scores.",
            complexity: "O(N) for N members returned",
            arguments: [.key(),
                        CommandArgument("options", .block, flags: .optional, [CommandArgument("count", .integer), .token("WITHSCORES", flags: .optional)])],
            handler: zrandmember),
        CommandSpec("zscan", arity: -3, flags: [.readonly], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            tips: ["nondeterministic_output"],
            group: .sortedSet, since: "2.8.0",
            summary: "Iterate over the members and scores of a sorted set.",
            complexity: "O(1) per call, O(N) for a full iteration",
            arguments: [.key(),
                        CommandArgument("cursor", .integer),
                        CommandArgument("pattern", .pattern, token: "MATCH", flags: .optional),
                        CommandArgument("count", .integer, token: "COUNT", flags: .optional)],
            handler: zscan),
        CommandSpec("zrange", arity: -4, flags: [.readonly], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "1.2.0",
            summary: "Members in a range of ranks, scores or member bounds.",
            complexity: "O(log N + M), M members returned from a set of N",
            history: [("6.2.0", "REV, BYSCORE, BYLEX and LIMIT options.")],
            arguments: [.key(),
                        CommandArgument("start", .string),
                        CommandArgument("stop", .string),
                        CommandArgument("sortby", .oneof, flags: .optional, since: "6.2.0", [.token("BYSCORE"), .token("BYLEX")]),
                        .token("REV", flags: .optional, since: "6.2.0"),
                        CommandArgument("offset_count", .block, token: "LIMIT", flags: .optional, since: "6.2.0", [CommandArgument("offset", .integer), CommandArgument("count", .integer)]),
                        .token("WITHSCORES", flags: .optional)],
            handler: zrange),
        CommandSpec("zrangestore", arity: -5, flags: [.write, .denyoom], acl: [.sortedset],
            keys: [KeySpec([.OW, .update], .index(1), .range(lastKey: 0, step: 1, limit: 0)), KeySpec([.RO, .access], .index(2), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "6.2.0",
            summary: "Store a range of a sorted set (by rank, score or member bounds) under another key.",
            complexity: "O(log N + M), M members stored from a set of N",
            arguments: [.key("dst"),
                        .key("src", spec: 1),
                        CommandArgument("min", .string),
                        CommandArgument("max", .string),
                        CommandArgument("sortby", .oneof, flags: .optional, [.token("BYSCORE"), .token("BYLEX")]),
                        .token("REV", flags: .optional),
                        CommandArgument("offset_count", .block, token: "LIMIT", flags: .optional, [CommandArgument("offset", .integer), CommandArgument("count", .integer)])],
            handler: zrangestore),
        CommandSpec("zrevrange", arity: -4, flags: [.readonly], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "1.2.0",
            summary: "Members in a range of ranks, highest scores first.",
            complexity: "O(log N + M), M members returned from a set of N",
            docFlags: ["deprecated"], deprecatedSince: "6.2.0", replacedBy: "`ZRANGE` with the `REV` argument",
            arguments: [.key(),
                        CommandArgument("start", .integer),
                        CommandArgument("stop", .integer),
                        .token("WITHSCORES", flags: .optional)],
            handler: zrevrange),
        CommandSpec("zrangebyscore", arity: -4, flags: [.readonly], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "1.0.5",
            summary: "Members whose scores lie in a range.",
            complexity: "O(log N + M), M members returned from a set of N",
            docFlags: ["deprecated"], deprecatedSince: "6.2.0", replacedBy: "`ZRANGE` with the `BYSCORE` argument",
            history: [("2.0.0", "WITHSCORES option.")],
            arguments: [.key(),
                        CommandArgument("min", .double),
                        CommandArgument("max", .double),
                        .token("WITHSCORES", flags: .optional, since: "2.0.0"),
                        CommandArgument("offset_count", .block, token: "LIMIT", flags: .optional, [CommandArgument("offset", .integer), CommandArgument("count", .integer)])],
            handler: zrangebyscore),
        CommandSpec("zrevrangebyscore", arity: -4, flags: [.readonly], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "2.2.0",
            summary: "Members whose scores lie in a range, highest scores first.",
            complexity: "O(log N + M), M members returned from a set of N",
            docFlags: ["deprecated"], deprecatedSince: "6.2.0", replacedBy: "`ZRANGE` with the `REV` and `BYSCORE` arguments",
            history: [("2.1.6", "Exclusive bounds with `(`.")],
            arguments: [.key(),
                        CommandArgument("max", .double),
                        CommandArgument("min", .double),
                        .token("WITHSCORES", flags: .optional),
                        CommandArgument("offset_count", .block, token: "LIMIT", flags: .optional, [CommandArgument("offset", .integer), CommandArgument("count", .integer)])],
            handler: zrevrangebyscore),
        CommandSpec("zrangebylex", arity: -4, flags: [.readonly], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "2.8.9",
            summary: "Members between two member bounds when all scores are equal.",
            complexity: "O(log N + M), M members returned from a set of N",
            docFlags: ["deprecated"], deprecatedSince: "6.2.0", replacedBy: "`ZRANGE` with the `BYLEX` argument",
            arguments: [.key(),
                        CommandArgument("min", .string),
                        CommandArgument("max", .string),
                        CommandArgument("offset_count", .block, token: "LIMIT", flags: .optional, [CommandArgument("offset", .integer), CommandArgument("count", .integer)])],
            handler: zrangebylex),
        CommandSpec("zrevrangebylex", arity: -4, flags: [.readonly], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "2.8.9",
            summary: "Members between two member bounds, in descending order.",
            complexity: "O(log N + M), M members returned from a set of N",
            docFlags: ["deprecated"], deprecatedSince: "6.2.0", replacedBy: "`ZRANGE` with the `REV` and `BYLEX` arguments",
            arguments: [.key(),
                        CommandArgument("max", .string),
                        CommandArgument("min", .string),
                        CommandArgument("offset_count", .block, token: "LIMIT", flags: .optional, [CommandArgument("offset", .integer), CommandArgument("count", .integer)])],
            handler: zrevrangebylex),
        CommandSpec("zremrangebyrank", arity: 4, flags: [.write], acl: [.sortedset],
            keys: [KeySpec([.RW, .delete], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "2.0.0",
            summary: "Remove the members in a range of ranks.",
            complexity: "O(log N + M), M members removed from a set of N",
            arguments: [.key(),
                        CommandArgument("start", .integer),
                        CommandArgument("stop", .integer)],
            handler: zremrangebyrank),
        CommandSpec("zremrangebyscore", arity: 4, flags: [.write], acl: [.sortedset],
            keys: [KeySpec([.RW, .delete], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "1.2.0",
            summary: "Remove the members whose scores lie in a range.",
            complexity: "O(log N + M), M members removed from a set of N",
            arguments: [.key(),
                        CommandArgument("min", .double),
                        CommandArgument("max", .double)],
            handler: zremrangebyscore),
        CommandSpec("zremrangebylex", arity: 4, flags: [.write], acl: [.sortedset],
            keys: [KeySpec([.RW, .delete], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .sortedSet, since: "2.8.9",
            summary: "Remove the members between two member bounds.",
            complexity: "O(log N + M), M members removed from a set of N",
            arguments: [.key(),
                        CommandArgument("min", .string),
                        CommandArgument("max", .string)],
            handler: zremrangebylex),
        CommandSpec("zunion", arity: -3, flags: [.readonly], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .keyNum(index: 0, firstKey: 1, step: 1))],
            group: .sortedSet, since: "6.2.0",
            summary: "Members present in any of the given sorted sets, with combined scores.",
            complexity: "O(N) + O(M log M), N members in all inputs, M in the result",
            arguments: [CommandArgument("numkeys", .integer),
                        .key(flags: .multiple),
                        CommandArgument("weight", .integer, token: "WEIGHTS", flags: [.optional, .multiple]),
                        CommandArgument("aggregate", .oneof, token: "AGGREGATE", flags: .optional, [.token("SUM"), .token("MIN"), .token("MAX")]),
                        .token("WITHSCORES", flags: .optional)],
            handler: zunion),
        CommandSpec("zinter", arity: -3, flags: [.readonly], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .keyNum(index: 0, firstKey: 1, step: 1))],
            group: .sortedSet, since: "6.2.0",
            summary: "Members present in every given sorted set, with combined scores.",
            complexity: "O(N*K) + O(M log M) worst case, N members in the smallest input, K inputs, M in the result",
            arguments: [CommandArgument("numkeys", .integer),
                        .key(flags: .multiple),
                        CommandArgument("weight", .integer, token: "WEIGHTS", flags: [.optional, .multiple]),
                        CommandArgument("aggregate", .oneof, token: "AGGREGATE", flags: .optional, [.token("SUM"), .token("MIN"), .token("MAX")]),
                        .token("WITHSCORES", flags: .optional)],
            handler: zinter),
        CommandSpec("zdiff", arity: -3, flags: [.readonly], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .keyNum(index: 0, firstKey: 1, step: 1))],
            group: .sortedSet, since: "6.2.0",
            summary: "Members of the first sorted set that none of the others contain.",
            complexity: "O(L + (N-K) log N) worst case, L members in all inputs, N in the first, K in the result",
            arguments: [CommandArgument("numkeys", .integer),
                        .key(flags: .multiple),
                        .token("WITHSCORES", flags: .optional)],
            handler: zdiff),
        CommandSpec("zunionstore", arity: -4, flags: [.write, .denyoom], acl: [.sortedset],
            keys: [KeySpec([.OW, .update], .index(1), .range(lastKey: 0, step: 1, limit: 0)), KeySpec([.RO, .access], .index(2), .keyNum(index: 0, firstKey: 1, step: 1))],
            group: .sortedSet, since: "2.0.0",
            summary: "Store the members present in any of the given sorted sets, with combined scores.",
            complexity: "O(N) + O(M log M), N members in all inputs, M in the result",
            arguments: [.key("destination"),
                        CommandArgument("numkeys", .integer),
                        .key(spec: 1, flags: .multiple),
                        CommandArgument("weight", .integer, token: "WEIGHTS", flags: [.optional, .multiple]),
                        CommandArgument("aggregate", .oneof, token: "AGGREGATE", flags: .optional, [.token("SUM"), .token("MIN"), .token("MAX")])],
            handler: zunionstore),
        CommandSpec("zinterstore", arity: -4, flags: [.write, .denyoom], acl: [.sortedset],
            keys: [KeySpec([.OW, .update], .index(1), .range(lastKey: 0, step: 1, limit: 0)), KeySpec([.RO, .access], .index(2), .keyNum(index: 0, firstKey: 1, step: 1))],
            group: .sortedSet, since: "2.0.0",
            summary: "Store the members present in every given sorted set, with combined scores.",
            complexity: "O(N*K) + O(M log M) worst case, N members in the smallest input, K inputs, M in the result",
            arguments: [.key("destination"),
                        CommandArgument("numkeys", .integer),
                        .key(spec: 1, flags: .multiple),
                        CommandArgument("weight", .integer, token: "WEIGHTS", flags: [.optional, .multiple]),
                        CommandArgument("aggregate", .oneof, token: "AGGREGATE", flags: .optional, [.token("SUM"), .token("MIN"), .token("MAX")])],
            handler: zinterstore),
        CommandSpec("zdiffstore", arity: -4, flags: [.write, .denyoom], acl: [.sortedset],
            keys: [KeySpec([.OW, .update], .index(1), .range(lastKey: 0, step: 1, limit: 0)), KeySpec([.RO, .access], .index(2), .keyNum(index: 0, firstKey: 1, step: 1))],
            group: .sortedSet, since: "6.2.0",
            summary: "Store the members of the first sorted set that none of the others contain.",
            complexity: "O(L + (N-K) log N) worst case, L members in all inputs, N in the first, K in the result",
            arguments: [.key("destination"),
                        CommandArgument("numkeys", .integer),
                        .key(spec: 1, flags: .multiple)],
            handler: zdiffstore),
        CommandSpec("zintercard", arity: -3, flags: [.readonly], acl: [.sortedset],
            keys: [KeySpec([.RO, .access], .index(1), .keyNum(index: 0, firstKey: 1, step: 1))],
            group: .sortedSet, since: "7.0.0",
            summary: "Count the members present in every given sorted set, optionally stopping at a limit.",
            complexity: "O(N*K) worst case, N members in the smallest input, K inputs",
            arguments: [CommandArgument("numkeys", .integer),
                        .key(flags: .multiple),
                        CommandArgument("limit", .integer, token: "LIMIT", flags: .optional)],
            handler: zintercard),
    ] + blockingSpecs

    // MARK: Shared helpers

    /// The listpack limits currently configured.
    static func limits(_ c: CommandContext) -> (entries: Int, value: Int) {
        (c.server.config.zsetMaxListpackEntries, c.server.config.zsetMaxListpackValue)
    }

    /// A new, empty sorted set in the encoding Redis picks for `sizeHint` elements whose
    /// longest member has `longestMember` bytes.
    static func makeZSet(_ c: CommandContext, sizeHint: Int, longestMember: Int = 0) -> ZSetValue {
        let (entries, value) = limits(c)
        return ZSetValue(sizeHint: sizeHint, longestMember: longestMember, maxListpackEntries: entries, maxListpackValue: value)
    }

    /// Adds `member` with `score` to `zset`, converting its encoding as Redis would.
    static func insert(_ c: CommandContext, _ zset: ZSetValue, _ member: UnsafeRawBufferPointer, _ score: Double) {
        let (entries, value) = limits(c)
        zset.insert(member, score: score, maxListpackEntries: entries, maxListpackValue: value)
    }

    /// Header of a reply of `count` elements: RESP2 flattens member/score pairs into one
    /// array, RESP3 nests each pair in its own array.
    static func replyElementsHeader(_ c: CommandContext, _ count: Int, withScores: Bool) {
        c.reply.arrayHeader(withScores && !c.reply.resp3 ? count * 2 : count)
    }

    /// One element of a range reply; with scores it is a nested pair in RESP3.
    static func replyElement(_ c: CommandContext, _ member: UnsafeRawBufferPointer, _ score: Double, withScores: Bool) {
        if withScores && c.reply.resp3 { c.reply.arrayHeader(2) }
        c.reply.bulk(member)
        if withScores { c.reply.double(score) }
    }

    /// A score argument (ZADD, ZINCRBY), replying Redis's error when it is not a float.
    static func score(_ c: CommandContext, _ index: Int, orReply message: String = RedisError.notFloat) -> Double? {
        if let value = Numbers.parseDouble(c.args[index]) { return value }
        c.error(message)
        return nil
    }

    // MARK: ZADD / ZINCRBY

    static func zadd(_ c: CommandContext) { add(c, increment: false) }
    static func zincrby(_ c: CommandContext) { add(c, increment: true) }

    /// ZADD's options.
    struct AddOptions {
        var nx = false, xx = false, gt = false, lt = false, ch = false, incr = false
    }

    /// ZADD and ZINCRBY (which is ZADD INCR without options).
    static func add(_ c: CommandContext, increment incrementOnly: Bool) {
        var options = AddOptions(incr: incrementOnly)
        var first = 2
        while first < c.args.count {
            if c.args.equals(first, "nx") { options.nx = true }
            else if c.args.equals(first, "xx") { options.xx = true }
            else if c.args.equals(first, "ch") { options.ch = true }
            else if c.args.equals(first, "incr") { options.incr = true }
            else if c.args.equals(first, "gt") { options.gt = true }
            else if c.args.equals(first, "lt") { options.lt = true }
            else { break }
            first += 1
        }
        let remaining = c.args.count - first
        guard remaining > 0 && remaining % 2 == 0 else { return c.error(RedisError.syntax) }
        let elements = remaining / 2
        if options.incr && elements > 1 { return c.error(RedisError.zaddIncrSinglePair) }
        if options.nx && options.xx { return c.error(RedisError.zaddXXAndNX) }
        if (options.gt && options.nx) || (options.lt && options.nx) || (options.gt && options.lt) {
            return c.error(RedisError.zaddGTLTNX)
        }
        var scores: [Double] = []
        scores.reserveCapacity(elements)
        for pair in 0..<elements {
            guard let value = score(c, first + pair * 2) else { return }
            scores.append(value)
        }
        c.withKey(1) { shard, key, hash in
            _ = applyAdd(c, shard, key, hash, options, scores: scores, memberAt: { first + $0 * 2 + 1 })
        }
    }

    /// The body of ZADD once its arguments are parsed (key's shard locked): member `i`
    /// (argument `memberAt(i)`) gets `scores[i]` under `options`, and the reply is ZADD's.
    /// Shared with GEOADD, which Redis runs as a ZADD. Returns whether the set changed.
    static func applyAdd(_ c: CommandContext, _ shard: Shard, _ key: UnsafeRawBufferPointer, _ hash: UInt64,
                         _ options: AddOptions, scores: [Double], memberAt: (Int) -> Int) -> Bool {
        var added = 0, updated = 0, processed = 0
        var lastScore = 0.0
        var resultIsNaN = false, keyMissing = false
        let firstMember = c.args[memberAt(0)].count
        let create: (() -> ZSetValue)? = options.xx ? nil : { makeZSet(c, sizeHint: 1, longestMember: firstMember) }
        let done: Void? = c.modifyCollection(shard, key, hash, ZSetValue.self, create: create, missing: { keyMissing = true }) { zset in
            for pair in scores.indices {
                let member = c.args[memberAt(pair)]
                var newScore = scores[pair]
                if let current = zset.score(of: member) {
                    if options.nx { continue }
                    if options.incr {
                        newScore += current
                        if newScore.isNaN {
                            resultIsNaN = true
                            return
                        }
                    }
                    if (options.lt && newScore >= current) || (options.gt && newScore <= current) { continue }
                    if newScore != current {
                        zset.update(member, from: current, to: newScore)
                        updated += 1
                    }
                } else {
                    if options.xx { continue }
                    insert(c, zset, member, newScore)
                    added += 1
                }
                processed += 1
                lastScore = newScore
            }
            if added + updated > 0 { c.keyChanged(key, .zset, options.incr ? "zincr" : "zadd") }
        }
        if done == nil && !keyMissing { return false }
        if resultIsNaN {
            c.error(RedisError.scoreNaN)
            return false
        }
        if options.incr {
            processed > 0 ? c.reply.double(lastScore) : c.reply.nullBulk()
        } else {
            c.reply.integer(options.ch ? added + updated : added)
        }
        return added + updated > 0
    }

    // MARK: Point reads and removal

    static func zrem(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            let removed = c.modifyCollection(shard, key, hash, ZSetValue.self, missing: { c.reply.integer(0) }) { zset in
                var removed = 0
                for index in 2..<c.args.count where zset.remove(c.args[index]) {
                    removed += 1
                    if zset.count == 0 { break }
                }
                if removed > 0 { c.keyChanged(key, .zset, "zrem") }
                return removed
            }
            if let removed { c.reply.integer(removed) }
        }
    }

    static func zcard(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            guard let zset = c.readCollection(shard, key, hash, ZSetValue.self, missing: { c.reply.integer(0) }) else { return }
            c.reply.integer(zset.count)
        }
    }

    static func zscore(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            guard let zset = c.readCollection(shard, key, hash, ZSetValue.self, missing: { c.reply.nullBulk() }) else { return }
            if let score = zset.score(of: c.args[2]) { c.reply.double(score) } else { c.reply.nullBulk() }
        }
    }

    static func zmscore(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            var zset: ZSetValue?
            var missing = false
            zset = c.readCollection(shard, key, hash, ZSetValue.self, missing: { missing = true })
            guard zset != nil || missing else { return }
            c.reply.arrayHeader(c.args.count - 2)
            for index in 2..<c.args.count {
                if let score = zset?.score(of: c.args[index]) { c.reply.double(score) } else { c.reply.nullBulk() }
            }
        }
    }

    static func zrank(_ c: CommandContext) { rank(c, reverse: false) }
    static func zrevrank(_ c: CommandContext) { rank(c, reverse: true) }

    static func rank(_ c: CommandContext, reverse: Bool) {
        c.withKey(1) { shard, key, hash in
            guard let zset = c.readCollection(shard, key, hash, ZSetValue.self, missing: { c.reply.nullBulk() }) else { return }
            guard let rank = zset.rank(of: c.args[2]) else { return c.reply.nullBulk() }
            c.reply.integer(reverse ? zset.count - 1 - rank : rank)
        }
    }
}
