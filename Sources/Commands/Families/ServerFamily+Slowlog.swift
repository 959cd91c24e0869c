// SLOWLOG GET/LEN/RESET/HELP over the shared SlowLog, replying entries as Redis does: id,
// Unix time, microseconds, arguments, client address, client name.
extension ServerFamily {
    static let slowlogSpec = CommandSpec("slowlog", arity: -2, flags: [], group: .server, since: "2.2.12",
                                         summary: "Read and clear the log of slow commands.", complexity: "Depends on subcommand.",
                                         subcommands: [
        CommandSpec("get", arity: -2, flags: [.admin, .loading, .stale], tips: ["request_policy:all_nodes", "nondeterministic_output"],
                    group: .server, since: "2.2.12", summary: "The newest entries of the slow log (10 unless a count is given, all for -1).",
                    complexity: "O(N) for N entries returned",
                    history: [("4.0.0", "Client address and name in each entry.")],
                    arguments: [CommandArgument("count", .integer, flags: .optional)], handler: slowlogGet),
        CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .server, since: "6.2.0",
                    summary: "Explain the subcommands.", complexity: "O(1)",
                    handler: { HelpText.reply($0, command: "SLOWLOG", lines: slowlogHelp) }),
        CommandSpec("len", arity: 2, flags: [.admin, .loading, .stale],
                    tips: ["request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"],
                    group: .server, since: "2.2.12", summary: "Number of entries in the slow log.", complexity: "O(1)",
                    handler: { $0.reply.integer($0.server.slowLog.count) }),
        CommandSpec("reset", arity: 2, flags: [.admin, .loading, .stale],
                    tips: ["request_policy:all_nodes", "response_policy:all_succeeded"],
                    group: .server, since: "2.2.12", summary: "Empty the slow log.", complexity: "O(N) for N entries",
                    handler: {
                        $0.server.slowLog.reset()
                        $0.reply.ok()
                    }),
    ], handler: nil)

    // DIVERGENCE: our own wording, in Redis's help layout.
    static let slowlogHelp = [
        "GET [<count>]",
        "    Return the newest <count> entries of the slow log (default: 10, -1 for all).",
        "    Each entry: id, Unix time, duration in microseconds, arguments, client address",
        "    and port, client name.",
        "LEN",
        "    Return the number of entries in the slow log.",
        "RESET",
        "    Empty the slow log.",
    ]

    static func slowlogGet(_ c: CommandContext) {
        guard c.args.count <= 3 else { return c.error(bytes: RedisError.subcommandSyntax(c.args)) }
        var limit: Int? = 10
        if c.args.count == 3 {
            guard let count = c.integer(2, in: -1...Int64.max, orReply: "ERR count should be greater than or equal to -1") else { return }
            limit = count == -1 ? nil : Int(count)
        }
        let entries = c.server.slowLog.newest(limit)
        c.reply.arrayHeader(entries.count)
        for entry in entries {
            c.reply.arrayHeader(6)
            c.reply.integer(entry.id)
            c.reply.integer(entry.unixTime)
            c.reply.integer(entry.microseconds)
            c.reply.arrayHeader(entry.arguments.count)
            for argument in entry.arguments { c.reply.bulk(argument) }
            c.reply.bulk(entry.peer)
            c.reply.bulk(entry.clientName)
        }
    }
}
