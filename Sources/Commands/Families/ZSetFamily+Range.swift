// Sorted set ranges: by rank, by score ("(" for exclusive bounds, inf/-inf) and by member
// ("[" / "(" / "-" / "+"). Every range is turned into a window of ranks over the set, which
// ZRANGE and its older spellings reply or ZRANGESTORE stores, ZCOUNT/ZLEXCOUNT measure and
// ZREMRANGEBY* delete. Parsing order and errors follow t_zset.c's zrangeGenericCommand.
import RESP
import Storage
import Support

extension ZSetFamily {
    /// A score interval with optionally exclusive ends.
    struct ScoreRange {
        var min: Double, max: Double
        var minExclusive: Bool, maxExclusive: Bool

        /// Parses Redis's score bounds; nil when one is not a float.
        init?(_ minBytes: UnsafeRawBufferPointer, _ maxBytes: UnsafeRawBufferPointer) {
            guard let (min, minExclusive) = ScoreRange.bound(minBytes),
                  let (max, maxExclusive) = ScoreRange.bound(maxBytes) else { return nil }
            (self.min, self.max, self.minExclusive, self.maxExclusive) = (min, max, minExclusive, maxExclusive)
        }

        private static func bound(_ bytes: UnsafeRawBufferPointer) -> (Double, Bool)? {
            if bytes.first == UInt8(ascii: "(") {
                return Numbers.parseRangeDouble(UnsafeRawBufferPointer(rebasing: bytes.dropFirst())).map { ($0, true) }
            }
            return Numbers.parseRangeDouble(bytes).map { ($0, false) }
        }

        /// The ranks of the elements inside the interval.
        func ranks(in zset: ZSetValue) -> Range<Int> {
            let lower = zset.countLeading { score, _ in score < min || (minExclusive && score == min) }
            let upper = zset.countLeading { score, _ in score < max || (!maxExclusive && score == max) }
            return lower..<Swift.max(lower, upper)
        }
    }

    /// One end of a member interval.
    enum LexBound {
        case minusInfinity, plusInfinity
        case value(UnsafeRawBufferPointer, exclusive: Bool)

        init?(_ bytes: UnsafeRawBufferPointer) {
            switch bytes.first {
            case UInt8(ascii: "+") where bytes.count == 1: self = .plusInfinity
            case UInt8(ascii: "-") where bytes.count == 1: self = .minusInfinity
            case UInt8(ascii: "("): self = .value(UnsafeRawBufferPointer(rebasing: bytes.dropFirst()), exclusive: true)
            case UInt8(ascii: "["): self = .value(UnsafeRawBufferPointer(rebasing: bytes.dropFirst()), exclusive: false)
            default: return nil
            }
        }

        /// Whether `member` lies below this bound taken as the range's minimum.
        func isBelowMinimum(_ member: UnsafeRawBufferPointer) -> Bool {
            switch self {
            case .minusInfinity: return false
            case .plusInfinity: return true
            case .value(let bound, let exclusive):
                return exclusive ? !bound.lexicographicallyPrecedes(member) : member.lexicographicallyPrecedes(bound)
            }
        }

        /// Whether `member` lies at or below this bound taken as the range's maximum.
        func isWithinMaximum(_ member: UnsafeRawBufferPointer) -> Bool {
            switch self {
            case .minusInfinity: return false
            case .plusInfinity: return true
            case .value(let bound, let exclusive):
                return exclusive ? member.lexicographicallyPrecedes(bound) : !bound.lexicographicallyPrecedes(member)
            }
        }
    }

    /// A member interval (meaningful when all scores are equal).
    struct LexRange {
        var min: LexBound, max: LexBound

        init?(_ minBytes: UnsafeRawBufferPointer, _ maxBytes: UnsafeRawBufferPointer) {
            guard let min = LexBound(minBytes), let max = LexBound(maxBytes) else { return nil }
            (self.min, self.max) = (min, max)
        }

        func ranks(in zset: ZSetValue) -> Range<Int> {
            let lower = zset.countLeading { _, member in min.isBelowMinimum(member) }
            let upper = zset.countLeading { _, member in max.isWithinMaximum(member) }
            return lower..<Swift.max(lower, upper)
        }
    }

