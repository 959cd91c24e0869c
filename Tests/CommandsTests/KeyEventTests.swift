// Key events in-process: a capturing notification sink and modified-key observer on a
// harness, commands run through the dispatcher, and the exact sequence of keyspace
// notifications (class, event, key, database) and modified keys each family raises, as
// Redis 7.0.15 raises them; expiry (lazy and active), eviction, flushes, and the
// notify-keyspace-events setting (parsing, canonical form, off means silent).
import Testing
import Config
@testable import Commands

/// Records what a harness's key events deliver.
final class KeyEventRecorder {
    let h = Harness()
    /// "event key" (db 0) or "event key @db", in order.
    var notifications: [String] = []
    /// "key" (db 0) or "key @db" for modified keys; "flush @db" / "flush all" for flushes.
    var modified: [String] = []
    var classes: [KeyspaceEventClass] = []

    init(classes enabled: String = "KEA") {
        let events = h.server.keyEvents
        events.publishNotifications { [unowned self] eventClass, event, key, db in
            classes.append(eventClass)
            notifications.append("\(event) \(String(decoding: key, as: UTF8.self))" + (db == 0 ? "" : " @\(db)"))
        }
        events.observeModified { [unowned self] db, key, _ in
            modified.append(String(decoding: key, as: UTF8.self) + (db == 0 ? "" : " @\(db)"))
        }
        events.observeFlush { [unowned self] db in modified.append(db.map { "flush @\($0)" } ?? "flush all") }
        events.observeSwap { [unowned self] first, second in modified.append("swap \(first) \(second)") }
        configure(enabled)
    }

    func configure(_ enabled: String) {
        #expect(h.run("CONFIG", "SET", "notify-keyspace-events", enabled) == "+OK\r\n")
        h.server.applyKeyspaceEventsConfig()
    }

    /// Runs a command and returns the notifications it raised, clearing the record.
    @discardableResult
    func events(_ words: String...) -> [String] {
        notifications.removeAll()
        modified.removeAll()
        h.run(words.map { Array($0.utf8) })
        return notifications
    }
}

@Suite struct KeyEventTests {
    @Test func stringFamily() {
        let r = KeyEventRecorder(classes: "KEAn")
        #expect(r.events("SET", "s", "1") == ["new s", "set s"])
        #expect(r.modified == ["s"])
        #expect(r.events("SET", "s", "2", "EX", "100") == ["set s", "expire s"])
        #expect(r.events("SET", "s", "3", "NX") == [])
        #expect(r.modified == [])
        #expect(r.events("INCR", "s") == ["incrby s"])
        #expect(r.events("INCRBYFLOAT", "f", "1.5") == ["new f", "incrbyfloat f"])
        #expect(r.events("APPEND", "s", "x") == ["append s"])
        #expect(r.events("SETRANGE", "s", "0", "") == [])
        #expect(r.events("SETRANGE", "s", "0", "a") == ["setrange s"])
        #expect(r.events("GETEX", "s", "PERSIST") == ["persist s"])
        #expect(r.events("GETEX", "s", "PERSIST") == [])
        #expect(r.events("GETEX", "s", "PX", "5000") == ["expire s"])
        #expect(r.events("GETSET", "s", "v") == ["set s"])
        #expect(r.events("GETDEL", "s") == ["del s"])
        #expect(r.events("MSET", "a", "1", "b", "2") == ["new a", "set a", "new b", "set b"])
        #expect(r.events("MSETNX", "a", "1", "c", "2") == [])
        #expect(r.events("SETEX", "a", "10", "v") == ["set a", "expire a"])
        #expect(r.events("SETBIT", "bits", "3", "1") == ["new bits", "setbit bits"])
        #expect(r.events("SETBIT", "bits", "3", "1") == [])
        #expect(r.events("BITFIELD", "bits", "SET", "u8", "0", "255") == ["setbit bits"])
        #expect(r.events("BITOP", "OR", "dest", "bits") == ["new dest", "set dest"])
        #expect(r.events("BITOP", "OR", "dest", "nothing") == ["del dest"])
        #expect(r.modified == ["dest"])
    }

