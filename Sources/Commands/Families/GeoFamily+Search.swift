// The GEO area searches: GEOSEARCH, GEOSEARCHSTORE and the older GEORADIUS,
// GEORADIUSBYMEMBER and their _RO forms. Each finds the members within a circle or box by
// scanning the score ranges of the nine geohash cells around the centre (GeoHash.searchCells),
// keeps those inside the shape, optionally sorts them by distance and cuts them to COUNT,
// then replies them or stores them under a key. Parsing order, errors and the order of the
// results follow geo.c's georadiusGeneric.
import RESP
import Storage
import Support

extension GeoFamily {
    /// Which search command runs: where its centre and shape come from and what it may store.
    enum SearchForm {
        case radius, radiusReadOnly, radiusByMember, radiusByMemberReadOnly, search, searchStore

        var sourceIndex: Int { self == .searchStore ? 2 : 1 }
        /// The first argument after the fixed ones.
        var optionsIndex: Int {
            switch self {
            case .radius, .radiusReadOnly: return 6
            case .radiusByMember, .radiusByMemberReadOnly: return 5
            case .search: return 2
            case .searchStore: return 3
            }
        }
        var acceptsStoreOptions: Bool { self == .radius || self == .radiusByMember }
        var isSearch: Bool { self == .search || self == .searchStore }
        var storeEvent: StaticString { isSearch ? "geosearchstore" : "georadiusstore" }
    }

    /// One member found by a search.
    struct Match {
        var member: [UInt8]
        var score: Double
        var distance: Double
        var position: (longitude: Double, latitude: Double)
    }

    /// The options of a search once parsed.
    struct SearchRequest {
        var centre: (longitude: Double, latitude: Double)?
        var shape: GeoHash.Shape?
        var withDistance = false, withHash = false, withCoordinates = false
        var descending: Bool?
        var any = false
        var count: Int64 = 0
        var storeIndex: Int?
        var storeDistances = false
        var fromMember = false
    }

    /// Argument positions of the keys a GEORADIUS ... STORE/STOREDIST names, found by
    /// walking its options as georadiusGeneric will (so they can be locked beforehand).
    static func storeKeyPositions(_ c: CommandContext, _ form: SearchForm) -> [Int] {
        guard form.acceptsStoreOptions else { return form == .searchStore ? [1] : [] }
        var positions: [Int] = []
        var index = form.optionsIndex
        while index < c.args.count {
            let hasNext = index + 1 < c.args.count
            if hasNext && (c.args.equals(index, "store") || c.args.equals(index, "storedist")) {
                positions.append(index + 1)
                index += 1
            } else if hasNext && c.args.equals(index, "count") {
                index += 1
            }
            index += 1
        }
        return positions
    }

    static func search(_ c: CommandContext, _ form: SearchForm) {
        c.withKeys([form.sourceIndex] + storeKeyPositions(c, form)) {
            let sourceKey = c.args[form.sourceIndex]
            var keyMissing = false
            let zset = c.readCollection(c.keyspace.shard(for: sourceKey), sourceKey, KeyHash.hash(sourceKey), ZSetValue.self,
                                        missing: { keyMissing = true })
            guard zset != nil || keyMissing else { return }
            guard let request = parseSearch(c, form, zset) else { return }
            guard let zset, let centre = request.centre, let shape = request.shape else {
                if request.storeIndex != nil { store(c, form, request, []) } else { c.reply.arrayHeader(0) }
                return
            }
            var matches = collectMatches(zset, shape: shape, centre: centre, limit: request.any ? Int(request.count) : 0)
            // COUNT without ANY means the nearest ones.
            let descending = request.descending ?? ((request.count != 0 && !request.any) ? false : nil)
            if let descending {
                // DIVERGENCE: members at exactly the same distance keep their scan order here;
                // Redis's qsort/pqsort (partial when COUNT cuts the result) may order them otherwise.
                matches.sort { descending ? $0.distance > $1.distance : $0.distance < $1.distance }
            }
            if request.count != 0 && matches.count > request.count { matches.removeLast(matches.count - Int(request.count)) }
            if request.storeIndex != nil {
                store(c, form, request, matches.map { match in
                    var stored = match
                    if request.storeDistances { stored.score = match.distance / shape.metresPerUnit }
                    return stored
                })
            } else {
                reply(c, request, matches, metresPerUnit: shape.metresPerUnit)
            }
        }
    }

