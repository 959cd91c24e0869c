// The extra script libraries (cjson, cmsgpack, bit, struct) against replies recorded from
// redis-server 7.0.15, plus what has no Redis counterpart to compare with: the guard that
// keeps Debian's cjson from overflowing its buffers, and a bounded fuzz of the unpackers.
import Testing

/// Runs `snippets` in order in one state (Redis keeps one state across EVALs) and expects
/// each reply to be the recorded one.
private func expectRecordedReplies(_ snippets: [LibrarySnippet]) {
    let lua = ScriptState()
    for snippet in snippets {
        #expect(lua.runText(snippet.script) == snippet.redisReply, "\(snippet.lua)")
    }
}

@Suite struct ExtraLibrariesTests {
    @Test func structMatchesRedis() { expectRecordedReplies(structSnippets) }
    @Test func cmsgpackMatchesRedis() { expectRecordedReplies(cmsgpackSnippets) }
    @Test func cjsonMatchesRedis() { expectRecordedReplies(cjsonSnippets) }
    @Test func bitMatchesRedis() { expectRecordedReplies(bitSnippets) }

    @Test func librariesAreGlobalTables() {
        let reply = ScriptState().runText("""
            local names = {}
            for _, name in ipairs({'cjson', 'cmsgpack', 'bit', 'struct'}) do names[#names + 1] = name .. '=' .. type(_G[name]) end
            return table.concat(names, ' ')
            """)
        #expect(reply == "cjson=table cmsgpack=table bit=table struct=table")
    }

    @Test func roundTripsKeepValues() {
        let reply = ScriptState().runText(luaPrelude + """

            local values = {0, -1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31 - 1, -2^53,
                            127, 128, 255, 256, 65535, 65536, 2^32 - 1, 2^32, 2^53, 0.5, -1e-300, 1e300,
                            '', 'a\\0b', string.rep('\\255', 70000), true, false,
                            {}, {1, 2, {3, {4}}}, {a = {b = {c = 'd'}}, [1.5] = 'x', [-1] = 'y'}}
            local bad = {}
            for i, v in ipairs(values) do
              local back = cmsgpack.unpack(cmsgpack.pack(v))
              if show(back) ~= show(v) then bad[#bad + 1] = 'msgpack ' .. i end
            end
            for _, format in ipairs({'b', 'h', 'i', 'l', 'i3', 'i8'}) do
              for _, v in ipairs({0, -1, 1, -100, 100}) do
                local back = struct.unpack(format, struct.pack(format, v))
                if back ~= v then bad[#bad + 1] = 'struct ' .. format .. ' ' .. v end
              end
            end
            local packed = struct.pack('>s c0 d', 'x\\0y', 'raw\\0', 2.75)
            local zero_ended, raw, rest, number, next = struct.unpack('>s c2 s d', packed)
            if zero_ended ~= 'x' or raw ~= 'y\\0' or rest ~= 'raw' or number ~= 2.75 or next ~= #packed + 1 then
              bad[#bad + 1] = 'struct strings'
            end
            return #bad == 0 and 'all equal' or table.concat(bad, ', ')
            """)
        #expect(reply == "all equal")
    }

    @Test func cjsonRefusesOutputItsBuffersCannotHold() {
        // With sparse arrays never refused (ratio 0), a table with keys 1 and 10^9 is an
        // array of a billion nulls: about 5 GB, past what Debian's int-sized buffer holds.
        let reply = ScriptState().runText("""
            cjson.encode_sparse_array(false, 0)
            local ok, err = pcall(function() return cjson.encode({[1] = 1, [1e9] = 2}) end)
            local fresh = cjson.new()
            fresh.encode_sparse_array(false, 0)
            local fresh_ok, fresh_err = pcall(function() return fresh.encode({[1] = 1, [1e9] = 2}) end)
            return tostring(ok) .. ' ' .. err .. ' | ' .. tostring(fresh_ok) .. ' ' .. fresh_err
            """)
        let refusal = "Cannot serialise, output could exceed 2000000000 bytes"
        #expect(reply == "false user_script:2: \(refusal) | false user_script:5: \(refusal)")
    }

