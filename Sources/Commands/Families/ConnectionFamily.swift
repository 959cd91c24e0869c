// The connection command group: PING/ECHO/QUIT/RESET, HELLO (RESP2/RESP3 negotiation with
// AUTH and SETNAME), AUTH, SELECT and the CLIENT container (ID, names, SETINFO, LIST, INFO,
// KILL, REPLY, NO-EVICT). CLIENT LIST/KILL reach other workers' connections through
// `ServerControl`.
import Config
import RESP
import Storage
import Support

public enum ConnectionFamily {
    public static let specs: [CommandSpec] = [
        CommandSpec("ping", arity: -1, flags: [.fast], acl: [.connection],
                    tips: ["request_policy:all_shards", "response_policy:all_succeeded"], group: .connection,
                    since: "1.0.0", summary: "Check that the server answers.", complexity: "O(1)",
                    arguments: [CommandArgument("message", .string, flags: .optional)], handler: ping),
        CommandSpec("echo", arity: 2, flags: [.loading, .stale, .fast], acl: [.connection], group: .connection, since: "1.0.0",
                    summary: "Reply with the argument.", complexity: "O(1)",
                    arguments: [CommandArgument("message", .string)], handler: { $0.reply.bulk($0.args[1]) }),
        CommandSpec("quit", arity: -1, flags: [.allowBusy, .noAuth, .noscript, .loading, .stale, .fast],
                    acl: [.connection], group: .connection, since: "1.0.0", summary: "Close the connection after replying.",
                    complexity: "O(1)", handler: quit),
        CommandSpec("reset", arity: 1, flags: [.noscript, .loading, .stale, .noAuth, .fast, .allowBusy],
                    acl: [.connection], group: .connection, since: "6.2.0", summary: "Return the connection to its initial state.",
                    complexity: "O(1)", handler: reset),
        CommandSpec("hello", arity: -1, flags: [.noscript, .loading, .stale, .noAuth, .fast, .allowBusy],
                    acl: [.connection], group: .connection, since: "6.0.0", summary: "Pick the protocol version and describe the connection.",
                    complexity: "O(1)",
                    history: [("6.2.0", "The protocol version became optional.")],
                    arguments: [CommandArgument("arguments", .block, flags: .optional, [
                        CommandArgument("protover", .integer),
                        CommandArgument("username_password", .block, token: "AUTH", flags: .optional,
                                        [CommandArgument("username", .string), CommandArgument("password", .string)]),
                        CommandArgument("clientname", .string, token: "SETNAME", flags: .optional)])],
                    handler: hello),
        CommandSpec("auth", arity: -2, flags: [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy],
                    acl: [.connection], group: .connection, since: "1.0.0", summary: "Log the connection in.",
                    complexity: "O(N) for N passwords of the user",
                    history: [("6.0.0", "Takes a username as well.")],
                    arguments: [CommandArgument("username", .string, flags: .optional, since: "6.0.0"),
                                CommandArgument("password", .string)], handler: auth),
        CommandSpec("select", arity: 2, flags: [.loading, .stale, .fast], acl: [.connection], group: .connection,
                    since: "1.0.0", summary: "Switch the connection to another numbered database.", complexity: "O(1)",
                    arguments: [CommandArgument("index", .integer)], handler: select),
        CommandSpec("client", arity: -2, flags: [], group: .connection, since: "2.4.0",
                    summary: "Inspect and control client connections.", complexity: "Depends on subcommand.",
                    subcommands: [
                        clientSub("id", arity: 2, since: "5.0.0", summary: "This connection's unique id.",
                                  handler: { $0.reply.integer($0.session.id) }),
                        clientSub("setname", arity: 3, since: "2.6.9", summary: "Name this connection.",
                                  arguments: [CommandArgument("connection-name", .string)], handler: setName),
                        clientSub("getname", arity: 2, since: "2.6.9", summary: "Read this connection's name.",
                                  handler: getName),
                        clientSub("setinfo", arity: 4, since: "7.2.0", summary: "Record the client library's name or version.",
                                  arguments: [CommandArgument("attr", .oneof, [
                                    CommandArgument("libname", .string, token: "LIB-NAME"),
                                    CommandArgument("libver", .string, token: "LIB-VER")])],
                                  handler: setInfo),
                        clientSub("list", arity: -2, since: "2.4.0", summary: "Describe the open client connections.",
                                  admin: true, tips: ["nondeterministic_output"],
                                  arguments: [CommandArgument("normal_master_replica_pubsub", .oneof, token: "TYPE", flags: .optional, since: "5.0.0",
                                                              [.token("NORMAL"), .token("MASTER"), .token("REPLICA"), .token("PUBSUB")]),
                                              CommandArgument("id", .block, token: "ID", flags: .optional, since: "6.2.0",
                                                              [CommandArgument("client-id", .integer, flags: .multiple)])],
                                  handler: list),
                        clientSub("info", arity: 2, since: "6.2.0", summary: "Describe this connection.",
                                  tips: ["nondeterministic_output"], handler: info),
                        clientSub("kill", arity: -3, since: "2.4.0", summary: "Close client connections chosen by address, id or type.", admin: true,
                                  arguments: [CommandArgument("filter", .oneof, [
                                    CommandArgument("ip:port", .string, deprecatedSince: "2.8.12"),
                                    CommandArgument("new-format", .oneof, flags: .multiple, [
                                        CommandArgument("client-id", .integer, token: "ID", flags: .optional, since: "2.8.12"),
                                        CommandArgument("normal_master_slave_pubsub", .oneof, token: "TYPE", flags: .optional,
                                                        since: "2.8.12", [
                                            .token("NORMAL"), .token("MASTER", since: "3.2.0"), .token("SLAVE"),
                                            .token("REPLICA", since: "5.0.0"), .token("PUBSUB")]),
                                        CommandArgument("username", .string, token: "USER", flags: .optional),
                                        CommandArgument("ip:port", .string, token: "ADDR", flags: .optional),
                                        CommandArgument("ip:port", .string, token: "LADDR", flags: .optional, since: "6.2.0"),
                                        CommandArgument("yes/no", .string, token: "SKIPME", flags: .optional)])])],
                                  handler: kill),
                        clientSub("unblock", arity: -3, since: "5.0.0",
                                  summary: "Make another connection's blocking command return early.", admin: true,
                                  arguments: [CommandArgument("client-id", .integer),
                                              CommandArgument("timeout_error", .oneof, flags: .optional,
                                                              [.token("TIMEOUT"), .token("ERROR")])],
                                  handler: unblock),
                        clientSub("reply", arity: 3, since: "3.2.0", summary: "Turn replies to this connection on, off, or skip the next one.",
                                  arguments: [CommandArgument("on_off_skip", .oneof, [.token("ON"), .token("OFF"), .token("SKIP")])],
                                  handler: replyMode),
                        clientSub("pause", arity: -3, since: "2.9.50", summary: "Hold back commands from every client for a while.",
                                  admin: true, history: [("6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option.")],
                                  arguments: [CommandArgument("timeout", .integer),
                                              CommandArgument("mode", .oneof, flags: .optional, since: "6.2.0",
                                                              [.token("WRITE"), .token("ALL")])],
                                  handler: pause),
                        clientSub("unpause", arity: 2, since: "6.2.0", summary: "Let the commands CLIENT PAUSE held back run.",
                                  admin: true, complexity: "O(N) Where N is the number of paused clients",
                                  handler: { $0.server.blocking.unpause(); $0.reply.ok() }),
                        clientSub("no-evict", arity: 3, since: "7.0.0", summary: "Exempt this connection from client eviction, or not.",
                                  admin: true,
                                  arguments: [CommandArgument("enabled", .oneof, [.token("ON"), .token("OFF")])],
                                  handler: noEvict),
                        CommandSpec("help", arity: 2, flags: [.loading, .stale], acl: [.connection], group: .connection,
                                    since: "5.0.0", summary: "Explain the subcommands.",
                                    complexity: "O(1)", handler: { HelpText.reply($0, command: "CLIENT", lines: clientHelp) }),
                    ] + trackingSubcommands, handler: nil),
    ]

