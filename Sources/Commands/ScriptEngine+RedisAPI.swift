// The `redis` table scripts see (call, pcall, error_reply, status_reply, sha1hex, log,
// setresp, set_repl, replicate_commands, breakpoint, debug, acl_check_cmd and the LOG_*,
// REPL_* and version constants), Redis's pcall that unwraps error tables, and the
// deterministic math.random. redis.call runs the command as the script's client would in
// Redis: the same refusals in the same order (arity, noscript, read-only scripts, disk errors,
// OOM before the first write), then the command itself through the dispatcher with its reply
// written to a scratch buffer and parsed into Lua values. Every function returns its result
// count or SWIFTLET_LUA_RAISE; the C trampoline raises, so no longjmp crosses Swift frames.
#if canImport(Glibc)
import Glibc
#endif
import CLua
import Persistence
import RESP
import Storage
import Support

private let raise = SWIFTLET_LUA_RAISE

/// The text of Redis's error table for `message`: "-CODE message" keeps its code, a plain
/// message gets ERR.
func errorTableText(_ message: String) -> String {
    var text = message.hasPrefix("-") ? String(message.dropFirst()) : message
    if !message.hasPrefix("-") || !text.contains(" ") { text = "ERR " + text }
    while text.hasSuffix("\r") || text.hasSuffix("\n") { text.removeLast() }
    return text
}

/// Pushes Redis's error table {err = "<CODE> <message>"} (see errorTableText).
func pushErrorTable(_ L: OpaquePointer, _ message: String, ignoreStats: Bool = false) {
    swiftlet_lua_newtable(L)
    lua_pushstring(L, errorTableText(message))
    lua_setfield(L, -2, "err")
    if ignoreStats {
        lua_pushboolean(L, 1)
        lua_setfield(L, -2, "ignore_error_stats_update")
    }
}

private func register(_ L: OpaquePointer, _ name: String, _ function: swiftlet_lua_swift_fn) {
    swiftlet_lua_pushswift(L, function)
    lua_setfield(L, -2, name)
}

private func register(_ L: OpaquePointer, _ name: String, number: Double) {
    lua_pushnumber(L, number)
    lua_setfield(L, -2, name)
}

extension ScriptEngine {
    static func registerRedisAPI(_ L: OpaquePointer) {
        swiftlet_lua_newtable(L)
        register(L, "call") { ScriptEngine.running.redisCommand($0!, raising: true) }
        register(L, "pcall") { ScriptEngine.running.redisCommand($0!, raising: false) }
        registerLogAndVersion(L)
        register(L, "setresp") { ScriptEngine.running.setResp($0!) }
        register(L, "sha1hex", sha1hex)
        register(L, "error_reply", errorReply)
        register(L, "status_reply", statusReply)
        register(L, "set_repl") { ScriptEngine.running.setReplication($0!) }
        for (name, flags) in [("REPL_NONE", 0.0), ("REPL_AOF", 1), ("REPL_SLAVE", 2), ("REPL_REPLICA", 2), ("REPL_ALL", 3)] {
            register(L, name, number: flags)
        }
        register(L, "acl_check_cmd") { ScriptEngine.running.aclCheckCommand($0!) }
        // Outside a debugging session (SCRIPT DEBUG is not offered) these do nothing, as in Redis.
        register(L, "breakpoint") { L in lua_pushboolean(L, 0); return 1 }
        register(L, "debug") { _ in 0 }
        // Deprecated in 7.0: always effects replication, returns true.
        register(L, "replicate_commands") { L in lua_pushboolean(L, 1); return 1 }
        swiftlet_lua_setglobal(L, "redis")

        swiftlet_lua_getglobal(L, "math")
        swiftlet_lua_register_random(L, { ScriptEngine.running.nextRandom() },
                                     { ScriptEngine.running.seedRandom($0) ? 1 : 0 })
        swiftlet_lua_pop(L, 1)
    }

    /// The globals a library's code sees while FUNCTION LOAD runs it (Redis's library API):
    /// only `redis`, holding register_function, log, the LOG_* levels and the version.
    static func registerLibraryAPI(_ L: OpaquePointer) {
        swiftlet_lua_newtable(L)
        register(L, "register_function") { ScriptEngine.running.registerFunction($0!) }
        registerLogAndVersion(L)
        swiftlet_lua_make_library_globals(L)
    }

