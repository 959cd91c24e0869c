// Clients blocked in BLPOP-style commands. A blocking handler that finds nothing to take
// registers its connection here, per (db, key), in the order the commands ran, holding the
// shard locks of its keys; a write that makes a key ready calls `signalKeyReady` under the
// same shard lock, so no wake-up is lost between the two. Only the first waiter of a key is
// woken (Redis serves blocked clients first come, first served); its own worker re-runs the
// blocked command, and a waiter that leaves the queue for any reason wakes the next ones.
// Redis serves a woken client before it runs any other command. Here the key stays reserved
// for the woken client until its retry is done: another client's command that names the key
// is postponed (not run, its connection waiting like a blocked one) and runs once the
// reservation ends, so it cannot take the data first. When the woken client leaves the queue
// (served, or failed as with WRONGTYPE), the next waiter inherits the reservation.
// The dispatcher checks before a command runs; a command that passed that check just before
// the write finds the reservation once it holds its locks, and gives them up until the retry
// is done (running it itself when the woken client belongs to its own worker thread).
// DIVERGENCE: a command that got past the check waits at most a second for a retry stuck
// behind a long command, and commands inside MULTI/EXEC and scripts are never postponed:
// these may still take the data first. Waiters are queued in the order their commands ran;
// two clients on different workers that send at the same moment may block in either order
// (Redis queues them in arrival order).
// CLIENT PAUSE postpones commands the same way: every command (ALL), or those that may
// write or replicate (WRITE), wait until CLIENT UNPAUSE or the pause's end time.
// DIVERGENCE: Redis then runs them in the order they arrived; here the commands of clients on
// different workers run in parallel, in no set order.
// CACHE.GET ... WAIT waits for a string value instead: string writes wake only such waiters,
// so list and sorted-set waiters ignore strings as Redis's do.
// Lock order: shard locks, then the registry lock, then a worker's inbox lock.
#if canImport(Glibc)
import Glibc
#endif
import Storage
import Support

/// The connection side of a blocked client, implemented by the network layer. Both calls may
/// come from any thread; the connection acts on its own worker.
public protocol BlockingHost: AnyObject {
    /// Re-run the blocked command: one of its keys may be ready. `waker` is the connection
    /// whose write caused it (nil for internal re-signals); it holds back its next command
    /// until the retry is done, so it sees the result as a Redis client would.
    func wakeBlocked(by waker: BlockingHost?)
    /// CLIENT UNBLOCK: stop waiting, replying the timeout reply or an UNBLOCKED error.
    func cancelBlocking(withError: Bool)
    /// Whether the calling thread is the one that runs this connection's commands.
    var isOnCurrentThread: Bool { get }
    /// Re-runs the blocked command now, on the calling thread (this connection's own), from
    /// inside another connection's command that holds no shard; the rest of this
    /// connection's input runs after that command.
    func retryHere()
}

/// Who holds a reservation that keeps a command from a key.
enum ReservationHolder {
    /// A woken client whose retry runs on another thread: wait for it.
    case elsewhere
    /// A woken client of this very thread: its retry cannot run while this thread waits, so
    /// the waiting command runs it.
    case here(BlockingHost)
}

/// One blocked command: who waits, on which keys, until when.
public final class BlockedClient {
    public let sessionID: Int
    public let db: Int
    public let keys: [[UInt8]]
    /// Wall-clock milliseconds when the command times out; 0 waits forever.
    public let deadline: Int64
    /// Woken by string writes too (CACHE.GET waits for a string value; list and sorted-set
    /// waiters, like Redis's, ignore strings).
    public let wakesOnStrings: Bool
    /// Not a blocking command but one postponed, behind a woken client's retry or by CLIENT
    /// PAUSE: woken to run afresh once the reservation of its key or the pause ends.
    public let isPostponement: Bool
    let host: BlockingHost

    init(sessionID: Int, db: Int, keys: [[UInt8]], deadline: Int64, wakesOnStrings: Bool, host: BlockingHost,
         isPostponement: Bool = false) {
        self.sessionID = sessionID
        self.db = db
        self.keys = keys
        self.deadline = deadline
        self.wakesOnStrings = wakesOnStrings
        self.host = host
        self.isPostponement = isPostponement
    }
}