    static func clientSub(_ name: String, arity: Int, since: String, summary: String, admin: Bool = false,
                          complexity: String = "O(1)", history: [(String, String)] = [], tips: [String] = [],
                          arguments: [CommandArgument] = [], handler: @escaping CommandHandler) -> CommandSpec {
        let flags: CommandFlags = admin ? [.admin, .noscript, .loading, .stale] : [.noscript, .loading, .stale]
        return CommandSpec(name, arity: arity, flags: flags, acl: [.connection], tips: tips, group: .connection,
                           since: since, summary: summary, complexity: complexity, history: history,
                           arguments: arguments, handler: handler)
    }

    /// CLIENT PAUSE timeout [WRITE|ALL]: the mode is checked before the timeout, as in Redis.
    static func pause(_ c: CommandContext) {
        guard c.args.count <= 4 else { return c.error(bytes: RedisError.subcommandSyntax(c.args)) }
        var mode = PauseMode.all
        if c.args.count == 4 {
            if c.args.equals(3, "write") {
                mode = .write
            } else if !c.args.equals(3, "all") {
                return c.error("ERR CLIENT PAUSE mode must be WRITE or ALL")
            }
        }
        guard let timeout = Numbers.parseInt64(c.args[2]) else {
            return c.error("ERR timeout is not an integer or out of range")
        }
        guard timeout >= 0 else { return c.error(RedisError.timeoutNegative) }
        c.server.blocking.pause(mode, until: timeout > 0 ? c.now &+ timeout : 0)
        c.reply.ok()
    }

