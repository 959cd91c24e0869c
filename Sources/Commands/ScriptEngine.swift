// One Lua 5.1 state per worker thread, made the way Redis 7.0 makes its one state: the base,
// table, string and math libraries (plus cjson, cmsgpack, bit and struct from CLuaLibs), the
// `redis` API, a deterministic math.random, and sealed globals (reading a missing global or
// writing any fails with Redis's messages). Each worker compiles a cached script the first time
// it runs it and keeps the compiled function in its registry, so EVALSHA of a known script
// costs a table lookup plus what Lua itself allocates for KEYS/ARGV. The run state says which
// client runs the script, under which flags, and which shards it holds (see ScriptingFamily for
// the locking rules).
#if canImport(Glibc)
import Glibc
#endif
import CLua
import CLuaLibs
import RESP
import Storage
import Support

/// A script compiled into a worker's Lua state: its source and the registry reference of
/// its compiled chunk.
struct CompiledScript {
    let source: ScriptSource
    let reference: Int32
}

final class ScriptEngine {
    /// What the running script may do and has done.
    struct Run {
        unowned(unsafe) var context: CommandContext?
        unowned(unsafe) var source: ScriptSource?
        /// The library function an FCALL runs (nil for EVAL).
        var function: LibraryFunction?
        var readOnly = false
        var allowOOM = false
        var writeDirty = false
        /// redis.set_repl left REPL_AOF on: the nested writes reach the AOF.
        var propagatesToAOF = true
        /// The protocol the script asked for with redis.setresp (replies parsed into Lua).
        var resp3 = false
        /// Memory was over maxmemory when the script started (Redis's pre_command_oom_state).
        var overMemoryLimit = false
        var isEval = true
        var startTicks: UInt64 = 0
        /// This run is past busy-reply-threshold and reported itself busy.
        var busy = false
        /// An undeclared shard could not be taken: the run stops and starts again holding all.
        var restart = false
        /// Every shard is held: nested commands need no shard checks.
        var holdsAllShards = false
        var database = 0
        var protocolVersion = 2
    }

    let state: OpaquePointer
    /// The registry references each run of `state` uses.
    private let references: swiftlet_lua_run_references
    /// The server outlives its worker threads' engines: no reference counting on each access.
    unowned(unsafe) let server: ServerContext
    private var generation: Int
    /// The scripts compiled in this state and their registry references: EVALSHA of a
    /// script this thread ran before finds both here, without the shared registry's lock.
    private var compiled: [ScriptDigest: CompiledScript] = [:]
    /// The script looked up last: a client repeating EVALSHA of one script (the common case)
    /// finds it with one comparison instead of hashing its digest twice.
    private var lastCompiled: CompiledScript?
    /// The digest EVALSHA named last, as sent, and the script it named: a client repeating
    /// EVALSHA of one script skips parsing the hex digits.
    private var lastNamed: (text: DigestText, script: CompiledScript)?
    /// Where this state's heap size is published for INFO.
    private let heapSlot: UnsafeMutablePointer<Int>
    var run = Run()
    /// Shards the running script holds, ascending except for those taken on the way.
    var heldShards: [Int] = []
    /// Where the running script's declared keys live (ScriptEngine+Shards.swift).
    var declaredKeys = ReusableList<KeyLocations.Location>()
    /// Argument storage of the nested command being run (reused, grown when needed).
    var argumentBytes: UnsafeMutableRawPointer
    var argumentCapacity = 1024
    var argumentSlices: UnsafeMutablePointer<ArgSlice>
    var sliceCapacity = 32
    /// The state FCALL runs library functions in (made on first use), its run references, the
    /// registry generation its libraries come from, and each function's registry reference.
    typealias FunctionState = (state: OpaquePointer, references: swiftlet_lua_run_references)
    var functionState: FunctionState?
    var functionGeneration = -1
    var functionReferences: [String: Int32] = [:]
    /// The functions the library being loaded registers so far (nil outside FUNCTION LOAD).
    var registering: [(function: LibraryFunction, reference: Int32)]?
    /// When the library being loaded must have finished running (Redis gives it 500 ms).
    var loadDeadline: UInt64?
    /// The nested command's reply, parsed into Lua values afterwards.
    var scratch = ReplyWriter(capacity: 4096)

