// SORT and SORT_RO: order the elements of a list, set or sorted set numerically or
// lexicographically, optionally by weights read from other keys (BY pattern, where `*` is
// replaced by the element and `->field` reads a hash field), returning a LIMIT window and
// GET patterns instead of the elements, or storing the result as a list (STORE).
// Behaviour follows Redis's sort.c: BY without `*` means "do not sort" (native order, DESC
// reverses lists and sorted sets), sets are sorted ALPHA when stored unsorted, missing
// weights count as 0 (or sort first with ALPHA), equal numeric weights fall back to comparing
// the elements, and GET of a missing key is null (an empty string when stored).
import RESP
import Storage
import Support

extension GenericFamily {
    static let sortSpecs: [CommandSpec] = [sortSpec(readOnly: false), sortSpec(readOnly: true)]

    private static func sortSpec(readOnly: Bool) -> CommandSpec {
        var keys = [KeySpec.single([.RO, .access]),
                    KeySpec([.RO, .access], .unknown, .unknown,
                            notes: "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort")]
        var arguments = [CommandArgument.key(),
                         CommandArgument("pattern", .pattern, token: "BY", keySpec: 1, flags: .optional),
                         CommandArgument("offset_count", .block, token: "LIMIT", flags: .optional,
                                         [CommandArgument("offset", .integer), CommandArgument("count", .integer)]),
                         CommandArgument("pattern", .pattern, token: "GET", keySpec: 1, flags: [.optional, .multiple, .multipleToken]),
                         CommandArgument("order", .oneof, flags: .optional, [.token("ASC"), .token("DESC")]),
                         CommandArgument("sorting", .pureToken, token: "ALPHA", flags: .optional)]
        if !readOnly {
            keys.append(KeySpec([.OW, .update], .unknown, .unknown,
                                notes: "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array"))
            arguments.append(CommandArgument("destination", .key, token: "STORE", keySpec: 2, flags: .optional))
        }
        let spec = CommandSpec(readOnly ? "sort_ro" : "sort", arity: -2, flags: readOnly ? [.readonly] : [.write, .denyoom],
                               acl: [.set, .sortedset, .list, .dangerous], keys: keys, group: .generic,
                               since: readOnly ? "7.0.0" : "1.0.0",
                               summary: readOnly ? "Sort a list, set or sorted set without the STORE option (safe on replicas)."
                                                 : "Sort a list, set or sorted set, optionally by external weights, storing or returning the result.",
                               complexity: "O(N+M*log(M)): N elements in the collection, M elements returned; O(N) when not sorting",
                               arguments: arguments, handler: { sort($0, readOnly: readOnly) })
        spec.keyFinder = readOnly ? { _, _ in [(1, [.RO, .access])] } : sortKeys
        return spec
    }

    /// SORT's keys for COMMAND GETKEYS: the sorted key and the last STORE destination,
    /// skipping the arguments of LIMIT, GET and BY as Redis's sortGetKeys does.
    private static func sortKeys(_ count: Int, _ argument: (Int) -> UnsafeRawBufferPointer) -> [KeyReference] {
        var keys: [KeyReference] = [(1, [.RO, .access])]
        var store: Int?
        var i = 2
        while i < count {
            let word = argument(i)
            if ASCII.equalsIgnoringCase(word, keyword: "limit") { i += 2 }
            else if ASCII.equalsIgnoringCase(word, keyword: "get") || ASCII.equalsIgnoringCase(word, keyword: "by") { i += 1 }
            else if ASCII.equalsIgnoringCase(word, keyword: "store") && i + 1 < count { store = i + 1 }
            i += 1
        }
        if let store { keys.append((store, [.OW, .update])) }
        return keys
    }

    private struct SortOptions {
        var by: [UInt8]?
        var dontSort = false
        var limitStart = 0
        var limitCount = -1
        var gets: [[UInt8]] = []
        var descending = false
        var alpha = false
        /// Argument index of the STORE destination.
        var storeIndex: Int?
    }