    static func ping(_ c: CommandContext) {
        if c.args.count > 2 { return c.error(RedisError.wrongArity("ping")) }
        if c.session.inSubscribedMode {
            // Subscribed RESP2 clients read every reply as a message-like array.
            c.reply.arrayHeader(2)
            c.reply.bulk("pong")
            if c.args.count == 2 { c.reply.bulk(c.args[1]) } else { c.reply.bulk([]) }
        } else if c.args.count == 2 { c.reply.bulk(c.args[1]) } else { c.reply.simple("PONG") }
    }

    static func quit(_ c: CommandContext) {
        c.reply.ok()
        c.session.closeAfterReply = true
    }

    static func reset(_ c: CommandContext) {
        let session = c.session
        session.db = 0
        c.server.pubsub.forget(session)
        session.protocolVersion = 2
        c.reply.resp3 = false
        session.name = []
        session.noEvict = false
        session.replyMode = .on
        session.authenticated = c.server.config.requirepass.isEmpty
        c.endTransaction()
        c.server.tracking.disable(session)
        c.server.monitors.remove(sessionID: session.id)
        session.isMonitor = false
        c.reply.simple("RESET")
    }

    /// Checks credentials the way the default user does: any password when none is set.
    static func authenticate(_ c: CommandContext, user: UnsafeRawBufferPointer, password: UnsafeRawBufferPointer) -> Bool {
        let required = Array(c.server.config.requirepass.utf8)
        let isDefault = user.elementsEqual("default".utf8)
        guard isDefault, required.isEmpty || password.elementsEqual(required) else {
            c.error("WRONGPASS invalid username-password pair or user is disabled.")
            return false
        }
        c.session.authenticated = true
        return true
    }