    enum RangeKind {
        case rank, score, lex

        /// The keyspace event of removing a range of this kind.
        var removalEvent: StaticString {
            switch self {
            case .rank: return "zremrangebyrank"
            case .score: return "zremrangebyscore"
            case .lex: return "zremrangebylex"
            }
        }
    }

    /// A parsed interval of one of the three kinds.
    enum Interval {
        case rank(start: Int64, stop: Int64)
        case score(ScoreRange)
        case lex(LexRange)

        /// Parses the bounds at `minIndex`/`maxIndex`, replying Redis's error when invalid.
        init?(_ c: CommandContext, _ kind: RangeKind, _ minIndex: Int, _ maxIndex: Int) {
            switch kind {
            case .rank:
                guard let start = c.integer(minIndex), let stop = c.integer(maxIndex) else { return nil }
                self = .rank(start: start, stop: stop)
            case .score:
                guard let range = ScoreRange(c.args[minIndex], c.args[maxIndex]) else {
                    c.error(RedisError.minMaxNotFloat)
                    return nil
                }
                self = .score(range)
            case .lex:
                guard let range = LexRange(c.args[minIndex], c.args[maxIndex]) else {
                    c.error(RedisError.minMaxNotLex)
                    return nil
                }
                self = .lex(range)
            }
        }

        /// The ranks this interval selects in `zset` (rank indexes as ZRANGE reads them:
        /// negative from the end, counted from the end when `reverse`).
        func ranks(in zset: ZSetValue, reverse: Bool) -> Range<Int> {
            switch self {
            case .rank(let start, let stop):
                let length = Int64(zset.count)
                var first = start < 0 ? length + start : start
                var last = stop < 0 ? length + stop : stop
                if first < 0 { first = 0 }
                if first > last || first >= length { return 0..<0 }
                if last >= length { last = length - 1 }
                if reverse { (first, last) = (length - 1 - last, length - 1 - first) }
                return Int(first)..<Int(last) + 1
            case .score(let range): return range.ranks(in: zset)
            case .lex(let range): return range.ranks(in: zset)
            }
        }
    }

    // MARK: ZRANGE and its variants

    static func zrange(_ c: CommandContext) { range(c, store: false, kind: nil, reverse: nil) }
    static func zrangestore(_ c: CommandContext) { range(c, store: true, kind: nil, reverse: nil) }
    static func zrevrange(_ c: CommandContext) { range(c, store: false, kind: .rank, reverse: true) }
    static func zrangebyscore(_ c: CommandContext) { range(c, store: false, kind: .score, reverse: false) }
    static func zrevrangebyscore(_ c: CommandContext) { range(c, store: false, kind: .score, reverse: true) }
    static func zrangebylex(_ c: CommandContext) { range(c, store: false, kind: .lex, reverse: false) }
    static func zrevrangebylex(_ c: CommandContext) { range(c, store: false, kind: .lex, reverse: true) }