    @Test func listFamily() {
        let r = KeyEventRecorder()
        #expect(r.events("RPUSH", "l", "a", "b", "c") == ["rpush l"])
        #expect(r.events("LPUSHX", "missing", "a") == [])
        #expect(r.events("LINSERT", "l", "BEFORE", "b", "x") == ["linsert l"])
        #expect(r.events("LINSERT", "l", "BEFORE", "nope", "x") == [])
        #expect(r.events("LSET", "l", "0", "z") == ["lset l"])
        #expect(r.events("LREM", "l", "0", "x") == ["lrem l"])
        #expect(r.events("LREM", "l", "0", "x") == [])
        #expect(r.events("LPOP", "l", "0") == [])
        #expect(r.events("LPOP", "l") == ["lpop l"])
        #expect(r.events("LMOVE", "l", "m", "RIGHT", "LEFT") == ["lpush m", "rpop l"])
        #expect(r.modified == ["m", "l"])
        #expect(r.events("LMOVE", "l", "m", "LEFT", "LEFT") == ["lpush m", "lpop l", "del l"])
        #expect(r.events("LTRIM", "m", "0", "-1") == ["ltrim m"])
        #expect(r.events("LTRIM", "m", "5", "6") == ["ltrim m", "del m"])
        #expect(r.events("RPUSH", "l", "a", "b") == ["rpush l"])
        #expect(r.events("RPOP", "l", "5") == ["rpop l", "del l"])
        #expect(r.events("RPUSH", "l", "a") == ["rpush l"])
        #expect(r.events("LMPOP", "2", "x", "l", "LEFT") == ["lpop l", "del l"])
    }

    @Test func hashAndSetFamilies() {
        let r = KeyEventRecorder(classes: "KEAn")
        #expect(r.events("HSET", "h", "f", "1") == ["new h", "hset h"])
        #expect(r.events("HSETNX", "h", "f", "2") == [])
        #expect(r.events("HINCRBY", "h", "f", "2") == ["hincrby h"])
        #expect(r.events("HINCRBYFLOAT", "h", "f", "2") == ["hincrbyfloat h"])
        #expect(r.events("HDEL", "h", "nope") == [])
        #expect(r.events("HDEL", "h", "f") == ["hdel h", "del h"])
        #expect(r.events("SADD", "s", "a", "b") == ["new s", "sadd s"])
        #expect(r.events("SADD", "s", "a") == [])
        #expect(r.events("SREM", "s", "a") == ["srem s"])
        #expect(r.events("SMOVE", "s", "t", "b") == ["srem s", "del s", "new t", "sadd t"])
        #expect(r.modified == ["s", "t"])
        #expect(r.events("SPOP", "t", "0") == [])
        #expect(r.events("SPOP", "t") == ["spop t", "del t"])
        r.events("SADD", "s1", "a", "b")
        r.events("SADD", "s2", "b")
        #expect(r.events("SINTERSTORE", "d", "s1", "s2") == ["new d", "sinterstore d"])
        #expect(r.events("SUNIONSTORE", "d", "s1", "s2") == ["sunionstore d"])
        #expect(r.events("SDIFFSTORE", "d", "s2", "s1") == ["del d"])
        #expect(r.events("SDIFFSTORE", "d", "s2", "s1") == [])
    }

    @Test func sortedSetFamily() {
        let r = KeyEventRecorder()
        #expect(r.events("ZADD", "z", "1", "a", "2", "b", "3", "c") == ["zadd z"])
        #expect(r.events("ZADD", "z", "1", "a") == [])
        #expect(r.events("ZADD", "z", "XX", "1", "nope") == [])
        #expect(r.events("ZINCRBY", "z", "1", "a") == ["zincr z"])
        #expect(r.events("ZREM", "z", "nope") == [])
        #expect(r.events("ZREM", "z", "a") == ["zrem z"])
        #expect(r.events("ZPOPMIN", "z") == ["zpopmin z"])
        #expect(r.events("ZPOPMAX", "z", "0") == [])
        #expect(r.events("ZADD", "z", "5", "e", "6", "f") == ["zadd z"])
        #expect(r.events("ZREMRANGEBYSCORE", "z", "100", "200") == [])
        #expect(r.events("ZREMRANGEBYSCORE", "z", "5", "5") == ["zremrangebyscore z"])
        #expect(r.events("ZREMRANGEBYRANK", "z", "0", "0") == ["zremrangebyrank z"])
        #expect(r.events("ZUNIONSTORE", "u", "1", "z") == ["zunionstore u"])
        #expect(r.events("ZADD", "z", "1", "x") == ["zadd z"])
        #expect(r.events("ZRANGESTORE", "r", "z", "0", "-1") == ["zrangestore r"])
        #expect(r.events("ZINTERSTORE", "u", "2", "z", "missing") == ["del u"])
        #expect(r.events("ZDIFFSTORE", "u", "1", "z") == ["zdiffstore u"])
        #expect(r.events("ZREMRANGEBYLEX", "z", "-", "+") == ["zremrangebylex z", "del z"])
        #expect(r.events("ZMPOP", "1", "r", "MAX") == ["zpopmax r"])
        #expect(r.events("ZMPOP", "1", "r", "MAX", "COUNT", "5") == ["zpopmax r", "del r"])
        r.events("RPUSH", "list", "3", "1", "2")
        #expect(r.events("SORT", "list", "STORE", "sorted") == ["sortstore sorted"])
        #expect(r.events("SORT", "nothing", "STORE", "sorted") == ["del sorted"])
    }