    private static let engineKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// This thread's engine for `server` (made on first use; a thread keeps it for its life).
    static func current(for server: ServerContext) -> ScriptEngine {
        if let pointer = pthread_getspecific(engineKey) {
            let engine = Unmanaged<ScriptEngine>.fromOpaque(pointer).takeUnretainedValue()
            if engine.server === server { return engine }
            Unmanaged<ScriptEngine>.fromOpaque(pointer).release()
        }
        let engine = ScriptEngine(server: server)
        pthread_setspecific(engineKey, Unmanaged.passRetained(engine).toOpaque())
        return engine
    }

    /// The engine of the calling thread, for the functions Lua calls back into.
    static var running: ScriptEngine {
        Unmanaged<ScriptEngine>.fromOpaque(pthread_getspecific(engineKey)!).takeUnretainedValue()
    }

    private init(server: ServerContext) {
        self.server = server
        generation = server.scripts.generation
        state = ScriptEngine.makeState()
        references = swiftlet_lua_make_run_references(state)
        heapSlot = server.scripts.luaHeapSlot()
        argumentBytes = .allocate(byteCount: argumentCapacity, alignment: 8)
        argumentSlices = .allocate(capacity: sliceCapacity)
        heapSlot.pointee = memory
        heldShards.reserveCapacity(16)
    }

    deinit {
        swiftlet_lua_close(state)
        if let functionState { swiftlet_lua_close(functionState.state) }
        argumentBytes.deallocate()
        argumentSlices.deallocate()
        scratch.deallocate()
    }

    static func makeState(forFunctions: Bool = false) -> OpaquePointer {
        let L = swiftlet_lua_newstate()!
        for (name, open) in [("", luaopen_base), (LUA_TABLIBNAME, luaopen_table), (LUA_STRLIBNAME, luaopen_string),
                             (LUA_MATHLIBNAME, luaopen_math)] as [(String, lua_CFunction)] {
            swiftlet_lua_pushcfunction(L, open)
            lua_pushstring(L, name)
            lua_call(L, 1, 0)
        }
        // Redis's extra libraries (CLuaLibs); sealing the globals below makes them read-only.
        swiftlet_lua_open_extra_libraries(L)
        // Redis removes what scripts must not reach: files and printing.
        for name in ["dofile", "loadfile", "print"] {
            lua_pushnil(L)
            swiftlet_lua_setglobal(L, name)
        }
        registerRedisAPI(L)
        swiftlet_lua_pushswift(L, pcallFunction)
        swiftlet_lua_setglobal(L, "pcall")
        swiftlet_lua_set_interrupt(L, interruptCheck)
        swiftlet_lua_seal_globals(L)
        if forFunctions { registerLibraryAPI(L) }
        // DIVERGENCE: Redis adds a 50 KB collection step every 50 runs, which on a heap of a few
        // tens of KB completes a whole mark-and-sweep cycle each time. Lua's incremental
        // collector paced by allocation does the job for about 500 fewer instructions per
        // EVALSHA of a one-line script (of 10,300). Starting each cycle once the heap is 1.2
        // times what the last one left (Lua's default: twice) keeps the heap as small as
        // Redis's steps do (about 45 KB running one small script over and over).
        lua_gc(L, LUA_GCSETPAUSE, 120)
        return L
    }

    /// Lua's heap (used_memory_lua).
    var memory: Int { Int(lua_gc(state, LUA_GCCOUNT, 0)) * 1024 + Int(lua_gc(state, LUA_GCCOUNTB, 0)) }

    // MARK: compiling

    /// Starts over from a fresh state after SCRIPT FLUSH (seen through the generation).
    private func followFlushes() {
        let current = server.scripts.generation
        guard current != generation else { return }
        generation = current
        for entry in compiled.values { luaL_unref(state, swiftlet_lua_registryindex(), entry.reference) }
        compiled = [:]
        lastCompiled = nil
        lastNamed = nil
        lua_gc(state, LUA_GCCOLLECT, 0)
    }

    /// The cached source of `body` (compiled and added on first sight), or the error reply.
    func source(forBody body: UnsafeRawBufferPointer) -> Result<ScriptSource, ScriptError> {
        followFlushes()
        let digest = ScriptDigest(of: body)
        if let known = compiledScript(digest)?.source ?? server.scripts.lookup(digest) { return .success(known) }
        let bytes = Array(body)
        let shebangLength: Int, flags: ScriptFlags
        switch ScriptSource.shebang(of: bytes) {
        case .success(let parsed): (flags, shebangLength) = parsed
        case .failure(let error): return .failure(error)
        }
        let source = ScriptSource(body: bytes, digest: digest, flags: flags, shebangLength: shebangLength, table: server.table)
        if case .failure(let error) = compile(source) { return .failure(error) }
        return .success(server.scripts.add(source))
    }

