// Keyspace notifications against a real redis-server: a subscriber PSUBSCRIBEs
// `__key*__:*` on each server, a second connection runs a script of writes (every family,
// lazy expiry, misses, new keys, several databases), and the pmessages each subscriber
// receives must be byte-identical, in RESP2 and (as push frames) in RESP3. Replies to the
// writes themselves are covered by the family differential tests and not compared here.
// Needs pub/sub on Swiftlet: the suite runs once PSUBSCRIBE is in its command table.
import Foundation
import Testing
import TestSupport

let notificationScripts: [Script] = [
    script("strings and generic", """
    set s 1
    set s 2 ex 100
    set s 3 nx
    incr s
    incrbyfloat f 1.5
    append s x
    setrange s 0 a
    setrange s 0 ""
    getex s persist
    getex s px 5000
    getset s v
    getdel s
    mset a 1 b 2
    msetnx a 1 c 2
    setex a 10 v
    psetex a 10000 v
    setbit bits 3 1
    setbit bits 3 1
    bitfield bits set u8 0 255 get u8 0
    bitop or dest bits
    bitop or dest nothing
    del a b c dest
    set a 1
    rename a b
    rename b b
    renamenx b a
    move b 3
    set a 1
    copy a c db 2
    copy a c db 2 replace
    expire a 100
    expire a 100 nx
    persist a
    pexpire a -1
    set gone v pxat 1
    get gone
    get nope
    exists nope
    select 4
    set k4 v
    flushdb
    flushall
    """),
    script("lists", """
    rpush l a b c
    lpushx missing a
    linsert l before b x
    linsert l before nope x
    lset l 0 z
    lrem l 0 x
    lpop l 0
    lpop l
    lmove l m right left
    lmove l m left left
    rpoplpush m m
    ltrim m 0 -1
    ltrim m 5 6
    rpush l a b
    rpop l 5
    rpush l a
    lmpop 2 x l left
    """),
    script("hashes and sets", """
    hset h f 1 g 2
    hsetnx h f 2
    hsetnx h n 2
    hincrby h f 2
    hincrbyfloat h f 2.5
    hdel h nope
    hdel h f g n
    sadd s a b
    sadd s a
    srem s a
    smove s t b
    spop t 0
    spop t
    sadd s1 a b
    sadd s2 b
    sinterstore d s1 s2
    sunionstore d s1 s2
    sdiffstore d s2 s1
    sdiffstore d s2 s1
    sadd big 1 2 3 4 5
    spop big 5
    """),
    script("sorted sets and sort", """
    zadd z 1 a 2 b 3 c
    zadd z 1 a
    zadd z xx 1 nope
    zadd z incr 0 a
    zincrby z 1 a
    zrem z nope
    zrem z a
    zpopmin z
    zpopmax z 0
    zadd z 5 e 6 f
    zremrangebyscore z 100 200
    zremrangebyscore z 5 5
    zremrangebyrank z 0 0
    zunionstore u 1 z
    zadd z 1 x
    zrangestore r z 0 -1
    zinterstore u 2 z missing
    zdiffstore u 1 z
    zremrangebylex z - +
    zmpop 1 r max count 5
    rpush list 3 1 2
    sort list store sorted
    sort nothing store sorted
    """),
    script("geo", """
    geoadd g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
    geoadd g 13.361389 38.115556 Palermo
    geoadd g xx ch 13.5 38 Palermo 1 1 nope
    geoadd missing xx 1 1 nope
    georadius g 15 37 200 km STORE stored
    georadius g 15 37 200 km STOREDIST stored
    georadiusbymember g Palermo 1 km STORE stored
    georadius g 0 0 1 km STORE stored
    geosearchstore found g FROMMEMBER Palermo BYRADIUS 300 km STOREDIST
    geosearchstore found g FROMLONLAT 0 0 BYRADIUS 1 km
    geosearchstore found nokey FROMLONLAT 0 0 BYRADIUS 1 km
    geosearch g FROMLONLAT 15 37 BYRADIUS 200 km
    """),
]

/// The keyspace notifications `client` receives while `writer` runs `script` (closed by a
/// sentinel PUBLISH), as raw frames.
private func notifications(of script: Script, port: Int, subscriberProtocol: Int, classes: String) throws -> [[UInt8]] {
    let writer = try RespClient(port: port)
    let subscriber = try RespClient(port: port)
    _ = try writer.call("FLUSHALL")
    _ = try writer.call("CONFIG", "SET", "notify-keyspace-events", classes)
    if subscriberProtocol == 3 { _ = try subscriber.call("HELLO", "3") }
    _ = try subscriber.call("PSUBSCRIBE", "__key*__:*")
    for command in script.commands { _ = try writer.call(command) }
    _ = try writer.call("PUBLISH", "__keydone__:end", "end")
    var frames: [[UInt8]] = []
    while true {
        let (value, raw) = try subscriber.readReply()
        if value.description.contains("__keydone__:end") { break }
        frames.append(raw)
    }
    _ = try writer.call("CONFIG", "SET", "notify-keyspace-events", "")
    return frames
}

/// Whether the built server has pub/sub (the suite's notifications arrive through it).
private let swiftletHasPubSub: Bool = {
    guard ServerProcess.swiftletBinary != nil, let server = try? ServerProcess.swiftlet() else { return false }
    defer { server.stop() }
    guard let client = try? RespClient(port: server.port),
          case .array(let entries?)? = try? client.call("COMMAND", "INFO", "psubscribe"),
          case .array(let info?)? = entries.first else { return false }
    return !info.isEmpty
}()

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"),
       .enabled(if: swiftletHasPubSub, "needs PSUBSCRIBE on Swiftlet (the pubsub branch)"))
struct KeyspaceNotificationDifferentialTests {
    @Test(arguments: [1, 4]) func notificationsMatchRedis(threads: Int) throws {
        let swiftlet = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        var compared = 0
        for script in notificationScripts {
            for (subscriberProtocol, classes) in [(2, "KEA"), (3, "KEAmn"), (2, "Elgx")] {
                let ours = try notifications(of: script, port: swiftlet.port, subscriberProtocol: subscriberProtocol,
                                             classes: classes)
                let theirs = try notifications(of: script, port: redis.port, subscriberProtocol: subscriberProtocol,
                                               classes: classes)
                let label = "[\(script.name), RESP\(subscriberProtocol), \(classes), \(threads) threads]"
                #expect(ours.count == theirs.count, "\(label) message count")
                for (index, (mine, reference)) in zip(ours, theirs).enumerated() where mine != reference {
                    Issue.record("\(label) message \(index): \(String(decoding: mine, as: UTF8.self).debugDescription) != \(String(decoding: reference, as: UTF8.self).debugDescription)")
                    break
                }
                compared += theirs.count
            }
        }
        #expect(compared > 300)
    }
}
