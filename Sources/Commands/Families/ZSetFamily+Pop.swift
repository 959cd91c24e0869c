// Popping the lowest or highest scored members: ZPOPMIN, ZPOPMAX and ZMPOP. The pop itself
// (`pop`) takes an already locked set and writes the reply, so the blocking variants can
// reuse it when an element arrives.
import RESP
import Storage
import Support

extension ZSetFamily {
    static func zpopmin(_ c: CommandContext) { popMinMax(c, fromMax: false) }
    static func zpopmax(_ c: CommandContext) { popMinMax(c, fromMax: true) }

    static func popMinMax(_ c: CommandContext, fromMax: Bool) {
        if c.args.count > 3 { return c.error(RedisError.syntax) }
        var count: Int?
        if c.args.count == 3 {
            guard let value = Numbers.parseInt64(c.args[2]), value >= 0 else { return c.error(RedisError.mustBePositive) }
            count = Int(value)
        }
        c.withKey(1) { shard, key, hash in
            c.modifyCollection(shard, key, hash, ZSetValue.self, missing: { c.reply.arrayHeader(0) }) { zset in
                pop(c, zset, key: nil, fromMax: fromMax, count: count)
            }
        }
    }

    /// Removes up to `count` (nil: one, replied flat) lowest or highest elements of `zset` and
    /// writes the reply of ZPOPMIN/ZPOPMAX, or with `key` the [key, [[member, score]...]]
    /// reply of ZMPOP. The caller deletes the key if the set ends empty; blocking variants
    /// reuse this once an element is available.
    static func pop(_ c: CommandContext, _ zset: ZSetValue, key: UnsafeRawBufferPointer?, fromMax: Bool, count: Int?) {
        if count == 0 && key == nil { return c.reply.arrayHeader(0) }
        let taken = min(count ?? 1, zset.count)
        let nested = key != nil || (c.reply.resp3 && count != nil)
        if let key {
            c.reply.arrayHeader(2)
            c.reply.bulk(key)
            c.reply.arrayHeader(taken)
        } else {
            c.reply.arrayHeader(nested ? taken : taken * 2)
        }
        let ranks = fromMax ? zset.count - taken..<zset.count : 0..<taken
        zset.forEach(ranks: ranks, reverse: fromMax) { member, score in
            if nested { c.reply.arrayHeader(2) }
            c.reply.bulk(member)
            c.reply.double(score)
        }
        zset.removeRanks(ranks)
    }

    static func zmpop(_ c: CommandContext) {
        guard let numKeys = Numbers.parseInt64(c.args[1]), numKeys >= 1 else { return c.error(RedisError.numkeysPositive) }
        let whereIndex = numKeys >= Int64(c.args.count) ? c.args.count : 2 + Int(numKeys)
        guard whereIndex < c.args.count else { return c.error(RedisError.syntax) }
        let fromMax: Bool
        if c.args.equals(whereIndex, "min") { fromMax = false }
        else if c.args.equals(whereIndex, "max") { fromMax = true }
        else { return c.error(RedisError.syntax) }
        var count: Int?
        var j = whereIndex + 1
        while j < c.args.count {
            guard count == nil, c.args.equals(j, "count"), j + 1 < c.args.count else { return c.error(RedisError.syntax) }
            guard let value = Numbers.parseInt64(c.args[j + 1]), value >= 1 else { return c.error(RedisError.countPositive) }
            count = Int(value)
            j += 2
        }
        let keys = stride(from: 2, to: whereIndex, by: 1)
        c.withKeys(keys) {
            for position in keys {
                let key = c.args[position]
                var keyMissing = false
                let popped: Void? = c.modifyCollection(c.keyspace.shard(for: key), key, KeyHash.hash(key), ZSetValue.self,
                                                missing: { keyMissing = true }) { zset in
                    pop(c, zset, key: key, fromMax: fromMax, count: count ?? 1)
                }
                if popped != nil || !keyMissing { return }
            }
            c.reply.nullArray()
        }
    }
}
