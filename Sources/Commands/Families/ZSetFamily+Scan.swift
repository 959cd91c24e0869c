// Reading a sorted set without a range: random members (ZRANDMEMBER, with Redis's rules for
// positive counts, which ask for distinct members, and negative ones, which allow repeats)
// and cursor iteration (ZSCAN, on the shared collection-scan helpers).
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
        guard let requested = c.integer(2, in: -Int64.max...Int64.max) else { return }
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
                    if c.replyOverflowed { break }
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
        guard let cursor = c.scanCursor(2) else { return }
        c.withKey(1) { shard, key, hash in
            // As in Redis, the key is looked up before the options are read.
            guard let zset = c.readCollection(shard, key, hash, ZSetValue.self,
                                              missing: { c.replyCollectionScan(cursor: 0, [], groupSize: 2, pattern: nil) }),
                  let options = c.collectionScanOptions(from: 3) else { return }
            var elements: [[UInt8]] = []
            let next = c.collectionScanSteps(from: cursor, target: options.count * 2, &elements) { cursor, elements in
                zset.scan(cursor: cursor) { member, score in
                    elements.append(Array(member))
                    elements.append(Numbers.formatDouble(score))
                }
            }
            c.replyCollectionScan(cursor: next, elements, groupSize: 2, pattern: options.pattern)
        }
    }
}
