// The GEO command group of Redis 7.0 (GEOADD, GEODIST, GEOHASH, GEOPOS and the searches).
// A geo key is a plain sorted set whose scores are 52-bit geohashes (Support's GeoHash), so
// TYPE says zset and every sorted set command works on it. This file holds the command
// table entries, argument parsing shared by the family and the point commands; the area
// searches (GEOSEARCH, GEOSEARCHSTORE, GEORADIUS*) are in GeoFamily+Search.swift. Replies and
// errors follow Redis 7.0.15's geo.c byte for byte, in RESP2 and RESP3.
import RESP
import Storage
import Support

public enum GeoFamily {
    static let units: [CommandArgument] = [.token("M"), .token("KM"), .token("FT"), .token("MI")]
    static let radiusUnit = CommandArgument("unit", .oneof, units)
    static let replyOptions: [CommandArgument] = [.token("WITHCOORD", flags: .optional), .token("WITHDIST", flags: .optional),
                                                  .token("WITHHASH", flags: .optional)]
    static func countBlock(anySince: String?) -> CommandArgument {
        CommandArgument("count", .block, flags: .optional,
                        [CommandArgument("count", .integer, token: "COUNT"), .token("ANY", flags: .optional, since: anySince)])
    }
    static let order = CommandArgument("order", .oneof, flags: .optional, [.token("ASC"), .token("DESC")])
    static let storeKeys: [CommandArgument] = [CommandArgument("key", .key, token: "STORE", keySpec: 1, flags: .optional),
                                               CommandArgument("key", .key, token: "STOREDIST", keySpec: 2, flags: .optional)]
    static let searchArguments: [CommandArgument] = [
        CommandArgument("from", .oneof, [
            CommandArgument("member", .string, token: "FROMMEMBER"),
            CommandArgument("longitude_latitude", .block, token: "FROMLONLAT",
                            [CommandArgument("longitude", .double), CommandArgument("latitude", .double)])]),
        CommandArgument("by", .oneof, [
            CommandArgument("circle", .block, [CommandArgument("radius", .double, token: "BYRADIUS"), radiusUnit]),
            CommandArgument("box", .block, [CommandArgument("width", .double, token: "BYBOX"), CommandArgument("height", .double),
                                            radiusUnit])]),
        order,
        countBlock(anySince: nil)]
    static let readKey = KeySpec([.RO, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0))
    static func storeKeySpecs(startFrom: Int) -> [KeySpec] {
        ["STORE", "STOREDIST"].map { KeySpec([.OW, .update], .keyword($0, startFrom: startFrom), .range(lastKey: 0, step: 1, limit: 0)) }
    }
    static let radiusComplexity = "O(N+log(M)), N elements in the bounding box of the circle, M elements in the set"
    static let searchComplexity = "O(N+log(M)), N elements in the grid-aligned bounding box of the shape, M elements in the set"

