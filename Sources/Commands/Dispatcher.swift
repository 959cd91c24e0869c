// Runs one parsed command the way Redis's processCommand does: look the command up, check
// arity (and subcommand) and authentication, execute, then account calls, time and failures per command and
// honour CLIENT REPLY OFF/SKIP. Under a memory limit every command first lets eviction make
// room, and commands that may grow memory are refused with OOM when it cannot; after a failed
// background save, writes (and PING, as in Redis) get MISCONF. RESP2 clients with pub/sub
// subscriptions may run only the subscription commands, PING, QUIT and RESET. While a
// transaction is open, commands are queued instead of run (refusals mark it failed); EXEC
// runs the queue. While a script is busy, only allow-busy commands run (others get BUSY).
// A command naming a key reserved for a woken blocked client waits for that client's retry;
// CLIENT PAUSE holds commands back (before they are queued in a transaction, as in Redis).
// Later stages (ACL, READONLY) slot in here.
import RESP
#if canImport(Glibc)
import Glibc
#endif

public enum Dispatcher {
    /// Executes the command in `context.args`, appending its reply to `context.reply`.
    public static func execute(_ context: CommandContext) {
        execute(context, command: context.lookUpCommand(context.args[0]))
    }

    /// Executes the command in `context.args`, whose name the caller already looked up in
    /// the command table (`command`: nil when the table has no such command).
    public static func execute(_ context: CommandContext, command: Unmanaged<CommandSpec>?) {
        let args = context.args
        let replyStart = context.reply.buffer.count
        context.pushedUpTo = replyStart
        context.failed = false
        context.blockedThisRun = false
        let started = Clock.ticks()
        context.now = context.server.wallClock(ticks: started)
        defer {
            applyReplyMode(context)
            // A tracking client's own invalidations follow its reply, as in Redis.
            if !context.session.pendingInvalidations.isEmpty { context.server.tracking.sendPending(context.session) }
        }

        guard let command else {
            context.error(bytes: RedisError.unknownCommand(args))
            context.transaction?.refusedCommand = true
            return
        }
        command._withUnsafeGuaranteedRef { command in
            guard !command.subcommands.isEmpty && context.args.count >= 2 else {
                return run(command, context, started: started)
            }
            guard let sub = command.subcommand(named: context.args[1]) else {
                context.error(bytes: RedisError.unknownSubcommand(context.args))
                context.transaction?.refusedCommand = true
                return
            }
            run(sub, context, started: started)
        }
    }