    /// Parses the centre, shape and options of `form` in georadiusGeneric's order, replying
    /// the first error met. A missing source key (`zset` nil) skips member lookups.
    static func parseSearch(_ c: CommandContext, _ form: SearchForm, _ zset: ZSetValue?) -> SearchRequest? {
        var request = SearchRequest()
        func memberPosition(_ index: Int) -> Bool {
            guard let score = zset?.score(of: c.args[index]) else {
                c.error(RedisError.geoMemberNotDecodable)
                return false
            }
            request.centre = GeoHash.position(ofScore: score)
            return true
        }
        func circle(_ index: Int) -> Bool {
            guard let radius = Numbers.parseDouble(c.args[index]) else {
                c.error(RedisError.geoRadiusNotNumeric)
                return false
            }
            if radius < 0 {
                c.error(RedisError.geoRadiusNegative)
                return false
            }
            guard let metres = metresPerUnit(c, index + 1) else { return false }
            request.shape = GeoHash.Shape(.radius(radius), metresPerUnit: metres)
            return true
        }
        switch form {
        case .radius, .radiusReadOnly:
            guard let centre = coordinates(c, 2) else { return nil }
            request.centre = centre
            guard circle(4) else { return nil }
        case .radiusByMember, .radiusByMemberReadOnly:
            if zset != nil {
                guard memberPosition(2), circle(3) else { return nil }
            }
        case .search, .searchStore:
            if form == .searchStore { request.storeIndex = 1 }
        }
        var byRadius = false, byBox = false, fromCoordinates = false
        var index = form.optionsIndex
        while index < c.args.count {
            let following = c.args.count - index - 1
            if c.args.equals(index, "withdist") {
                request.withDistance = true
            } else if c.args.equals(index, "withhash") {
                request.withHash = true
            } else if c.args.equals(index, "withcoord") {
                request.withCoordinates = true
            } else if c.args.equals(index, "any") {
                request.any = true
            } else if c.args.equals(index, "asc") {
                request.descending = false
            } else if c.args.equals(index, "desc") {
                request.descending = true
            } else if c.args.equals(index, "count") && following >= 1 {
                guard let count = c.integer(index + 1) else { return nil }
                guard count > 0 else {
                    c.error(RedisError.geoCountNotPositive)
                    return nil
                }
                request.count = count
                index += 1
            } else if form.acceptsStoreOptions && following >= 1
                        && (c.args.equals(index, "store") || c.args.equals(index, "storedist")) {
                request.storeIndex = index + 1
                request.storeDistances = c.args.equals(index, "storedist")
                index += 1
            } else if form == .searchStore && c.args.equals(index, "storedist") {
                request.storeDistances = true
            } else if form.isSearch && !fromCoordinates && following >= 1 && c.args.equals(index, "frommember") {
                if zset != nil && !memberPosition(index + 1) { return nil }
                request.fromMember = true
                index += 1
            } else if form.isSearch && !request.fromMember && following >= 2 && c.args.equals(index, "fromlonlat") {
                guard let centre = coordinates(c, index + 1) else { return nil }
                request.centre = centre
                fromCoordinates = true
                index += 2
            } else if form.isSearch && !byBox && following >= 2 && c.args.equals(index, "byradius") {
                guard circle(index + 1) else { return nil }
                byRadius = true
                index += 2
            } else if form.isSearch && !byRadius && following >= 3 && c.args.equals(index, "bybox") {
                guard let width = Numbers.parseDouble(c.args[index + 1]) else {
                    c.error(RedisError.geoWidthNotNumeric)
                    return nil
                }
                guard let height = Numbers.parseDouble(c.args[index + 2]) else {
                    c.error(RedisError.geoHeightNotNumeric)
                    return nil
                }
                if width < 0 || height < 0 {
                    c.error(RedisError.geoBoxNegative)
                    return nil
                }
                guard let metres = metresPerUnit(c, index + 3) else { return nil }
                request.shape = GeoHash.Shape(.box(width: width, height: height), metresPerUnit: metres)
                byBox = true
                index += 3
            } else {
                c.error(RedisError.syntax)
                return nil
            }
            index += 1
        }
        if request.storeIndex != nil && (request.withDistance || request.withHash || request.withCoordinates) {
            c.error(RedisError.geoStoreWithReplyOptions(form == .searchStore ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS"))
            return nil
        }
        let commandName = String(decoding: c.args[0], as: UTF8.self)
        if form.isSearch && !(request.fromMember || fromCoordinates) {
            c.error(RedisError.geoNeedsOneCentre(commandName))
            return nil
        }
        if form.isSearch && !(byRadius || byBox) {
            c.error(RedisError.geoNeedsOneShape(commandName))
            return nil
        }
        if request.any && request.count == 0 {
            c.error(RedisError.geoAnyNeedsCount)
            return nil
        }
        return request
    }

    /// The members inside `shape`, cell by cell in score order, stopping once `limit` (when
    /// not 0) are found.
    static func collectMatches(_ zset: ZSetValue, shape: GeoHash.Shape, centre: (longitude: Double, latitude: Double),
                               limit: Int) -> [Match] {
        var matches: [Match] = []
        for cell in GeoHash.searchCells(shape, longitude: centre.longitude, latitude: centre.latitude) {
            if limit != 0 && matches.count >= limit { break }
            let (min, max) = cell.scoreRange
            let lower = zset.countLeading { score, _ in score < min }
            let upper = zset.countLeading { score, _ in score < max }
            guard lower < upper else { continue }
            zset.walk(ranks: lower..<upper, reverse: false) { member, score in
                let position = GeoHash.position(ofScore: score)
                if let distance = GeoHash.distanceIfWithin(shape, centre: (centre.longitude, centre.latitude),
                                                           point: (position.longitude, position.latitude)) {
                    matches.append(Match(member: Array(member), score: score, distance: distance, position: position))
                }
                return limit == 0 || matches.count < limit
            }
        }
        return matches
    }

    static func reply(_ c: CommandContext, _ request: SearchRequest, _ matches: [Match], metresPerUnit: Double) {
        let extras = (request.withDistance ? 1 : 0) + (request.withHash ? 1 : 0) + (request.withCoordinates ? 1 : 0)
        c.reply.arrayHeader(matches.count)
        for match in matches {
            if extras > 0 { c.reply.arrayHeader(extras + 1) }
            c.reply.bulk(match.member)
            if request.withDistance { replyDistance(c, match.distance / metresPerUnit) }
            if request.withHash { c.reply.integer(Int64(match.score)) }
            if request.withCoordinates { replyPosition(c, match.position) }
        }
    }

    /// Stores `matches` (scored as they should be stored) under the destination key, which
    /// an empty result deletes, and replies their number.
    static func store(_ c: CommandContext, _ form: SearchForm, _ request: SearchRequest, _ matches: [Match]) {
        guard let storeIndex = request.storeIndex else { return }
        let longestMember = matches.map(\.member.count).max() ?? 0
        let destination = ZSetFamily.makeZSet(c, sizeHint: matches.count, longestMember: longestMember)
        for match in matches {
            match.member.withUnsafeBytes { ZSetFamily.insert(c, destination, $0, match.score) }
        }
        let key = c.args[storeIndex]
        c.storeCollection(c.keyspace.shard(for: key), key, KeyHash.hash(key), destination, event: (.zset, form.storeEvent))
        c.reply.integer(matches.count)
    }
}