    /// The cached source of a digest, or nil (NOSCRIPT).
    func source(forDigest hex: UnsafeRawBufferPointer) -> ScriptSource? {
        followFlushes()
        guard let text = DigestText(hex) else { return nil }
        if let lastNamed, lastNamed.text == text { return lastNamed.script.source }
        guard let digest = ScriptDigest(hex: hex) else { return nil }
        guard let found = compiledScript(digest) else { return server.scripts.lookup(digest) }
        lastNamed = (text, found)
        return found.source
    }

    /// This state's compiled script of `digest`, if it has one.
    @inline(__always)
    private func compiledScript(_ digest: ScriptDigest) -> CompiledScript? {
        if let last = lastCompiled, last.source.digest == digest { return last }
        guard let found = compiled[digest] else { return nil }
        lastCompiled = found
        return found
    }

    /// Compiles `source` into this state's registry unless it is there already.
    @discardableResult
    private func compile(_ source: ScriptSource) -> Result<Int32, ScriptError> {
        if let entry = compiledScript(source.digest) { return .success(entry.reference) }
        let loaded = source.body.withUnsafeBytes { body in
            luaL_loadbuffer(state, body.baseAddress!.assumingMemoryBound(to: CChar.self) + source.shebangLength,
                            body.count - source.shebangLength, "@user_script")
        }
        if loaded != 0 {
            let message = String(cString: swiftlet_lua_tostring(state, -1))
            swiftlet_lua_pop(state, 1)
            return .failure(ScriptError("ERR Error compiling script (new function): " + message))
        }
        let reference = luaL_ref(state, swiftlet_lua_registryindex())
        compiled[source.digest] = CompiledScript(source: source, reference: reference)
        return .success(reference)
    }

    // MARK: running

    /// Runs `source` for `context` with the given keys and arguments (argument positions of
    /// the EVAL command), writing its reply. The caller holds the shards in `heldShards`.
    /// Returns true, having written nothing, when the run must start over holding every shard.
    func evaluate(_ source: ScriptSource, _ context: CommandContext, keys: Range<Int>, arguments: Range<Int>,
                  readOnly: Bool) -> Bool {
        let reference: Int32
        switch compile(source) {
        case .success(let found): reference = found
        case .failure(let error):
            context.error(error.message)
            return false
        }
        return execute(in: state, references, reference, context, keys: keys, arguments: arguments,
                       flags: source.flags, readOnly: readOnly, source: source, function: nil)
    }

    /// Runs a compiled chunk (EVAL: KEYS and ARGV as globals) or a library function (FCALL:
    /// keys and arguments as its two parameters) with the run state set up; returns true,
    /// having written nothing, when the run must start over holding every shard.
    func execute(in L: OpaquePointer, _ references: swiftlet_lua_run_references, _ reference: Int32,
                 _ context: CommandContext, keys: Range<Int>, arguments: Range<Int>, flags: ScriptFlags,
                 readOnly: Bool, source: ScriptSource?, function: LibraryFunction?) -> Bool {
        let compatible = flags.contains(.evalCompatible)
        run = Run(context: context, source: source, function: function,
                  readOnly: readOnly || (!compatible && flags.contains(.noWrites)),
                  allowOOM: !compatible && flags.contains(.allowOOM),
                  overMemoryLimit: context.overMemoryLimit, isEval: function == nil, startTicks: Clock.ticks(),
                  holdsAllShards: heldShards.count == context.keyspace.shards.count,
                  database: context.session.db, protocolVersion: context.session.protocolVersion)
        let wasInTransaction = context.executingTransaction, wasInScript = context.runningScript
        context.executingTransaction = true
        context.runningScript = true
        let savedArgs = context.args, savedCommand = context.command, savedIndex = context.session.lastCommandIndex
        context.scriptCallerCommand = savedCommand
        context.scriptCallerArgs = savedArgs
        defer {
            context.scriptCallerCommand = nil
            context.scriptCallerArgs = nil
            context.executingTransaction = wasInTransaction
            context.runningScript = wasInScript
            context.args = savedArgs
            context.command = savedCommand
            context.session.lastCommandIndex = savedIndex
            context.session.db = run.database
            context.session.protocolVersion = run.protocolVersion
            if run.busy { server.scripts.leaveBusy() }
            run = Run()
            heapSlot.pointee = memory
        }
        lua_rawgeti(L, swiftlet_lua_registryindex(), references.error_handler)
        lua_rawgeti(L, swiftlet_lua_registryindex(), reference)
        pushArray(L, context, keys)
        pushArray(L, context, arguments)
        if function == nil { swiftlet_lua_set_keys_and_argv(L, references) }
        let threshold = server.config.busyReplyThreshold
        if threshold > 0 { swiftlet_lua_install_hook(L, 100_000) }
        let failed = lua_pcall(L, function == nil ? 0 : 2, 1, function == nil ? -2 : -4) != 0
        if threshold > 0 || run.restart { swiftlet_lua_remove_hook(L) }
        if run.restart {
            swiftlet_lua_pop(L, 2)
            return true
        }
        if failed {
            replyError(L, context, name: function?.name ?? source?.digest.hex ?? "")
        } else {
            writeReply(L, context)
        }
        swiftlet_lua_pop(L, 2)
        return false
    }

