// Redis's type conversions between command replies and Lua values, both ways. A reply of a
// command run by redis.call is parsed from its RESP bytes: integers become numbers, bulk
// strings strings, nil bulk and nil array false, status {ok=...}, errors {err=...}, arrays
// tables; with redis.setresp(3) also maps {map={...}}, sets {set={member=true}}, doubles
// {double=n}, big numbers {big_number=s}, verbatim strings {verbatim_string={format, string}},
// null nil and booleans; attributes are skipped. The script's result goes the other way into
// the caller's protocol: tables with err/ok/double/big_number/verbatim_string/map/set fields
// become those replies, other tables arrays up to the first nil, numbers integers (truncated),
// booleans 1/nil in RESP2 scripts and true/false replies after setresp(3).
#if canImport(Glibc)
import Glibc
#endif
import CLua
import RESP
import Support

extension ScriptEngine {
    // MARK: reply → Lua

    /// Pushes the reply starting at `position` and moves past it.
    func pushReply(_ L: OpaquePointer, _ reply: UnsafeRawBufferPointer, _ position: inout Int) {
        guard position < reply.count else { return lua_pushnil(L) }
        lua_checkstack(L, 4)
        let type = reply[position]
        let line = readLine(reply, &position)
        switch type {
        case 58: // ':'
            lua_pushnumber(L, Double(Numbers.parseInt64(line) ?? 0))
        case 36: // '$'
            let length = Numbers.parseInt64(line) ?? -1
            if length < 0 { return lua_pushboolean(L, 0) }
            pushBytes(L, UnsafeRawBufferPointer(rebasing: reply[position..<(position + Int(length))]))
            position += Int(length) + 2
        case 43: // '+'
            swiftlet_lua_newtable(L)
            pushBytes(L, line)
            lua_setfield(L, -2, "ok")
        case 45: // '-'
            pushErrorTable(L, "-" + String(decoding: line, as: UTF8.self), ignoreStats: true)
        case 42: // '*'
            let count = Numbers.parseInt64(line) ?? -1
            if count < 0 { return lua_pushboolean(L, 0) }
            lua_createtable(L, Int32(count), 0)
            for index in 0..<Int(count) {
                pushReply(L, reply, &position)
                lua_rawseti(L, -2, Int32(index + 1))
            }
        case 37: // '%'
            swiftlet_lua_newtable(L)
            swiftlet_lua_newtable(L)
            for _ in 0..<Int(Numbers.parseInt64(line) ?? 0) {
                pushReply(L, reply, &position)
                pushReply(L, reply, &position)
                lua_rawset(L, -3)
            }
            lua_setfield(L, -2, "map")
        case 126: // '~'
            swiftlet_lua_newtable(L)
            swiftlet_lua_newtable(L)
            for _ in 0..<Int(Numbers.parseInt64(line) ?? 0) {
                pushReply(L, reply, &position)
                lua_pushboolean(L, 1)
                lua_rawset(L, -3)
            }
            lua_setfield(L, -2, "set")
        case 95: // '_'
            lua_pushnil(L)
        case 35: // '#'
            lua_pushboolean(L, line.first == 116 ? 1 : 0)
        case 44: // ','
            swiftlet_lua_newtable(L)
            lua_pushnumber(L, parseDouble(line))
            lua_setfield(L, -2, "double")
        case 40: // '('
            swiftlet_lua_newtable(L)
            pushBytes(L, line)
            lua_setfield(L, -2, "big_number")
        case 61: // '='
            let length = Int(Numbers.parseInt64(line) ?? 4)
            let body = UnsafeRawBufferPointer(rebasing: reply[position..<(position + length)])
            position += length + 2
            swiftlet_lua_newtable(L)
            swiftlet_lua_newtable(L)
            pushBytes(L, UnsafeRawBufferPointer(rebasing: body[4...]))
            lua_setfield(L, -2, "string")
            pushBytes(L, UnsafeRawBufferPointer(rebasing: body[..<3]))
            lua_setfield(L, -2, "format")
            lua_setfield(L, -2, "verbatim_string")
        case 124: // '|': attributes are not shown to scripts
            for _ in 0..<(2 * Int(Numbers.parseInt64(line) ?? 0)) {
                pushReply(L, reply, &position)
                swiftlet_lua_pop(L, 1)
            }
            pushReply(L, reply, &position)
        default:
            lua_pushnil(L)
        }
    }

    /// The rest of the header line after its type byte; `position` moves past its CRLF.
    private func readLine(_ reply: UnsafeRawBufferPointer, _ position: inout Int) -> UnsafeRawBufferPointer {
        let start = position + 1
        var end = start
        while end < reply.count && reply[end] != 13 { end += 1 }
        position = min(end + 2, reply.count)
        return UnsafeRawBufferPointer(rebasing: reply[start..<end])
    }

    private func parseDouble(_ text: UnsafeRawBufferPointer) -> Double {
        let string = String(decoding: text, as: UTF8.self)
        switch string {
        case "inf": return .infinity
        case "-inf": return -.infinity
        default: return Double(string) ?? .nan
        }
    }

