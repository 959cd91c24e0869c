// Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH/KILL/HELP, as
// Redis 7.0.15's eval.c and script.c: the shared script cache (ScriptRegistry), one Lua state
// per worker thread (ScriptEngine), shebang flags, the checks before a run (OOM, MISCONF,
// *_RO with a writing script), and busy scripts (BUSY replies to others, SCRIPT KILL).
//
// Atomicity. A script must be exactly as atomic as in single-threaded Redis: no other client
// may see or change the keyspace between two of its commands. It therefore holds shard locks
// for its whole run, chosen when it starts:
// - When ScriptKeyAnalysis proves that the body touches only its declared keys (every
//   redis.call names its command literally and passes KEYS[...] at the key positions), the
//   script holds the shards of its declared keys, locked in ascending order like any multi-key
//   command. This is the common case (`redis.call('GET', KEYS[1])`) and costs one lock per
//   distinct shard.
// - Otherwise it holds every shard, taken in ascending order. Cost: one uncontended mutex
//   lock and unlock per shard (1024 by default, some 20-40 µs per script), and every other
//   client waits for the script, as all of Redis does for every script.
// - As a safety net, a nested command checks that its shards are held; a missing one is taken
//   by waiting when it lies above all held shards (lock order kept), else by a try-lock. When
//   that fails before the script wrote anything, the run is abandoned (the hook raises on
//   every line so pcall cannot catch it) and started over holding every shard, and the script
//   is marked to hold every shard from then on. Keyless commands that reach the keyspace
//   (DBSIZE, SCAN, FLUSHALL...) need every shard.
// The shards are released after the reply is written; a script inside MULTI/EXEC adds its
// locks to EXEC's (shard mutexes are recursive).
#if canImport(Glibc)
import Glibc
#endif
import RESP
import Storage

enum ScriptingFamily {
    private static let evalFlags: CommandFlags = [.noscript, .skipMonitor, .mayReplicate, .noMandatoryKeys, .stale]
    private static let readOnlyFlags: CommandFlags = [.noscript, .skipMonitor, .noMandatoryKeys, .stale, .readonly]
    private static let writeKeys = KeySpec([.RW, .access, .update], .index(2), .keyNum(index: 0, firstKey: 1, step: 1),
                                           notes: "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE")
    private static let readKeys = KeySpec([.RO, .access], .index(2), .keyNum(index: 0, firstKey: 1, step: 1),
                                          notes: "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS")

    private static func arguments(_ first: String) -> [CommandArgument] {
        [CommandArgument(first, .string), CommandArgument("numkeys", .integer),
         .key(flags: [.optional, .multiple]), CommandArgument("arg", .string, flags: [.optional, .multiple])]
    }