    static func hello(_ c: CommandContext) {
        var version: Int64 = 0
        var next = 1
        if c.args.count >= 2 {
            guard let parsed = c.integer(1, orReply: "ERR Protocol version is not an integer or out of range") else { return }
            guard parsed == 2 || parsed == 3 else { return c.error(RedisError.noProto) }
            version = parsed
            next = 2
        }
        var credentials: (Int, Int)?
        var nameArgument: Int?
        while next < c.args.count {
            let remaining = c.args.count - 1 - next
            if c.args.equals(next, "auth") && remaining >= 2 {
                credentials = (next + 1, next + 2)
                c.redactArgument(next + 1)
                c.redactArgument(next + 2)
                next += 2
            } else if c.args.equals(next, "setname") && remaining >= 1 {
                nameArgument = next + 1
                next += 1
            } else {
                return c.error(bytes: Array("ERR Syntax error in HELLO option '".utf8) + c.args[next] + [39])
            }
            next += 1
        }
        if let (user, password) = credentials {
            guard authenticate(c, user: c.args[user], password: c.args[password]) else { return }
        }
        if !c.session.authenticated {
            return c.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
        }
        if let nameArgument, !applyName(c, c.args[nameArgument]) { return }
        if version != 0 {
            c.session.protocolVersion = Int(version)
            c.reply.resp3 = version == 3
        }
        c.reply.mapHeader(7)
        c.reply.bulk("server"); c.reply.bulk("redis")
        c.reply.bulk("version"); c.reply.bulk(ServerIdentity.redisVersion)
        c.reply.bulk("proto"); c.reply.integer(c.session.protocolVersion)
        c.reply.bulk("id"); c.reply.integer(c.session.id)
        c.reply.bulk("mode"); c.reply.bulk("standalone")
        c.reply.bulk("role"); c.reply.bulk(c.server.isReplica ? "replica" : "master")
        c.reply.bulk("modules"); c.reply.arrayHeader(0)
    }

    static func auth(_ c: CommandContext) {
        if c.args.count > 3 { return c.error(RedisError.syntax) }
        for position in 1..<c.args.count { c.redactArgument(position) }
        if c.args.count == 2 {
            if c.server.config.requirepass.isEmpty {
                return c.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
            }
            let user = Array("default".utf8)
            if user.withUnsafeBytes({ authenticate(c, user: $0, password: c.args[1]) }) { c.reply.ok() }
            return
        }
        if authenticate(c, user: c.args[1], password: c.args[2]) { c.reply.ok() }
    }

    static func select(_ c: CommandContext) {
        guard let index = c.integer(1, in: Int64(Int32.min)...Int64(Int32.max)) else { return }
        guard index >= 0 && index < Int64(c.keyspace.databaseCount) else { return c.error(RedisError.dbIndexOutOfRange) }
        c.session.db = Int(index)
        c.reply.ok()
    }

    // MARK: CLIENT

    // DIVERGENCE: our own wording, in Redis's help layout.
    static let clientHelp = [
        "GETNAME",
        "    Return the name of this connection.",
        "ID",
        "    Return the unique id of this connection.",
        "INFO",
        "    Describe this connection in CLIENT LIST's format.",
        "KILL <ip:port>",
        "    Close the connection coming from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Close every connection matching all the filters:",
        "    * ID <client-id>",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "    * USER <username>",
        "    * SKIPME (YES|NO)   (default yes: never closes the caller)",
        "LIST [options ...]",
        "    Describe every connection, one per line. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "    * ID <client-id> [<client-id> ...]",
        "REPLY (ON|OFF|SKIP)",
        "    Turn replies on or off, or skip the reply to the next command.",
        "SETNAME <name>",
        "    Name this connection <name>.",
        "SETINFO <LIB-NAME|LIB-VER> <value>",
        "    Record the client library's name or version for CLIENT LIST.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    End the blocking command of connection <clientid> as if it timed out, or with an",
        "    UNBLOCKED error.",
        "NO-EVICT (ON|OFF)",
        "    Exempt this connection from client eviction, or not.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Hold back the commands of every client (with WRITE, only those that may write)",
        "    for <timeout> milliseconds.",
        "UNPAUSE",
        "    End CLIENT PAUSE: the commands it held back run.",
    ] + trackingHelp

    /// Names may not contain spaces, newlines or bytes outside printable ASCII.
    private static func isValidAttribute(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.allSatisfy { $0 >= 33 && $0 <= 126 }
    }

    private static func applyName(_ c: CommandContext, _ name: UnsafeRawBufferPointer) -> Bool {
        guard isValidAttribute(name) else {
            c.error("ERR Client names cannot contain spaces, newlines or special characters.")
            return false
        }
        c.session.name = Array(name)
        return true
    }

    static func setName(_ c: CommandContext) {
        if applyName(c, c.args[2]) { c.reply.ok() }
    }

    static func getName(_ c: CommandContext) {
        let name = c.session.name
        if name.isEmpty { c.reply.nullBulk() } else { c.reply.bulk(name) }
    }

