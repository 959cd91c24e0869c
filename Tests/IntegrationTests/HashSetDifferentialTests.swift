// Differential scripts for the hash and set families: every command's replies (errors,
// RESP2 and RESP3 shapes, encodings at and across the thresholds) byte for byte against a
// real redis-server 7.0.15. Replies in hash order (hashtable encodings) are compared sorted;
// random commands are only sent where the answer is forced (whole collection, one element).
import Testing
import TestSupport

let hashScripts: [Script] = [
    script("hash basics", """
    hset h f1 v1 f2 v2
    hset h f1 new f3 v3
    hset h f1
    hset h
    hmset h f4 v4 f5 v5
    hmset h f4
    hget h f1
    hget h nosuch
    hget nokey f
    hmget h f1 nosuch f3
    hmget nokey a b
    hlen h
    hlen nokey
    hstrlen h f1
    hstrlen h nosuch
    hstrlen nokey f
    hexists h f2
    hexists h nosuch
    hexists nokey f
    hkeys h
    hvals h
    hgetall h
    hkeys nokey
    hvals nokey
    hgetall nokey
    hsetnx h f1 x
    hsetnx h f9 x
    hsetnx fresh f v
    hgetall fresh
    hdel h f1 f1 nosuch f2
    hdel h
    hdel nokey f
    hgetall h
    hdel fresh f
    exists fresh
    hset h "" ""
    hget h ""
    hgetall h
    object encoding h
    """),
    script("hash wrong types", """
    set s v
    hset s f v
    hsetnx s f v
    hget s f
    hmget s f
    hmset s f v
    hdel s f
    hlen s
    hstrlen s f
    hexists s f
    hkeys s
    hvals s
    hgetall s
    hincrby s f 1
    hincrbyfloat s f 1
    hrandfield s
    hrandfield s 2
    hscan s 0
    hset h f v
    get h
    """),
    script("hash counters", """
    hincrby h n 5
    hincrby h n -15
    hincrby h n abc
    hincrby h n 1.5
    hincrby h n 9223372036854775807
    hset h big 9223372036854775800
    hincrby h big 7
    hincrby h big 1
    hset h neg -9223372036854775800
    hincrby h neg -8
    hincrby h neg -1
    hset h text hello
    hincrby h text 1
    hset h padded " 1"
    hincrby h padded 1
    hset h lead 01
    hincrby h lead 1
    hincrbyfloat h f 1.5
    hincrbyfloat h f 10.25
    hincrbyfloat h f -0.75
    hincrbyfloat h f abc
    hincrbyfloat h f inf
    hincrbyfloat h f -inf
    hincrbyfloat h f nan
    hincrbyfloat h text 1
    hincrbyfloat h n 1
    hincrbyfloat h e 1e3
    hincrbyfloat h e 5.0e3
    hincrbyfloat h x 0.1
    hincrbyfloat h x 0.2
    hset hh huge 1.7976931348623157e308
    hincrbyfloat hh huge 1.7976931348623157e308
    object encoding hh
    hstrlen hh huge
    hincrbyfloat h f ""
    hincrby h f ""
    hincrbyfloat newkey f 3
    hgetall h
    hgetall newkey
    object encoding h
    hello 3
    hincrbyfloat h f 1
    hincrby h n 1
    """),
    script("hash encodings", unordered: ["keys", "hkeys", "hvals"], unorderedPairs: ["hgetall"], """
    config set hash-max-listpack-entries 4
    config set hash-max-listpack-value 8
    hset h a 1 b 2 c 3 d 4
    object encoding h
    hgetall h
    hset h d 44
    object encoding h
    hset h e 5
    object encoding h
    hgetall h
    hkeys h
    hvals h
    hdel h a b c d
    object encoding h
    hset long f 12345678
    object encoding long
    hset long g 123456789
    object encoding long
    hset longfield 123456789 v
    object encoding longfield
    hsetnx l2 f 1
    hsetnx l2 f 123456789
    object encoding l2
    hsetnx l2 g 123456789
    object encoding l2
    hset failed a 1 b 123456789abc c
    exists failed
    hset inc f 9999999
    hincrby inc f 1
    object encoding inc
    hincrby inc f 1000000000
    object encoding inc
    hset incf f 1
    hincrbyfloat incf f 0.00000001
    object encoding incf
    hset three a 1 b 2 c 3
    hsetnx three d 4
    object encoding three
    hsetnx three e 5
    object encoding three
    hmset m a 1 b 2 c 3 d 4 e 5
    object encoding m
    hgetall m
    hello 3
    hgetall m
    hgetall h
    hgetall nokey
    hkeys m
    """),
    script("hash random and scan", """
    hset one f v
    hrandfield one
    hrandfield one 1
    hrandfield one -5
    hrandfield one -3 withvalues
    hrandfield one 1 withvalues
    hrandfield one 0
    hrandfield one 0 withvalues
    hrandfield one 5 withvalues
    hrandfield nokey
    hrandfield nokey 5
    hrandfield nokey 5 withvalues
    hrandfield one abc
    hrandfield one 1 withvalue
    hrandfield one 1 withvalues extra
    hrandfield one -9223372036854775808
    hrandfield one 9223372036854775807 withvalues
    hrandfield one -4611686018427387904 withvalues
    hrandfield one 4611686018427387903 withvalues
    hset h a 1 b 2 c 3
    hrandfield h 3
    hrandfield h 10 withvalues
    hscan h 0
    hscan h 5
    hscan h 0 match a*
    hscan h 0 match z*
    hscan h 0 count 1
    hscan h 0 count 0
    hscan h 0 count -1
    hscan h 0 count abc
    hscan h 0 match
    hscan h 0 foo bar
    hscan h abc
    hscan h -1
    hscan nokey 0
    hscan nokey 0 count 0
    hello 3
    hrandfield one -3 withvalues
    hrandfield h 10 withvalues
    hrandfield h 3
    hrandfield one 1 withvalues
    hrandfield nokey 2 withvalues
    hrandfield nokey
    hscan h 0
    config set hash-max-listpack-entries 1
    hset big a 1 b 2 c 3 d 4
    hscan big 0 match c
    hscan big 0 match x
    """),
]

