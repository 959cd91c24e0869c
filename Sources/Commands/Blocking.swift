// Clients blocked in BLPOP-style commands. A blocking handler that finds nothing to take
// registers its connection here, per (db, key), in arrival order, while it still holds the
// shard locks of its keys; a write that makes a key ready calls `signalKeyReady` under the
// same shard lock, so no wake-up is lost between the two. Only the first waiter of a key is
// woken (Redis serves blocked clients first come, first served); its own worker re-runs the
// blocked command, and a waiter that leaves the queue for any reason wakes the next ones.
// DIVERGENCE: until that worker has re-run the command, a client on another worker may take
// the data without blocking (Redis serves blocked clients before running any other command).
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
    let host: BlockingHost

    init(sessionID: Int, db: Int, keys: [[UInt8]], deadline: Int64, wakesOnStrings: Bool, host: BlockingHost) {
        self.sessionID = sessionID
        self.db = db
        self.keys = keys
        self.deadline = deadline
        self.wakesOnStrings = wakesOnStrings
        self.host = host
    }
}

public final class BlockingRegistry {
    private struct WaitKey: Hashable {
        let db: Int
        let key: [UInt8]
    }

    private var lock = pthread_mutex_t()
    private var queues: [WaitKey: [BlockedClient]] = [:]
    private var bySession: [Int: BlockedClient] = [:]
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
    /// client may have been woken for data it no longer takes).
    public func remove(_ client: BlockedClient) {
        locked {
            guard bySession[client.sessionID] === client else { return }
            bySession[client.sessionID] = nil
            count = bySession.count
            if client.deadline > 0 { countWithTimeout -= 1 }
            if client.wakesOnStrings { stringWaiterCount -= 1 }
            for key in Set(client.keys) {
                let waitKey = WaitKey(db: client.db, key: key)
                queues[waitKey]?.removeAll { $0 === client }
                if queues[waitKey]?.isEmpty == true { queues[waitKey] = nil }
                queues[waitKey]?.first?.host.wakeBlocked(by: nil)
            }
        }
    }

    /// Wakes the first client waiting on `key` in `db`.
    func signal(db: Int, key: UnsafeRawBufferPointer, waker: @autoclosure () -> BlockingHost?) {
        guard count > 0 else { return }
        locked { queues[WaitKey(db: db, key: Array(key))]?.first?.host.wakeBlocked(by: waker()) }
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

    public func isBlocked(sessionID: Int) -> Bool {
        count > 0 && locked { bySession[sessionID] != nil }
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
