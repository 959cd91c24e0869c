// Library functions in a worker's engine (Redis 7.0's function_lua.c): a second Lua state
// whose `redis` table also has register_function, usable only while FUNCTION LOAD runs the
// library's code. Loading checks a library here and returns what it registered; the state
// keeps the registered callbacks in its registry. When the shared libraries change (their
// generation moves), the next FCALL on this worker starts a fresh state and loads them all.
import CLua
import CLuaLibs
import Support

private let raise = SWIFTLET_LUA_RAISE

extension ScriptEngine {
    /// The function state, reloaded with the current libraries when they changed.
    func currentFunctionState() -> FunctionState {
        let registry = server.functions
        if let functionState, functionGeneration == registry.generation { return functionState }
        if let functionState { swiftlet_lua_close(functionState.state) }
        let L = ScriptEngine.makeState(forFunctions: true)
        let made = (state: L, references: swiftlet_lua_make_run_references(L))
        functionState = made
        functionReferences = [:]
        functionGeneration = registry.generation
        for library in registry.all {
            if case .success(let loaded) = load(library.code, into: L) {
                for entry in loaded.registered { functionReferences[entry.function.name] = entry.reference }
            }
        }
        return made
    }

    /// Runs library function `function` for FCALL (the caller holds the shards); true, having
    /// written nothing, when the run must start over holding every shard.
    func call(_ function: LibraryFunction, _ context: CommandContext, keys: Range<Int>, arguments: Range<Int>,
              readOnly: Bool) -> Bool {
        let (L, references) = currentFunctionState()
        guard let reference = functionReferences[function.name] else {
            context.error("ERR Function not found")
            return false
        }
        return execute(in: L, references, reference, context, keys: keys, arguments: arguments, flags: function.flags,
                       readOnly: readOnly, source: nil, function: function)
    }

    /// Checks `code` by running it (FUNCTION LOAD, RESTORE): the library and its functions,
    /// or Redis's error. The callbacks stay in the function state until it is next rebuilt.
    func loadLibrary(_ code: [UInt8]) -> Result<FunctionLibrary, ScriptError> {
        let (L, _) = currentFunctionState()
        switch load(code, into: L) {
        case .success(let loaded):
            // Rebuilt on the next FCALL (the generation moves when the library is added).
            return .success(loaded.library)
        case .failure(let error):
            return .failure(error)
        }
    }

    private func load(_ code: [UInt8], into L: OpaquePointer)
        -> Result<(library: FunctionLibrary, registered: [(function: LibraryFunction, reference: Int32)]), ScriptError> {
        let name: String, body: Int
        switch FunctionLibrary.metadata(of: code) {
        case .success(let metadata): (name, body) = metadata
        case .failure(let error): return .failure(error)
        }
        let compiled = code.withUnsafeBytes { bytes in
            luaL_loadbuffer(L, bytes.baseAddress!.assumingMemoryBound(to: CChar.self) + body, bytes.count - body,
                            "@user_function")
        }
        if compiled != 0 {
            let message = String(cString: swiftlet_lua_tostring(L, -1))
            swiftlet_lua_pop(L, 1)
            return .failure(ScriptError("ERR Error compiling function: " + message))
        }
        registering = []
        swiftlet_lua_use_library_globals(L, 1)
        // The library's top level runs under a deadline, as in Redis: a loop there must not
        // hold the worker (and the shards of nobody) forever.
        loadDeadline = Clock.ticks() &+ UInt64(max(Clock.ticksPerMillisecond, 1)) * 500
        swiftlet_lua_install_hook(L, 100_000)
        defer {
            swiftlet_lua_remove_hook(L)
            loadDeadline = nil
            swiftlet_lua_use_library_globals(L, 0)
            registering = nil
        }
        if lua_pcall(L, 0, 0, 0) != 0 {
            let message: String
            if swiftlet_lua_istable(L, -1) != 0 {
                message = field(L, "err") ?? ""
            } else {
                message = "ERR " + (swiftlet_lua_tostring(L, -1).map { String(cString: $0) } ?? "")
            }
            swiftlet_lua_pop(L, 1)
            release(registering ?? [], in: L)
            return .failure(ScriptError("ERR Error registering functions: " + message))
        }
        let registered = registering ?? []
        guard !registered.isEmpty else { return .failure(ScriptError("ERR No functions registered")) }
        return .success((FunctionLibrary(name: name, code: code, functions: registered.map(\.function)), registered))
    }

    private func release(_ registered: [(function: LibraryFunction, reference: Int32)], in L: OpaquePointer) {
        for entry in registered { luaL_unref(L, swiftlet_lua_registryindex(), entry.reference) }
    }

    // MARK: redis.register_function

