// Redis 7.0 functions: FUNCTION LOAD/DELETE/FLUSH/LIST/DUMP/RESTORE/STATS/KILL/HELP and
// FCALL/FCALL_RO, as functions.c. Libraries live in the shared FunctionRegistry; each worker
// runs them in its own function state (ScriptEngine+Functions). FUNCTION LOAD checks a library
// by running its code in the loading worker before the registry takes it.
//
// Atomicity is the scripts' (see ScriptingFamily): FCALL holds the shards of its declared
// keys for the whole run; a function that reaches an undeclared key starts over holding every
// shard, and holds every shard from then on. Library bodies are not analysed, so a function
// pays the restart once when it strays from its keys.
import Persistence
import RESP
import Support

enum FunctionFamily {
    private static let writeKeys = KeySpec([.RW, .access, .update], .index(2), .keyNum(index: 0, firstKey: 1, step: 1),
                                           notes: "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE")
    private static let readKeys = KeySpec([.RO, .access], .index(2), .keyNum(index: 0, firstKey: 1, step: 1),
                                          notes: "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS")
    private static let callArguments = [CommandArgument("function", .string), CommandArgument("numkeys", .integer),
                                        .key(flags: [.optional, .multiple]),
                                        CommandArgument("arg", .string, flags: [.optional, .multiple])]
    private static let allShards = ["request_policy:all_shards", "response_policy:all_succeeded"]