    /// The common body of the range commands; `kind`/`reverse` are nil where ZRANGE's
    /// BYSCORE/BYLEX/REV options decide them.
    static func range(_ c: CommandContext, store: Bool, kind fixedKind: RangeKind?, reverse fixedReverse: Bool?) {
        let keyIndex = store ? 2 : 1
        var kind = fixedKind, reverse = fixedReverse
        var withScores = false
        var offset: Int64 = 0, limit: Int64 = -1
        var j = keyIndex + 3
        while j < c.args.count {
            if !store && c.args.equals(j, "withscores") {
                withScores = true
            } else if c.args.equals(j, "limit") && c.args.count - j - 1 >= 2 {
                guard let first = c.integer(j + 1), let count = c.integer(j + 2) else { return }
                (offset, limit) = (first, count)
                j += 2
            } else if reverse == nil && c.args.equals(j, "rev") {
                reverse = true
            } else if kind == nil && c.args.equals(j, "bylex") {
                kind = .lex
            } else if kind == nil && c.args.equals(j, "byscore") {
                kind = .score
            } else {
                return c.error(RedisError.syntax)
            }
            j += 1
        }
        let rangeKind = kind ?? .rank
        let descending = reverse ?? false
        if limit != -1 && rangeKind == .rank { return c.error(RedisError.limitNeedsByScoreOrLex) }
        if withScores && rangeKind == .lex { return c.error(RedisError.withScoresWithByLex) }
        // Reversed score and lex ranges are written max first.
        let swapBounds = descending && rangeKind != .rank
        guard let interval = Interval(c, rangeKind, keyIndex + (swapBounds ? 2 : 1), keyIndex + (swapBounds ? 1 : 2)) else {
            return
        }
        let positions = store ? [1, 2] : [1]
        c.withKeys(positions) {
            let key = c.args[keyIndex]
            let shard = c.keyspace.shard(for: key)
            var keyMissing = false
            let source = c.readCollection(shard, key, KeyHash.hash(key), ZSetValue.self, missing: { keyMissing = true })
            if source == nil && !keyMissing { return }
            var window = 0..<0
            if let source {
                window = interval.ranks(in: source, reverse: descending)
                if rangeKind != .rank { window = limited(window, offset: offset, limit: limit, reverse: descending) }
            }
            guard store else {
                replyElementsHeader(c, window.count, withScores: withScores)
                source?.forEach(ranks: window, reverse: descending) { replyElement(c, $0, $1, withScores: withScores) }
                return
            }
            let destination = makeZSet(c, sizeHint: rangeKind == .rank ? window.count : 0)
            source?.forEach(ranks: window, reverse: descending) { insert(c, destination, $0, $1) }
            let destinationKey = c.args[1]
            c.storeCollection(c.keyspace.shard(for: destinationKey), destinationKey, KeyHash.hash(destinationKey), destination,
                              event: (.zset, "zrangestore"))
            c.reply.integer(destination.count)
        }
    }

    /// Applies LIMIT offset count to a window walked upwards or (`reverse`) downwards: a
    /// negative offset selects nothing, a negative count everything after the offset.
    static func limited(_ window: Range<Int>, offset: Int64, limit: Int64, reverse: Bool) -> Range<Int> {
        guard offset >= 0 else { return window.lowerBound..<window.lowerBound }
        let skipped = Int(min(offset, Int64(window.count)))
        let available = window.count - skipped
        let taken = limit < 0 ? available : Int(min(limit, Int64(available)))
        return reverse ? window.upperBound - skipped - taken..<window.upperBound - skipped
                       : window.lowerBound + skipped..<window.lowerBound + skipped + taken
    }

    // MARK: Counting and removing ranges

    static func zcount(_ c: CommandContext) { count(c, .score) }
    static func zlexcount(_ c: CommandContext) { count(c, .lex) }

    static func count(_ c: CommandContext, _ kind: RangeKind) {
        guard let interval = Interval(c, kind, 2, 3) else { return }
        c.withKey(1) { shard, key, hash in
            guard let zset = c.readCollection(shard, key, hash, ZSetValue.self, missing: { c.reply.integer(0) }) else { return }
            c.reply.integer(interval.ranks(in: zset, reverse: false).count)
        }
    }

    static func zremrangebyrank(_ c: CommandContext) { removeRange(c, .rank) }
    static func zremrangebyscore(_ c: CommandContext) { removeRange(c, .score) }
    static func zremrangebylex(_ c: CommandContext) { removeRange(c, .lex) }

    static func removeRange(_ c: CommandContext, _ kind: RangeKind) {
        guard let interval = Interval(c, kind, 2, 3) else { return }
        c.withKey(1) { shard, key, hash in
            let removed = c.modifyCollection(shard, key, hash, ZSetValue.self, missing: { c.reply.integer(0) }) { zset in
                let ranks = interval.ranks(in: zset, reverse: false)
                zset.removeRanks(ranks)
                if !ranks.isEmpty { c.keyChanged(key, .zset, kind.removalEvent) }
                return ranks.count
            }
            if let removed { c.reply.integer(removed) }
        }
    }
}
