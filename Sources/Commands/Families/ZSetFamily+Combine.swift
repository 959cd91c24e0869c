// Combining sorted sets: ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD, with
// WEIGHTS and AGGREGATE SUM|MIN|MAX as t_zset.c's zunionInterDiffGenericCommand applies them
// (inputs ordered by size, NaN sums read as 0, results ordered by score then member, stored
// results sized like Redis so they get the same encoding).
import RESP
import Storage
import Support

extension ZSetFamily {
    enum Combination {
        case union, intersection, difference

        /// The keyspace event of the STORE variant.
        var storeEvent: StaticString {
            switch self {
            case .union: return "zunionstore"
            case .intersection: return "zinterstore"
            case .difference: return "zdiffstore"
            }
        }
    }
    enum Aggregate { case sum, min, max }

    static func zunion(_ c: CommandContext) { combine(c, .union, store: false) }
    static func zinter(_ c: CommandContext) { combine(c, .intersection, store: false) }
    static func zdiff(_ c: CommandContext) { combine(c, .difference, store: false) }
    static func zunionstore(_ c: CommandContext) { combine(c, .union, store: true) }
    static func zinterstore(_ c: CommandContext) { combine(c, .intersection, store: true) }
    static func zdiffstore(_ c: CommandContext) { combine(c, .difference, store: true) }
    static func zintercard(_ c: CommandContext) { combine(c, .intersection, store: false, cardinalityOnly: true) }

    /// One input: its set (nil for a missing key) and weight.
    struct Input {
        var zset: ZSetValue?
        var weight = 1.0
        var count: Int { zset?.count ?? 0 }
    }

    /// A plain set as a sorted-set input: every member scores 1, as in Redis.
    static func scoredCopy(_ c: CommandContext, of set: SetValue) -> ZSetValue {
        let members = set.members()
        let zset = makeZSet(c, sizeHint: members.count, longestMember: members.reduce(0) { max($0, $1.count) })
        for member in members { member.withUnsafeBytes { insert(c, zset, $0, 1) } }
        return zset
    }

    static func aggregate(_ target: inout Double, _ value: Double, _ aggregate: Aggregate) {
        switch aggregate {
        case .sum:
            target += value
            if target.isNaN { target = 0 }
        case .min: target = value < target ? value : target
        case .max: target = value > target ? value : target
        }
    }

    static func combine(_ c: CommandContext, _ combination: Combination, store: Bool, cardinalityOnly: Bool = false) {
        let numKeysIndex = store ? 2 : 1
        guard let setCount = c.integer(numKeysIndex) else { return }
        guard setCount >= 1 else { return c.error(RedisError.needsInputKey(c.commandName)) }
        guard setCount <= Int64(c.args.count - numKeysIndex - 1) else { return c.error(RedisError.syntax) }
        let keyPositions = numKeysIndex + 1..<numKeysIndex + 1 + Int(setCount)
        let lockPositions = store ? [1] + Array(keyPositions) : Array(keyPositions)
        c.withKeys(lockPositions) {
            var inputs: [Input] = []
            inputs.reserveCapacity(keyPositions.count)
            for position in keyPositions {
                let key = c.args[position]
                let shard = c.keyspace.shard(for: key)
                guard let entry = c.lookupRead(shard, key, KeyHash.hash(key)) else {
                    inputs.append(Input(zset: nil))
                    continue
                }
                switch entry.kind {
                case .zset: inputs.append(Input(zset: entry.collection(as: ZSetValue.self)))
                case .set: inputs.append(Input(zset: scoredCopy(c, of: entry.collection(as: SetValue.self))))
                default: return c.error(RedisError.wrongType)
                }
            }
            var aggregateMode = Aggregate.sum
            var withScores = false
            var limit: Int64 = 0
            var j = keyPositions.upperBound
            while j < c.args.count {
                let remaining = c.args.count - j
                let combinesScores = combination != .difference && !cardinalityOnly
                if combinesScores && remaining >= inputs.count + 1 && c.args.equals(j, "weights") {
                    for index in inputs.indices {
                        guard let weight = score(c, j + 1 + index, orReply: RedisError.weightNotFloat) else { return }
                        inputs[index].weight = weight
                    }
                    j += 1 + inputs.count
                } else if combinesScores && remaining >= 2 && c.args.equals(j, "aggregate") {
                    if c.args.equals(j + 1, "sum") { aggregateMode = .sum }
                    else if c.args.equals(j + 1, "min") { aggregateMode = .min }
                    else if c.args.equals(j + 1, "max") { aggregateMode = .max }
                    else { return c.error(RedisError.syntax) }
                    j += 2
                } else if !store && !cardinalityOnly && c.args.equals(j, "withscores") {
                    withScores = true
                    j += 1
                } else if cardinalityOnly && remaining >= 2 && c.args.equals(j, "limit") {
                    guard let value = Numbers.parseInt64(c.args[j + 1]), value >= 0 else {
                        return c.error(RedisError.limitNegative)
                    }
                    limit = value
                    j += 2
                } else {
                    return c.error(RedisError.syntax)
                }
            }
            if combination != .difference { inputs.sort { $0.count < $1.count } }
            if cardinalityOnly {
                return c.reply.integer(intersectionCount(inputs, limit: Int(limit)))
            }
            var result: [(member: [UInt8], score: Double)]
            switch combination {
            case .union: result = union(inputs, aggregateMode)
            case .intersection: result = intersection(inputs, aggregateMode)
            case .difference: result = difference(inputs)
            }
            result.sort { $0.score != $1.score ? $0.score < $1.score : $0.member.lexicographicallyPrecedes($1.member) }
            if store {
                let longest = result.reduce(0) { max($0, $1.member.count) }
                let destination = makeZSet(c, sizeHint: result.count, longestMember: longest)
                for (member, score) in result { member.withUnsafeBytes { insert(c, destination, $0, score) } }
                let key = c.args[1]
                c.storeCollection(c.keyspace.shard(for: key), key, KeyHash.hash(key), destination,
                                  event: (.zset, combination.storeEvent))
                return c.reply.integer(destination.count)
            }
            replyElementsHeader(c, result.count, withScores: withScores)
            for (member, score) in result { member.withUnsafeBytes { replyElement(c, $0, score, withScores: withScores) } }
        }
    }

