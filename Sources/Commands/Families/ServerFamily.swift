// The server command group: COMMAND introspection (from the one table), CONFIG, INFO (built
// in ServerFamily+Info), database-wide commands (DBSIZE, FLUSHDB, FLUSHALL, SWAPDB), TIME,
// SHUTDOWN and the DEBUG subcommands Redis's own test suite relies on.
#if canImport(Glibc)
import Glibc
#endif
import Config
import RESP
import Storage
import Support

public enum ServerIdentity {
    public static let redisVersion = "7.0.15"
    public static let swiftletVersion = "0.1.0"
}

public enum ServerFamily {
    public static let specs: [CommandSpec] = [
        CommandSpec("command", arity: -1, flags: [.loading, .stale], acl: [.connection],
                    tips: ["nondeterministic_output_order"], group: .server, since: "2.8.13",
                    summary: "Describe the commands the server knows.", complexity: "O(N) for N commands",
                    subcommands: [
                        commandSub("count", arity: 2, since: "2.8.13", summary: "Number of commands the server knows.", handler: {
                            $0.reply.integer($0.server.table.commands.count)
                        }),
                        commandSub("docs", arity: -2, since: "7.0.0", summary: "Documentation of commands, for clients and tools.",
                                   arguments: [CommandArgument("command-name", .string, flags: [.optional, .multiple])],
                                   handler: CommandIntrospection.docs),
                        commandSub("getkeys", arity: -4, since: "2.8.13", summary: "List which arguments of a command line are keys.",
                                   handler: CommandIntrospection.getkeys),
                        commandSub("getkeysandflags", arity: -4, since: "7.0.0",
                                   summary: "List which arguments of a command line are keys, with their access flags.",
                                   handler: CommandIntrospection.getkeysandflags),
                        commandSub("info", arity: -2, since: "2.8.13", summary: "Describe commands: arity, flags, keys, categories.",
                                   history: [("7.0.0", "No names means every command.")],
                                   arguments: [CommandArgument("command-name", .string, flags: [.optional, .multiple])],
                                   handler: CommandIntrospection.info),
                        commandSub("list", arity: -2, since: "7.0.0", summary: "Names of the commands, optionally filtered.",
                                   arguments: [CommandArgument("filterby", .oneof, token: "FILTERBY", flags: .optional, [
                                    CommandArgument("module-name", .string, token: "MODULE"),
                                    CommandArgument("category", .string, token: "ACLCAT"),
                                    CommandArgument("pattern", .pattern, token: "PATTERN")])],
                                   handler: CommandIntrospection.list),
                        commandSub("help", arity: 2, since: "5.0.0", summary: "Explain the subcommands.",
                                   handler: { HelpText.reply($0, command: "COMMAND", lines: CommandIntrospection.help) }),
                    ], handler: CommandIntrospection.all),
        CommandSpec("info", arity: -1, flags: [.loading, .stale], acl: [.dangerous],
                    tips: ["nondeterministic_output", "request_policy:all_shards", "response_policy:special"], group: .server, since: "1.0.0",
                    summary: "Report server state and statistics.", complexity: "O(1)",
                    history: [("7.0.0", "Several sections at once.")],
                    arguments: [CommandArgument("section", .string, flags: [.optional, .multiple])], handler: InfoReport.command),
        CommandSpec("config", arity: -2, flags: [], group: .server, since: "2.0.0",
                    summary: "Read and change the server configuration.", complexity: "Depends on subcommand.",
                    subcommands: [
                        configSub("get", arity: -3, since: "2.0.0", summary: "Read configuration parameters matching glob patterns.",
                                  arguments: [CommandArgument("parameter", .block, flags: .multiple, [CommandArgument("parameter", .string)])],
                                  handler: configGet),
                        configSub("set", arity: -4, since: "2.0.0", summary: "Change configuration parameters at run time.",
                                  tips: ["request_policy:all_nodes", "response_policy:all_succeeded"],
                                  arguments: [CommandArgument("parameter_value", .block, flags: .multiple,
                                                              [CommandArgument("parameter", .string), CommandArgument("value", .string)])],
                                  handler: configSet),
                        configSub("resetstat", arity: 2, since: "2.0.0", summary: "Zero the counters INFO reports.", handler: configResetStat),
                        configSub("rewrite", arity: 2, since: "2.8.0", summary: "Write the running configuration back to its file.", handler: configRewrite),
                        CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .server, since: "5.0.0",
                                    summary: "Explain the subcommands.", complexity: "O(1)",
                                    handler: { HelpText.reply($0, command: "CONFIG", lines: configHelp) }),
                    ], handler: nil),
        CommandSpec("dbsize", arity: 1, flags: [.readonly, .fast], acl: [.keyspace],
                    tips: ["request_policy:all_shards", "response_policy:agg_sum"], group: .server, since: "1.0.0",
                    summary: "Number of keys in the selected database.", complexity: "O(1)",
                    handler: { $0.reply.integer($0.keyspace.keyCount(db: $0.session.db)) }),
        CommandSpec("flushdb", arity: -1, flags: [.write], acl: [.keyspace, .dangerous],
                    tips: ["request_policy:all_shards", "response_policy:all_succeeded"], group: .server, since: "1.0.0",
                    summary: "Empty the selected database.", complexity: "O(N) for N keys in the database",
                    history: [("4.0.0", "ASYNC mode."), ("6.2.0", "SYNC mode.")],
                    arguments: flushArguments, handler: { flush($0, all: false) }),
        CommandSpec("flushall", arity: -1, flags: [.write], acl: [.keyspace, .dangerous],
                    tips: ["request_policy:all_shards", "response_policy:all_succeeded"], group: .server, since: "1.0.0",
                    summary: "Empty every database.", complexity: "O(N) for N keys in all databases",
                    history: [("4.0.0", "ASYNC mode."), ("6.2.0", "SYNC mode.")],
                    arguments: flushArguments, handler: { flush($0, all: true) }),
        CommandSpec("swapdb", arity: 3, flags: [.write, .fast], acl: [.keyspace, .dangerous], group: .server, since: "4.0.0",
                    summary: "Exchange the contents of two databases.", complexity: "O(N) for N clients watching or blocked on either database",
                    arguments: [CommandArgument("index1", .integer), CommandArgument("index2", .integer)], handler: swapdb),
        CommandSpec("time", arity: 1, flags: [.loading, .stale, .fast], tips: ["nondeterministic_output"], group: .server,
                    since: "2.6.0", summary: "Current server time as seconds and microseconds.", complexity: "O(1)", handler: time),
        CommandSpec("shutdown", arity: -1, flags: [.admin, .noscript, .loading, .stale, .noMulti, .allowBusy],
                    group: .server, since: "1.0.0", summary: "Stop the server.",
                    complexity: "O(1), or O(N) for N keys when saving",
                    arguments: [CommandArgument("nosave_save", .oneof, flags: .optional, [.token("NOSAVE"), .token("SAVE")]),
                                .token("NOW", flags: .optional, since: "7.0.0"), .token("FORCE", flags: .optional, since: "7.0.0"),
                                .token("ABORT", flags: .optional, since: "7.0.0")],
                    handler: shutdown),
        CommandSpec("debug", arity: -2, flags: [.admin, .noscript, .loading, .stale], group: .server, since: "1.0.0",
                    summary: "Debugging and introspection helpers.", complexity: "Depends on subcommand.",
                    docFlags: ["syscmd"], handler: DebugCommand.run),
        monitorSpec,
        slowlogSpec,
        latencySpec,
        roleSpec,
        moduleSpec,
    ]

    static let flushArguments = [CommandArgument("async", .oneof, flags: .optional,
                                                 [.token("ASYNC", since: "4.0.0"), .token("SYNC", since: "6.2.0")])]

    private static func commandSub(_ name: String, arity: Int, since: String, summary: String,
                                   history: [(String, String)] = [], arguments: [CommandArgument] = [],
                                   handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: arity, flags: [.loading, .stale], acl: [.connection],
                    tips: ["help", "getkeys", "getkeysandflags", "count"].contains(name) ? [] : ["nondeterministic_output_order"],
                    group: .server, since: since, summary: summary, complexity: "O(N) for N commands",
                    history: history, arguments: arguments, handler: handler)
    }

    private static func configSub(_ name: String, arity: Int, since: String, summary: String, tips: [String] = [],
                                  arguments: [CommandArgument] = [], handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: arity, flags: [.admin, .noscript, .loading, .stale], tips: tips, group: .server, since: since,
                    summary: summary, complexity: "O(N) for N parameters",
                    arguments: arguments, handler: handler)
    }

    // MARK: CONFIG

    static let configHelp = [
        "GET <pattern>",
        "    Show every configuration parameter whose name matches the glob <pattern>, with its value.",
        "SET <directive> <value> [<directive> <value> ...]",
        "    Change configuration parameters at run time; all succeed or none change.",
        "RESETSTAT",
        "    Zero the statistics that INFO reports.",
        "REWRITE",
        "    Write the running configuration back into the configuration file.",
    ]

    static func configGet(_ c: CommandContext) {
        let patterns = (2..<c.args.count).map { c.string($0) }
        let pairs = c.server.config.get(patterns: patterns)
        c.reply.mapHeader(pairs.count)
        for (name, value) in pairs {
            c.reply.bulk(name)
            c.reply.bulk(value)
        }
    }

    static func configSet(_ c: CommandContext) {
        guard c.args.count % 2 == 0 else { return c.error(RedisError.syntax) }
        // Passwords never reach MONITOR or the slow log, whatever else the command does.
        for position in stride(from: 2, to: c.args.count, by: 2) where c.args.equals(position, "requirepass") {
            c.redactArgument(position + 1)
        }
        let pairs = stride(from: 2, to: c.args.count, by: 2).map { (c.string($0), c.string($0 + 1)) }
        if let failure = c.server.config.set(pairs) { return c.error(failure) }
        c.reply.ok()
    }

    static func configResetStat(_ c: CommandContext) {
        c.keyspace.resetStats()
        c.server.activeExpiry.resetStats()
        c.server.lazyFreer.resetStats()
        c.server.errorStats.reset()
        c.server.evictor.resetStats()
        for stats in c.server.workerStats { stats.reset() }
        c.server.prefixStatsGeneration += 1
        c.server.control?.resetNetworkStats()
        c.server.statResetAt = c.now
        c.reply.ok()
    }

    static func configRewrite(_ c: CommandContext) {
        if let failure = c.server.config.rewrite() { return c.error(failure) }
        c.reply.ok()
    }

    // MARK: Databases

    static func flush(_ c: CommandContext, all: Bool) {
        guard c.args.count == 1 || (c.args.count == 2 && (c.args.equals(1, "sync") || c.args.equals(1, "async"))) else {
            return c.error(RedisError.syntax)
        }
        let async = c.args.count == 2 ? c.args.equals(1, "async") : c.server.config.lazyfreeLazyUserFlush
        let freer = async ? c.server.lazyFreer : nil
        // As Redis kills its saving child: a snapshot of the data about to go is moot.
        if all { c.server.snapshots.abortBackgroundSave() }
        c.keyspace.withAllShardsLocked {
            for db in all ? Array(0..<c.keyspace.databaseCount) : [c.session.db] {
                touchWatchedKeys(c, replacing: db, with: nil)
            }
            for shard in c.keyspace.shards {
                if all {
                    for db in 0..<c.keyspace.databaseCount { shard.clear(db: db, freer: freer) }
                } else {
                    shard.clear(db: c.session.db, freer: freer)
                }
            }
            c.signalFlushedDB(all ? nil : c.session.db)
        }
        c.server.tracking.flushed(by: c.session)
        // As Redis: FLUSHALL with save rules writes the now empty dataset, so a restart does
        // not bring the flushed keys back.
        if all && !c.server.config.save.isEmpty { _ = c.server.snapshots.saveInForeground() }
        c.reply.ok()
    }

    /// Marks the watchers of keys in `db` that an emptying (or a swap with `replacement`)
    /// changes; every shard is locked.
    private static func touchWatchedKeys(_ c: CommandContext, replacing db: Int, with replacement: Int?) {
        c.server.watches.databaseReplaced(db, with: replacement) { db, key in
            key.withUnsafeBytes { key in
                c.keyspace.shard(for: key).presence(db: db, key: key, hash: KeyHash.hash(key), now: c.now)
            }
        }
    }

    static func swapdb(_ c: CommandContext) {
        guard let first = c.integer(1, in: Int64(Int32.min)...Int64(Int32.max), orReply: "ERR invalid first DB index"),
              let second = c.integer(2, in: Int64(Int32.min)...Int64(Int32.max), orReply: "ERR invalid second DB index") else { return }
        let count = Int64(c.keyspace.databaseCount)
        guard first >= 0 && first < count && second >= 0 && second < count else {
            return c.error(RedisError.dbIndexOutOfRange)
        }
        if first != second {
            c.keyspace.withAllShardsLocked {
                touchWatchedKeys(c, replacing: Int(first), with: Int(second))
                touchWatchedKeys(c, replacing: Int(second), with: Int(first))
                for shard in c.keyspace.shards { shard.swap(Int(first), Int(second)) }
                c.signalDatabasesSwapped(Int(first), Int(second))
                c.keyEvents.swapped(Int(first), Int(second))
            }
        }
        c.reply.ok()
    }

    static func time(_ c: CommandContext) {
        var tv = timeval()
        gettimeofday(&tv, nil)
        c.reply.arrayHeader(2)
        c.reply.bulk(String(tv.tv_sec))
        c.reply.bulk(String(tv.tv_usec))
    }

    static func shutdown(_ c: CommandContext) {
        var j = 1
        while j < c.args.count {
            guard c.args.equals(j, "nosave") || c.args.equals(j, "save") || c.args.equals(j, "now")
                    || c.args.equals(j, "force") || c.args.equals(j, "abort") else {
                return c.error(RedisError.syntax)
            }
            j += 1
        }
        let has = { (word: StaticString) in (1..<c.args.count).contains { c.args.equals($0, word) } }
        if has("abort") { return c.error("ERR No shutdown in progress.") }
        let wantsSave = has("save") || (!c.server.config.save.isEmpty && !has("nosave"))
        if wantsSave && !c.server.snapshots.saveBeforeExit() && !has("force") {
            return c.error("ERR Errors trying to SHUTDOWN. Check logs.")
        }
        c.server.control?.shutdown()
        c.session.closeAfterReply = true
    }
}