    @Test func genericFamily() {
        let r = KeyEventRecorder(classes: "KEAn")
        r.events("SET", "a", "1")
        r.events("SET", "b", "2")
        #expect(r.events("DEL", "a", "b", "c") == ["del a", "del b"])
        #expect(r.modified == ["a", "b"])
        r.events("SET", "a", "1")
        #expect(r.events("RENAME", "a", "b") == ["new b", "rename_from a", "rename_to b"])
        #expect(r.modified == ["a", "b"])
        #expect(r.events("RENAME", "b", "b") == [])
        #expect(r.events("MOVE", "b", "3") == ["new b @3", "move_from b", "move_to b @3"])
        #expect(r.modified == ["b", "b @3"])
        r.events("SET", "a", "1")
        #expect(r.events("COPY", "a", "c", "DB", "2") == ["new c @2", "copy_to c @2"])
        #expect(r.events("EXPIRE", "a", "100") == ["expire a"])
        #expect(r.events("EXPIRE", "a", "100", "NX") == [])
        #expect(r.events("PERSIST", "a") == ["persist a"])
        #expect(r.events("PERSIST", "a") == [])
        #expect(r.events("PEXPIRE", "a", "-1") == ["del a"])
        #expect(r.events("FLUSHDB") == [])
        #expect(r.modified == ["flush @0"])
        #expect(r.events("FLUSHALL") == [])
        #expect(r.modified == ["flush all"])
        #expect(r.events("SWAPDB", "0", "3") == [])
        #expect(r.modified == ["swap 0 3"])
    }

    @Test func missesAndClasses() {
        let r = KeyEventRecorder(classes: "Em")
        #expect(r.events("GET", "nope") == ["keymiss nope"])
        #expect(r.classes == [.keyMiss])
        #expect(r.events("SET", "k", "v") == [])
        #expect(r.modified == ["k"])
        #expect(r.events("GET", "k") == [])
        r.configure("K$")
        #expect(r.events("SET", "k", "v", "EX", "100") == ["set k"])
        r.configure("gx")
        #expect(r.events("SET", "k", "v", "EX", "100") == [], "without K or E nothing is published")
    }

    @Test func nothingPublishedWhenOff() {
        let r = KeyEventRecorder(classes: "")
        #expect(r.h.server.keyEvents.enabledClasses.isEmpty)
        for command in [["SET", "k", "v"], ["GET", "nope"], ["RPUSH", "l", "a"], ["DEL", "k"], ["LPOP", "l"],
                        ["HSET", "h", "f", "v"], ["SET", "e", "v", "PXAT", "1"], ["GET", "e"]] {
            r.h.run(command.map { Array($0.utf8) })
        }
        #expect(r.notifications.isEmpty)
        #expect(r.modified == ["k", "l", "k", "l", "h", "e", "e"])
    }

    @Test func lazyAndActiveExpiry() {
        let r = KeyEventRecorder(classes: "KEA")
        r.events("SET", "gone", "v", "PXAT", "1")
        #expect(r.events("GET", "gone") == ["expired gone"])
        #expect(r.modified == ["gone"])
        #expect(r.classes.last == .expired)
        r.events("SET", "swept", "v", "PXAT", "1")
        r.events("SELECT", "5")
        r.events("SET", "swept5", "v", "PXAT", "1")
        r.notifications.removeAll()
        r.modified.removeAll()
        r.h.server.activeExpiry.run(.slow, hz: 10, effort: 1, now: Clock.milliseconds(), clock: Clock.monotonicMicroseconds)
        #expect(Set(r.notifications) == ["expired swept", "expired swept5 @5"])
        #expect(Set(r.modified) == ["swept", "swept5 @5"])
    }

