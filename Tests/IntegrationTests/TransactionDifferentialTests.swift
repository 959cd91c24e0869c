// MULTI/EXEC/DISCARD/WATCH/UNWATCH against a real redis-server: queued replies, EXECABORT
// after queue-time errors, per-command runtime errors inside EXEC, nesting and WATCH errors,
// WATCH aborting EXEC (own writes, flushes, swaps), RESP3 shapes, blocking commands inside.
import Testing
import TestSupport

let transactionScripts: [Script] = [
    script("multi exec basics", """
    multi
    set a 1
    incr a
    get a
    exec
    get a
    exec
    discard
    multi
    exec
    multi
    multi
    set b 2
    exec
    get b
    """),
    script("queue-time errors abort", """
    multi
    set a 1
    set a
    nosuchcommand x
    exec
    get a
    multi
    client nosuchsubcommand
    set a 2
    exec
    get a
    multi
    exec extra
    exec
    multi
    discard extra
    discard
    """),
    script("runtime errors inside exec", """
    set s text
    multi
    incr s
    lpush s 1
    set s other
    get s
    hset s f
    exec
    get s
    multi
    zunionstore d 9223372036854775807 a
    sintercard -1 a
    eval "return 1" 4611686018427387904 a
    exec
    """),
    script("discard and watch errors", """
    multi
    set x 1
    watch x
    discard
    get x
    watch
    unwatch
    unwatch extra
    multi
    unwatch
    exec
    """),
    script("watch aborts exec", """
    set w 1
    watch w
    set w 2
    multi
    get w
    exec
    watch w
    multi
    get w
    exec
    watch w nosuch
    incr w
    multi
    ping
    exec
    watch w
    unwatch
    incr w
    multi
    get w
    exec
    watch w
    multi
    discard
    incr w
    multi
    get w
    exec
    """),
    script("flush and swap touch watched keys", """
    watch missing
    flushall
    multi
    ping
    exec
    set f 1
    watch f
    flushdb
    multi
    ping
    exec
    set g 1
    watch g
    select 1
    flushdb
    select 0
    multi
    ping
    exec
    select 1
    set h 1
    select 0
    watch h
    swapdb 0 1
    multi
    ping
    exec
    """),
    script("select, blocking and resp3 inside exec", """
    multi
    select 1
    set k v
    blpop nolist 0
    brpoplpush nolist other 1
    exec
    get k
    select 0
    get k
    hello 3
    multi
    set r 1
    get r
    hgetall nohash
    exec
    watch r
    set r 2
    multi
    get r
    exec
    """),
]

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct TransactionDifferentialTests {
    @Test(arguments: [1, 4]) func transactionsMatchRedis(threads: Int) throws {
        #expect(try expectMatchesRedis(transactionScripts, threads: threads) > 100)
    }
}