    private func pushArray(_ L: OpaquePointer, _ context: CommandContext, _ range: Range<Int>) {
        lua_createtable(L, Int32(range.count), 0)
        for (offset, position) in range.enumerated() {
            pushBytes(L, context.args[position])
            lua_rawseti(L, -2, Int32(offset + 1))
        }
    }

    /// The error reply of a failed run: the message, and where the script failed.
    private func replyError(_ L: OpaquePointer, _ context: CommandContext, name: String) {
        guard swiftlet_lua_istable(L, -1) != 0 else {
            let message = swiftlet_lua_tostring(L, -1).map { String(cString: $0) } ?? "execution failure"
            return context.error("ERR Error running script \(name), \(message.prefix(100))")
        }
        var message = field(L, "err") ?? ""
        if let line = field(L, "line"), let origin = field(L, "source") {
            message += " script: \(name), on \(origin):\(line)."
        }
        replyErrorTable(L, context, message)
    }

    /// String field `name` of the table on top of the stack.
    func field(_ L: OpaquePointer, _ name: String) -> String? {
        lua_getfield(L, -1, name)
        defer { swiftlet_lua_pop(L, 1) }
        guard lua_isstring(L, -1) != 0 else { return nil }
        var length = 0
        let text = lua_tolstring(L, -1, &length)!
        return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
    }

    // MARK: interruption

    /// Called by the count hook: reports the script busy once it has run past
    /// busy-reply-threshold, lets the network layer answer other clients meanwhile, and tells
    /// whether the script must stop (SCRIPT KILL, or a restart).
    fileprivate func interrupted(_ L: OpaquePointer) -> Bool {
        if run.restart { return true }
        if let loadDeadline, Clock.ticks() > loadDeadline {
            setInterruptError(L, "FUNCTION LOAD timeout")
            return true
        }
        guard let context = run.context else { return false }
        let threshold = server.config.busyReplyThreshold
        let elapsed = (Clock.ticks() &- run.startTicks) / UInt64(max(Clock.ticksPerMillisecond, 1))
        guard threshold > 0, elapsed >= UInt64(threshold) else { return false }
        if !run.busy {
            run.busy = true
            let function = run.function.map { function in
                ScriptRegistry.BusyFunction(name: function.name, command: (0..<context.args.count).map { Array(context.args[$0]) },
                                            startTicks: run.startTicks)
            }
            server.scripts.enterBusy(isEval: run.isEval, writeDirty: run.writeDirty, function: function)
            let name = run.function?.name ?? run.source?.digest.hex ?? ""
            server.scripts.log(3, "Slow script detected: still in execution after \(elapsed) milliseconds. You can try killing the script using the \(run.isEval ? "SCRIPT" : "FUNCTION") KILL command. Script name is: \(name).")
        }
        context.scriptHost?.serveOthersDuringScript()
        guard server.scripts.killRequested else { return false }
        server.scripts.log(3, "Lua script killed by user with SCRIPT KILL.")
        setInterruptError(L, "Script killed by user with \(run.isEval ? "SCRIPT" : "FUNCTION") KILL...")
        return true
    }

    /// The error the hook raises when it stops the script.
    func setInterruptError(_ L: OpaquePointer, _ message: String) {
        pushErrorTable(L, message)
        swiftlet_lua_setregistry(L, "swiftlet_interrupt_error")
    }
}

/// The count hook's question, as a C function pointer.
private let interruptCheck: swiftlet_lua_interrupt_fn = { L in ScriptEngine.running.interrupted(L!) ? 1 : 0 }
