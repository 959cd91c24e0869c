// MONITOR: the clients that asked to see every command the server runs, and the line each
// command becomes (Redis's replicationFeedMonitors). A line is the wall-clock time, the
// database and the client (`lua` for a script's own calls), then every argument quoted as
// sdscatrepr quotes it, with the arguments a command redacted (passwords) as "(redacted)".
// It is framed once and pushed to every monitor through its connection, which crosses
// workers through their inboxes. While nobody monitors, a command pays one atomic load.
#if canImport(Glibc)
import Glibc
#endif
import CSystem
import RESP
import Support

public final class MonitorFeed {
    private var lock = pthread_mutex_t()
    private var monitors: [(sessionID: Int, target: PushTarget)] = []
    /// How many clients monitor, read without the lock on every command.
    private let count = UnsafeMutablePointer<Int64>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(&lock, nil)
        count.initialize(to: 0)
    }

    @inline(__always)
    public var isActive: Bool { swiftlet_atomic_load(count) > 0 }

    /// Starts feeding `session`'s connection; false when it already monitors.
    func add(_ session: Session, target: PushTarget) -> Bool {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard !monitors.contains(where: { $0.sessionID == session.id }) else { return false }
        monitors.append((session.id, target))
        swiftlet_atomic_store(count, Int64(monitors.count))
        return true
    }

    /// Stops feeding the session (RESET, or its connection closed).
    public func remove(sessionID: Int) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        monitors.removeAll { $0.sessionID == sessionID }
        swiftlet_atomic_store(count, Int64(monitors.count))
    }

    /// Shows the command `args`, run by `context`'s client (or its script), to every monitor.
    func feed(_ context: CommandContext, _ args: CommandArgs) {
        var line = Array("+".utf8)
        var now = timeval()
        gettimeofday(&now, nil)
        let micros = String(now.tv_usec)
        line += Array("\(now.tv_sec).\(String(repeating: "0", count: 6 - micros.count))\(micros) [\(context.session.db) ".utf8)
        line += Array((context.runningScript ? "lua" : context.session.peerAddress).utf8)
        line += Array("] ".utf8)
        for position in 0..<args.count {
            if position > 0 { line.append(32) }
            if context.isRedacted(position) {
                line += Array("\"(redacted)\"".utf8)
            } else {
                QuotedSplitter.quote(bytes: args[position], into: &line)
            }
        }
        line += [13, 10]
        let message = PushMessage.monitorLine(line)
        pthread_mutex_lock(&lock)
        let targets = monitors.map(\.target)
        pthread_mutex_unlock(&lock)
        guard let first = targets.first else { return }
        type(of: first).push(message, to: targets)
    }
}