    public static let specs: [CommandSpec] = [
        CommandSpec("geoadd", arity: -5, flags: [.write, .denyoom], acl: [.geo],
            keys: [KeySpec([.RW, .update], .index(1), .range(lastKey: 0, step: 1, limit: 0))],
            group: .geo, since: "3.2.0",
            summary: "Add points (longitude, latitude, member) to a geospatial index, a sorted set.",
            complexity: "O(log N) per point for a set of N members",
            history: [("6.2.0", "Added the `CH`, `NX` and `XX` options.")],
            arguments: [.key(),
                        CommandArgument("condition", .oneof, flags: .optional, since: "6.2.0", [.token("NX"), .token("XX")]),
                        CommandArgument("change", .pureToken, token: "CH", flags: .optional, since: "6.2.0"),
                        CommandArgument("longitude_latitude_member", .block, flags: .multiple,
                                        [CommandArgument("longitude", .double), CommandArgument("latitude", .double),
                                         CommandArgument("member", .string)])],
            handler: geoadd),
        CommandSpec("geodist", arity: -4, flags: [.readonly], acl: [.geo],
            keys: [readKey],
            group: .geo, since: "3.2.0",
            summary: "Distance between two members of a geospatial index.",
            complexity: "O(log N)",
            arguments: [.key(), CommandArgument("member1", .string), CommandArgument("member2", .string),
                        CommandArgument("unit", .oneof, flags: .optional, units)],
            handler: geodist),
        CommandSpec("geohash", arity: -2, flags: [.readonly], acl: [.geo],
            keys: [readKey],
            group: .geo, since: "3.2.0",
            summary: "Standard 11-character geohash strings of members of a geospatial index.",
            complexity: "O(log N) per member asked",
            arguments: [.key(), CommandArgument("member", .string, flags: .multiple)],
            handler: geohash),
        CommandSpec("geopos", arity: -2, flags: [.readonly], acl: [.geo],
            keys: [readKey],
            group: .geo, since: "3.2.0",
            summary: "Longitude and latitude of members of a geospatial index.",
            complexity: "O(N) for N members asked",
            arguments: [.key(), CommandArgument("member", .string, flags: .multiple)],
            handler: geopos),
        CommandSpec("georadius", arity: -6, flags: [.write, .denyoom], acl: [.geo],
            keys: [readKey] + storeKeySpecs(startFrom: 6),
            group: .geo, since: "3.2.0",
            summary: "Members of a geospatial index within a radius of a point, optionally stored.",
            complexity: radiusComplexity,
            docFlags: ["deprecated"], deprecatedSince: "6.2.0",
            replacedBy: "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument",
            history: [("6.2.0", "Added the `ANY` option for `COUNT`."), ("7.0.0", "Added support for uppercase unit names.")],
            arguments: [.key(), CommandArgument("longitude", .double), CommandArgument("latitude", .double),
                        CommandArgument("radius", .double), radiusUnit] + replyOptions
                        + [countBlock(anySince: "6.2.0"), order] + storeKeys,
            handler: { search($0, .radius) }),
        CommandSpec("georadius_ro", arity: -6, flags: [.readonly], acl: [.geo],
            keys: [readKey],
            group: .geo, since: "3.2.10",
            summary: "Members of a geospatial index within a radius of a point.",
            complexity: radiusComplexity,
            docFlags: ["deprecated"], deprecatedSince: "6.2.0", replacedBy: "`GEOSEARCH` with the `BYRADIUS` argument",
            history: [("6.2.0", "Added the `ANY` option for `COUNT`.")],
            arguments: [.key(), CommandArgument("longitude", .double), CommandArgument("latitude", .double),
                        CommandArgument("radius", .double), radiusUnit] + replyOptions + [countBlock(anySince: "6.2.0"), order],
            handler: { search($0, .radiusReadOnly) }),
        CommandSpec("georadiusbymember", arity: -5, flags: [.write, .denyoom], acl: [.geo],
            keys: [readKey] + storeKeySpecs(startFrom: 5),
            group: .geo, since: "3.2.0",
            summary: "Members of a geospatial index within a radius of one of its members, optionally stored.",
            complexity: radiusComplexity,
            docFlags: ["deprecated"], deprecatedSince: "6.2.0",
            replacedBy: "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments",
            history: [("7.0.0", "Added support for uppercase unit names.")],
            arguments: [.key(), CommandArgument("member", .string), CommandArgument("radius", .double), radiusUnit]
                        + replyOptions + [countBlock(anySince: nil), order] + storeKeys,
            handler: { search($0, .radiusByMember) }),
        CommandSpec("georadiusbymember_ro", arity: -5, flags: [.readonly], acl: [.geo],
            keys: [readKey],
            group: .geo, since: "3.2.10",
            summary: "Members of a geospatial index within a radius of one of its members.",
            complexity: radiusComplexity,
            docFlags: ["deprecated"], deprecatedSince: "6.2.0",
            replacedBy: "`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments",
            arguments: [.key(), CommandArgument("member", .string), CommandArgument("radius", .double), radiusUnit]
                        + replyOptions + [countBlock(anySince: nil), order],
            handler: { search($0, .radiusByMemberReadOnly) }),
        CommandSpec("geosearch", arity: -7, flags: [.readonly], acl: [.geo],
            keys: [readKey],
            group: .geo, since: "6.2.0",
            summary: "Members of a geospatial index within a circle or box around a point or member.",
            complexity: searchComplexity,
            history: [("7.0.0", "Added support for uppercase unit names.")],
            arguments: [.key()] + searchArguments + replyOptions,
            handler: { search($0, .search) }),
        CommandSpec("geosearchstore", arity: -8, flags: [.write, .denyoom], acl: [.geo],
            keys: [KeySpec([.OW, .update], .index(1), .range(lastKey: 0, step: 1, limit: 0)),
                   KeySpec([.RO, .access], .index(2), .range(lastKey: 0, step: 1, limit: 0))],
            group: .geo, since: "6.2.0",
            summary: "Store the members of a geospatial index within a circle or box around a point or member.",
            complexity: searchComplexity,
            history: [("7.0.0", "Added support for uppercase unit names.")],
            arguments: [.key("destination"), .key("source", spec: 1)] + searchArguments
                        + [.token("STOREDIST", flags: .optional)],
            handler: { search($0, .searchStore) }),
    ]

    // MARK: Shared argument parsing and replies

    /// Metres per unit of the unit argument at `index` (m, km, ft, mi in any case), or
    /// replies Redis's error.
    static func metresPerUnit(_ c: CommandContext, _ index: Int) -> Double? {
        if c.args.equals(index, "m") { return 1 }
        if c.args.equals(index, "km") { return 1000 }
        if c.args.equals(index, "ft") { return 0.3048 }
        if c.args.equals(index, "mi") { return 1609.34 }
        c.error(RedisError.geoUnknownUnit)
        return nil
    }

