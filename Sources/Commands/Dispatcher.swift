// Runs one parsed command the way Redis's processCommand does: look the command up, check
// arity (and subcommand) and authentication, execute, then account calls, time and failures per command and
// honour CLIENT REPLY OFF/SKIP. Under a memory limit every command first lets eviction make
// room, and commands that may grow memory are refused with OOM when it cannot; after a failed
// background save, writes (and PING, as in Redis) get MISCONF. Later stages
// (ACL, MULTI, READONLY) slot in here.
import RESP

public enum Dispatcher {
    /// Executes the command in `context.args`, appending its reply to `context.reply`.
    public static func execute(_ context: CommandContext) {
        let args = context.args
        let replyStart = context.reply.buffer.count
        context.failed = false
        context.blockedThisRun = false
        let started = Clock.ticks()
        context.now = context.server.wallClock(ticks: started)
        defer { applyReplyMode(context, replyStart: replyStart) }

        guard let command = context.table.lookupUnowned(args[0]) else {
            context.error(bytes: RedisError.unknownCommand(args))
            return
        }
        command._withUnsafeGuaranteedRef { run($0, context, started: started) }
    }

    @inline(__always)
    private static func run(_ command: CommandSpec, _ context: CommandContext, started: UInt64) {
        let args = context.args
        var spec = command
        if !command.subcommands.isEmpty && args.count >= 2 {
            guard let sub = command.subcommand(named: args[1]) else {
                context.error(bytes: RedisError.unknownSubcommand(args))
                return
            }
            spec = sub
        }
        let counters = context.stats.counters + spec.statsIndex
        guard spec.accepts(argumentCount: args.count), let handler = spec.handler else {
            context.error(RedisError.wrongArity(spec.fullName))
            counters.pointee.rejectedCalls += 1
            return
        }
        if !context.session.authenticated && !spec.flags.contains(.noAuth) {
            context.error("NOAUTH Authentication required.")
            counters.pointee.rejectedCalls += 1
            return
        }
        if context.server.config.maxmemory > 0 && context.server.evictor.makeRoom(context.server) == .failed
            && spec.flags.contains(.denyoom) {
            context.error(RedisError.outOfMemory)
            counters.pointee.rejectedCalls += 1
            return
        }
        if context.server.snapshots.refusesWrites && (spec.flags.contains(.write) || spec.name == "ping") {
            context.error(RedisError.backgroundSaveFailed)
            counters.pointee.rejectedCalls += 1
            return
        }
        context.command = spec
        context.session.lastCommandIndex = spec.statsIndex
        handler(context)
        let elapsed = Clock.ticks() &- started
        if context.blockedThisRun {
            // Counted when the wait ends, with the time of every run it took (as Redis does).
            context.blockedRunTicks &+= elapsed
            return
        }
        context.stats.recordCall(spec.statsIndex, ticks: elapsed &+ context.blockedRunTicks, failed: context.failed,
                                 trackLatency: context.server.config.latencyTracking)
        context.blockedRunTicks = 0
        context.stats.commandsProcessed += 1
    }

    private static func applyReplyMode(_ context: CommandContext, replyStart: Int) {
        switch context.session.replyMode {
        case .on:
            return
        case .off:
            context.reply.buffer.count = replyStart
        case .skipThis:
            context.reply.buffer.count = replyStart
            context.session.replyMode = .on
        case .skipNext:
            // CLIENT REPLY SKIP itself replies nothing; the command after it is skipped.
            context.reply.buffer.count = replyStart
            context.session.replyMode = .skipThis
        }
    }
}
