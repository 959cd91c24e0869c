// The slow log (SLOWLOG): commands that ran for at least `slowlog-log-slower-than`
// microseconds, newest first, at most `slowlog-max-len` of them, shared by every worker
// behind a lock. Like Redis's slowlog.c, an entry keeps at most 32 arguments (the last slot
// then says how many more there were) and 128 bytes of each, the client's address and name,
// and arguments a command redacted (passwords) as "(redacted)". A command's own time is
// measured (a blocked command's runs, not its wait; one that times out is not logged, as in
// Redis 7.0); EXEC is not logged itself, the commands it runs are, and so are a script's
// calls (as client `?:0`, Redis's fake client) before the script itself.
#if canImport(Glibc)
import Glibc
#endif
import RESP

public final class SlowLog {
    public struct Entry {
        public let id: Int
        public let unixTime: Int
        public let microseconds: Int
        public let arguments: [[UInt8]]
        public let peer: String
        public let clientName: [UInt8]
    }

    static let maxArguments = 32
    static let maxArgumentBytes = 128

    private var lock = pthread_mutex_t()
    /// Oldest first; replies list them newest first.
    private var entries: [Entry] = []
    private var nextID = 0

    init() { pthread_mutex_init(&lock, nil) }

    /// Cycle-counter ticks per microsecond, read once (the clock's own is a lazy global).
    private let ticksPerMicrosecond = Clock.ticksPerMillisecond / 1000

    /// Logs the command `args` that `context` just ran in `ticks`, if that is slow enough and
    /// the command is one that is logged. Inlined: most commands only compare two numbers.
    @inline(__always)
    func record(_ spec: CommandSpec, _ context: CommandContext, _ args: CommandArgs, ticks: UInt64) {
        let threshold = context.server.config.slowlogLogSlowerThan
        guard threshold >= 0, Double(ticks) >= Double(threshold) * ticksPerMicrosecond,
              !spec.flags.contains(.skipSlowlog) else { return }
        append(context, args, microseconds: Clock.microseconds(ticks: ticks))
    }

    private func append(_ context: CommandContext, _ args: CommandArgs, microseconds: Int) {
        let kept = args.count > SlowLog.maxArguments ? SlowLog.maxArguments - 1 : args.count
        var arguments = (0..<kept).map { position -> [UInt8] in
            if context.isRedacted(position) { return Array("(redacted)".utf8) }
            let bytes = args[position]
            guard bytes.count > SlowLog.maxArgumentBytes else { return Array(bytes) }
            return Array(bytes.prefix(SlowLog.maxArgumentBytes))
                + Array("... (\(bytes.count - SlowLog.maxArgumentBytes) more bytes)".utf8)
        }
        if kept < args.count { arguments.append(Array("... (\(args.count - kept) more arguments)".utf8)) }
        let script = context.runningScript
        let peer = script ? "?:0" : context.session.peerAddress
        let name = script ? [] : context.session.name
        let maxLength = context.server.config.slowlogMaxLen
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        entries.append(Entry(id: nextID, unixTime: time(nil), microseconds: microseconds, arguments: arguments,
                             peer: peer, clientName: name))
        nextID += 1
        if entries.count > maxLength { entries.removeFirst(entries.count - maxLength) }
    }

    /// The newest `limit` entries (all of them for nil), newest first.
    public func newest(_ limit: Int?) -> [Entry] {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return Array(entries.suffix(limit ?? entries.count).reversed())
    }

    public var count: Int {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return entries.count
    }

    public func reset() {
        pthread_mutex_lock(&lock)
        entries.removeAll()
        pthread_mutex_unlock(&lock)
    }
}