    func pushBytes(_ L: OpaquePointer, _ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return lua_pushlstring(L, ScriptEngine.empty, 0) }
        lua_pushlstring(L, base.assumingMemoryBound(to: CChar.self), bytes.count)
    }

    private static let empty: UnsafePointer<CChar> = {
        let byte = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
        byte.pointee = 0
        return UnsafePointer(byte)
    }()

    // MARK: Lua → reply

    /// Writes the value on top of the stack as the reply to `context` (the value stays).
    func writeReply(_ L: OpaquePointer, _ context: CommandContext) {
        guard lua_checkstack(L, 4) != 0 else { return context.error("ERR reached lua stack limit") }
        switch lua_type(L, -1) {
        case LUA_TSTRING:
            var length = 0
            let text = lua_tolstring(L, -1, &length)!
            context.reply.bulk(UnsafeRawPointer(text), length)
        case LUA_TBOOLEAN:
            let value = lua_toboolean(L, -1) != 0
            if run.resp3 {
                context.reply.bool(value)
            } else if value {
                context.reply.integer(1)
            } else {
                context.reply.nullBulk()
            }
        case LUA_TNUMBER:
            context.reply.integer(truncated(lua_tonumber(L, -1)))
        case LUA_TTABLE:
            writeTable(L, context)
        default:
            context.reply.nullBulk()
        }
    }

    /// C's (long long) cast of a Lua number, defined for every input.
    private func truncated(_ value: Double) -> Int64 {
        guard value.isFinite else { return value.isNaN ? Int64.min : (value > 0 ? Int64.max : Int64.min) }
        if value >= 9.2233720368547758e18 { return Int64.max }
        if value < -9.2233720368547758e18 { return Int64.min }
        return Int64(value)
    }

    /// Pushes field `name` of the table at `table` (a negative index), without metamethods.
    private func rawField(_ L: OpaquePointer, _ name: String, of table: Int32 = -1) -> Int32 {
        lua_pushstring(L, name)
        lua_rawget(L, table - 1)
        return lua_type(L, -1)
    }

    /// Each CR and LF made a space (byte by byte: "\r\n" is one Swift Character), as Redis
    /// cleans status and big-number replies.
    static func spacingLineBreaks(_ text: String) -> String {
        String(decoding: text.utf8.map { $0 == 13 || $0 == 10 ? 32 : $0 }, as: UTF8.self)
    }

    /// Replies `message` for the error table on top of the stack; an error already counted
    /// where it arose (the table's ignore_error_stats_update) is not counted again.
    func replyErrorTable(_ L: OpaquePointer, _ context: CommandContext, _ message: String) {
        lua_getfield(L, -1, "ignore_error_stats_update")
        let counted = lua_toboolean(L, -1) != 0
        swiftlet_lua_pop(L, 1)
        if counted {
            context.failed = true
            context.reply.error(message)
        } else {
            context.error(message)
        }
    }

    private func writeTable(_ L: OpaquePointer, _ context: CommandContext) {
        if rawField(L, "err") == LUA_TSTRING {
            swiftlet_lua_pop(L, 1)
            return replyErrorTable(L, context, field(L, "err") ?? "")
        }
        swiftlet_lua_pop(L, 1)
        if rawField(L, "ok") == LUA_TSTRING {
            let status = String(cString: swiftlet_lua_tostring(L, -1))
            swiftlet_lua_pop(L, 1)
            return context.reply.simple(ScriptEngine.spacingLineBreaks(status))
        }
        swiftlet_lua_pop(L, 1)
        if rawField(L, "double") == LUA_TNUMBER {
            let value = lua_tonumber(L, -1)
            swiftlet_lua_pop(L, 1)
            return context.reply.double(value)
        }
        swiftlet_lua_pop(L, 1)
        if rawField(L, "big_number") == LUA_TSTRING {
            let digits = String(cString: swiftlet_lua_tostring(L, -1))
            swiftlet_lua_pop(L, 1)
            return context.reply.bigNumber(ScriptEngine.spacingLineBreaks(digits))
        }
        swiftlet_lua_pop(L, 1)
        if rawField(L, "verbatim_string") == LUA_TTABLE {
            if rawField(L, "format") == LUA_TSTRING {
                let format = String(cString: swiftlet_lua_tostring(L, -1))
                if rawField(L, "string", of: -2) == LUA_TSTRING {
                    var length = 0
                    let text = lua_tolstring(L, -1, &length)!
                    context.reply.verbatim(UnsafeRawBufferPointer(start: text, count: length), format: format)
                    swiftlet_lua_pop(L, 3)
                    return
                }
                swiftlet_lua_pop(L, 1)
            }
            swiftlet_lua_pop(L, 1)
        }
        swiftlet_lua_pop(L, 1)
        if rawField(L, "map") == LUA_TTABLE {
            let start = context.reply.deferredStart()
            var count = 0
            lua_pushnil(L)
            while lua_next(L, -2) != 0 {
                lua_pushvalue(L, -2)
                writeReply(L, context)
                swiftlet_lua_pop(L, 1)
                writeReply(L, context)
                swiftlet_lua_pop(L, 1)
                count += 1
            }
            context.reply.deferredMap(at: start, count: count)
            swiftlet_lua_pop(L, 1)
            return
        }
        swiftlet_lua_pop(L, 1)
        if rawField(L, "set") == LUA_TTABLE {
            let start = context.reply.deferredStart()
            var count = 0
            lua_pushnil(L)
            while lua_next(L, -2) != 0 {
                swiftlet_lua_pop(L, 1)
                writeReply(L, context)
                count += 1
            }
            context.reply.deferredSet(at: start, count: count)
            swiftlet_lua_pop(L, 1)
            return
        }
        swiftlet_lua_pop(L, 1)
        let start = context.reply.deferredStart()
        var count: Int32 = 0
        while true {
            lua_rawgeti(L, -1, count + 1)
            if lua_type(L, -1) == LUA_TNIL {
                swiftlet_lua_pop(L, 1)
                break
            }
            writeReply(L, context)
            swiftlet_lua_pop(L, 1)
            count += 1
        }
        context.reply.deferredArray(at: start, count: Int(count))
    }
}