let setScripts: [Script] = [
    script("set basics", unordered: ["keys", "smembers"], """
    sadd s 3 1 2
    sadd s 2 4
    sadd s
    smembers s
    object encoding s
    scard s
    scard nokey
    sismember s 1
    sismember s 9
    sismember s a
    sismember nokey 1
    smismember s 1 9 a 4
    smismember nokey 1 2
    smismember s
    smembers nokey
    srem s 1 9 a
    srem s
    srem nokey 1
    smembers s
    srem s 2 3 4
    exists s
    sadd neg -5 0 -1 32767 32768 -32769 2147483648 -9223372036854775808 9223372036854775807
    smembers neg
    object encoding neg
    sadd notint 01 1
    object encoding notint
    sadd m a
    object encoding m
    sadd m 1
    smembers m
    sadd e ""
    smembers e
    hello 3
    smembers neg
    smembers nokey
    smismember neg 0 7
    """),
    script("set wrong types", """
    set str v
    sadd str a
    srem str a
    scard str
    sismember str a
    smismember str a
    smembers str
    srandmember str
    srandmember str 2
    spop str
    spop str 2
    smove str dst a
    sadd set a
    smove set str a
    smove nokey str a
    sinter set str
    sinter str set
    sinter nokey str
    sintercard 2 set str
    sinterstore dst set str
    sunion set str
    sunionstore dst set str
    sdiff set str
    sdiff nokey str
    sdiffstore dst set str
    sscan str 0
    get set
    """),
    script("set random", """
    sadd one x
    srandmember one
    srandmember one 1
    srandmember one -4
    srandmember one 0
    srandmember one 5
    srandmember one abc
    srandmember one 1 2
    srandmember one -9223372036854775808
    srandmember nokey
    srandmember nokey 3
    srandmember nokey -3
    sadd ints 5 3 1
    srandmember ints 3
    srandmember ints 10
    spop ints 0
    spop ints -1
    spop ints abc
    spop ints 1 2
    spop ints 10
    exists ints
    spop nokey
    spop nokey 3
    spop one
    exists one
    sadd one x
    spop one 1
    exists one
    sadd two a b
    spop two 0
    hello 3
    sadd ints 5 3 1
    spop ints 3
    spop nokey 3
    spop nokey
    srandmember nokey 3
    sadd ints 9 8
    srandmember ints 5
    """),
    script("set move", unordered: ["keys", "smembers"], """
    sadd a 1 2 3
    sadd b x
    smove a b 2
    smove a b 9
    smove nokey b 1
    smove a a 1
    smove a a 9
    smembers a
    smembers b
    object encoding b
    smove a fresh 1
    object encoding fresh
    smove a fresh 3
    exists a
    smembers fresh
    sadd t 1
    expire t 100
    smove fresh t 1
    ttl t
    """),
    script("set algebra", unordered: ["keys", "sinter", "sunion", "sdiff", "smembers"], """
    sadd a 1 2 3 4 5
    sadd b 4 5 6 7
    sadd c 5 7 9
    sadd w x y 5
    sinter a b
    sinter a b c
    sinter a nokey
    sinter nokey
    sinter a
    sinter a a
    sinter a w
    sintercard 2 a b
    sintercard 3 a b c
    sintercard 2 a b limit 1
    sintercard 2 a b limit 0
    sintercard 2 a b limit -1
    sintercard 2 a b limit abc
    sintercard 2 a b limit
    sintercard 2 a b foo 1
    sintercard 0 a
    sintercard -1 a
    sintercard abc a
    sintercard 3 a b
    sintercard 1 nokey
    sinterstore d a b
    smembers d
    object encoding d
    sinterstore d a nokey
    exists d
    set str v
    sinterstore str a b
    type str
    sunion a b c
    sunion nokey
    sunion a w
    sunionstore u a b c
    smembers u
    object encoding u
    sunionstore u a w
    object encoding u
    sunionstore u nokey
    exists u
    sdiff a b
    sdiff a b c
    sdiff a a
    sdiff a nokey b
    sdiff nokey a
    sdiff w a
    sdiffstore dd a b
    smembers dd
    sdiffstore dd a a
    exists dd
    sdiffstore dd w a
    smembers dd
    object encoding dd
    sinter
    sunionstore onlydest
    hello 3
    sinter a b
    sunion a b
    sdiff a b
    sinter a nokey
    """),
    script("set encodings", unordered: ["keys", "smembers", "sunion", "sinter", "sdiff"], """
    config set set-max-intset-entries 4
    sadd s 1 2 3 4
    object encoding s
    sadd s 4
    object encoding s
    sadd s 5
    object encoding s
    smembers s
    srem s 1 2 3 4
    object encoding s
    smembers s
    sadd big 1 2 3 4 5 6 7
    sunionstore small s
    object encoding small
    sdiffstore d big s
    object encoding d
    sdiffstore d2 s nokey
    object encoding d2
    config set set-max-intset-entries 512
    sadd big2 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
    sscan big2 0
    sscan big2 0 match 1*
    sscan big2 0 count 3
    sscan big2 0 count 0
    sscan big2 abc
    sscan big2 0 match
    sscan big2 0 novalues
    sscan nokey 0
    sadd str a b c
    sscan str 0 match b
    hello 3
    sscan big2 0 match 2*
    """),
]

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct HashSetDifferentialTests {
    @Test(arguments: [1, 4])
    func hashScriptsMatchRedis(threads: Int) throws {
        #expect(try expectMatchesRedis(hashScripts, threads: threads) >= 198)
    }

    @Test(arguments: [1, 4])
    func setScriptsMatchRedis(threads: Int) throws {
        #expect(try expectMatchesRedis(setScripts, threads: threads) >= 200)
    }
}
