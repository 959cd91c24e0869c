// LCS: longest common subsequence of two string keys by dynamic programming, with the
// traceback order Redis uses (so ties resolve to the same subsequence and the same match
// ranges), and the LEN / IDX [MINMATCHLEN n] [WITHMATCHLEN] reply forms.
import RESP
import Storage

extension StringFamily {
    static func lcs(_ c: CommandContext) {
        var values: [[UInt8]] = []
        let typesOK: Bool = c.withKeys([1, 2]) {
            for index in 1...2 {
                let key = c.args[index]
                let entry = c.lookupRead(c.keyspace.shard(for: key), key, KeyHash.hash(key))
                if let entry {
                    if !CommandContext.holdsString(entry) { return false }
                    values.append(c.withValueBytes(entry) { Array($0) })
                } else {
                    values.append([])
                }
            }
            return true
        }
        guard typesOK else { return c.error("ERR The specified keys must contain string values") }
        var wantLength = false, wantIndexes = false, withMatchLength = false
        var minimumMatch: Int64 = 0
        var j = 3
        while j < c.args.count {
            let more = c.args.count - 1 - j
            if c.args.equals(j, "idx") { wantIndexes = true }
            else if c.args.equals(j, "len") { wantLength = true }
            else if c.args.equals(j, "withmatchlen") { withMatchLength = true }
            else if c.args.equals(j, "minmatchlen") && more > 0 {
                guard let value = c.integer(j + 1) else { return }
                minimumMatch = max(value, 0)
                j += 1
            } else {
                return c.error(RedisError.syntax)
            }
            j += 1
        }
        if wantLength && wantIndexes {
            return c.error("ERR If you want both the length and indexes, please just use IDX.")
        }
        let a = values[0], b = values[1]
        let width = b.count + 1
        guard (a.count + 1) * width * 4 <= c.server.config.protoMaxBulkLen else {
            return c.error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
        }
        var table = [UInt32](repeating: 0, count: (a.count + 1) * width)
        for i in 1...max(a.count, 1) where i <= a.count {
            for k in 1...max(b.count, 1) where k <= b.count {
                table[i * width + k] = a[i - 1] == b[k - 1]
                    ? table[(i - 1) * width + k - 1] + 1
                    : max(table[(i - 1) * width + k], table[i * width + k - 1])
            }
        }
        let total = Int(table[a.count * width + b.count])
        if wantLength && !wantIndexes { return c.reply.integer(total) }

        var subsequence = [UInt8](repeating: 0, count: total)
        var remaining = total
        var ranges: [(aStart: Int, aEnd: Int, bStart: Int, bEnd: Int)] = []
        var open = false
        var aStart = 0, aEnd = 0, bStart = 0, bEnd = 0
        var i = a.count, k = b.count
        while i > 0 && k > 0 {
            var emit = false
            if a[i - 1] == b[k - 1] {
                subsequence[remaining - 1] = a[i - 1]
                if !open {
                    open = true
                    aStart = i - 1; aEnd = i - 1; bStart = k - 1; bEnd = k - 1
                } else if aStart == i && bStart == k {
                    aStart -= 1
                    bStart -= 1
                } else {
                    emit = true
                }
                if aStart == 0 || bStart == 0 { emit = true }
                remaining -= 1; i -= 1; k -= 1
            } else {
                if table[(i - 1) * width + k] > table[i * width + k - 1] { i -= 1 } else { k -= 1 }
                if open { emit = true }
            }
            if emit {
                if minimumMatch == 0 || aEnd - aStart + 1 >= Int(minimumMatch) {
                    ranges.append((aStart, aEnd, bStart, bEnd))
                }
                open = false
            }
        }
        guard wantIndexes else { return c.reply.bulk(subsequence) }
        c.reply.mapHeader(2)
        c.reply.bulk("matches")
        c.reply.arrayHeader(ranges.count)
        for range in ranges {
            c.reply.arrayHeader(withMatchLength ? 3 : 2)
            c.reply.arrayHeader(2)
            c.reply.integer(range.aStart)
            c.reply.integer(range.aEnd)
            c.reply.arrayHeader(2)
            c.reply.integer(range.bStart)
            c.reply.integer(range.bEnd)
            if withMatchLength { c.reply.integer(range.aEnd - range.aStart + 1) }
        }
        c.reply.bulk("len")
        c.reply.integer(total)
    }
}