/// What CLIENT PAUSE holds back, from least to most restrictive.
public enum PauseMode: Int, Comparable {
    case off, write, all
    public static func < (a: PauseMode, b: PauseMode) -> Bool { a.rawValue < b.rawValue }
}

public final class BlockingRegistry {
    private struct WaitKey: Hashable {
        let db: Int
        let key: [UInt8]
    }

    private var lock = pthread_mutex_t()
    private var queues: [WaitKey: [BlockedClient]] = [:]
    private var bySession: [Int: BlockedClient] = [:]
    /// Keys made ready for a woken client (its session id) whose retry has not run yet.
    private var reservations: [WaitKey: Int] = [:]
    /// Commands postponed behind a reservation, per reserved key, in arrival order.
    private var postponed: [WaitKey: [BlockedClient]] = [:]
    /// Number of reserved keys; read without the lock before each command with keys, so that
    /// one load is all a command costs while nothing is reserved.
    public private(set) var reservationCount = 0
    /// The CLIENT PAUSE in force; read without the lock before each command.
    public private(set) var pauseMode = PauseMode.off
    /// Wall-clock milliseconds when the pause ends.
    private var pauseEnd: Int64 = 0
    /// Commands postponed by the pause, in arrival order.
    private var paused: [BlockedClient] = []
    /// Commands postponed, behind a reservation or by a pause (counted in INFO's
    /// blocked_clients, as Redis counts its postponed clients).
    public private(set) var postponedCount = 0
    /// Number of blocked clients; read without the lock by writers under a shard lock (a
    /// waiter registers under that same shard lock, so a writer that could serve it sees it).
    public private(set) var count = 0
    /// Blocked clients that have a deadline (INFO's clients_in_timeout_table).
    public private(set) var countWithTimeout = 0
    /// Blocked clients that string writes wake; read without the lock like `count`, so a
    /// string write costs one load while none waits.
    public private(set) var stringWaiterCount = 0

