// The verdict that lets a script run holding only its declared keys' shards: bodies that
// provably stay on KEYS pass, anything that could reach another key (or that the analysis
// cannot follow) fails and locks every shard.
import Config
import Testing
@testable import Commands

struct ScriptKeyAnalysisTests {
    private let table = ServerContext(config: ServerConfig(), shardCount: 16).table

    private func staysOnDeclaredKeys(_ body: String) -> Bool {
        ScriptKeyAnalysis.staysOnDeclaredKeys(Array(body.utf8)[...], table: table)
    }

    @Test func bodiesOnDeclaredKeysPass() {
        #expect(staysOnDeclaredKeys("return redis.call('incr', KEYS[1])"))
        #expect(staysOnDeclaredKeys("local t = redis.call('TIME') return redis.call('get', KEYS[#KEYS])"))
        #expect(staysOnDeclaredKeys("redis.call('del', KEYS[1], KEYS[2]) return redis.pcall('mget', KEYS[1])"))
        // A call ending the arguments may expand to several values, but SET has one key whatever follows.
        #expect(staysOnDeclaredKeys("return redis.call('set', KEYS[1], ARGV[1], 'px', math.max(1, tonumber(ARGV[2])))"))
        #expect(staysOnDeclaredKeys("return redis.call('set', KEYS[1], unpack(ARGV))"))
    }

    @Test func bodiesThatMayReachOtherKeysFail() {
        #expect(!staysOnDeclaredKeys("return redis.call('get', ARGV[1])"))
        #expect(!staysOnDeclaredKeys("return redis.call('get', 'literal')"))
        // More values after DEL's first key are more keys.
        #expect(!staysOnDeclaredKeys("return redis.call('del', KEYS[1], unpack(ARGV))"))
        #expect(!staysOnDeclaredKeys("return redis.call('mset', KEYS[1], ARGV[1], unpack(ARGV))"))
        #expect(!staysOnDeclaredKeys("local call = redis.call return call('get', KEYS[1])"))
        #expect(!staysOnDeclaredKeys("return redis.call(ARGV[1], KEYS[1])"))
        #expect(!staysOnDeclaredKeys("return redis.call('keys', '*')"))
        #expect(!staysOnDeclaredKeys("return redis.call('eval', 'return 1', 0)"))
        #expect(!staysOnDeclaredKeys("KEYS[1] = ARGV[1] return redis.call('get', KEYS[1])"))
        #expect(!staysOnDeclaredKeys("return _G.redis.call('get', KEYS[1])"))
        #expect(!staysOnDeclaredKeys("return redis.call('zunionstore', KEYS[1], 1, KEYS[2])"))
    }
}