    // DIVERGENCE: CLIENT SETINFO arrived in Redis 7.2; client libraries send it on connect,
    // so we accept it with 7.2's semantics and show lib-name/lib-ver in CLIENT LIST.
    static func setInfo(_ c: CommandContext) {
        let isName = c.args.equals(2, "lib-name")
        guard isName || c.args.equals(2, "lib-ver") else {
            return c.error(bytes: Array("ERR Unrecognized option '".utf8) + c.args[2] + [39])
        }
        guard isValidAttribute(c.args[3]) else {
            return c.error(bytes: Array(c.args[2]) + Array(" cannot contain spaces, newlines or special characters.".utf8))
        }
        if isName { c.session.libName = Array(c.args[3]) } else { c.session.libVersion = Array(c.args[3]) }
        c.reply.ok()
    }

    public static func describe(_ session: Session, server: ServerContext, now: Int64) -> String {
        let command = session.lastCommandIndex >= 0 ? server.table.all[session.lastCommandIndex].fullName : "NULL"
        let age = (now - session.createdAt) / 1000
        let idle = (now - session.lastInteraction) / 1000
        let queryFree = max(session.queryBufferCapacity - session.queryBufferLength, 0)
        var flags = session.isMonitor ? "O" : ""
        if session.subscribed { flags += "P" }
        if server.blocking.isBlocked(sessionID: session.id) { flags += "b" }
        let tracking = server.tracking.state(of: session)
        flags += tracking.listFlags
        if session.closeAfterReply { flags += "c" }
        if session.noEvict { flags += "e" }
        if flags.isEmpty { flags = "N" }
        let name = String(decoding: session.name, as: UTF8.self)
        let subscriptions = session.subscriptionCounts
        let libName = String(decoding: session.libName, as: UTF8.self)
        let libVersion = String(decoding: session.libVersion, as: UTF8.self)
        return "id=\(session.id) addr=\(session.peerAddress) laddr=\(session.localAddress) fd=\(session.fd) "
            + "name=\(name) age=\(age) idle=\(idle) flags=\(flags) db=\(session.db) sub=\(subscriptions.channels) psub=\(subscriptions.patterns) "
            + "ssub=\(subscriptions.shardChannels) "
            + "multi=-1 qbuf=\(session.queryBufferLength) qbuf-free=\(queryFree) argv-mem=0 multi-mem=0 "
            + "rbs=\(session.replyBufferCapacity) rbp=\(session.replyBufferPeak) obl=\(session.outputBufferLength) "
            + "oll=0 omem=0 tot-mem=\(session.queryBufferCapacity + session.replyBufferCapacity) events=r "
            + "cmd=\(command) user=default redir=\(tracking.shownRedirect) resp=\(session.protocolVersion) "
            + "lib-name=\(libName) lib-ver=\(libVersion)\n"
    }

    /// Redis's client class: every connection is a normal one or, with subscriptions, a
    /// pub/sub one, until replication lands.
    static func clientClass(of session: Session) -> String { session.subscribed ? "pubsub" : "normal" }

    /// A TYPE filter's class name, replicas under one name.
    private static func clientClass(named name: UnsafeRawBufferPointer) -> String {
        let lowered = String(decoding: name, as: UTF8.self).lowercased()
        return lowered == "slave" ? "replica" : lowered
    }

    static func list(_ c: CommandContext) {
        var ids: Set<Int>?
        var typeFilter: String?
        var j = 2
        while j < c.args.count {
            if c.args.equals(j, "type") && j + 1 < c.args.count {
                guard c.args.equals(j + 1, "normal") || c.args.equals(j + 1, "master")
                        || c.args.equals(j + 1, "replica") || c.args.equals(j + 1, "slave")
                        || c.args.equals(j + 1, "pubsub") else {
                    return c.error(bytes: Array("ERR Unknown client type '".utf8) + c.args[j + 1] + [39])
                }
                typeFilter = clientClass(named: c.args[j + 1])
                j += 2
            } else if c.args.equals(j, "id") && j + 1 < c.args.count {
                var selected = ids ?? []
                j += 1
                while j < c.args.count {
                    guard let id = Numbers.parseInt64(c.args[j]), id > 0 else {
                        return c.error("ERR Invalid client ID")
                    }
                    selected.insert(Int(id))
                    j += 1
                }
                ids = selected
            } else {
                return c.error(RedisError.syntax)
            }
        }
        var text = ""
        for session in c.server.control?.sessions() ?? [c.session]
        where ids?.contains(session.id) ?? true && typeFilter.map({ $0 == clientClass(of: session) }) ?? true {
            text += describe(session, server: c.server, now: c.now)
        }
        c.reply.verbatim(text)
    }

