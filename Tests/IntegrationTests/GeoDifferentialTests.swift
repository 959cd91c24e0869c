// GEO commands compared byte for byte with redis-server 7.0.15: GEOADD options and
// coordinate limits, GEODIST units, GEOHASH/GEOPOS formatting, every search form with its
// options and errors, STORE/STOREDIST and GEOSEARCHSTORE into new, existing and emptied keys,
// wrong types, RESP3 shapes, and searches over a few hundred points spread over the globe
// (poles, antimeridian, both encodings) so the cells scanned and the result order must match.
import Testing
import TestSupport

/// Points spread deterministically over the whole valid range, with a cluster around Rome.
private let worldPoints: String = (0..<300).map { index -> String in
    let longitude = index % 4 == 0 ? 12 + Double(index % 97) / 100 : Double((index * 7919) % 36001) / 100 - 180
    let latitude = index % 4 == 0 ? 41.5 + Double(index % 89) / 100 : Double((index * 104_729) % 17011) / 100 - 85.05
    return "\(longitude) \(latitude) p\(index)"
}.joined(separator: " ")

/// Searches over `key` around a spread of centres, radii, units and options.
private func worldSearches(_ key: String) -> String {
    let centres = [(12.5, 41.9), (0, 0), (179.9, 10), (-179.9, -10), (100, 84.9), (-60, -84), (12.9, 42.3)]
    let radii = [("0", "m"), ("500", "m"), ("70", "km"), ("800", "km"), ("3000", "mi"), ("40000", "km"), ("100000", "ft")]
    let options = ["", "ASC", "DESC", "COUNT 5", "COUNT 3 ANY", "COUNT 4 DESC", "COUNT 2 ANY ASC"]
    var lines: [String] = []
    for (index, (longitude, latitude)) in centres.enumerated() {
        for (step, (radius, unit)) in radii.enumerated() {
            let option = options[(index + step) % options.count]
            lines.append("georadius \(key) \(longitude) \(latitude) \(radius) \(unit) WITHDIST WITHHASH \(option)")
            lines.append("geosearch \(key) FROMLONLAT \(longitude) \(latitude) BYBOX \(radius) \(radius) \(unit) \(option) WITHCOORD")
            lines.append("geosearch \(key) FROMMEMBER p\(index * 40 + step) BYRADIUS \(radius) \(unit) \(option) WITHDIST")
            lines.append("geosearchstore dst \(key) FROMMEMBER p\(index * 40 + step + 1) BYBOX \(radius) 2\(radius) \(unit) \(option) STOREDIST")
            lines.append("zrange dst 0 -1 withscores")
        }
    }
    return lines.joined(separator: "\n")
}