    public init() { pthread_mutex_init(&lock, nil) }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return body()
    }

    func add(_ client: BlockedClient) {
        locked {
            for key in Set(client.keys) { queues[WaitKey(db: client.db, key: key), default: []].append(client) }
            bySession[client.sessionID] = client
            count = bySession.count
            if client.deadline > 0 { countWithTimeout += 1 }
            if client.wakesOnStrings { stringWaiterCount += 1 }
        }
    }

    /// Takes `client` out of every queue, then wakes the new first waiters of its keys (the
    /// client may have been woken for data it no longer takes); a key it held reserved passes
    /// to the next waiter, or, with none, the commands postponed behind it run.
    public func remove(_ client: BlockedClient) {
        locked {
            if client.isPostponement {
                for key in Set(client.keys) { postponed[WaitKey(db: client.db, key: key)]?.removeAll { $0 === client } }
                paused.removeAll { $0 === client }
                countPostponed()
                return
            }
            guard bySession[client.sessionID] === client else { return }
            bySession[client.sessionID] = nil
            count = bySession.count
            if client.deadline > 0 { countWithTimeout -= 1 }
            if client.wakesOnStrings { stringWaiterCount -= 1 }
            for key in Set(client.keys) {
                let waitKey = WaitKey(db: client.db, key: key)
                queues[waitKey]?.removeAll { $0 === client }
                if queues[waitKey]?.isEmpty == true { queues[waitKey] = nil }
                let heldReservation = reservations[waitKey] == client.sessionID
                if heldReservation { reservations[waitKey] = nil }
                if let next = queues[waitKey]?.first {
                    if heldReservation { reservations[waitKey] = next.sessionID }
                    next.host.wakeBlocked(by: nil)
                }
                if heldReservation && reservations[waitKey] == nil { releasePostponed(waitKey) }
            }
            reservationCount = reservations.count
        }
    }

    /// A woken client's retry found nothing and it keeps waiting: the keys it held reserved
    /// are free again.
    public func endReservations(of client: BlockedClient) {
        guard reservationCount > 0 else { return }
        locked {
            for key in Set(client.keys) {
                let waitKey = WaitKey(db: client.db, key: key)
                guard reservations[waitKey] == client.sessionID else { continue }
                reservations[waitKey] = nil
                releasePostponed(waitKey)
            }
            reservationCount = reservations.count
        }
    }

    /// Wakes the commands postponed behind `waitKey`'s reservation (registry lock held).
    private func releasePostponed(_ waitKey: WaitKey) {
        guard let waiting = postponed.removeValue(forKey: waitKey) else { return }
        for client in waiting { client.host.wakeBlocked(by: nil) }
        countPostponed()
    }

    /// Recounts the postponed commands (registry lock held).
    private func countPostponed() {
        postponedCount = postponed.values.reduce(paused.count) { $0 + $1.count }
    }

    /// Who holds `key` reserved, when it is a woken client of a session other than `sessionID`.
    func reservationHolder(db: Int, key: UnsafeRawBufferPointer, for sessionID: Int) -> ReservationHolder? {
        locked {
            guard let holder = reservations[WaitKey(db: db, key: Array(key))], holder != sessionID,
                  let client = bySession[holder] else { return nil }
            return client.host.isOnCurrentThread ? .here(client.host) : .elsewhere
        }
    }

    /// Queues `client`, a postponement, behind the first of its keys that is reserved for
    /// another session; false when none is (the command runs now).
    func postpone(_ client: BlockedClient) -> Bool {
        locked {
            for key in client.keys {
                let waitKey = WaitKey(db: client.db, key: key)
                guard let holder = reservations[waitKey], holder != client.sessionID else { continue }
                postponed[waitKey, default: []].append(client)
                countPostponed()
                return true
            }
            return false
        }
    }

    // MARK: CLIENT PAUSE

    /// CLIENT PAUSE: holds back `mode`'s commands until `end` (wall-clock milliseconds). A
    /// pause already in force keeps the more restrictive mode and the later end, as Redis's.
    public func pause(_ mode: PauseMode, until end: Int64) {
        locked {
            pauseEnd = pauseMode == .off ? end : max(pauseEnd, end)
            pauseMode = max(pauseMode, mode)
        }
    }

    /// CLIENT UNPAUSE: ends the pause; the commands it held back run.
    public func unpause() { locked { endPause() } }

    /// Ends a pause whose end time has passed (the server's cron).
    public func endPauseIfElapsed(now: Int64) {
        guard pauseMode != .off else { return }
        locked { if pauseEnd < now { endPause() } }
    }

    /// Registry lock held.
    private func endPause() {
        pauseMode = .off
        pauseEnd = 0
        let waiting = paused
        paused = []
        countPostponed()
        for client in waiting { client.host.wakeBlocked(by: nil) }
    }

    /// Queues `client`, a postponement, while a pause holds back its command (`writes`:
    /// whether the command may write or replicate); false when none does.
    func postponeWhilePaused(_ client: BlockedClient, writes: Bool, now: Int64) -> Bool {
        locked {
            if pauseMode != .off && pauseEnd < now { endPause() }
            guard pauseMode == .all || (pauseMode == .write && writes) else { return false }
            paused.append(client)
            countPostponed()
            return true
        }
    }

    /// Wakes the first client waiting on `key` in `db`, and reserves the key for it until its
    /// retry is done.
    func signal(db: Int, key: UnsafeRawBufferPointer, waker: @autoclosure () -> BlockingHost?) {
        guard count > 0 else { return }
        locked {
            let waitKey = WaitKey(db: db, key: Array(key))
            guard let first = queues[waitKey]?.first else { return }
            if reservations[waitKey] == nil {
                reservations[waitKey] = first.sessionID
                reservationCount = reservations.count
            }
            first.host.wakeBlocked(by: waker())
        }
    }

    /// Wakes the first client waiting on `key` in `db` that string writes wake.
    func signalStringWaiter(db: Int, key: UnsafeRawBufferPointer, waker: @autoclosure () -> BlockingHost?) {
        guard stringWaiterCount > 0 else { return }
        locked {
            queues[WaitKey(db: db, key: Array(key))]?.first(where: \.wakesOnStrings)?.host.wakeBlocked(by: waker())
        }
    }

    /// Wakes the first client waiting on each key of `databases` (after SWAPDB).
    func signal(databases: Set<Int>, waker: BlockingHost?) {
        guard count > 0 else { return }
        locked {
            // A client waiting on several keys is woken once; its retry checks all of them.
            var woken = Set<ObjectIdentifier>()
            for (waitKey, queue) in queues where databases.contains(waitKey.db) {
                guard let first = queue.first, woken.insert(ObjectIdentifier(first)).inserted else { continue }
                first.host.wakeBlocked(by: waker)
            }
        }
    }

    /// Whether the session waits in a blocking command or a postponed one (CLIENT LIST's flag
    /// `b`, which Redis also shows for clients CLIENT PAUSE holds back).
    public func isBlocked(sessionID: Int) -> Bool {
        guard count > 0 || postponedCount > 0 else { return false }
        return locked {
            bySession[sessionID] != nil || paused.contains { $0.sessionID == sessionID }
                || postponed.values.contains { $0.contains { $0.sessionID == sessionID } }
        }
    }

    /// CLIENT UNBLOCK: asks the blocked client's connection to stop waiting; false when the
    /// session is not blocked.
    public func cancel(sessionID: Int, withError: Bool) -> Bool {
        guard let client = locked({ bySession[sessionID] }) else { return false }
        client.host.cancelBlocking(withError: withError)
        return true
    }
}