    /// Walks the smallest input and calls `body` with each member present in every input
    /// and its aggregated score, until `body` returns false.
    static func forEachCommonMember(_ inputs: [Input], _ aggregateMode: Aggregate,
                                    _ body: (UnsafeRawBufferPointer, Double) -> Bool) {
        guard let smallest = inputs[0].zset, smallest.count > 0 else { return }
        smallest.walk(ranks: 0..<smallest.count, reverse: false) { member, memberScore in
            var total = inputs[0].weight * memberScore
            if total.isNaN { total = 0 }
            for input in inputs.dropFirst() {
                let other: Double
                if input.zset === smallest {
                    other = memberScore
                } else if let found = input.zset?.score(of: member) {
                    other = found
                } else {
                    return true
                }
                aggregate(&total, other * input.weight, aggregateMode)
            }
            return body(member, total)
        }
    }

    static func intersectionCount(_ inputs: [Input], limit: Int) -> Int {
        var count = 0
        forEachCommonMember(inputs, .sum) { _, _ in
            count += 1
            return limit == 0 || count < limit
        }
        return count
    }

    static func intersection(_ inputs: [Input], _ aggregateMode: Aggregate) -> [(member: [UInt8], score: Double)] {
        var result: [(member: [UInt8], score: Double)] = []
        forEachCommonMember(inputs, aggregateMode) { member, score in
            result.append((Array(member), score))
            return true
        }
        return result
    }

    static func union(_ inputs: [Input], _ aggregateMode: Aggregate) -> [(member: [UInt8], score: Double)] {
        var scores: [[UInt8]: Double] = [:]
        scores.reserveCapacity(inputs.last?.count ?? 0)
        for input in inputs {
            guard let zset = input.zset else { continue }
            zset.forEach(ranks: 0..<zset.count, reverse: false) { member, memberScore in
                var weighted = input.weight * memberScore
                if weighted.isNaN { weighted = 0 }
                let key = Array(member)
                if var existing = scores[key] {
                    aggregate(&existing, weighted, aggregateMode)
                    scores[key] = existing
                } else {
                    scores[key] = weighted
                }
            }
        }
        return scores.map { ($0.key, $0.value) }
    }

    static func difference(_ inputs: [Input]) -> [(member: [UInt8], score: Double)] {
        guard let first = inputs[0].zset else { return [] }
        var result: [(member: [UInt8], score: Double)] = []
        first.forEach(ranks: 0..<first.count, reverse: false) { member, score in
            if inputs.dropFirst().contains(where: { $0.zset?.score(of: member) != nil }) { return }
            result.append((Array(member), score))
        }
        return result
    }
}
