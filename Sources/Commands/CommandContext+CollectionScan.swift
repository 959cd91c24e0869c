// HSCAN, SSCAN (and later ZSCAN): Redis's cursor and option parsing for scanning inside one
// collection, and the `[cursor, [elements...]]` reply. Small encodings are returned whole in
// one call with cursor 0, exactly as Redis does for listpacks and intsets.
// DIVERGENCE: hashtable encodings are returned whole in one call with cursor 0 as well (Redis
// walks its dict COUNT buckets at a time). Swift's Dictionary reorders on growth, so no cursor
// into it could keep SCAN's guarantees; one complete answer keeps them (every element present
// throughout is returned, none twice) at the cost of a large reply for a large collection.
import Support

extension CommandContext {
    /// MATCH pattern (nil when absent) of a collection scan whose options start at `first`,
    /// or nil after replying Redis's error (COUNT not an integer or below 1, unknown option).
    /// COUNT is accepted and validated: every scan below returns the whole collection.
    public func collectionScanPattern(from first: Int) -> UnsafeRawBufferPointer?? {
        var pattern: UnsafeRawBufferPointer?
        var j = first
        while j < args.count {
            guard j + 1 < args.count else {
                error(RedisError.syntax)
                return nil
            }
            if args.equals(j, "count") {
                guard let count = integer(j + 1) else { return nil }
                guard count >= 1 else {
                    error(RedisError.syntax)
                    return nil
                }
            } else if args.equals(j, "match") {
                pattern = args[j + 1]
            } else {
                error(RedisError.syntax)
                return nil
            }
            j += 2
        }
        return .some(pattern)
    }

    /// Parses the cursor argument at `index` like Redis's parseScanCursorOrReply.
    public func scanCursor(_ index: Int) -> UInt64? {
        if let cursor = GenericFamily.parseCursor(args[index]) { return cursor }
        error("ERR invalid cursor")
        return nil
    }

    /// Replies a complete scan: cursor 0 and `elements` (already filtered).
    public func replyFinishedScan(_ elements: [[UInt8]]) {
        reply.arrayHeader(2)
        reply.bulk("0")
        reply.arrayHeader(elements.count)
        for element in elements { reply.bulk(element) }
    }
}