extension CommandContext {
    /// False where a command may not block (no connection behind it; later MULTI and
    /// scripts): blocking commands then answer as if they had timed out at once.
    public var canBlock: Bool { blockingHost != nil && !executingTransaction }

    /// Argument `index` as a blocking timeout in seconds (a float), returned as the deadline
    /// in wall-clock milliseconds (0: wait forever), or replies Redis's error and returns nil.
    public func blockingDeadline(_ index: Int) -> Int64? {
        guard let seconds = Numbers.parseLongDouble(args[index]) else {
            error(RedisError.timeoutNotFloat)
            return nil
        }
        // Redis converts to a C long long: infinities and values beyond its range come out as
        // LLONG_MIN on x86, so they read as negative.
        let milliseconds = (seconds * 1000).rounded(.up)
        guard milliseconds >= 0 && milliseconds < 0x1p63 else {
            error(RedisError.timeoutNegative)
            return nil
        }
        guard milliseconds > 0 else { return 0 }
        return now &+ Int64(milliseconds)
    }

    /// Blocks this connection on the keys at `positions` until `deadline` (call with their
    /// shard locks held, having found nothing to take). A command re-run after a wake-up
    /// that still finds nothing keeps its place in the queues.
    public func block<Positions: Sequence<Int>>(keysAt positions: Positions, deadline: Int64,
                                                wakesOnStrings: Bool = false) {
        guard let host = blockingHost else { return }
        blockedThisRun = true
        guard blockedClient == nil else { return }
        let client = BlockedClient(sessionID: session.id, db: session.db, keys: positions.map { Array(args[$0]) },
                                   deadline: deadline, wakesOnStrings: wakesOnStrings, host: host)
        blockedClient = client
        server.blocking.add(client)
    }

    /// Runs `attempt` with the shards of the keys at `positions` locked; when it finds
    /// nothing (returns false), blocks on those keys until `deadline`, or, where blocking is
    /// not allowed, runs `nothing` (the timeout reply). The shape of every B*POP command.
    public func attemptOrBlock(keysAt positions: Range<Int>, deadline: Int64, nothing: () -> Void, _ attempt: () -> Bool) {
        withKeys(positions) {
            guard !attempt() else { return }
            if canBlock {
                block(keysAt: positions, deadline: deadline)
            } else {
                nothing()
            }
        }
    }

    /// Postpones this command when a key it names is reserved for a woken blocked client of
    /// another session: the connection waits as if blocked and runs it afresh once the
    /// reservation ends. Retries of blocked commands, transactions and scripts are not
    /// postponed.
    func postponedBehindReservation(_ spec: CommandSpec) -> Bool {
        postponed(spec, keys: { CommandIntrospection.keyPositions(of: spec, argumentCount: args.count) { args[$0] } }) {
            !$0.keys.isEmpty && server.blocking.postpone($0)
        }
    }