    /// Parses SORT's options, replying Redis's error and returning nil on a bad one.
    private static func sortOptions(_ c: CommandContext, readOnly: Bool) -> SortOptions? {
        var options = SortOptions()
        var j = 2
        while j < c.args.count {
            let remaining = c.args.count - j - 1
            if c.args.equals(j, "asc") {
                options.descending = false
            } else if c.args.equals(j, "desc") {
                options.descending = true
            } else if c.args.equals(j, "alpha") {
                options.alpha = true
            } else if c.args.equals(j, "limit") && remaining >= 2 {
                guard let start = c.integer(j + 1), let count = c.integer(j + 2) else { return nil }
                options.limitStart = Int(start)
                options.limitCount = Int(count)
                j += 2
            } else if !readOnly && c.args.equals(j, "store") && remaining >= 1 {
                options.storeIndex = j + 1
                j += 1
            } else if c.args.equals(j, "by") && remaining >= 1 {
                options.by = Array(c.args[j + 1])
                // A pattern without `*` names no per-element key: nothing to sort by.
                options.dontSort = !options.by!.contains(42)
                j += 1
            } else if c.args.equals(j, "get") && remaining >= 1 {
                options.gets.append(Array(c.args[j + 1]))
                j += 1
            } else {
                c.error(RedisError.syntax)
                return nil
            }
            j += 1
        }
        return options
    }

    /// The elements of the key to sort in their native order (list order, set iteration
    /// order, sorted-set rank order) and its kind; nil after WRONGTYPE. A missing key sorts
    /// as an empty list.
    private static func sortSource(_ c: CommandContext) -> (elements: [[UInt8]], kind: ValueKind)? {
        c.withKey(1) { shard, key, hash in
            guard let entry = c.lookupRead(shard, key, hash) else { return ([], .list) }
            var elements: [[UInt8]] = []
            switch entry.kind {
            case .list:
                let list = entry.collection(as: ListValue.self)
                elements.reserveCapacity(list.count)
                list.forEach(from: 0, length: list.count) { elements.append(Array($0)) }
            case .set:
                elements = entry.collection(as: SetValue.self).members()
            case .zset:
                let zset = entry.collection(as: ZSetValue.self)
                elements.reserveCapacity(zset.count)
                zset.forEach(ranks: 0..<zset.count, reverse: false) { member, _ in elements.append(Array(member)) }
            default:
                c.error(RedisError.wrongType)
                return nil
            }
            return (elements, entry.kind)
        }
    }

    // DIVERGENCE: the keys a pattern names are only known once the elements are read, so each
    // lookup takes its own shard lock: with several worker threads a concurrent writer may be
    // seen half-way through a sort (Redis, single-threaded, sorts one snapshot).
    /// Redis's lookupKeyByPattern: `#` is the element itself; otherwise the first `*` is
    /// replaced by the element and the resulting string key is read, or with `->field` after
    /// the `*` that field of the resulting hash. A pattern without `*` finds nothing.
    private static func lookup(_ c: CommandContext, pattern: [UInt8], element: [UInt8]) -> [UInt8]? {
        if pattern == [35] { return element }
        guard let star = pattern.firstIndex(of: 42) else { return nil }
        var keyEnd = pattern.count
        var field: ArraySlice<UInt8>?
        if let arrow = (star + 1..<max(star + 1, pattern.count - 1)).first(where: { pattern[$0] == 45 && pattern[$0 + 1] == 62 }),
           arrow + 2 < pattern.count {
            keyEnd = arrow
            field = pattern[(arrow + 2)...]
        }
        let key = Array(pattern[..<star]) + element + pattern[(star + 1)..<keyEnd]
        return key.withUnsafeBytes { key in
            let shard = c.keyspace.shard(for: key)
            return shard.withLock {
                guard let entry = c.lookupRead(shard, key, KeyHash.hash(key)) else { return nil }
                if let field {
                    guard entry.kind == .hash else { return nil }
                    return Array(field).withUnsafeBytes { entry.collection(as: HashValue.self).withValue($0) { Array($0) } } ?? nil
                }
                guard CommandContext.holdsString(entry) else { return nil }
                return c.withValueBytes(entry) { Array($0) }
            }
        }
    }