    static func info(_ c: CommandContext) {
        c.reply.verbatim(describe(c.session, server: c.server, now: c.now))
    }

    static func kill(_ c: CommandContext) {
        if c.args.count == 3 {
            let address = c.string(2)
            let killed = c.server.control?.kill { $0.peerAddress == address } ?? 0
            return killed > 0 ? c.reply.ok() : c.error("ERR No such client")
        }
        var id: Int?, address: String?, localAddress: String?, skipMe = true, typeFilter: String?
        var j = 2
        while j < c.args.count {
            guard j + 1 < c.args.count else { return c.error(RedisError.syntax) }
            let value = c.string(j + 1)
            if c.args.equals(j, "id") {
                guard let parsed = Numbers.parseInt64(c.args[j + 1]), parsed > 0 else {
                    return c.error("ERR client-id should be greater than 0")
                }
                id = Int(parsed)
            } else if c.args.equals(j, "addr") {
                address = value
            } else if c.args.equals(j, "laddr") {
                localAddress = value
            } else if c.args.equals(j, "type") {
                let lowered = value.lowercased()
                guard ["normal", "master", "replica", "slave", "pubsub"].contains(lowered) else {
                    return c.error("ERR Unknown client type '\(value)'")
                }
                typeFilter = lowered == "slave" ? "replica" : lowered
            } else if c.args.equals(j, "user") {
                guard value == "default" else { return c.error("ERR No such user '\(value)'") }
            } else if c.args.equals(j, "skipme") {
                if c.args.equals(j + 1, "yes") { skipMe = true } else if c.args.equals(j + 1, "no") { skipMe = false }
                else { return c.error(RedisError.syntax) }
            } else {
                return c.error(RedisError.syntax)
            }
            j += 2
        }
        let me = c.session.id
        let killed = c.server.control?.kill { session in
            if let id, session.id != id { return false }
            if let address, session.peerAddress != address { return false }
            if let localAddress, session.localAddress != localAddress { return false }
            if let typeFilter, typeFilter != clientClass(of: session) { return false }
            if skipMe && session.id == me { return false }
            return true
        } ?? 0
        c.reply.integer(killed)
    }

    static func replyMode(_ c: CommandContext) {
        if c.args.equals(2, "on") {
            c.session.replyMode = .on
            c.reply.ok()
        } else if c.args.equals(2, "off") {
            c.session.replyMode = .off
        } else if c.args.equals(2, "skip") {
            if c.session.replyMode == .on { c.session.replyMode = .skipNext }
        } else {
            c.error(RedisError.syntax)
        }
    }

    static func unblock(_ c: CommandContext) {
        guard c.args.count <= 4 else {
            return c.error(bytes: Array("ERR unknown subcommand or wrong number of arguments for '".utf8) + c.args[1].prefix(128)
                           + Array("'. Try CLIENT HELP.".utf8))
        }
        var withError = false
        if c.args.count == 4 {
            if c.args.equals(3, "error") {
                withError = true
            } else if !c.args.equals(3, "timeout") {
                return c.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
            }
        }
        guard let id = c.integer(2) else { return }
        c.reply.integer(c.server.blocking.cancel(sessionID: Int(id), withError: withError) ? 1 : 0)
    }

    static func noEvict(_ c: CommandContext) {
        if c.args.equals(2, "on") { c.session.noEvict = true } else if c.args.equals(2, "off") { c.session.noEvict = false }
        else { return c.error(RedisError.syntax) }
        c.reply.ok()
    }
}