    private static func registerLogAndVersion(_ L: OpaquePointer) {
        register(L, "log") { ScriptEngine.running.log($0!) }
        for (name, level) in [("LOG_DEBUG", 0.0), ("LOG_VERBOSE", 1), ("LOG_NOTICE", 2), ("LOG_WARNING", 3)] {
            register(L, name, number: level)
        }
        register(L, "REDIS_VERSION_NUM", number: Double(7 << 16 | 0 << 8 | 15))
        lua_pushstring(L, "7.0.15")
        lua_setfield(L, -2, "REDIS_VERSION")
    }

    // MARK: redis.call / redis.pcall

    private enum Admission {
        case run(CommandSpec)
        case refuse(String)
        case restart
    }

    fileprivate func redisCommand(_ L: OpaquePointer, raising: Bool) -> Int32 {
        guard let context = run.context else {
            pushErrorTable(L, "redis.call/pcall can only be called inside a script invocation")
            return raise
        }
        guard let args = takeArguments(L) else { return raising ? raise : 1 }
        // Set by holdShards (in admit) for the call's key; valid for this call only.
        defer { context.nestedKeyLocation = nil }
        let spec: CommandSpec
        switch admit(L, args, context) {
        case .run(let admitted): spec = admitted
        case .refuse(let message):
            // Counted as an error reply now, as Redis's scriptCall does; the table says so,
            // so that the script's own reply does not count it again.
            context.server.errorStats.record(Array(errorTableText(message).utf8))
            pushErrorTable(L, message, ignoreStats: true)
            return raising ? raise : 1
        case .restart:
            return raise
        }
        scratch.buffer.count = 0
        scratch.resp3 = run.resp3
        swap(&context.reply, &scratch)
        context.args = args
        context.session.protocolVersion = run.resp3 ? 3 : 2
        let effectsBefore = context.pendingEffects.effects.count
        // A failed nested command is its own failed call, not the script's.
        let scriptFailed = context.failed
        Dispatcher.runQueued(spec, context)
        context.failed = scriptFailed
        if !run.propagatesToAOF { context.discardEffects(beyond: effectsBefore) }
        swap(&context.reply, &scratch)
        let reply = UnsafeRawBufferPointer(start: scratch.buffer.base, count: scratch.buffer.count)
        var position = 0
        pushReply(L, reply, &position)
        return raising && reply.first == 45 ? raise : 1
    }

    /// The arguments of redis.call/pcall/acl_check_cmd, moved out of the Lua stack (left
    /// empty); nil, with the error table pushed, when there are none or one is neither a
    /// string nor a number.
    private func takeArguments(_ L: OpaquePointer) -> CommandArgs? {
        let count = Int(lua_gettop(L))
        guard count > 0 else {
            pushErrorTable(L, "Please specify at least one argument for this redis lib call")
            return nil
        }
        let gathered = gatherArguments(L, count)
        lua_settop(L, 0)
        guard gathered else {
            pushErrorTable(L, "Lua redis lib command arguments must be strings or integers")
            return nil
        }
        return CommandArgs(base: UnsafeRawPointer(argumentBytes), slices: argumentSlices, count: count)
    }

    /// The command, or subcommand, that `args` names; nil when there is none.
    private func commandSpec(_ args: CommandArgs, _ context: CommandContext) -> CommandSpec? {
        guard let spec = context.lookUpCommand(args[0])?.takeUnretainedValue() else { return nil }
        guard !spec.subcommands.isEmpty && args.count >= 2 else { return spec }
        return spec.subcommand(named: args[1])
    }

