// Lua scripting against a real redis-server: EVAL/EVALSHA/EVAL_RO replies and conversions in
// both directions (RESP2 and RESP3, setresp), error texts with the script's sha and line,
// redis.pcall and pcall, NOSCRIPT, read-only refusals, shebang flags, the sandbox (missing
// and read-only globals), SCRIPT LOAD/EXISTS/FLUSH/KILL, at 1 and 4 worker threads.
import Foundation
import Testing
import TestSupport

/// Script bodies are written with `\n` for their line breaks (the function tests too).
func multiline(_ scripts: [Script]) -> [Script] {
    scripts.map { script in
        Script(name: script.name, commands: script.commands.map { $0.map { $0.replacingOccurrences(of: "\\n", with: "\n") } },
               unordered: script.unordered, unorderedPairs: script.unorderedPairs)
    }
}

let scriptingScripts: [Script] = multiline([
    script("conversions to lua and back", """
    set s str
    rpush l a b c
    hset h f v
    eval "return {1,2,{3,'x'},nil,5}" 0
    eval "return redis.call('get','s')" 0
    eval "return redis.call('get','nokey')" 0
    eval "return type(redis.call('get','nokey'))" 0
    eval "return redis.call('lrange','l',0,-1)" 0
    eval "return redis.call('incr','counter')" 0
    eval "return redis.call('set','k','v')" 0
    eval "return redis.call('ping')" 0
    eval "return redis.call('ping').ok" 0
    eval "return 3.99" 0
    eval "return -3.99" 0
    eval "return 'x'" 0
    eval "return true" 0
    eval "return false" 0
    eval "return nil" 0
    eval "return {}" 0
    eval "return {ok='FINE'}" 0
    eval "return redis.status_reply('FINE')" 0
    eval "return {err='MY failure'}" 0
    eval "return redis.error_reply('FOO bar')" 0
    eval "return redis.error_reply('bar')" 0
    eval "return redis.error_reply('-CODE x')" 0
    eval "return {double=3.5}" 0
    eval "return {big_number='123'}" 0
    eval "return {big_number='12'..string.char(13,10)..'3'}" 0
    eval "return {ok='a'..string.char(13,10)..'b'}" 0
    eval "return type(loadstring(string.dump(function() return 1 end)))" 0
    eval "return type(load(function() return nil end))" 0
    eval "local g = getmetatable(_G) g.__index = {}" 0
    eval "return redis.acl_check_cmd('set','x',1)" 0
    eval "return redis.acl_check_cmd('config','get')" 0
    eval "return redis.acl_check_cmd('invalid-cmd','a')" 0
    eval "return redis.acl_check_cmd('config','bogus')" 0
    eval "return redis.acl_check_cmd()" 0
    eval "return redis.acl_check_cmd({})" 0
    eval "return {verbatim_string={format='txt',string='hi'}}" 0
    eval "return {map={a=1}}" 0
    eval "return {set={a=true}}" 0
    eval "return {KEYS[1], ARGV[1], #KEYS, #ARGV}" 1 k a b
    eval "return redis.call('hgetall','h')" 0
    eval "return redis.call('type','h').ok" 0
    eval "return redis.call('exists','s','l','nokey')" 0
    eval "return redis.sha1hex('')" 0
    eval "return redis.sha1hex('abc')" 0
    eval "return redis.REDIS_VERSION" 0
    eval "return redis.REDIS_VERSION_NUM" 0
    eval "return table.concat({'a','b'},',')" 0
    eval "return string.format('%d-%s',5,'x')" 0
    eval "return math.floor(7.9)" 0
    eval "return tonumber('12') + 1" 0
    eval "return redis.call('set','n',3.5)" 0
    eval "return redis.call('get','n')" 0
    eval "return redis.call('set','big',12345678901234567)" 0
    eval "return redis.call('get','big')" 0
    """),
    script("resp3 in scripts", """
    hset h f v
    sadd st m
    zadd z 1.5 a
    eval "redis.setresp(3) return redis.call('hgetall','h')" 0
    eval "redis.setresp(3) return redis.call('hgetall','nohash')" 0
    eval "redis.setresp(3) return redis.call('smembers','st')" 0
    eval "redis.setresp(3) return redis.call('zscore','z','a')" 0
    eval "redis.setresp(3) return type(redis.call('get','nokey'))" 0
    eval "redis.setresp(3) return true" 0
    eval "redis.setresp(3) return false" 0
    eval "redis.setresp(3) local r = redis.call('hgetall','h') return r.map.f" 0
    eval "redis.setresp(3) local r = redis.call('zscore','z','a') return tostring(r.double)" 0
    eval "return redis.setresp(4)" 0
    eval "return redis.setresp()" 0
    hello 3
    eval "return {double=3.5}" 0
    eval "return {map={a=1}}" 0
    eval "return {set={a=true}}" 0
    eval "return {big_number='123'}" 0
    eval "return {big_number='12'..string.char(13,10)..'3'}" 0
    eval "return {ok='a'..string.char(13,10)..'b'}" 0
    eval "return {verbatim_string={format='txt',string='hi'}}" 0
    eval "return true" 0
    eval "return false" 0
    eval "return nil" 0
    eval "redis.setresp(3) return true" 0
    eval "redis.setresp(3) return redis.call('hgetall','h')" 0
    eval "redis.setresp(3) return redis.call('get','nokey')" 0
    """),
    script("errors with sha and line", """
    set s str
    eval "return x" 0
    eval "x = 1" 0
    eval "string.x = 1" 0
    eval "redis.y = 1" 0
    eval "return rawset(_G,'a',1)" 0
    eval "return setmetatable(_G,{})" 0
    eval "return redis.call('nosuch')" 0
    eval "return redis.call('incr','a','b')" 0
    eval "return redis.call('get')" 0
    eval "return redis.call('incr','s')" 0
    eval "return redis.call('lpush','s','x')" 0
    eval "error('boom')" 0
    eval "error({err='MY boom'})" 0
    eval "error()" 0
    eval "return 'x' .. " 0
    eval "\\n\\nerror('third line')" 0
    eval "redis.call()" 0
    eval "redis.call({})" 0
    eval "return redis.call('subscribe','x')" 0
    eval "return redis.call('multi')" 0
    eval "return redis.call('eval','return 1',0)" 0
    eval "redis.log()" 0
    eval "redis.log('x','y')" 0
    eval "redis.log(99,'y')" 0
    eval "return redis.sha1hex()" 0
    eval "return redis.set_repl(9)" 0
    eval "return print" 0
    eval "return dofile" 0
    eval "return 1" -1
    eval "return 1" 2 a
    eval "return 1" x
    eval "return 1"
    """),
    script("pcall", """
    set s str
    eval "return redis.pcall('incr','a','b')" 0
    eval "return redis.pcall('incr','s')" 0
    eval "local r = redis.pcall('incr','s') return r.err" 0
    eval "return tostring(pcall(redis.call,'nosuch'))" 0
    eval "local ok, e = pcall(redis.call,'nosuch') return e" 0
    eval "local ok, e = pcall(redis.call,'incr','s') return e" 0
    eval "local ok, e = pcall(error, 'x') return e" 0
    eval "local ok, e = pcall(function() return nosuch end) return e" 0
    eval "return {pcall(function() return 7 end)}" 0
    """),
    script("refused calls count as error replies once", """
    config resetstat
    config set maxmemory 1
    eval "return redis.call('set','x','y')" 1 x
    eval "local t = redis.pcall('set','x','y') return t['err']" 1 x
    eval "return redis.pcall('set','x','y')" 1 x
    config set maxmemory 0
    eval "return redis.pcall('nosuch')" 0
    eval "return redis.pcall('get')" 0
    eval "return redis.pcall('select',99)" 0
    eval "return redis.call('select',99)" 0
    eval "#!lua flags=no-writes\\nreturn redis.pcall('set','x','y')" 0
    info errorstats
    """),
    script("evalsha and script commands", """
    script load "return 1"
    script load "return 'x' .. "
    script exists e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0000000000000000000000000000000000000000
    script exists E0E1F9FABFC9D4800C877A703B823AC0578FF8DB
    evalsha e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0
    evalsha E0E1F9FABFC9D4800C877A703B823AC0578FF8DB 0
    evalsha_ro e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0
    evalsha abc 0
    evalsha 0123456789012345678901234567890123456789 0
    evalsha abc x
    eval "return 2" 0
    evalsha 7f923f79fe76194c868d7e1d0820de36700eb649 0
    script flush
    evalsha e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0
    script exists e0e1f9fabfc9d4800c877a703b823ac0578ff8db
    script flush async
    script flush sync
    script flush bad
    script flush sync extra
    script kill
    script kill extra
    script nosuch
    script
    script load
    script exists
    """),
    script("read-only scripts and shebang flags", """
    eval_ro "return redis.call('set','a',1)" 0
    eval_ro "return redis.call('get','a')" 0
    eval_ro "return redis.pcall('set','a',1)" 0
    eval "#!lua flags=no-writes\\nreturn redis.call('set','a',1)" 0
    eval "#!lua flags=no-writes\\nreturn redis.call('get','a')" 0
    eval "#!lua flags=bad\\nreturn 1" 0
    eval "#!lua flags=no-writes,bad\\nreturn 1" 0
    eval "#!lua\\nreturn 1" 0
    eval "#!lua flags=\\nreturn 1" 0
    eval "#!lua" 0
    eval "#!luax\\nreturn 1" 0
    eval "#!lua foo=bar\\nreturn 1" 0
    eval "#!lua name=x\\nreturn 1" 0
    eval "#!lua flags=allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\\nreturn redis.call('set','b',2)" 0
    eval_ro "#!lua\\nreturn 1" 0
    eval_ro "#!lua flags=no-writes\\nreturn 1" 0
    eval "#!lua\\nreturn x" 0
    get b
    """),
    script("scripts change data atomically", """
    eval "redis.call('set',KEYS[1],ARGV[1]) redis.call('incr',KEYS[2]) return redis.call('mget',KEYS[1],KEYS[2])" 2 a b 10
    mget a b
    eval "return redis.call('del',unpack(KEYS))" 2 a b
    eval "redis.call('select',1) redis.call('set','in1','x') return redis.call('get','in1')" 0
    get in1
    select 1
    get in1
    select 0
    eval "for i=1,10 do redis.call('rpush','list',i) end return redis.call('llen','list')" 0
    eval "return redis.call('dbsize')" 0
    eval "return redis.call('keys','*')" 0
    multi
    eval "return redis.call('incr','m')" 1 m
    eval "return redis.call('incr',KEYS[1])" 1 m
    exec
    eval "return redis.call('blpop','emptylist',0)" 0
    """),
    script("cjson, cmsgpack, bit and struct", """
    eval "return cjson.encode({1,2,{a=3}})" 0
    eval "return cjson.decode('[1,2,{\\"a\\":\\"x\\"}]')[3].a" 0
    eval "return cjson.encode(cjson.decode('{\\"a\\":[1,2.5,null,true]}'))" 0
    eval "return cjson.decode('{bad')" 0
    eval "return cmsgpack.pack({1,2,'a',{x=1}})" 0
    eval "return cmsgpack.unpack(cmsgpack.pack({1,2,'a'}))" 0
    eval "return cmsgpack.unpack(cmsgpack.pack(-5, 3.5, 'long string here'))" 0
    eval "return bit.band(0xff,0x0f)" 0
    eval "return {bit.bxor(5,3), bit.lshift(1,40), bit.bnot(0)}" 0
    eval "return bit.tohex(65535)" 0
    eval "return struct.pack('>I2i4',258,-1)" 0
    eval "return {struct.unpack('>I2',struct.pack('>I2',258))}" 0
    eval "return struct.size('>I4i2')" 0
    eval "cjson.x=1" 0
    eval "cjson.encode=nil" 0
    eval "bit.band=nil" 0
    eval "struct.new=1" 0
    eval "cmsgpack.pack=nil" 0
    eval "return type(cjson)..type(cmsgpack)..type(bit)..type(struct)" 0
    """),
])

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct ScriptingDifferentialTests {
    @Test(arguments: [1, 4]) func scriptingMatchesRedis(threads: Int) throws {
        #expect(try expectMatchesRedis(scriptingScripts, threads: threads) > 150)
    }

    /// Calls, rejected and failed calls of scripts and of the commands they run, as Redis
    /// counts them (INFO commandstats without the timings): a nested command that fails or is
    /// refused is its own failed or rejected call, and the script fails only when it replies
    /// an error.
    @Test func commandStatsMatchRedis() throws {
        let steps: [[String]] = [
            ["eval", "return redis.pcall('select',99)", "0"],
            ["eval", "local t = redis.pcall('select',99) return 1", "0"],
            ["eval", "return redis.call('select',99)", "0"],
            ["eval_ro", "local t = redis.pcall('set','x','y') return 1", "1", "x"],
            ["eval_ro", "return redis.call('set','x','y')", "1", "x"],
            ["eval", "return redis.pcall('nosuch')", "0"],
            ["eval", "return redis.call('get','x')", "1", "x"],
        ]
        func counts(_ server: ServerProcess) throws -> [String] {
            let client = try RespClient(port: server.port)
            _ = try client.call("CONFIG", "RESETSTAT")
            for step in steps { _ = try client.call(step) }
            let lines = (try client.call("INFO", "commandstats").text ?? "").split(separator: "\r\n")
            return lines.filter { $0.hasPrefix("cmdstat_") && !$0.hasPrefix("cmdstat_info") }.map { line in
                line.split(separator: ",").filter { !$0.hasPrefix("usec") }.joined(separator: ",")
            }.sorted()
        }
        let swiftlet = try ServerProcess.swiftlet()
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        let expected = try counts(redis)
        #expect(expected.count == 6)
        #expect(try counts(swiftlet) == expected)
    }
}