    func registerFunction(_ L: OpaquePointer) -> Int32 {
        guard registering != nil else {
            pushErrorTable(L, "redis.register_function can only be called on FUNCTION LOAD command")
            return raise
        }
        let parsed: Result<(String, String?, ScriptFlags, Int32), ScriptError>
        switch lua_gettop(L) {
        case 1: parsed = namedRegistration(L)
        case 2: parsed = positionalRegistration(L)
        default: parsed = .failure(ScriptError("wrong number of arguments to redis.register_function"))
        }
        guard case .success(let (name, description, flags, callbackIndex)) = parsed else {
            if case .failure(let error) = parsed { pushErrorTable(L, error.message) }
            return raise
        }
        guard FunctionLibrary.validName(name) else {
            pushErrorTable(L, "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
            return raise
        }
        guard !(registering ?? []).contains(where: { $0.function.name == name }) else {
            pushErrorTable(L, "Function already exists in the library")
            return raise
        }
        lua_pushvalue(L, callbackIndex)
        let reference = luaL_ref(L, swiftlet_lua_registryindex())
        registering?.append((LibraryFunction(name: name, description: description, flags: flags), reference))
        return 0
    }

    private func positionalRegistration(_ L: OpaquePointer) -> Result<(String, String?, ScriptFlags, Int32), ScriptError> {
        guard lua_isstring(L, 1) != 0, let name = string(L, 1) else {
            return .failure(ScriptError("first argument to redis.register_function must be a string"))
        }
        guard lua_type(L, 2) == LUA_TFUNCTION else {
            return .failure(ScriptError("second argument to redis.register_function must be a function"))
        }
        return .success((name, nil, [], 2))
    }

    private func namedRegistration(_ L: OpaquePointer) -> Result<(String, String?, ScriptFlags, Int32), ScriptError> {
        guard swiftlet_lua_istable(L, 1) != 0 else {
            return .failure(ScriptError("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."))
        }
        var name: String?, description: String?, flags: ScriptFlags = [], callback: Int32?
        lua_pushnil(L)
        while lua_next(L, 1) != 0 {
            defer { swiftlet_lua_pop(L, 1) }
            guard lua_type(L, -2) == LUA_TSTRING || lua_type(L, -2) == LUA_TNUMBER, let key = keyString(L) else {
                return .failure(ScriptError("named argument key given to redis.register_function is not a string"))
            }
            switch key.lowercased() {
            case "function_name":
                guard lua_isstring(L, -1) != 0 else {
                    return .failure(ScriptError("function_name argument given to redis.register_function must be a string"))
                }
                name = string(L, -1)
            case "description":
                guard lua_isstring(L, -1) != 0 else {
                    return .failure(ScriptError("description argument given to redis.register_function must be a string"))
                }
                description = string(L, -1)
            case "callback":
                guard lua_type(L, -1) == LUA_TFUNCTION else {
                    return .failure(ScriptError("callback argument given to redis.register_function must be a function"))
                }
                // Kept on the stack below the iteration for registerFunction to reference.
                lua_pushvalue(L, -1)
                lua_insert(L, 2)
                callback = 2
                lua_pushvalue(L, -2)
                lua_remove(L, -3)
                lua_insert(L, -2)
            case "flags":
                guard swiftlet_lua_istable(L, -1) != 0 else {
                    return .failure(ScriptError("flags argument to redis.register_function must be a table representing function flags"))
                }
                guard let parsed = flagList(L) else { return .failure(ScriptError("unknown flag given")) }
                flags = parsed
            default:
                return .failure(ScriptError("unknown argument given to redis.register_function"))
            }
        }
        guard let name else { return .failure(ScriptError("redis.register_function must get a function name argument")) }
        guard let callback else { return .failure(ScriptError("redis.register_function must get a callback argument")) }
        return .success((name, description, flags, callback))
    }

    /// The flags named by the string values of the table on top of the stack.
    private func flagList(_ L: OpaquePointer) -> ScriptFlags? {
        var flags: ScriptFlags = []
        var count: Int32 = 1
        while true {
            lua_rawgeti(L, -1, count)
            defer { swiftlet_lua_pop(L, 1) }
            if lua_type(L, -1) == LUA_TNIL { return flags }
            guard lua_type(L, -1) == LUA_TSTRING, let name = string(L, -1),
                  let flag = ScriptFlags.names.first(where: { $0.0 == name })?.1 else { return nil }
            flags.insert(flag)
            count += 1
        }
    }

    /// The key of the pair lua_next left (copied, so converting it cannot upset the iteration).
    private func keyString(_ L: OpaquePointer) -> String? {
        lua_pushvalue(L, -2)
        defer { swiftlet_lua_pop(L, 1) }
        return string(L, -1)
    }

    func string(_ L: OpaquePointer, _ index: Int32) -> String? {
        var length = 0
        guard let text = lua_tolstring(L, index, &length) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
    }
}
