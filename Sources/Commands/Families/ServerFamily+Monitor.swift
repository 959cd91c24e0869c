// MONITOR: the client asking is shown every command the server runs from then on (the lines
// are framed by MonitorFeed), until it sends RESET or disconnects. As in Redis, a client
// already monitoring gets no reply, and EXEC refuses it (it would leave no reply per command).
extension ServerFamily {
    static let monitorSpec = CommandSpec("monitor", arity: 1, flags: [.admin, .noscript, .loading, .stale], group: .server,
                                         since: "1.0.0", summary: "Stream every command the server runs to this client.",
                                         handler: monitor)

    static func monitor(_ c: CommandContext) {
        if c.executingTransaction { return c.error("ERR MONITOR isn't allowed for DENY BLOCKING client") }
        guard let target = c.pushTarget else { return c.error("ERR MONITOR needs a client connection") }
        guard c.server.monitors.add(c.session, target: target) else { return }
        c.session.isMonitor = true
        c.reply.ok()
    }
}
