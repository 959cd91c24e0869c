// A worker thread: one libevent event_base serving its share of the connections. Other
// threads never touch its sockets; they post messages to its inbox (a locked queue plus an
// eventfd registered in the loop): new connections from the acceptor, kill checks, stop, and
// wake-ups of its connections blocked in BLPOP-style commands (served in wake-up order).
#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import Commands

final class Worker {
    enum Message {
        case adopt(fd: Int32, peer: String, local: String)
        case checkKills
        case restartCron
        case stop
        /// A key a blocked connection waits on may be ready: re-run its command, then tell
        /// the connection whose write woke it (if any).
        case serveBlocked(Connection, waker: Connection?)
        /// A retry this connection's write caused has finished.
        case retryFinished(Connection)
        /// CLIENT UNBLOCK from another connection.
        case cancelBlocking(Connection, withError: Bool)
        /// A pub/sub message or tracking invalidation raised on another thread.
        case push(Connection, PushMessage)
        /// One message for several of this worker's connections (PUBLISH's fan-out).
        /// Pushed messages another worker raised while running a batch of commands.
        case deliveries([Delivery])
        /// CONFIG SET port/bind on another worker (worker 0 owns the listening events).
        case replaceListeners(keeping: [Int32], adding: [Server.Listening])
    }

    /// A set of worker indices: one bit each below 64, a list for the rest.
    struct WorkerSet {
        private var low: UInt64 = 0
        private var high: [Int] = []

        var isEmpty: Bool { low == 0 && high.isEmpty }

        @inline(__always)
        mutating func insert(_ index: Int) {
            if index < 64 {
                low |= 1 << UInt64(index)
            } else if !high.contains(index) {
                high.append(index)
            }
        }

        func contains(_ index: Int) -> Bool { index < 64 ? low & (1 << UInt64(index)) != 0 : high.contains(index) }
    }

    /// A pushed message for this worker's connections: for one connection, or for those of a
    /// subscriber list that live here (a PUBLISH hands each worker the list whole, instead of
    /// counting a reference per receiver across threads).
    enum Delivery {
        case to(Connection, PushMessage)
        case toLocal(of: [PushTarget], PushMessage)
    }

    let index: Int
    /// The server owns its workers and outlives them. Unsafe-unowned because a checked
    /// reference costs an atomic retain and release per use, on Swift's slow path here (the
    /// server has a weak reference, so a side table), several times per request.
    unowned(unsafe) let server: Server
    let base: OpaquePointer
    let stats: CommandStats
    private(set) var connections: [Int32: Connection] = [:]
    private var inbox: [Message] = []
    /// Set while the inbox holds messages: read without the lock before a connection's input
    /// is handled, so what was posted before a client's command (a message published to it)
    /// is delivered before that command's reply, as on a single-threaded Redis.
    private(set) var inboxPending = false
    private var inboxLock = pthread_mutex_t()
    private let wakeFD: Int32
    private var wakeEvent: OpaquePointer?
    var bytesIn = 0
    var bytesOut = 0
    var readsProcessed = 0
    var writesProcessed = 0
    /// `client-output-buffer-limit` for normal and pub/sub clients, copied from the config
    /// at every cron tick so that checking a pushed message takes no lock.
    private(set) var outputLimits: (normal: OutputLimit, pubsub: OutputLimit)
    typealias OutputLimit = (hard: Int, soft: Int, seconds: Int)
    /// The thread running this worker's loop (set when it starts).
    private var thread: pthread_t?
    /// Blocked connections woken on this thread, served in order after the current command.
    private var readyConnections: [(connection: Connection, waker: Connection?)] = []
    private var servingReady = false

    init(index: Int, server: Server) {
        self.index = index
        self.server = server
        base = event_base_new()
        stats = server.context.makeWorkerStats()
        appendOnlyFile = .passUnretained(server.context.aof)
        outputLimits = Worker.readOutputLimits(server.context)
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        pthread_mutex_init(&inboxLock, nil)
        let me = Unmanaged.passUnretained(self).toOpaque()
        wakeEvent = event_new(base, wakeFD, Int16(EV_READ | EV_PERSIST), workerWoken, me)
        event_add(wakeEvent, nil)
    }