    /// The longitude and latitude at `index` and `index + 1`, or replies Redis's error when
    /// one is not a float or the pair lies outside what a geohash can hold.
    static func coordinates(_ c: CommandContext, _ index: Int) -> (longitude: Double, latitude: Double)? {
        guard let longitude = ZSetFamily.score(c, index), let latitude = ZSetFamily.score(c, index + 1) else { return nil }
        guard GeoHash.isValid(longitude: longitude, latitude: latitude) else {
            c.error(RedisError.geoInvalidPair(longitude, latitude))
            return nil
        }
        return (longitude, latitude)
    }

    /// A distance as Redis replies it: a bulk string with four decimals.
    static func replyDistance(_ c: CommandContext, _ distance: Double) {
        c.reply.bulk(Numbers.fixedPoint(distance, digits: 4))
    }

    /// A longitude/latitude pair as Redis replies it (long double in human form).
    static func replyPosition(_ c: CommandContext, _ position: (longitude: Double, latitude: Double)) {
        c.reply.arrayHeader(2)
        c.reply.double(formatted: Numbers.humanLongDouble(Float80(position.longitude)))
        c.reply.double(formatted: Numbers.humanLongDouble(Float80(position.latitude)))
    }

    // MARK: GEOADD

    static func geoadd(_ c: CommandContext) {
        var options = ZSetFamily.AddOptions()
        var first = 2
        while first < c.args.count {
            if c.args.equals(first, "nx") { options.nx = true }
            else if c.args.equals(first, "xx") { options.xx = true }
            else if c.args.equals(first, "ch") { options.ch = true }
            else { break }
            first += 1
        }
        let remaining = c.args.count - first
        guard remaining > 0 && remaining % 3 == 0 && !(options.nx && options.xx) else { return c.error(RedisError.syntax) }
        var scores: [Double] = []
        for point in 0..<remaining / 3 {
            guard let (longitude, latitude) = coordinates(c, first + point * 3) else { return }
            scores.append(GeoHash.score(longitude: longitude, latitude: latitude))
        }
        c.withKey(1) { shard, key, hash in
            let memberAt = { first + $0 * 3 + 2 }
            guard ZSetFamily.applyAdd(c, shard, key, hash, options, scores: scores, memberAt: memberAt) else { return }
            // Redis runs GEOADD as the ZADD it amounts to, and propagates that ZADD.
            c.rewritePropagated { command in
                command.add("zadd")
                for index in 1..<first { command.add(c.args[index]) }
                for (point, score) in scores.enumerated() {
                    command.add(Int64(score))
                    command.add(c.args[memberAt(point)])
                }
            }
        }
    }

    // MARK: Point reads

    static func geodist(_ c: CommandContext) {
        var metres = 1.0
        if c.args.count == 5 {
            guard let unit = metresPerUnit(c, 4) else { return }
            metres = unit
        } else if c.args.count > 5 {
            return c.error(RedisError.syntax)
        }
        c.readCollection(keyAt: 1, ZSetValue.self, missing: { c.reply.nullBulk() }) { zset in
            guard let score1 = zset.score(of: c.args[2]), let score2 = zset.score(of: c.args[3]) else {
                return c.reply.nullBulk()
            }
            let (point1, point2) = (GeoHash.position(ofScore: score1), GeoHash.position(ofScore: score2))
            replyDistance(c, GeoHash.distance(point1.longitude, point1.latitude, point2.longitude, point2.latitude) / metres)
        }
    }

    static func geohash(_ c: CommandContext) {
        replyPerMember(c, missing: { c.reply.nullBulk() }) { score in c.reply.bulk(GeoHash.base32(ofScore: score)) }
    }

    static func geopos(_ c: CommandContext) {
        replyPerMember(c, missing: { c.reply.nullArray() }) { score in replyPosition(c, GeoHash.position(ofScore: score)) }
    }

    /// GEOHASH and GEOPOS: one reply per member argument, `missing` for members (or a key)
    /// that do not exist.
    static func replyPerMember(_ c: CommandContext, missing: () -> Void, _ replyScore: (Double) -> Void) {
        c.withKey(1) { shard, key, hash in
            var keyMissing = false
            let zset = c.readCollection(shard, key, hash, ZSetValue.self, missing: { keyMissing = true })
            guard zset != nil || keyMissing else { return }
            c.reply.arrayHeader(c.args.count - 2)
            for index in 2..<c.args.count {
                if let score = zset?.score(of: c.args[index]) { replyScore(score) } else { missing() }
            }
        }
    }
}