let geoScripts: [Script] = [
    script("geoadd and point reads", """
    geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
    geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
    geoadd Sicily ch 13.361390 38.115556 Palermo 12 37 Agrigento
    geoadd Sicily nx ch 1 1 Palermo 2 2 New
    geoadd Sicily xx 3 3 Nope 14 38 New
    geoadd Sicily xx ch 14.1 38 New
    geoadd missing xx 1 1 a
    exists missing
    type Sicily
    zrange Sicily 0 -1 withscores
    geoadd Sicily 180 85.05112878 edge1 -180 -85.05112878 edge2 0 0 origin
    geopos Sicily Palermo Catania edge1 edge2 origin nosuch
    geohash Sicily Palermo Catania edge1 edge2 origin nosuch
    geopos nokey a b
    geohash nokey a b
    geodist Sicily Palermo Catania
    geodist Sicily Palermo Catania m
    geodist Sicily Palermo Catania KM
    geodist Sicily Palermo Catania mi
    geodist Sicily Palermo Catania Ft
    geodist Sicily Palermo Palermo
    geodist Sicily edge1 edge2 km
    geodist Sicily Palermo nosuch
    geodist nokey a b
    zadd Sicily 1e15 notgeo
    geopos Sicily notgeo
    geodist Sicily Palermo notgeo
    """),
    script("scores that are no geohash", """
    zadd k -1 a -1e300 b 1e300 c inf d -inf e 9223372036854775808 f 18446744073709551615 g 9.3e18 h
    zadd k 4503599627370496 i 4503599627370495 j -0.5 l 1.5 m
    geopos k a b c d e f g h i j l m
    geohash k a b c d e f g h i j l m
    geodist k a b
    geodist k f h
    geosearch k FROMMEMBER a BYRADIUS 100 km
    geosearch k FROMMEMBER c BYRADIUS 100 km WITHDIST
    geosearch k FROMLONLAT 0 0 BYRADIUS 40000 km WITHHASH
    georadiusbymember k h 1000 km WITHCOORD
    """),
    script("geoadd and point errors", """
    geoadd k 181 10 a
    geoadd k -180.0001 10 a
    geoadd k 10 85.06 a
    geoadd k 10 -85.0511288 a
    geoadd k x 10 a
    geoadd k 10 "" a
    geoadd k 10 nan a
    geoadd k 1 2 a 3 4
    geoadd k nx xx 1 2 a
    geoadd k xx ch ch
    geoadd k 1 2
    geoadd k
    geodist k a b parsec
    geodist k a b km extra
    geodist k a
    geopos k
    geohash
    set str v
    geoadd str 1 2 a
    geoadd str 200 2 a
    geodist str a b
    geopos str a
    geohash str a
    """),
    script("search forms and options", """
    geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 12.758489 38.788135 edge 15.5 38 Messina
    georadius Sicily 15 37 200 km
    georadius Sicily 15 37 200 KM WITHDIST
    georadius Sicily 15 37 200 km WITHCOORD WITHDIST WITHHASH
    georadius Sicily 15 37 200 km WITHDIST ASC
    georadius Sicily 15 37 200 km WITHDIST DESC
    georadius Sicily 15 37 200 km COUNT 1
    georadius Sicily 15 37 200 km COUNT 2 DESC
    georadius Sicily 15 37 200 km COUNT 1 ANY
    georadius Sicily 15 37 200 km COUNT 10 ANY DESC WITHDIST
    georadius Sicily 15 37 120 mi WITHDIST
    georadius Sicily 15 37 400000 ft WITHDIST
    georadius Sicily 15 37 0 km
    georadius nokey 15 37 200 km
    georadius_ro Sicily 15 37 200 km WITHDIST ASC
    georadiusbymember Sicily Palermo 200 km WITHDIST
    georadiusbymember Sicily Palermo 0 km
    georadiusbymember Sicily Palermo 100 mi COUNT 2 WITHCOORD
    georadiusbymember_ro Sicily Catania 100 km DESC
    georadiusbymember nokey nosuch -1 parsec
    geosearch Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC WITHCOORD WITHDIST WITHHASH
    geosearch Sicily FROMMEMBER Palermo BYRADIUS 200 km DESC
    geosearch Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHDIST
    geosearch Sicily FROMLONLAT 15 37 BYBOX 100 400 km ASC WITHDIST
    geosearch Sicily FROMMEMBER Catania BYBOX 300 50 km COUNT 2
    geosearch Sicily FROMMEMBER Catania BYBOX 0 0 km
    geosearch Sicily byradius 200 km frommember Palermo withdist count 3 any
    geosearch nokey FROMMEMBER nosuch BYRADIUS 10 km
    geosearch nokey FROMLONLAT 1 2 BYBOX 1 1 km
    """),
    script("search errors", """
    geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
    georadius Sicily 15 37 200 parsec
    georadius Sicily 15 37 -1 km
    georadius Sicily 15 37 x km
    georadius Sicily 190 37 200 km
    georadius Sicily x 37 200 km
    georadius Sicily 15 37 200 km COUNT 0
    georadius Sicily 15 37 200 km COUNT -3
    georadius Sicily 15 37 200 km COUNT x
    georadius Sicily 15 37 200 km COUNT
    georadius Sicily 15 37 200 km ANY
    georadius Sicily 15 37 200 km BYBOX 1 1 km
    georadius Sicily 15 37 200 km WITHDIST STORE dst
    georadius Sicily 15 37 200 km STORE
    georadius Sicily 15 37 200
    georadius_ro Sicily 15 37 200 km STORE dst
    georadius_ro Sicily 15 37 200 km STOREDIST dst
    georadiusbymember Sicily nosuch 200 km
    georadiusbymember Sicily Palermo -5 km
    georadiusbymember Sicily Palermo 5 lightyears
    georadiusbymember Sicily Palermo 5 km WITHHASH STOREDIST dst
    georadiusbymember_ro Sicily Palermo 5 km STORE dst
    geosearch Sicily BYRADIUS 10 km
    geosearch Sicily FROMMEMBER Palermo
    GeoSearch Sicily FROMMEMBER Palermo WITHDIST
    geosearch Sicily FROMMEMBER nosuch BYRADIUS 10 km
    geosearch Sicily FROMMEMBER Palermo FROMLONLAT 1 2 BYRADIUS 10 km
    geosearch Sicily FROMLONLAT 1 2 FROMMEMBER Palermo BYRADIUS 10 km
    geosearch Sicily FROMLONLAT 1 2 BYRADIUS 10 km BYBOX 1 1 km
    geosearch Sicily FROMLONLAT 1 2 BYBOX 1 1 km BYRADIUS 10 km
    geosearch Sicily FROMLONLAT 1 2 BYBOX -1 1 km
    geosearch Sicily FROMLONLAT 1 2 BYBOX x 1 km
    geosearch Sicily FROMLONLAT 1 2 BYBOX 1 y km
    geosearch Sicily FROMLONLAT 1 2 BYBOX 1 1 kmx
    geosearch Sicily FROMLONLAT 1 2 BYBOX 1 1
    geosearch Sicily FROMLONLAT 181 2 BYBOX 1 1 km
    geosearch Sicily FROMLONLAT 1 86 BYRADIUS 1 km
    geosearch Sicily FROMLONLAT 1 2 BYRADIUS -1 km
    geosearch Sicily FROMLONLAT 1 2 BYRADIUS x km
    geosearch Sicily FROMLONLAT 1 2 BYRADIUS 1 km STOREDIST
    geosearch Sicily FROMLONLAT 1 2 BYRADIUS 1 km STORE dst
    geosearch Sicily FROMLONLAT 1 2 BYRADIUS 1 km ANY
    geosearch Sicily FROMLONLAT 1 2 BYRADIUS 1 km COUNT 0
    geosearchstore dst Sicily FROMLONLAT 1 2 BYRADIUS 1 km WITHCOORD
    geosearchstore dst Sicily FROMLONLAT 1 2 BYRADIUS 1 km STORE x
    geosearchstore dst Sicily FROMLONLAT 1 2
    geosearchstore dst Sicily BYBOX 1 1 km
    geosearch Sicily
    geosearchstore dst Sicily
    set str v
    geosearch str FROMLONLAT 1 2 BYRADIUS 1 km
    geosearch str FROMLONLAT 1 2
    georadius str 1 2 1 km
    georadius str 1 2 -1 km
    georadiusbymember str a 1 km
    geosearchstore dst str FROMLONLAT 1 2 BYRADIUS 1 km
    geosearchstore str Sicily FROMLONLAT 15 37 BYRADIUS 200 km
    type str
    zrange str 0 -1 withscores
    """),
    script("stores", """
    geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
    georadius Sicily 15 37 200 km STORE dst
    zrange dst 0 -1 withscores
    georadius Sicily 15 37 200 km STOREDIST dst2
    zrange dst2 0 -1 withscores
    georadius Sicily 15 37 200 km STORE a STOREDIST b
    exists a
    zrange b 0 -1 withscores
    georadius Sicily 15 37 200 mi STOREDIST dst COUNT 1
    zrange dst 0 -1 withscores
    georadiusbymember Sicily Palermo 300 km COUNT 1 DESC STORE dst
    zrange dst 0 -1 withscores
    set dst3 string
    expire dst3 100
    geosearchstore dst3 Sicily FROMMEMBER Palermo BYBOX 500 500 km STOREDIST
    type dst3
    ttl dst3
    zrange dst3 0 -1 withscores
    geosearchstore dst3 Sicily FROMLONLAT 0 0 BYRADIUS 1 km
    exists dst3
    georadius Sicily 0 0 1 km STORE dst
    exists dst
    georadiusbymember nokey a 1 km STORE dst2
    exists dst2
    geosearchstore dst nokey FROMLONLAT 0 0 BYRADIUS 1 km
    geosearchstore Sicily Sicily FROMMEMBER Palermo BYRADIUS 1 km STOREDIST
    zrange Sicily 0 -1 withscores
    """),
    script("stored encodings, scripts and transactions", """
    geoadd w \((0..<200).map { "\(Double($0) / 1000) \(Double($0) / 1000) p\($0)" }.joined(separator: " "))
    geoadd w 1 1 \(String(repeating: "x", count: 70))
    georadius w 0 0 1000 km STORE d1
    object encoding d1
    georadius w 0 0 0.2 km STORE d2
    object encoding d2
    zrange d2 0 -1 withscores
    georadius w 1 1 1 km STORE d3
    object encoding d3
    geosearchstore d4 w FROMLONLAT 0 0 BYRADIUS 1000 km COUNT 128
    object encoding d4
    geosearchstore d4 w FROMLONLAT 0 0 BYRADIUS 1000 km COUNT 129
    object encoding d4
    eval "return redis.call('geopos', KEYS[1], 'p1', 'nope')" 1 w
    eval "return redis.call('geodist', KEYS[1], 'p1', 'p2')" 1 w
    eval "return redis.call('georadius', KEYS[1], 0, 0, 1, 'km', 'WITHDIST', 'WITHCOORD', 'WITHHASH')" 1 w
    eval "return redis.call('georadius', KEYS[1], 0, 0, 1, 'km', 'STORE', KEYS[1])" 1 w
    eval "return redis.call('georadius_ro', KEYS[1], 0, 0, 1, 'km', 'STORE', KEYS[1])" 1 w
    multi
    geoadd m 1 1 a
    geopos m a
    georadius m 1 1 1 km STORE m2
    exec
    zrange m2 0 -1 withscores
    command getkeys georadius_ro k 1 2 3 km
    command getkeys georadius k 1 2 3 km STORE a STOREDIST b
    command getkeys geosearchstore d s FROMMEMBER m BYRADIUS 1 km
    hello 3
    eval "return redis.call('geopos', KEYS[1], 'p1', 'nope')" 1 w
    eval "return redis.call('geodist', KEYS[1], 'p1', 'p2')" 1 w
    """),
    script("extreme sizes", """
    geoadd w \((0..<200).map { "\(Double(($0 * 7919) % 36001) / 100 - 180) \(Double(($0 * 104_729) % 17011) / 100 - 85.05) p\($0)" }.joined(separator: " "))
    geoadd w 0 0 z1 0 0 z2 0 0 z3 0.0001 0 z4
    georadius w 0 0 inf km
    georadius w 0 0 1e308 km COUNT 3
    georadius w 0 0 -0 km
    geosearch w FROMLONLAT 0 0 BYBOX inf 1 km COUNT 2
    geosearch w FROMLONLAT 0 0 BYBOX 1 inf km
    geosearch w FROMLONLAT 10 80 BYBOX 1e7 1e7 km COUNT 5 WITHDIST
    georadius w 0 0 1 km COUNT 9223372036854775807
    georadius w 0 0 1 km COUNT 9223372036854775807 ANY
    georadius w 0 0 1 km COUNT 9223372036854775808
    georadius w 0 0 20 km WITHDIST DESC COUNT 2
    geosearch w FROMLONLAT 180 85.05112878 BYRADIUS 5000 km
    geosearch w FROMLONLAT -180 -85.05112878 BYBOX 5000 9000 km DESC
    geosearch w FROMMEMBER z1 BYRADIUS 0 km
    geosearch w FROMMEMBER z1 BYBOX 0 0 m
    georadius w 0 0 1e-300 m
    georadius w 1e-320 -0 1 m WITHCOORD
    geosearch w FROMLONLAT 0 0 BYRADIUS 20000 km count 1 any desc
    geodist w z1 z4 ft
    georadius w 0 0 " 1" km
    georadius w " 0" 0 1 km
    georadius w 0 0 1 " km"
    """),
    script("resp3 shapes", """
    geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
    hello 3
    geopos Sicily Palermo nosuch
    geohash Sicily Palermo nosuch
    geodist Sicily Palermo Catania
    geodist Sicily Palermo nosuch
    geodist nokey a b
    georadius Sicily 15 37 200 km WITHDIST WITHCOORD WITHHASH ASC
    geosearch Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC
    geosearch Sicily FROMLONLAT 0 0 BYRADIUS 1 km
    geosearch nokey FROMLONLAT 0 0 BYRADIUS 1 km
    geopos nokey a
    hello 2
    """),
    script("world listpack", """
    geoadd world \(worldPoints.split(separator: " ").prefix(120 * 3).joined(separator: " "))
    object encoding world
    \(worldSearches("world"))
    """),
    script("world skiplist", """
    geoadd world \(worldPoints)
    object encoding world
    geohash world p0 p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 p11
    geopos world p0 p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 p11
    geodist world p0 p1 km
    geodist world p2 p3 mi
    \(worldSearches("world"))
    """),
]

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct GeoDifferentialTests {
    @Test(arguments: [1, 4]) func geoScriptsMatchRedis(threads: Int) throws {
        #expect(try expectMatchesRedis(geoScripts, threads: threads) >= 500)
    }
}