    /// The worker whose loop runs on the calling thread (nil on other threads).
    static var current: Worker? {
        guard let raw = pthread_getspecific(currentKey) else { return nil }
        return Unmanaged<Worker>.fromOpaque(raw).takeUnretainedValue()
    }

    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Runs the event loop until a `.stop` message arrives. Replies leave after each pass over
    /// the ready connections, as Redis writes them before its loop sleeps: a burst of writes
    /// wakes a client process once rather than once per connection, which at -P 16 took a
    /// third of the kernel time of EVALSHA (28% of our CPU in the kernel before, 18% after).
    func run() {
        thread = pthread_self()
        pthread_setspecific(Worker.currentKey, Unmanaged.passUnretained(self).toOpaque())
        while event_base_loop(base, EVLOOP_ONCE) == 0 && event_base_got_break(base) == 0 {
            // Wake-ups queued by a command that then blocked (nothing ran after it to serve them).
            serveReadyConnections()
            flushPushed()
        }
        for connection in Array(connections.values) { close(connection) }
    }

    func post(_ message: Message) {
        pthread_mutex_lock(&inboxLock)
        let wasEmpty = inbox.isEmpty
        inbox.append(message)
        inboxPending = true
        pthread_mutex_unlock(&inboxLock)
        // Only the first message of a batch needs a wake-up: the drain that empties the inbox
        // reads the eventfd before taking the lock, so it takes every message queued behind.
        guard wasEmpty else { return }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    func drainInbox() {
        var counter: UInt64 = 0
        _ = read(wakeFD, &counter, 8)
        pthread_mutex_lock(&inboxLock)
        let messages = inbox
        inbox.removeAll()
        inboxPending = false
        pthread_mutex_unlock(&inboxLock)
        for message in messages {
            switch message {
            case .adopt(let fd, let peer, let local):
                adopt(fd: fd, peer: peer, local: local)
            case .checkKills:
                for connection in Array(connections.values) where connection.session.killRequested {
                    close(connection)
                }
            case .restartCron:
                startCron(hz: server.context.config.hz)
            case .stop:
                event_base_loopbreak(base)
            case .serveBlocked(let connection, let waker):
                readyConnections.append((connection, waker))
            case .retryFinished(let connection):
                if connections[connection.fd] === connection { connection.wokenRetryFinished() }
            case .cancelBlocking(let connection, let withError):
                if connections[connection.fd] === connection { connection.cancelBlocked(withError: withError) }
            case .push(let connection, let message):
                connection.deliver(message)
            case .deliveries(let deliveries):
                for delivery in deliveries { deliver(delivery) }
            case .replaceListeners(let kept, let added):
                server.replaceListeners(keeping: kept, adding: added)
            }
        }
        serveReadyConnections()
        flushPushed()
    }

    private func deliver(_ delivery: Delivery) {
        switch delivery {
        case .to(let connection, let message):
            connection.deliver(message)
        case .toLocal(let targets, let message):
            Connection.deliver(message, toThoseOf: targets, on: self)
        }
    }

    /// Connections that received pushed messages since the last flush.
    private var pushedConnections: [Connection] = []
    /// An empty list with capacity, swapped in for `pushedConnections` while they are flushed.
    private var spareFlushList: [Connection] = []

    /// Schedules a write of `connection`'s output after the current event is handled, so a
    /// burst of messages leaves in one write.
    func flushSoon(_ connection: Connection) {
        guard !connection.flushScheduled else { return }
        connection.flushScheduled = true
        pushedConnections.append(connection)
    }

    /// Messages this worker's commands pushed to other workers' connections, by worker: handed
    /// over in one inbox message per worker and batch of commands (a pipelined PUBLISH burst
    /// wakes each other worker once, not once per message), before any reply is written, so
    /// a client that has read its PUBLISH reply knows the messages are on their way.
    private var outbox: [(worker: Worker, deliveries: [Delivery])] = []

    /// Queues `delivery` for `worker` (another worker).
    func send(_ delivery: Delivery, to worker: Worker) {
        if let index = outbox.firstIndex(where: { $0.worker === worker }) {
            outbox[index].deliveries.append(delivery)
        } else {
            outbox.append((worker, [delivery]))
        }
    }

    // The flags are read first: a call into the server's AOF or tracking registry retains
    // and releases it around the call, which after every read or write is measurable. The
    // AOF is held unretained besides (the server's context owns it for good): reading it
    // through its implicitly unwrapped property retains it too.
    private let appendOnlyFile: Unmanaged<AppendOnlyFile>

    /// Has the AOF write what commands appended, before their replies leave.
    func writeAOFBeforeReplies() {
        appendOnlyFile._withUnsafeGuaranteedRef { aof in
            if aof.enabled { aof.writeBeforeReplies() }
        }
    }

    /// Sends the BCAST invalidations batched since the last call.
    func sendBroadcasts() {
        if server.context.tracking.pendingBroadcast { server.context.tracking.sendBroadcasts() }
    }

    /// Hands the queued messages over to their workers.
    func sendOutbox() {
        guard !outbox.isEmpty else { return }
        for (worker, deliveries) in outbox { worker.post(.deliveries(deliveries)) }
        outbox.removeAll(keepingCapacity: true)
    }

    /// Writes the output of connections that received pushed messages or ran commands, after
    /// the AOF has what those commands wrote (as Redis's beforeSleep does, replies or not:
    /// under `appendfsync always` a CLIENT REPLY OFF writer is on disk by the next pass).
    func flushPushed() {
        writeAOFBeforeReplies()
        sendOutbox()
        // BCAST invalidations batched since the last pass go out with the other pushes.
        sendBroadcasts()
        while !pushedConnections.isEmpty {
            // Swapped with the spare list rather than copied: emptying a copied array would
            // allocate it a new buffer on every pass.
            var pending = spareFlushList
            spareFlushList = []
            swap(&pending, &pushedConnections)
            for connection in pending {
                connection.flushScheduled = false
                guard connection.isOpen else { continue }
                if connection.outputLimitReached {
                    close(connection)
                } else if connection.hasOutput {
                    connection.flush()
                }
            }
            pending.removeAll(keepingCapacity: true)
            spareFlushList = pending
        }
    }

    /// Queues a blocked connection for a retry: directly when called on this worker's own
    /// thread (the push that woke it is served before the pusher's next command, as in
    /// Redis), through the inbox from any other thread.
    func wake(_ connection: Connection, by waker: Connection?) {
        if isCurrentThread {
            readyConnections.append((connection, waker))
        } else {
            post(.serveBlocked(connection, waker: waker))
        }
    }

    /// Tells `waker` (one of this worker's connections) that a retry it caused is done.
    func retryFinished(for waker: Connection) {
        if isCurrentThread {
            if connections[waker.fd] === waker { waker.wokenRetryFinished() }
        } else {
            post(.retryFinished(waker))
        }
    }

    var isCurrentThread: Bool {
        guard let thread else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    /// Re-runs the blocked commands of woken connections, in wake-up order; retries may wake
    /// further connections, which are served in the same pass. Inlined test first: it runs
    /// after every command, and there is rarely anything to serve.
    @inline(__always)
    func serveReadyConnections() {
        if !readyConnections.isEmpty { serveWokenConnections() }
    }

    private func serveWokenConnections() {
        guard !servingReady else { return }
        servingReady = true
        while !readyConnections.isEmpty {
            let (connection, waker) = readyConnections.removeFirst()
            let current = connections[connection.fd] === connection
            if current && connection.isBlocked {
                if let waker { connection.retryWaiters.append(waker) }
                connection.retryBlocked()
                continue
            }
            // Served already (a retry run inside another command left its input for now).
            if current && connection.awaitsResume { connection.resumeInput() }
            // Served or gone already (a stale queue entry woke it): nothing to wait for.
            // Waiting here could make two connections wait on each other.
            if let waker { waker.worker.retryFinished(for: waker) }
        }
        servingReady = false
    }

    /// True while a busy script of this worker lets the other connections in: their input
    /// is served (they get BUSY) but the inbox waits, so nothing closes the script's client.
    private(set) var scriptRunning = false

    /// Reads and answers every other connection once (a script is past busy-reply-threshold).
    func serveDuringScript(except running: Connection) {
        scriptRunning = true
        defer { scriptRunning = false }
        for connection in Array(connections.values) where connection !== running && !connection.closing {
            connection.handleReadable()
        }
        // Their replies (BUSY, mostly) cannot wait for the loop iteration the script holds up.
        flushPushed()
    }

    func adopt(fd: Int32, peer: String, local: String) {
        let session = Session(id: server.context.allocateSessionID(), peerAddress: peer, localAddress: local,
                              fd: fd, now: Clock.milliseconds())
        session.authenticated = server.context.config.requirepass.isEmpty
        let connection = Connection(fd: fd, worker: self, session: session)
        connections[fd] = connection
        server.register(session)
        server.context.tracking.connected(session, target: connection)
        connection.start(base: base)
    }

    func close(_ connection: Connection) {
        // Only while it is still this descriptor's connection: once closed, its descriptor
        // number can belong to a newer client, which a second close must not take down (nor
        // leave that client's read event to a stale connection).
        guard connections[connection.fd] === connection else { return }
        connections.removeValue(forKey: connection.fd)
        connection.leaveBlocked()
        server.context.pubsub.forget(connection.session)
        connection.context.endTransaction()
        connection.releaseRetryWaiters()
        connection.releaseEvents()
        Glibc.close(connection.fd)
        connection.forgetBuffers()
        server.unregister(connection.session)
        server.context.tracking.disconnected(connection.session)
        if connection.session.isMonitor { server.context.monitors.remove(sessionID: connection.session.id) }
        serveReadyConnections()
    }

    /// Closes connections idle longer than `timeout` seconds (0 = never).
    func closeIdleConnections(timeout: Int, now: Int64) {
        guard timeout > 0 else { return }
        for connection in Array(connections.values) where now - connection.session.lastInteraction > Int64(timeout) * 1000
                && connection.context.blockedClient == nil {
            close(connection)
        }
    }

    /// Reply buffers the cron shrank (INFO's reply_buffer_shrinks).
    var replyBufferShrinks = 0

    /// Has each connection give back unused buffer memory, as often as Redis's client cron
    /// looks at a client: every tick for a few clients, at least once a second for many.
    private func resizeConnectionBuffers(now: Int64) {
        let hz = max(1, server.context.config.hz)
        let interval = min(1000, Int64(connections.count) * 1000 / Int64(5 * hz))
        for connection in connections.values where connection.nextBufferCheck <= now {
            connection.nextBufferCheck = now + interval
            if connection.resizeBuffers(now: now) { replyBufferShrinks += 1 }
        }
    }

    private var cronEvent: OpaquePointer?

    /// Starts this worker's periodic upkeep; worker 0 also runs the server-wide cron.
    func startCron(hz: Int) {
        let me = Unmanaged.passUnretained(self).toOpaque()
        if let cronEvent { event_free(cronEvent) }
        cronEvent = event_new(base, -1, Int16(EV_PERSIST), workerCronTick, me)
        var interval = timeval(tv_sec: 0, tv_usec: suseconds_t(1_000_000 / max(hz, 1)))
        event_add(cronEvent, &interval)
    }

    private static func readOutputLimits(_ context: ServerContext) -> (normal: OutputLimit, pubsub: OutputLimit) {
        let limits = context.config.clientOutputBufferLimits
        return (limits[0], limits[2])
    }

    /// The glibc thread heap this worker's thread last advised for huge pages.
    private var hugePageHeap: UInt = 0

    func cronTick() {
        let now = Clock.milliseconds()
        HugePages.adviseThreadHeap(advised: &hugePageHeap)
        outputLimits = Worker.readOutputLimits(server.context)
        closeIdleConnections(timeout: server.context.config.timeout, now: now)
        resizeConnectionBuffers(now: now)
        if index == 0 {
            server.serverCron(now: now)
            server.context.tracking.enforceLimit(server.context.config)
            // The cron's sweep of lapsed fill tokens, or the end of a CLIENT PAUSE, may have
            // woken waiters of this worker.
            serveReadyConnections()
        }
        flushPushed()
    }
}

let workerCronTick: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    Unmanaged<Worker>.fromOpaque(arg!).takeUnretainedValue().cronTick()
}

let workerWoken: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    Unmanaged<Worker>.fromOpaque(arg!).takeUnretainedValue().drainInbox()
}