    /// Postpones this command while CLIENT PAUSE holds it back: every command under ALL,
    /// under WRITE those that may write or replicate (for EXEC, its queued commands; for a
    /// script, what its shebang declares). Retries of blocked commands are not held back.
    func postponedWhilePaused(_ spec: CommandSpec) -> Bool {
        let flags = spec.name == "exec" ? transaction?.queuedFlags ?? spec.flags : callFlags(spec)
        return postponed(spec, keys: { [] }) {
            server.blocking.postponeWhilePaused($0, writes: !flags.isDisjoint(with: [.write, .mayReplicate]),
                                                now: Clock.milliseconds())
        }
    }

    /// Makes this call of `spec` a postponement waiting on the keys at the positions
    /// `keyPositions` gives, if `register` queues it; false when this command may not wait (no
    /// connection, a transaction or script, a blocked command's retry) or was not queued.
    /// CLIENT LIST shows it as the connection's command meanwhile, as Redis does.
    private func postponed(_ spec: CommandSpec, keys keyPositions: () -> [Int],
                           _ register: (BlockedClient) -> Bool) -> Bool {
        guard canBlock, blockedClient == nil, let host = blockingHost else { return false }
        let client = BlockedClient(sessionID: session.id, db: session.db, keys: keyPositions().map { Array(args[$0]) },
                                   deadline: 0, wakesOnStrings: false, host: host, isPostponement: true)
        guard register(client) else { return false }
        blockedClient = client
        blockedThisRun = true
        session.lastCommandIndex = spec.statsIndex
        return true
    }

    /// Called with a command's shards locked while some key is reserved: when a key it holds
    /// (`holder` says who reserved it) was reserved for another session's woken client after
    /// the dispatcher's check (a write made it ready in between), gives the locks up until
    /// that client's retry is done, so that this command cannot take what the client was
    /// woken for. A retry of this thread's own runs here; one on another thread is waited
    /// for, at most a second (a retry stuck behind a long command), then this goes on.
    @inline(never)
    func waitOutReservations(_ holder: () -> ReservationHolder?, unlock: () -> Void, lock: () -> Void) {
        guard canBlock, blockedClient == nil else { return }
        let deadline = Clock.milliseconds() + 1000
        while let found = holder(), Clock.milliseconds() < deadline {
            unlock()
            switch found {
            case .here(let host):
                host.retryHere()
            case .elsewhere:
                var pause = timespec(tv_sec: 0, tv_nsec: 20_000)
                nanosleep(&pause, nil)
            }
            lock()
            // A retry run here ends its reservation; if one is still there, do not spin on it.
            if case .here = found, case .here? = holder() { return }
        }
    }

    /// Who holds `key` (in the current database) reserved, if another session's woken client.
    func reservationHolder(of key: UnsafeRawBufferPointer) -> ReservationHolder? {
        server.blocking.reservationHolder(db: session.db, key: key, for: session.id)
    }

    /// True while re-running a blocked command after a wake-up.
    public var isRetryingBlocked: Bool { blockedClient != nil }

    /// Tells clients blocked on `key` (in `db`, by default the current database) that it may
    /// have data: call after a write that creates the key (as Redis signals from dbAdd),
    /// with the key's shard still locked.
    @inline(__always)
    public func signalKeyReady(_ key: UnsafeRawBufferPointer, db: Int? = nil) {
        server.blocking.signal(db: db ?? session.db, key: key, waker: blockingHost)
    }

    /// Tells a client waiting for a string value of `key` (CACHE.GET ... WAIT) that the key
    /// was written or its fill lock released: call with the key's shard still locked.
    @inline(__always)
    public func signalStringWritten(_ key: UnsafeRawBufferPointer) {
        server.blocking.signalStringWaiter(db: session.db, key: key, waker: blockingHost)
    }

    /// SWAPDB exchanged these databases: any key waited on in them may now have data.
    /// SWAPDB exchanged two databases (every shard locked): waiters are woken and the swap
    /// is propagated here, in order.
    public func signalDatabasesSwapped(_ first: Int, _ second: Int) {
        noteCommandChanged()
        commitEffects()
        server.blocking.signal(databases: [first, second], waker: blockingHost)
    }
}
