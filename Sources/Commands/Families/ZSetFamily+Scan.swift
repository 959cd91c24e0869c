// Reading a sorted set without a range: random members (ZRANDMEMBER, with Redis's rules for
// positive counts, which ask for distinct members, and negative ones, which allow repeats)
// and cursor iteration (ZSCAN).
import RESP
import Storage
import Support

extension ZSetFamily {
    // MARK: ZRANDMEMBER

    static func zrandmember(_ c: CommandContext) {
        guard c.args.count >= 3 else {
            return c.withKey(1) { shard, key, hash in
                guard let zset = c.readCollection(shard, key, hash, ZSetValue.self, missing: { c.reply.nullBulk() }) else { return }
                c.reply.bulk(zset.element(atRank: Int.random(in: 0..<zset.count)).member)
            }
        }
        guard let requested = c.integer(2) else { return }
        if requested == Int64.min { return c.error(RedisError.outOfLongRange) }
        if c.args.count > 4 || (c.args.count == 4 && !c.args.equals(3, "withscores")) { return c.error(RedisError.syntax) }
        let withScores = c.args.count == 4
        if withScores && requested.magnitude > UInt64(Int64.max / 2) { return c.error(RedisError.outOfRange) }
        c.withKey(1) { shard, key, hash in
            guard let zset = c.readCollection(shard, key, hash, ZSetValue.self, missing: { c.reply.arrayHeader(0) }) else { return }
            if requested == 0 { return c.reply.arrayHeader(0) }
            let size = zset.count
            if requested < 0 || requested == 1 {
                let count = Int(requested.magnitude)
                replyElementsHeader(c, count, withScores: withScores)
                for _ in 0..<count {
                    let (member, score) = zset.element(atRank: Int.random(in: 0..<size))
                    member.withUnsafeBytes { replyElement(c, $0, score, withScores: withScores) }
                }
                return
            }
            let count = Int(min(requested, Int64(size)))
            replyElementsHeader(c, count, withScores: withScores)
            if count == size {
                // The whole set, walked from the highest score down as Redis's iterator does.
                return zset.forEach(ranks: 0..<size, reverse: true) { replyElement(c, $0, $1, withScores: withScores) }
            }
            // DIVERGENCE: Redis samples through its dictionary or listpack; any unique
            // random subset is equally valid.
            var ranks = Set<Int>()
            while ranks.count < count { ranks.insert(Int.random(in: 0..<size)) }
            for rank in ranks {
                let (member, score) = zset.element(atRank: rank)
                member.withUnsafeBytes { replyElement(c, $0, score, withScores: withScores) }
            }
        }
    }

    // MARK: ZSCAN

    static func zscan(_ c: CommandContext) {
        guard let cursor = GenericFamily.parseCursor(c.args[2]) else { return c.error(RedisError.invalidCursor) }
        c.withKey(1) { shard, key, hash in
            let empty = {
                c.reply.arrayHeader(2)
                c.reply.bulk("0")
                c.reply.arrayHeader(0)
            }
            // As in Redis, the key is looked up before the options are read.
            guard let zset = c.readCollection(shard, key, hash, ZSetValue.self, missing: empty),
                  let (count, pattern) = scanOptions(c) else { return }
            // Listpacks are returned whole, as Redis does. DIVERGENCE: a skiplist-encoded set
            // is walked in rank order with the rank as cursor, rather than in hash-table order.
            let start = zset.isListpack ? 0 : Int(min(cursor, UInt64(zset.count)))
            let end = zset.isListpack ? zset.count : min(zset.count, start + count)
            c.reply.arrayHeader(2)
            c.reply.bulk(decimal: Int64(end >= zset.count ? 0 : end))
            let deferred = c.reply.deferredStart()
            var found = 0
            zset.forEach(ranks: start..<end, reverse: false) { member, score in
                if let pattern, !Glob.matches(pattern: pattern, string: member) { return }
                c.reply.bulk(member)
                c.reply.bulk(Numbers.formatDouble(score))
                found += 2
            }
            c.reply.deferredArray(at: deferred, count: found)
        }
    }

    /// ZSCAN's COUNT and MATCH options, replying the error when they are invalid.
    static func scanOptions(_ c: CommandContext) -> (count: Int, pattern: UnsafeRawBufferPointer?)? {
        var count = 10
        var pattern: UnsafeRawBufferPointer?
        var j = 3
        while j < c.args.count {
            guard j + 1 < c.args.count else {
                c.error(RedisError.syntax)
                return nil
            }
            if c.args.equals(j, "count") {
                guard let value = c.integer(j + 1) else { return nil }
                guard value >= 1 else {
                    c.error(RedisError.syntax)
                    return nil
                }
                count = Int(min(value, Int64(Int32.max)))
            } else if c.args.equals(j, "match") {
                pattern = c.args[j + 1]
            } else {
                c.error(RedisError.syntax)
                return nil
            }
            j += 2
        }
        return (count, pattern)
    }
}