    /// Copies the Lua arguments into the argument buffer (numbers as %.17g, as Redis does);
    /// false when one is neither a string nor a number.
    private func gatherArguments(_ L: OpaquePointer, _ count: Int) -> Bool {
        if count > sliceCapacity {
            argumentSlices.deallocate()
            sliceCapacity = count * 2
            argumentSlices = .allocate(capacity: sliceCapacity)
        }
        var used = 0
        var digits: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        for index in 1...count {
            var length = 0
            let text: UnsafeRawPointer
            if lua_type(L, Int32(index)) == LUA_TNUMBER {
                let value = lua_tonumber(L, Int32(index))
                length = withUnsafeMutableBytes(of: &digits) { raw in
                    Int(swiftlet_lua_format_number(raw.baseAddress!.assumingMemoryBound(to: CChar.self), 64, value))
                }
                text = withUnsafeBytes(of: &digits) { $0.baseAddress! }
                appendArgument(text, length, &used, index - 1)
            } else {
                guard let string = lua_tolstring(L, Int32(index), &length) else { return false }
                appendArgument(UnsafeRawPointer(string), length, &used, index - 1)
            }
        }
        return true
    }

    private func appendArgument(_ bytes: UnsafeRawPointer, _ length: Int, _ used: inout Int, _ slot: Int) {
        if used + length > argumentCapacity {
            var capacity = argumentCapacity * 2
            while capacity < used + length { capacity *= 2 }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
            grown.copyMemory(from: argumentBytes, byteCount: used)
            argumentBytes.deallocate()
            argumentBytes = grown
            argumentCapacity = capacity
        }
        (argumentBytes + used).copyMemory(from: bytes, byteCount: length)
        argumentSlices[slot] = ArgSlice(offset: used, length: length)
        used += length
    }

    /// Redis's scriptCall checks, in its order, then the shard check.
    private func admit(_ L: OpaquePointer, _ args: CommandArgs, _ context: CommandContext) -> Admission {
        guard let spec = commandSpec(args, context) else { return .refuse("Unknown Redis command called from script") }
        // Refusals of a known command count as its rejected calls, as in Redis.
        func rejected(_ message: String) -> Admission {
            (context.stats.counters + spec.statsIndex).pointee.rejectedCalls += 1
            return .refuse(message)
        }
        guard spec.accepts(argumentCount: args.count), spec.handler != nil else {
            return rejected("Wrong number of args calling Redis command from script")
        }
        if spec.flags.contains(.noscript) && !server.scripts.denyScriptsDisabled {
            return rejected("This Redis command is not allowed from script")
        }
        if run.readOnly && !spec.flags.isDisjoint(with: [.write, .mayReplicate]) {
            return rejected("Write commands are not allowed from read-only scripts.")
        }
        if spec.flags.contains(.write) && !run.writeDirty && server.snapshots.refusesWrites {
            return rejected("-" + RedisError.backgroundSaveFailed)
        }
        if !run.allowOOM && server.config.maxmemory > 0 && !run.writeDirty && run.overMemoryLimit
            && spec.flags.contains(.denyoom) {
            return rejected("-" + RedisError.outOfMemory)
        }
        if !run.holdsAllShards && !holdShards(of: spec, args, context) {
            run.restart = true
            setInterruptError(L, "script restarted holding every shard")
            swiftlet_lua_install_line_hook(L)
            swiftlet_lua_getregistry(L, "swiftlet_interrupt_error")
            return .restart
        }
        if spec.flags.contains(.write) {
            if !run.writeDirty && run.busy { server.scripts.noteWrite() }
            run.writeDirty = true
        }
        return .run(spec)
    }

    // MARK: the other redis.* functions

