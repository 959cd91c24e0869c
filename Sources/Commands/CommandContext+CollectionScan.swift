// HSCAN, SSCAN (and later ZSCAN): Redis's cursor and option parsing for scanning inside one
// collection, its step loop, and the `[cursor, [elements...]]` reply. Small encodings are
// returned whole in one call with cursor 0, as Redis does for listpacks and intsets;
// hashtables are walked bucket by bucket with the growth-safe reverse-binary cursor.
import Support

public struct CollectionScanOptions {
    public var pattern: UnsafeRawBufferPointer?
    public var count = 10
}

extension CommandContext {
    /// MATCH and COUNT of a collection scan whose options start at `first`, or nil after
    /// replying Redis's error (COUNT not an integer or below 1, unknown option).
    public func collectionScanOptions(from first: Int) -> CollectionScanOptions? {
        var options = CollectionScanOptions()
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
                options.count = Int(min(count, Int64(Int32.max)))
            } else if args.equals(j, "match") {
                options.pattern = args[j + 1]
            } else {
                error(RedisError.syntax)
                return nil
            }
            j += 2
        }
        return options
    }

    /// Parses the cursor argument at `index` like Redis's parseScanCursorOrReply.
    public func scanCursor(_ index: Int) -> UInt64? {
        if let cursor = GenericFamily.parseCursor(args[index]) { return cursor }
        error("ERR invalid cursor")
        return nil
    }

    /// Redis's scan loop: calls `step` (which appends what it visits to `elements`) from
    /// `cursor` until the walk ends (cursor 0), `target` elements were collected, or ten steps
    /// per wanted element were taken. Returns the next cursor.
    public func collectionScanSteps(from cursor: UInt64, target: Int, _ elements: inout [[UInt8]],
                                    _ step: (UInt64, inout [[UInt8]]) -> UInt64) -> UInt64 {
        var next = cursor
        var stepsLeft = target * 10
        repeat {
            next = step(next, &elements)
            stepsLeft -= 1
        } while next != 0 && stepsLeft >= 0 && elements.count < target
        return next
    }

    /// Replies `[cursor, elements]`, keeping only the groups of `groupSize` elements (a member,
    /// or a field and its value) whose first element matches `pattern`.
    public func replyCollectionScan(cursor: UInt64, _ elements: [[UInt8]], groupSize: Int,
                                    pattern: UnsafeRawBufferPointer?) {
        var kept = elements
        if let pattern {
            kept = stride(from: 0, to: elements.count, by: groupSize)
                .filter { index in elements[index].withUnsafeBytes { Glob.matches(pattern: pattern, string: $0) } }
                .flatMap { elements[$0..<$0 + groupSize] }
        }
        reply.arrayHeader(2)
        reply.bulk(String(cursor))
        reply.arrayHeader(kept.count)
        for element in kept { reply.bulk(element) }
    }
}