    private static func evalSpec(_ name: String, flags: CommandFlags, keys: KeySpec, since: String, summary: String,
                                 first: String, handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: -3, flags: flags, acl: [.scripting], keys: [keys], group: .scripting, since: since,
                    summary: summary, complexity: "Depends on the script that is executed.",
                    arguments: arguments(first), handler: handler)
    }

    static let specs: [CommandSpec] = [
        evalSpec("eval", flags: evalFlags, keys: writeKeys, since: "2.6.0", summary: "Execute a Lua script server side",
                 first: "script") { run($0, bySHA: false, readOnly: false) },
        evalSpec("evalsha", flags: evalFlags, keys: KeySpec(writeKeys.flags, writeKeys.begin, writeKeys.find),
                 since: "2.6.0", summary: "Execute a Lua script server side",
                 first: "sha1") { run($0, bySHA: true, readOnly: false) },
        evalSpec("eval_ro", flags: readOnlyFlags, keys: readKeys, since: "7.0.0",
                 summary: "Execute a read-only Lua script server side",
                 first: "script") { run($0, bySHA: false, readOnly: true) },
        evalSpec("evalsha_ro", flags: readOnlyFlags, keys: KeySpec(readKeys.flags, readKeys.begin, readKeys.find),
                 since: "7.0.0", summary: "Execute a read-only Lua script server side",
                 first: "sha1") { run($0, bySHA: true, readOnly: true) },
        CommandSpec("script", arity: -2, flags: [], group: .scripting, since: "2.6.0",
                    summary: "A container for Lua scripts management commands", complexity: "Depends on subcommand.",
                    subcommands: [
                        CommandSpec("exists", arity: -3, flags: [.noscript], acl: [.scripting],
                                    tips: ["request_policy:all_shards", "response_policy:agg_logical_and"],
                                    group: .scripting, since: "2.6.0",
                                    summary: "Check existence of scripts in the script cache.",
                                    complexity: "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
                                    arguments: [CommandArgument("sha1", .string, flags: .multiple)], handler: exists),
                        CommandSpec("flush", arity: -2, flags: [.noscript], acl: [.scripting],
                                    tips: ["request_policy:all_nodes", "response_policy:all_succeeded"],
                                    group: .scripting, since: "2.6.0", summary: "Remove all the scripts from the script cache.",
                                    complexity: "O(N) with N being the number of scripts in cache",
                                    arguments: [CommandArgument("async", .oneof, flags: .optional, since: "6.2.0",
                                                                [.token("ASYNC"), .token("SYNC")])],
                                    handler: flush),
                        CommandSpec("help", arity: 2, flags: [.loading, .stale], acl: [.scripting], group: .scripting,
                                    since: "5.0.0", summary: "Show helpful text about the different subcommands",
                                    complexity: "O(1)", handler: { HelpText.reply($0, command: "SCRIPT", lines: help) }),
                        CommandSpec("kill", arity: 2, flags: [.noscript, .allowBusy], acl: [.scripting],
                                    tips: ["request_policy:all_shards", "response_policy:one_succeeded"],
                                    group: .scripting, since: "2.6.0", summary: "Kill the script currently in execution.",
                                    complexity: "O(1)", handler: kill),
                        CommandSpec("load", arity: 3, flags: [.noscript, .stale], acl: [.scripting],
                                    tips: ["request_policy:all_nodes", "response_policy:all_succeeded"],
                                    group: .scripting, since: "2.6.0",
                                    summary: "Load the specified Lua script into the script cache.",
                                    complexity: "O(N) with N being the length in bytes of the script body.",
                                    arguments: [CommandArgument("script", .string)], handler: load),
                    ], handler: nil),
    ]

    // DIVERGENCE: help texts are our own words, in Redis's layout; SCRIPT DEBUG (the Lua
    // debugger, which forks in Redis) is not offered.
    static let help = [
        "EXISTS <sha1> [<sha1> ...]",
        "    For each digest, 1 when that script is in the script cache, else 0.",
        "FLUSH [ASYNC|SYNC]",
        "    Empty the script cache. Without a mode, lazyfree-lazy-user-flush decides.",
        "KILL",
        "    Stop the script running past busy-reply-threshold, if it has not written yet.",
        "LOAD <script>",
        "    Put a script in the script cache without running it; replies its SHA1 digest.",
    ]

    // MARK: EVAL and friends

    static func run(_ c: CommandContext, bySHA: Bool, readOnly: Bool) {
        if bySHA && c.args[1].count != 40 { return c.error(RedisError.noScript) }
        guard let numberOfKeys = c.integer(2) else { return }
        guard numberOfKeys <= c.args.count - 3 else {
            return c.error("ERR Number of keys can't be greater than number of args")
        }
        guard numberOfKeys >= 0 else { return c.error("ERR Number of keys can't be negative") }
        let engine = ScriptEngine.current(for: c.server)
        let source: ScriptSource
        if bySHA {
            guard let found = engine.source(forDigest: c.args[1]) else { return c.error(RedisError.noScript) }
            source = found
        } else {
            switch engine.source(forBody: c.args[1]) {
            case .success(let found): source = found
            case .failure(let error): return c.error(error.message)
            }
        }
        if let refusal = refusal(flags: source.flags, c, readOnly: readOnly) { return c.error(refusal) }
        let keys = 3..<(3 + Int(numberOfKeys)), arguments = (3 + Int(numberOfKeys))..<c.args.count
        let restarted = engine.runHoldingShards(keys: keys, all: !source.staysOnDeclaredKeys || source.needsAllShards, c) {
            engine.evaluate(source, c, keys: keys, arguments: arguments, readOnly: readOnly)
        }
        if restarted { source.needsAllShards = true }
    }

    /// The flags a script called by EVAL, EVALSHA or FCALL (or their _RO forms) declares in
    /// its shebang or registration; nil for other commands, unknown scripts and scripts
    /// without a shebang.
    static func declaredFlags(of spec: CommandSpec, _ c: CommandContext) -> ScriptFlags? {
        // NO_MANDATORY_KEYS marks exactly these six commands.
        guard spec.flags.contains(.noMandatoryKeys), c.args.count >= 2 else { return nil }
        let flags: ScriptFlags?
        switch spec.name {
        case "eval", "eval_ro": flags = try? ScriptSource.shebang(of: Array(c.args[1])).get().0
        case "evalsha", "evalsha_ro": flags = ScriptDigest(hex: c.args[1]).flatMap(c.server.scripts.lookup)?.flags
        case "fcall", "fcall_ro": flags = c.server.functions.function(named: c.string(1))?.function.flags
        default: return nil
        }
        guard let flags, !flags.contains(.evalCompatible) else { return nil }
        return flags
    }

    /// Refusals before a run for scripts that declare flags (processCommand's OOM and MISCONF
    /// checks with the script's flags, then scriptPrepareForRun's *_RO check). FCALL shares them.
    static func refusal(flags: ScriptFlags, _ c: CommandContext, readOnly: Bool) -> String? {
        guard !flags.contains(.evalCompatible), !flags.contains(.noWrites) else { return nil }
        if c.overMemoryLimit && !flags.contains(.allowOOM) { return RedisError.outOfMemory }
        if c.server.snapshots.refusesWrites { return RedisError.backgroundSaveFailed }
        if readOnly { return "ERR Can not execute a script with write flag using *_ro command." }
        return nil
    }

    // MARK: SCRIPT

    static func load(_ c: CommandContext) {
        switch ScriptEngine.current(for: c.server).source(forBody: c.args[2]) {
        case .success(let source): c.reply.bulk(source.digest.hex)
        case .failure(let error): c.error(error.message)
        }
    }

    static func exists(_ c: CommandContext) {
        c.reply.arrayHeader(c.args.count - 2)
        for index in 2..<c.args.count {
            let known = ScriptDigest(hex: c.args[index]).flatMap(c.server.scripts.lookup) != nil
            c.reply.integer(known ? 1 : 0)
        }
    }

    static func flush(_ c: CommandContext) {
        guard c.args.count == 2 || (c.args.count == 3 && (c.args.equals(2, "sync") || c.args.equals(2, "async"))) else {
            return c.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
        }
        // The bodies are small and the Lua states are rebuilt by their own threads, so ASYNC
        // and SYNC free the same way.
        c.server.scripts.flush()
        c.reply.ok()
    }

    static func kill(_ c: CommandContext) {
        if let refusal = c.server.scripts.kill(eval: true) { return c.error(refusal) }
        c.reply.ok()
    }
}

extension CommandContext {
    /// The flags of this call of `spec`, as Redis's getCommandFlags: a script that declares
    /// flags has its own write, deny-oom and allow-stale flags in place of its command's, and
    /// no may-replicate flag (what it does is known).
    func callFlags(_ spec: CommandSpec) -> CommandFlags {
        guard let declared = ScriptingFamily.declaredFlags(of: spec, self) else { return spec.flags }
        var flags = spec.flags.subtracting([.stale, .denyoom, .write, .mayReplicate])
        if declared.isDisjoint(with: [.allowOOM, .noWrites]) { flags.insert(.denyoom) }
        if !declared.contains(.noWrites) { flags.insert(.write) }
        if declared.contains(.allowStale) { flags.insert(.stale) }
        return flags
    }
}