    @Test func eviction() {
        let r = KeyEventRecorder(classes: "Ee")
        for index in 0..<50 { r.events("SET", "key:\(index)", String(repeating: "x", count: 1000)) }
        r.h.run("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
        r.h.run("CONFIG", "SET", "maxmemory", "1")
        r.h.server.maxmemoryChanged()
        r.events("GET", "key:0")
        #expect(!r.notifications.isEmpty)
        #expect(r.notifications.allSatisfy { $0.hasPrefix("evicted key:") })
        #expect(r.classes.allSatisfy { $0 == .evicted })
        #expect(r.modified.count == r.notifications.count)
    }

    @Test func configParsingAndCanonicalForm() {
        let h = Harness()
        func roundTrip(_ value: String) -> String {
            #expect(h.run("CONFIG", "SET", "notify-keyspace-events", value) == "+OK\r\n")
            return h.run("CONFIG", "GET", "notify-keyspace-events")
        }
        #expect(roundTrip("KEA") == "*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n")
        #expect(roundTrip("Ex$gl") == "*2\r\n$22\r\nnotify-keyspace-events\r\n$5\r\ng$lxE\r\n")
        #expect(roundTrip("g$lshzxetd") == "*2\r\n$22\r\nnotify-keyspace-events\r\n$1\r\nA\r\n")
        #expect(roundTrip("mnKA") == "*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKm\r\n")
        #expect(roundTrip("n") == "*2\r\n$22\r\nnotify-keyspace-events\r\n$1\r\nn\r\n")
        #expect(roundTrip("") == "*2\r\n$22\r\nnotify-keyspace-events\r\n$0\r\n\r\n")
        #expect(h.run("CONFIG", "SET", "notify-keyspace-events", "KEy") ==
            "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n")
        #expect(KeyspaceEventFlags.parse("KEA").map { KeyspaceEventClass(rawValue: UInt16($0)) } ==
            [.keyspace, .keyevent, .all])
    }
}

extension KeyEventTests {
    /// Which lookups report "keymiss": Redis's read lookups do, write lookups, OBJECT and
    /// MEMORY USAGE do not (the keys below are those Redis 7.0.15 reported for this script).
    @Test func keyMissesFollowRedisReadLookups() {
        let r = KeyEventRecorder(classes: "Em")
        let script = ["EXISTS e1 e2", "TYPE t1", "TTL t2", "PTTL t3", "EXPIRETIME t4", "TOUCH t5", "OBJECT ENCODING o1",
                      "MEMORY USAGE m1", "STRLEN s1", "MGET g1 g2", "RENAME r1 r2", "COPY c1 c2", "SORT so1", "LLEN ll1",
                      "ZSCORE zs z", "SINTER si1 si2", "SMOVE sm1 sm2 x", "LMOVE lm1 lm2 LEFT LEFT", "BITOP OR bo1 bo2 bo3",
                      "GETDEL gd1", "GETEX ge1", "HGET hg1 f", "LPOP lp1", "SET sg1 v GET", "SUNIONSTORE su1 su2",
                      "ZUNIONSTORE zu1 1 zu2", "ZRANGESTORE zr1 zr2 0 -1", "SORT so2 STORE so3", "LCS lc1 lc2",
                      "RANDOMKEY", "SINTERCARD 1 sc1", "ZINTERCARD 1 zc1", "INCR in1", "APPEND ap1 x", "BITCOUNT bc1",
                      "LPOS lpo1 x", "ZMPOP 1 zm1 MIN", "LMPOP 1 lmp1 LEFT", "SRANDMEMBER sr1", "HRANDFIELD hr1",
                      "ZRANDMEMBER zra1", "SCARD sca1", "EXPIRE ex1 10", "PERSIST pe1", "MOVE mo1 1", "SETRANGE sr1 0 x",
                      "GETRANGE gr1 0 1", "SMISMEMBER smi1 a", "ZMSCORE zms1 a", "HMGET hm1 a", "BITFIELD bf1 GET u8 0",
                      "BITFIELD_RO bfr1 GET u8 0", "BITPOS bp1 1", "GETBIT gb1 0", "SUBSTR sub1 0 1"]
        var missed: [String] = []
        for line in script {
            r.h.run(line.split(separator: " ").map { Array($0.utf8) })
            missed += r.notifications.map { String($0.dropFirst("keymiss ".count)) }
            r.notifications.removeAll()
        }
        #expect(missed == ["e1", "e2", "t1", "t2", "t3", "t4", "t5", "s1", "g1", "g2", "c1", "so1", "ll1", "zs", "si1",
                           "si2", "bo2", "bo3", "gd1", "ge1", "hg1", "sg1", "su2", "zu2", "zr2", "so2", "lc1", "lc2",
                           "sc1", "zc1", "bc1", "lpo1", "sr1", "hr1", "zra1", "sca1", "gr1", "smi1", "zms1", "hm1",
                           "bf1", "bfr1", "bp1", "gb1", "sub1"])
    }
}