    /// Runs `spec` (the command, or the subcommand named) unless a check refuses it.
    @inline(__always)
    private static func run(_ spec: CommandSpec, _ context: CommandContext, started: UInt64) {
        let args = context.args
        guard spec.accepts(argumentCount: args.count), spec.handler != nil else {
            return reject(spec, context, RedisError.wrongArity(spec.fullName))
        }
        if !context.session.authenticated && !spec.flags.contains(.noAuth) {
            return reject(spec, context, "NOAUTH Authentication required.")
        }
        let overLimit = context.server.config.maxmemory > 0
            && Unmanaged.passUnretained(context.server.evictor)._withUnsafeGuaranteedRef { $0.makeRoom(context.server) } == .failed
        context.overMemoryLimit = overLimit
        if overLimit && mayUseMemory(spec, context) {
            return reject(spec, context, RedisError.outOfMemory)
        }
        if context.server.snapshots.refusesWrites && (spec.flags.contains(.write) || spec.name == "ping") {
            return reject(spec, context, RedisError.backgroundSaveFailed)
        }
        if context.session.inSubscribedMode && !spec.allowedInSubscribedMode {
            return reject(spec, context, "ERR Can't execute '\(spec.fullName)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
        }
        if context.server.loadingDataset && !context.session.replaysAOF && deniedWhileLoading(spec, context) {
            return reject(spec, context, "LOADING Redis is loading the dataset in memory")
        }
        if context.server.scripts.busy && !spec.flags.contains(.allowBusy) {
            return reject(spec, context, context.server.scripts.busyIsEval ? RedisError.busyScript : RedisError.busyFunction)
        }
        if context.transaction != nil && spec.flags.contains(.noMulti) {
            return reject(spec, context, "ERR Command not allowed inside a transaction")
        }
        if context.server.blocking.pauseMode != .off && context.postponedWhilePaused(spec) { return }
        if let transaction = context.transaction, !TransactionFamily.controlsTransaction(spec) {
            transaction.append(QueuedCommand(args, spec: spec), flags: context.callFlags(spec))
            context.reply.simple("QUEUED")
            return
        }
        if context.server.blocking.reservationCount > 0 && context.postponedBehindReservation(spec) { return }
        let elapsed = invoke(spec, context, args, started: started)
        if context.blockedThisRun {
            // Counted when the wait ends, with the time of every run it took (as Redis does).
            context.blockedRunTicks &+= elapsed
            return
        }
        recordCompletion(spec, context, args, ticks: elapsed &+ context.blockedRunTicks)
        context.blockedRunTicks = 0
    }

    /// Runs the handler of `spec`, returning the ticks it took.
    @inline(__always)
    private static func invoke(_ spec: CommandSpec, _ context: CommandContext, _ args: CommandArgs, started: UInt64) -> UInt64 {
        context.command = spec
        context.session.lastCommandIndex = spec.statsIndex
        let tracking = !context.session.trackingFlags.isEmpty
        if tracking { context.session.trackingCommandThread = pthread_self() }
        context.resetCommandEffect()
        context.clearRedactions()
        // MONITOR shows a command that runs a script before the commands of its script, any
        // other once it has run (with the arguments it redacted); admin commands and the
        // retries of a blocked command are not shown, nor anything while a dataset loads.
        let monitored = context.server.monitors.isActive && !spec.flags.contains(.admin)
            && context.blockedRunTicks == 0 && !context.server.loadingDataset
        if monitored && spec.flags.contains(.skipMonitor) { context.server.monitors.feed(context, args) }
        // Unwrapped natively: going through the generic `unsafelyUnwrapped` made the compiler
        // wrap the handler in a reabstraction thunk, allocated on every call.
        if let handler = spec.handler { handler(context) }
        if monitored && !spec.flags.contains(.skipMonitor) { context.server.monitors.feed(context, args) }
        // Effects of commands that locked shards on their own (not through the context).
        context.commitEffects()
        if tracking {
            context.session.trackingCommandThread = nil
            context.server.tracking.afterCommand(context, spec)
        }
        return Clock.ticks() &- started
    }

    /// Counts a completed command: its statistics, and its own time (a blocked command's runs,
    /// not its wait) for the slow log and the latency monitor.
    @inline(__always)
    private static func recordCompletion(_ spec: CommandSpec, _ context: CommandContext, _ args: CommandArgs, ticks: UInt64) {
        context.stats.recordCall(spec.statsIndex, ticks: ticks, failed: context.failed,
                                 trackLatency: context.server.config.latencyTracking)
        context.server.slowLog.record(spec, context, args, ticks: ticks)
        context.server.latencyMonitor.record(spec.flags.contains(.fast) ? "fast-command" : "command",
                                             milliseconds: Clock.microseconds(ticks: ticks) / 1000,
                                             threshold: context.server.config.latencyMonitorThreshold)
        context.stats.commandsProcessed += 1
    }

    /// Runs one command queued in a transaction (EXEC, with the shards of its keys held).
    static func runQueued(_ spec: CommandSpec, _ context: CommandContext) {
        context.failed = false
        let args = context.args
        recordCompletion(spec, context, args, ticks: invoke(spec, context, args, started: Clock.ticks()))
    }

    /// Whether `spec` must wait for a load to end (EXEC: whether a queued command must).
    private static func deniedWhileLoading(_ spec: CommandSpec, _ context: CommandContext) -> Bool {
        if spec.name == "exec", let transaction = context.transaction {
            return transaction.flagsSomeQueuedLacks.contains(.loading)
        }
        return !spec.flags.contains(.loading)
    }

    /// Whether `spec` may grow memory (EXEC: whether a queued command may).
    private static func mayUseMemory(_ spec: CommandSpec, _ context: CommandContext) -> Bool {
        if spec.name == "exec", let transaction = context.transaction {
            return transaction.queuedFlags.contains(.denyoom)
        }
        return spec.flags.contains(.denyoom)
    }

    /// Refuses a command before it runs, as Redis's rejectCommand: the error counts as a
    /// rejected call, marks an open transaction as failed, and a refused EXEC discards it.
    private static func reject(_ spec: CommandSpec, _ context: CommandContext, _ message: String) {
        (context.stats.counters + spec.statsIndex).pointee.rejectedCalls += 1
        guard spec.name == "exec" else {
            context.error(message)
            context.transaction?.refusedCommand = true
            return
        }
        context.endTransaction()
        let reason = message.hasPrefix("ERR ") ? String(message.dropFirst(4)) : message
        context.error("EXECABORT Transaction discarded because of: " + reason)
    }

    /// Drops the reply as CLIENT REPLY OFF/SKIP asks, keeping pushed frames (subscription
    /// confirmations, messages) as Redis does.
    private static func applyReplyMode(_ context: CommandContext) {
        switch context.session.replyMode {
        case .on:
            return
        case .off:
            context.reply.buffer.count = context.pushedUpTo
        case .skipThis:
            context.reply.buffer.count = context.pushedUpTo
            context.session.replyMode = .on
        case .skipNext:
            // CLIENT REPLY SKIP itself replies nothing; the command after it is skipped.
            context.reply.buffer.count = context.pushedUpTo
            context.session.replyMode = .skipThis
        }
    }
}