    @Test func cjsonEncodesLargeValuesWithinItsBuffers() {
        // 20 MB of quotes: escaping doubles it, well within the guard's bound.
        let reply = ScriptState().runText("""
            local s = string.rep('"', 10000000)
            local encoded = cjson.encode({s, s})
            return tostring(#encoded) .. ' ' .. tostring(cjson.decode(encoded)[2] == s)
            """)
        #expect(reply == "40000007 true")
    }

    @Test func fuzzedInputNeverCrashes() {
        let reply = ScriptState().runText(luaPrelude + "\n" + unpackerFuzzScript(iterations: 4000))
        // The digest is whatever the libraries answered; reaching it means no crash, and
        // both outcomes (decoded values and Lua errors) must have occurred.
        let counts = reply.split(separator: " ")
        #expect(counts.count == 3, "\(reply)")
        if counts.count == 3, let decoded = Int(counts[0]), let failed = Int(counts[1]) {
            #expect(decoded > 1000 && failed > 1000 && decoded + failed == 4000 * 7, "\(reply)")
        }
    }
}

/// A Lua chunk (run after luaPrelude) that feeds random, truncated and corrupted bytes to
/// every decoder and random formats to struct, and returns "<successes> <errors> <digest>",
/// the digest folding every result and error text. Its own generator (Park-Miller, exact in
/// doubles) gives the same cases in Redis and here.
func unpackerFuzzScript(iterations: Int) -> String {
    """
    local seed = 12345
    local function random(low, high)
      seed = (seed * 16807) % 2147483647
      return low + seed % (high - low + 1)
    end
    local function bytes(n)
      local t = {}
      for i = 1, n do t[i] = string.char(random(0, 255)) end
      return table.concat(t)
    end
    local samples = {
      cmsgpack.pack({1, {a = 'x', b = {1.5, -2^40, true}}, 'str', 2^33}, -7),
      cmsgpack.pack(string.rep('z', 300), {[1] = {}, [2] = {x = {y = {0.1}}}}),
      cjson.encode({a = {1, 2.5, 'x'}, b = {c = true}}),
      struct.pack('>i4 s d', -5, 'abc', 0.25),
    }
    local options = {'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I', 'i3', 'I9', 'i16', 'f', 'd', 's', 'c0', 'c2', 'x', '>', '<', '!', '!2', '!4', ' ', 'q'}
    local successes, errors, digest = 0, 0, 0
    local function record(ok, ...)
      if ok then successes = successes + 1 else errors = errors + 1 end
      local text = show({...})
      for i = 1, #text do digest = (digest * 31 + string.byte(text, i)) % 2147483647 end
    end
    for i = 1, \(iterations) do
      local input
      local sample = samples[random(1, #samples)]
      local mode = i % 3
      if mode == 0 then
        input = bytes(random(0, 40))
      elseif mode == 1 then
        input = sample:sub(1, random(0, #sample))
      else
        local at = random(1, #sample)
        input = sample:sub(1, at - 1) .. string.char(random(0, 255)) .. sample:sub(at + 1)
      end
      record(pcall(cmsgpack.unpack, input))
      record(pcall(cmsgpack.unpack_one, input, random(0, 3)))
      record(pcall(cmsgpack.unpack_limit, input, random(0, 3), random(0, 2)))
      record(pcall(cjson.decode, input))
      local format = {}
      for j = 1, random(1, 6) do format[j] = options[random(1, #options)] end
      format = table.concat(format)
      record(pcall(struct.unpack, format, input, random(-1, 5)))
      record(pcall(struct.size, format))
      record(pcall(struct.pack, format, random(-1000, 1000), input, 2^62, -2^70, input))
    end
    return successes .. ' ' .. errors .. ' ' .. digest
    """
}