    private static func subcommand(_ name: String, arity: Int, flags: CommandFlags, tips: [String] = [],
                                   summary: String, complexity: String, arguments: [CommandArgument] = [],
                                   handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: arity, flags: flags, acl: [.scripting], tips: tips, group: .scripting,
                    since: "7.0.0", summary: summary, complexity: complexity, arguments: arguments, handler: handler)
    }

    static let specs: [CommandSpec] = [
        CommandSpec("fcall", arity: -3, flags: [.noscript, .skipMonitor, .mayReplicate, .noMandatoryKeys, .stale],
                    acl: [.scripting], keys: [writeKeys], group: .scripting, since: "7.0.0", summary: "Invoke a function",
                    complexity: "Depends on the function that is executed.", arguments: callArguments,
                    handler: { call($0, readOnly: false) }),
        CommandSpec("fcall_ro", arity: -3, flags: [.noscript, .skipMonitor, .noMandatoryKeys, .stale, .readonly],
                    acl: [.scripting], keys: [readKeys], group: .scripting, since: "7.0.0",
                    summary: "Invoke a read-only function", complexity: "Depends on the function that is executed.",
                    arguments: callArguments, handler: { call($0, readOnly: true) }),
        CommandSpec("function", arity: -2, flags: [], group: .scripting, since: "7.0.0",
                    summary: "A container for function commands", complexity: "Depends on subcommand.",
                    subcommands: [
                        subcommand("delete", arity: 3, flags: [.noscript, .write], tips: allShards,
                                   summary: "Delete a function by name", complexity: "O(1)",
                                   arguments: [CommandArgument("library-name", .string)], handler: delete),
                        subcommand("dump", arity: 2, flags: [.noscript],
                                   summary: "Dump all functions into a serialized binary payload",
                                   complexity: "O(N) where N is the number of functions", handler: dump),
                        subcommand("flush", arity: -2, flags: [.noscript, .write], tips: allShards,
                                   summary: "Deleting all functions",
                                   complexity: "O(N) where N is the number of functions deleted",
                                   arguments: [CommandArgument("async", .oneof, flags: .optional,
                                                               [.token("ASYNC"), .token("SYNC")])], handler: flush),
                        subcommand("help", arity: 2, flags: [.loading, .stale],
                                   summary: "Show helpful text about the different subcommands", complexity: "O(1)",
                                   handler: { HelpText.reply($0, command: "FUNCTION", lines: help) }),
                        subcommand("kill", arity: 2, flags: [.noscript, .allowBusy],
                                   tips: ["request_policy:all_shards", "response_policy:one_succeeded"],
                                   summary: "Kill the function currently in execution.", complexity: "O(1)",
                                   handler: kill),
                        subcommand("list", arity: -2, flags: [.noscript], tips: ["nondeterministic_output_order"],
                                   summary: "List information about all the functions",
                                   complexity: "O(N) where N is the number of functions",
                                   arguments: [CommandArgument("library-name-pattern", .string, token: "LIBRARYNAME",
                                                               flags: .optional),
                                               CommandArgument("withcode", .pureToken, token: "WITHCODE",
                                                               flags: .optional)], handler: list),
                        subcommand("load", arity: -3, flags: [.noscript, .write, .denyoom], tips: allShards,
                                   summary: "Create a function with the given arguments (name, code, description)",
                                   complexity: "O(1) (considering compilation time is redundant)",
                                   arguments: [CommandArgument("replace", .pureToken, token: "REPLACE", flags: .optional),
                                               CommandArgument("function-code", .string)], handler: load),
                        subcommand("restore", arity: -3, flags: [.noscript, .write, .denyoom], tips: allShards,
                                   summary: "Restore all the functions on the given payload",
                                   complexity: "O(N) where N is the number of functions on the payload",
                                   arguments: [CommandArgument("serialized-value", .string),
                                               CommandArgument("policy", .oneof, flags: .optional,
                                                               [.token("FLUSH"), .token("APPEND"), .token("REPLACE")])],
                                   handler: restore),
                        subcommand("stats", arity: 2, flags: [.noscript, .allowBusy],
                                   tips: ["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
                                   summary: "Return information about the function currently running (name, description, duration)",
                                   complexity: "O(1)", handler: stats),
                    ], handler: nil),
    ]

    // DIVERGENCE: help texts are our own words, in Redis's layout.
    static let help = [
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Load a library (its first line: #!lua name=<library>); REPLACE takes the place of one of that name.",
        "DELETE <LIBRARY NAME>",
        "    Remove a library and its functions.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Each library (those matching PATTERN) with its engine and functions, and its code with WITHCODE.",
        "STATS",
        "    The function running now (name, command, milliseconds so far) or nil, and each engine's counts.",
        "KILL",
        "    Stop the function running past busy-reply-threshold, if it has not written yet.",
        "FLUSH [ASYNC|SYNC]",
        "    Remove every library. Without a mode, lazyfree-lazy-user-flush decides.",
        "DUMP",
        "    Every library in one payload for FUNCTION RESTORE.",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Load the libraries of a payload: after removing all (FLUSH), failing on a taken name (APPEND,",
        "    the default), or taking the place of libraries of the same name (REPLACE).",
    ]

    // MARK: FCALL

    static func call(_ c: CommandContext, readOnly: Bool) {
        guard let (_, function) = c.server.functions.function(named: c.string(1)) else {
            return c.error("ERR Function not found")
        }
        guard let numberOfKeys = c.integer(2, orReply: "ERR Bad number of keys provided") else { return }
        guard numberOfKeys <= c.args.count - 3 else {
            return c.error("ERR Number of keys can't be greater than number of args")
        }
        guard numberOfKeys >= 0 else { return c.error("ERR Number of keys can't be negative") }
        if let refusal = ScriptingFamily.refusal(flags: function.flags, c, readOnly: readOnly) { return c.error(refusal) }
        let keys = 3..<(3 + Int(numberOfKeys)), arguments = (3 + Int(numberOfKeys))..<c.args.count
        let engine = ScriptEngine.current(for: c.server)
        let restarted = engine.runHoldingShards(keys: keys, all: function.needsAllShards, c) {
            engine.call(function, c, keys: keys, arguments: arguments, readOnly: readOnly)
        }
        if restarted { function.needsAllShards = true }
    }

    // MARK: FUNCTION

    static func load(_ c: CommandContext) {
        var replace = false
        var position = 2
        while position < c.args.count - 1 {
            guard c.args.equals(position, "replace") else {
                return c.error("ERR Unknown option given: " + c.string(position))
            }
            replace = true
            position += 1
        }
        let code = Array(c.args[position])
        switch FunctionLibrary.metadata(of: code) {
        case .failure(let error): return c.error(error.message)
        case .success(let metadata):
            if !replace && c.server.functions.library(named: metadata.name) != nil {
                return c.error("ERR Library '\(metadata.name)' already exists")
            }
        }
        switch ScriptEngine.current(for: c.server).loadLibrary(code) {
        case .failure(let error): c.error(error.message)
        case .success(let library):
            if let error = c.server.functions.add([library], replace: replace) { return c.error(error.message) }
            c.noteCommandChanged()
            c.reply.bulk(library.name)
        }
    }

    static func delete(_ c: CommandContext) {
        guard c.server.functions.delete(c.string(2)) else { return c.error("ERR Library not found") }
        c.noteCommandChanged()
        c.reply.ok()
    }

    static func flush(_ c: CommandContext) {
        guard c.args.count == 2 || (c.args.count == 3 && (c.args.equals(2, "sync") || c.args.equals(2, "async"))) else {
            if c.args.count > 3 { return subcommandSyntaxError(c) }
            return c.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
        }
        c.server.functions.flush()
        c.noteCommandChanged()
        c.reply.ok()
    }

    static func list(_ c: CommandContext) {
        var withCode = false
        var pattern: [UInt8]?
        var position = 2
        while position < c.args.count {
            if !withCode && c.args.equals(position, "withcode") {
                withCode = true
            } else if pattern == nil && c.args.equals(position, "libraryname") {
                guard position < c.args.count - 1 else { return c.error("ERR library name argument was not given") }
                position += 1
                pattern = Array(c.args[position])
            } else {
                return c.error("ERR Unknown argument " + c.string(position))
            }
            position += 1
        }
        let libraries = c.server.functions.all.filter { library in
            pattern.map { Glob.matches(pattern: $0, string: Array(library.name.utf8)) } ?? true
        }
        c.reply.arrayHeader(libraries.count)
        for library in libraries {
            c.reply.mapHeader(withCode ? 4 : 3)
            c.reply.bulk("library_name")
            c.reply.bulk(library.name)
            c.reply.bulk("engine")
            c.reply.bulk("LUA")
            c.reply.bulk("functions")
            c.reply.arrayHeader(library.functions.count)
            for function in library.functions {
                c.reply.mapHeader(3)
                c.reply.bulk("name")
                c.reply.bulk(function.name)
                c.reply.bulk("description")
                if let description = function.description { c.reply.bulk(description) } else { c.reply.nullBulk() }
                c.reply.bulk("flags")
                let flags = ScriptFlags.names.filter { function.flags.contains($0.1) }
                c.reply.setHeader(flags.count)
                for (name, _) in flags { c.reply.simple(name) }
            }
            if withCode {
                c.reply.bulk("library_code")
                c.reply.bulk(library.code)
            }
        }
    }

    static func dump(_ c: CommandContext) {
        c.reply.bulk(DumpPayload.functions(c.server.functions.all.map(\.code), compression: c.server.config.rdbCompression))
    }

    static func restore(_ c: CommandContext) {
        guard c.args.count <= 4 else { return subcommandSyntaxError(c) }
        var replace = false, flushFirst = false
        if c.args.count == 4 {
            if c.args.equals(3, "replace") {
                replace = true
            } else if c.args.equals(3, "flush") {
                flushFirst = true
            } else if !c.args.equals(3, "append") {
                return c.error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
            }
        }
        let payload = c.args[2]
        guard DumpPayload.verify(payload) else { return c.error("ERR DUMP payload version or checksum are wrong") }
        let codes: [[UInt8]]
        switch DumpPayload.functionCodes(payload) {
        case .success(let found): codes = found
        case .failure(.unreadableType): return c.error("ERR can not read data type")
        case .failure(.notAFunction): return c.error("ERR given type is not a function")
        case .failure(.malformed): return c.error("ERR failed loading the given functions payload")
        }
        let engine = ScriptEngine.current(for: c.server)
        var libraries: [FunctionLibrary] = []
        for code in codes {
            switch engine.loadLibrary(code) {
            case .failure(let error): return c.error(error.message)
            case .success(let library):
                if let error = FunctionRegistry.collision(adding: library, to: libraries) { return c.error(error.message) }
                libraries.append(library)
            }
        }
        if let error = c.server.functions.add(libraries, replace: replace, flushFirst: flushFirst) {
            return c.error(error.message)
        }
        c.noteCommandChanged()
        c.reply.ok()
    }

    static func stats(_ c: CommandContext) {
        let scripts = c.server.scripts
        if scripts.busy && scripts.busyIsEval { return c.error(RedisError.busyScript) }
        c.reply.mapHeader(2)
        c.reply.bulk("running_script")
        if let running = scripts.busyFunction {
            c.reply.mapHeader(3)
            c.reply.bulk("name")
            c.reply.bulk(running.name)
            c.reply.bulk("command")
            c.reply.arrayHeader(running.command.count)
            for argument in running.command { c.reply.bulk(argument) }
            c.reply.bulk("duration_ms")
            c.reply.integer(Int64((Clock.ticks() &- running.startTicks) / UInt64(max(Clock.ticksPerMillisecond, 1))))
        } else {
            c.reply.nullBulk()
        }
        let counts = c.server.functions.counts
        c.reply.bulk("engines")
        c.reply.mapHeader(1)
        c.reply.bulk("LUA")
        c.reply.mapHeader(2)
        c.reply.bulk("libraries_count")
        c.reply.integer(Int64(counts.libraries))
        c.reply.bulk("functions_count")
        c.reply.integer(Int64(counts.functions))
    }

    static func kill(_ c: CommandContext) {
        if let refusal = c.server.scripts.kill(eval: false) { return c.error(refusal) }
        c.reply.ok()
    }

    private static func subcommandSyntaxError(_ c: CommandContext) {
        c.error(bytes: Array("ERR unknown subcommand or wrong number of arguments for '".utf8) + c.args[1].prefix(128)
                + Array("'. Try FUNCTION HELP.".utf8))
    }
}
