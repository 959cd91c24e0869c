// Differential tests for SORT and SORT_RO against a real redis-server: numeric and ALPHA
// ordering, LIMIT windows (negative, past the end, zero), BY weights from string keys and
// hash fields, BY without `*` (native order, DESC), GET patterns (`#`, missing keys, hash
// fields), STORE (including the forced ALPHA sort of stored sets), errors and COMMAND GETKEYS.
import Testing
import TestSupport

let sortScripts: [Script] = [
    script("sort", """
    rpush l 3 1 2 10 -5 1.5
    sort l
    sort l desc
    sort l limit 1 2
    sort l limit -5 2
    sort l limit 10 2
    sort l limit 0 0
    sort l limit 2 -1
    sort l alpha
    sort l alpha desc limit 0 3
    sort l by nosort
    sort l by nosort desc
    sort l by nosort limit 1 3
    sort l by nosort desc limit 1 3
    mset w_3 30 w_1 10 w_2 20 w_10 5 w_-5 0
    sort l by w_*
    sort l by w_* desc
    sort l by w_* get # get w_*
    sort l by w_* limit 1 2 get w_*
    sort l get nokey_*
    sort l get fixedkey
    hset h_1 f one
    hset h_2 f two
    hset h_3 f three
    sort l by h_*->f alpha get h_*->f get #
    sort l by h_*->f get h_*->f
    sort l get h_*->
    sort l get h_*->nofield
    rpush bad a b 1
    sort bad
    sort bad alpha
    sort bad by nosort
    sadd s 5 3 9 1
    sort s
    sort s desc
    sort s by nosort
    sort s by nosort store dst
    lrange dst 0 -1
    sadd s2 b a c
    sort s2 alpha
    sort s2 by nosort store dst2
    lrange dst2 0 -1
    zadd z 3 c 1 a 2 b
    sort z alpha
    sort z by nosort
    sort z by nosort desc
    sort z by nosort limit 1 1
    sort z by nosort desc limit 0 2
    sort l store out
    lrange out 0 -1
    sort l get nokey_* store out2
    lrange out2 0 -1
    sort missing
    sort missing store out
    exists out
    set str x
    sort str
    sort l limit 1
    sort_ro l by a limit 2 9223372036854775807
    sort l limit 9223372036854775807 9223372036854775807
    sort l limit -9223372036854775808 -9223372036854775808
    sort l limit 3 9223372036854775807 store huge
    lrange huge 0 -1
    sort l limit a b
    sort l foo
    sort l store
    sort_ro l desc
    sort_ro l store x
    sort l desc asc
    sort l by w_* desc asc
    sort
    command getkeys sort l by x store d1 get y store d2
    command getkeys sort l limit store 1 store d
    command getkeys sort_ro l by x
    hello 3
    sort l get nokey_*
    sort missing
    sort l by w_* alpha
    sort l by nokey_* alpha
    sort l by nokey_*
    sort l by w_* alpha desc limit 0 3
    sadd words pear apple fig
    sort words alpha desc
    sort words by nosort store dst3
    lrange dst3 0 -1
    sort words
    config set list-max-listpack-size 2
    sort l store big
    object encoding big
    llen big
    """),
]

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct SortDifferentialTests {
    @Test(arguments: [1, 4]) func sortMatchesRedis(threads: Int) throws {
        #expect(try expectMatchesRedis(sortScripts, threads: threads) >= 80)
    }
}