    private static func lexicographic(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.lexicographicallyPrecedes(b) ? -1 : (a == b ? 0 : 1)
    }

    static func sort(_ c: CommandContext, readOnly: Bool) {
        guard var options = sortOptions(c, readOnly: readOnly), let source = sortSource(c) else { return }
        var elements = source.elements
        if options.dontSort && source.kind == .set && (options.storeIndex != nil || c.runningScript) {
            // Stored results and what scripts see must not depend on hash order: sort sets as strings.
            options = SortOptions(limitStart: options.limitStart, limitCount: options.limitCount, gets: options.gets,
                                  descending: options.descending, alpha: true, storeIndex: options.storeIndex)
        }
        let total = elements.count
        // Clamping to the size first keeps huge LIMIT values from overflowing, as in Redis.
        var start = min(max(options.limitStart, 0), total)
        let limitCount = min(max(options.limitCount, -1), total)
        var end = limitCount < 0 ? total - 1 : start + limitCount - 1
        if start >= total {
            start = total - 1
            end = total - 2
        }
        end = min(end, total - 1)

        if options.dontSort {
            // Lists and sorted sets keep their order, reversed by DESC; sets stay in theirs.
            if source.kind != .set && options.descending { elements.reverse() }
        } else {
            var conversionError = false
            let weights: [[UInt8]?] = elements.map { element in
                options.by.map { lookup(c, pattern: $0, element: element) } ?? element
            }
            var scores: [Double] = []
            if !options.alpha {
                scores = weights.map { weight in
                    guard let weight else { return 0 }
                    guard let score = weight.withUnsafeBytes({ Numbers.parseSortWeight($0) }) else {
                        conversionError = true
                        return 0
                    }
                    return score
                }
            }
            if conversionError { return c.error("ERR One or more scores can't be converted into double") }
            let byPattern = options.by != nil
            let order = Array(elements.indices).sorted { i, j in
                var comparison: Int
                if !options.alpha {
                    comparison = scores[i] < scores[j] ? -1 : (scores[i] > scores[j] ? 1 : lexicographic(elements[i], elements[j]))
                } else if byPattern {
                    switch (weights[i], weights[j]) {
                    case (nil, nil): comparison = 0
                    case (nil, _): comparison = -1
                    case (_, nil): comparison = 1
                    case (let a?, let b?): comparison = lexicographic(a, b)
                    }
                } else {
                    comparison = lexicographic(elements[i], elements[j])
                }
                return (options.descending ? -comparison : comparison) < 0
            }
            elements = order.map { elements[$0] }
        }

        let window = end >= start ? elements[start...end] : []
        if let storeIndex = options.storeIndex {
            let list = ListValue(fill: c.server.config.listMaxListpackSize)
            for element in window {
                if options.gets.isEmpty {
                    element.withUnsafeBytes { list.pushBack($0) }
                }
                for pattern in options.gets {
                    (lookup(c, pattern: pattern, element: element) ?? []).withUnsafeBytes { list.pushBack($0) }
                }
            }
            c.withKey(storeIndex) { shard, key, hash in c.storeCollection(shard, key, hash, list, event: (.list, "sortstore")) }
            return c.reply.integer(list.count)
        }
        c.reply.arrayHeader(options.gets.isEmpty ? window.count : window.count * options.gets.count)
        for element in window {
            if options.gets.isEmpty { c.reply.bulk(element) }
            for pattern in options.gets {
                if let value = lookup(c, pattern: pattern, element: element) { c.reply.bulk(value) } else { c.reply.nullBulk() }
            }
        }
    }
}
