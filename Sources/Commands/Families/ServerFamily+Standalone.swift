// What a standalone master without replicas or modules answers, as Redis 7.0 answers it there:
// ROLE (a master at replication offset 0 with no replicas) and MODULE (LIST is empty; LOAD,
// LOADEX and UNLOAD are refused unless `enable-module-command` allows them, and then fail:
// Swiftlet cannot load Redis modules).
import RESP

extension ServerFamily {
    static let roleSpec = CommandSpec("role", arity: 1, flags: [.noscript, .loading, .stale, .fast, .sentinel],
                                      acl: [.admin, .dangerous], group: .server, since: "2.8.12",
                                      summary: "This server's part in replication: master or replica, with offsets.",
                                      complexity: "O(1)", handler: role)

    static let moduleSpec = CommandSpec(
        "module", arity: -2, flags: [], group: .server, since: "4.0.0",
        summary: "Load, unload and list server modules.", complexity: "Depends on subcommand.",
        subcommands: [
            CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .server, since: "5.0.0",
                        summary: "Explain the subcommands.", complexity: "O(1)",
                        handler: { HelpText.reply($0, command: "MODULE", lines: moduleHelp) }),
            CommandSpec("list", arity: 2, flags: [.admin, .noscript], tips: ["nondeterministic_output_order"],
                        group: .server, since: "4.0.0", summary: "The loaded modules.", complexity: "O(N) for N modules",
                        handler: { $0.reply.arrayHeader(0) }),
            CommandSpec("load", arity: -3, flags: [.noAsyncLoading, .admin, .noscript], group: .server, since: "4.0.0",
                        summary: "Load a module from a shared library.", complexity: "O(1)",
                        arguments: [CommandArgument("path", .string), CommandArgument("arg", .string, flags: [.optional, .multiple])],
                        handler: { loadModule($0) }),
            CommandSpec("loadex", arity: -3, flags: [.noAsyncLoading, .admin, .noscript], group: .server, since: "7.0.0",
                        summary: "Load a module from a shared library, with configuration and arguments.", complexity: "O(1)",
                        arguments: [CommandArgument("path", .string),
                                    CommandArgument("configs", .block, token: "CONFIG", flags: [.multiple, .multipleToken, .optional],
                                                    [CommandArgument("name", .string), CommandArgument("value", .string)]),
                                    CommandArgument("args", .block, token: "ARGS", flags: [.multiple, .optional],
                                                    [CommandArgument("arg", .string)])],
                        handler: { loadModule($0) }),
            CommandSpec("unload", arity: 3, flags: [.noAsyncLoading, .admin, .noscript], group: .server, since: "4.0.0",
                        summary: "Unload a module.", complexity: "O(1)", arguments: [CommandArgument("name", .string)],
                        handler: { c in
                            guard moduleCommandAllowed(c) else { return }
                            c.error("ERR Error unloading module: no such module with that name")
                        }),
        ], handler: nil)

    // DIVERGENCE: help texts are our own words, in Redis's layout.
    static let moduleHelp = [
        "LIST",
        "    List the loaded modules (Swiftlet loads none).",
        "LOAD <path> [<arg> ...]",
        "    Load a module from a shared library (refused: Swiftlet cannot load Redis modules).",
        "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        "    Load a module with configuration and arguments (refused, as LOAD).",
        "UNLOAD <name>",
        "    Unload a module.",
    ]

    private static func role(_ c: CommandContext) {
        c.reply.arrayHeader(3)
        c.reply.bulk("master")
        c.reply.integer(0)
        c.reply.arrayHeader(0)
    }

    /// Whether `enable-module-command` lets this client load and unload modules; replies
    /// Redis's refusal when it does not.
    private static func moduleCommandAllowed(_ c: CommandContext) -> Bool {
        if c.server.allowsProtectedCommand(c.server.config.enableModuleCommand, c.session) { return true }
        c.error("ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
        return false
    }

    /// MODULE LOAD and LOADEX: Redis reports a library it could not load so.
    // DIVERGENCE: every library fails to load; Swiftlet has no module API.
    private static func loadModule(_ c: CommandContext) {
        guard moduleCommandAllowed(c) else { return }
        c.server.log(true, "Module \(String(decoding: c.args[2], as: UTF8.self)) failed to load: Swiftlet cannot load Redis modules")
        c.error("ERR Error loading the extension. Please check the server logs.")
    }
}