    fileprivate func log(_ L: OpaquePointer) -> Int32 {
        let count = lua_gettop(L)
        guard count >= 2 else {
            pushErrorTable(L, "redis.log() requires two arguments or more.")
            return raise
        }
        guard lua_isnumber(L, 1) != 0 else {
            pushErrorTable(L, "First argument must be a number (log level).")
            return raise
        }
        let level = Int(lua_tonumber(L, 1))
        guard (0...3).contains(level) else {
            pushErrorTable(L, "Invalid debug level.")
            return raise
        }
        var parts: [String] = []
        for index in 2...count {
            var length = 0
            if let text = lua_tolstring(L, index, &length) {
                parts.append(String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self))
            }
        }
        server.scripts.log(level, parts.joined(separator: " "))
        return 0
    }

    fileprivate func setResp(_ L: OpaquePointer) -> Int32 {
        guard run.context != nil else {
            pushErrorTable(L, "redis.setresp can only be called inside a script invocation")
            return raise
        }
        guard lua_gettop(L) == 1 else {
            pushErrorTable(L, "redis.setresp() requires one argument.")
            return raise
        }
        let version = Int(lua_tonumber(L, 1))
        guard version == 2 || version == 3 else {
            pushErrorTable(L, "RESP version must be 2 or 3.")
            return raise
        }
        run.resp3 = version == 3
        return 0
    }

    /// redis.set_repl: checked as Redis does; without REPL_AOF the script's next writes stay
    /// out of the AOF (replication is not built, so REPL_REPLICA steers nothing yet).
    fileprivate func setReplication(_ L: OpaquePointer) -> Int32 {
        guard run.context != nil else {
            pushErrorTable(L, "redis.set_repl can only be called inside a script invocation")
            return raise
        }
        guard lua_gettop(L) == 1 else {
            pushErrorTable(L, "redis.set_repl() requires two arguments.")
            return raise
        }
        let flags = Int(lua_tonumber(L, -1))
        guard flags & ~3 == 0 else {
            pushErrorTable(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
            return raise
        }
        run.propagatesToAOF = flags & 1 != 0
        return 0
    }

    /// redis.acl_check_cmd: every command is allowed (there is only the default user).
    fileprivate func aclCheckCommand(_ L: OpaquePointer) -> Int32 {
        guard let context = run.context else {
            pushErrorTable(L, "redis.acl_check_cmd can only be called inside a script invocation")
            return raise
        }
        guard let args = takeArguments(L) else { return raise }
        guard commandSpec(args, context) != nil else {
            pushErrorTable(L, "Invalid command passed to redis.acl_check_cmd()")
            return raise
        }
        lua_pushboolean(L, 1)
        return 1
    }

    /// The next math.random value in [0, 1), or -1 outside a script invocation.
    fileprivate func nextRandom() -> Double {
        guard run.context != nil else { return -1 }
        return Double(server.scripts.nextRandom() % Int32.max) / Double(Int32.max)
    }

    fileprivate func seedRandom(_ seed: Int32) -> Bool {
        guard run.context != nil else { return false }
        server.scripts.seedRandom(seed)
        return true
    }
}

/// redis.sha1hex(string).
private let sha1hex: swiftlet_lua_swift_fn = { L in
    let L = L!
    guard lua_gettop(L) == 1 else {
        pushErrorTable(L, "wrong number of arguments")
        return raise
    }
    var length = 0
    let text = lua_tolstring(L, 1, &length)
    let digest = ScriptDigest(of: UnsafeRawBufferPointer(start: text, count: text == nil ? 0 : length))
    lua_pushstring(L, digest.hex)
    return 1
}

/// redis.error_reply(message): the error table, "-" and a missing code handled as Redis does.
private let errorReply: swiftlet_lua_swift_fn = { L in
    let L = L!
    guard lua_gettop(L) == 1, lua_type(L, -1) == LUA_TSTRING else {
        pushErrorTable(L, "wrong number or type of arguments")
        return 1
    }
    let text = String(cString: swiftlet_lua_tostring(L, -1))
    pushErrorTable(L, text.hasPrefix("-") ? text : "-" + text)
    return 1
}

/// redis.status_reply(message): {ok = message}.
private let statusReply: swiftlet_lua_swift_fn = { L in
    let L = L!
    guard lua_gettop(L) == 1, lua_type(L, -1) == LUA_TSTRING else {
        pushErrorTable(L, "wrong number or type of arguments")
        return 1
    }
    swiftlet_lua_newtable(L)
    lua_pushvalue(L, -2)
    lua_setfield(L, -2, "ok")
    return 1
}

/// Redis's pcall: like Lua's, but an error table caught comes back as its message.
let pcallFunction: swiftlet_lua_swift_fn = { L in
    let L = L!
    let count = lua_gettop(L)
    lua_pushboolean(L, 1)
    lua_insert(L, 1)
    if lua_pcall(L, count - 1, LUA_MULTRET, 0) != 0 {
        lua_remove(L, 1)
        if swiftlet_lua_istable(L, -1) != 0 {
            lua_getfield(L, -1, "err")
            if lua_isstring(L, -1) != 0 { lua_replace(L, -2) } else { swiftlet_lua_pop(L, 1) }
        }
        lua_pushboolean(L, 0)
        lua_insert(L, 1)
    }
    return lua_gettop(L)
}
