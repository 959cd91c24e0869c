// One client connection on its worker's event loop: reads into the input buffer, parses every
// complete command, runs each through the dispatcher, then writes replies with one `write`
// before returning to the loop. EV_WRITE is registered only while the socket would block.
// Protocol errors reply Redis's error and close this connection only. A command that blocks
// (BLPOP...) stays at the head of the input: nothing after it runs until it is served (re-run
// on a wake-up), times out (its own timer), is cancelled (CLIENT UNBLOCK) or disconnects.
#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import Commands
import RESP

final class Connection: BlockingHost, PushTarget, ScriptHost {
    let fd: Int32
    /// Unowned without counting: the worker outlives its connections, and this is read for
    /// every pushed message.
    unowned(unsafe) let worker: Worker
    /// The same worker, for calls after every command: calling through the unowned
    /// reference retains and releases it around the call.
    private let unmanagedWorker: Unmanaged<Worker>
    let context: CommandContext
    var input = ByteBuffer(pageSlot: ())
    var parser: CommandParser
    /// Start of the first unprocessed byte in `input`.
    var readOffset = 0
    var written = 0
    var readEvent: OpaquePointer?
    var writeEvent: OpaquePointer?
    var writeRegistered = false
    var closing = false
    /// The complete commands parsed ahead of running them (Connection+Prefetch.swift).
    var batch = ParsedBatch()
    /// Bytes of the blocked command at `readOffset`, and its timeout timer.
    private var blockedCommandLength = 0
    private var blockTimer: OpaquePointer?
    /// Retries of blocked connections that this connection's writes woke and that have not
    /// finished: its next command waits for them, so it sees what a Redis client would.
    private var unfinishedRetries = 0
    private var pausedForRetries = false
    /// Connections whose writes woke this one, told once its retry (and what that woke) ends.
    var retryWaiters: [Connection] = []
    /// Queued in the worker's list of connections to flush after pushed messages.
    var flushScheduled = false

    init(fd: Int32, worker: Worker, session: Session) {
        self.fd = fd
        self.worker = worker
        unmanagedWorker = .passUnretained(worker)
        context = CommandContext(server: worker.server.context, session: session, stats: worker.stats,
                                 reply: ReplyWriter(buffer: ByteBuffer(pageSlot: ())))
        parser = CommandParser(maxBulkLength: worker.server.context.config.protoMaxBulkLen)
        context.blockingHost = self
        context.pushTarget = self
        context.scriptHost = self
    }

    /// This connection's script is busy: its worker answers the others meanwhile.
    func serveOthersDuringScript() { worker.serveDuringScript(except: self) }

    deinit {
        input.deallocate()
        parser.deallocate()
        batch.deallocate()
    }

    var session: Session { context.session }

    func start(base: OpaquePointer) {
        let me = Unmanaged.passUnretained(self).toOpaque()
        readEvent = event_new(base, fd, Int16(EV_READ | EV_PERSIST), connectionReadable, me)
        writeEvent = event_new(base, fd, Int16(EV_WRITE | EV_PERSIST), connectionWritable, me)
        event_add(readEvent, nil)
    }

    /// Still served by its worker (closing releases the events).
    var isOpen: Bool { readEvent != nil }

    func releaseEvents() {
        if let readEvent { event_free(readEvent) }
        if let writeEvent { event_free(writeEvent) }
        readEvent = nil
        writeEvent = nil
    }

    // MARK: Reading

    func handleReadable() {
        // Through the guaranteed reference, the worker's counters and calls cost no retains.
        unmanagedWorker._withUnsafeGuaranteedRef { worker in
            let wanted = max(16 * 1024, parser.bufferedBulkHint - (input.count - readOffset))
            input.reserve(wanted)
            let count = read(fd, input.end, input.freeSpace)
            if count == 0 { return worker.close(self) }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { return }
                return worker.close(self)
            }
            input.count += count
            if input.count - readOffset > inputPeak { inputPeak = input.count - readOffset }
            worker.bytesIn += count
            worker.readsProcessed += 1
            // (Read first: assigned straight from the call, the session is retained around it.)
            let now = Clock.milliseconds()
            context.session.lastInteraction = now
            if worker.inboxPending && !worker.scriptRunning {
                worker.drainInbox()
                guard !closing, isOpen else { return }
            }
            processInput()
            if closing { return }
            // BCAST invalidations this input caused are queued before its replies are written,
            // as Redis does before its event loop sleeps.
            worker.sendBroadcasts()
            // Eviction sees a grown query buffer now, whether or not there is a reply to write
            // (a client sending a huge command a piece at a time has none).
            accountBuffers()
            // Written with the other replies at the end of this pass of the event loop.
            worker.flushSoon(self)
        }
    }

    // MARK: Buffer memory (counted in used_memory, as Redis counts client buffers)

    /// Buffer bytes last reported to the server-wide total.
    private var accountedBufferBytes = 0

    /// Reports a change in this connection's buffer capacity (rare: buffers grow or shrink
    /// only on bursts), so eviction sees client memory at once.
    private func accountBuffers() {
        let bytes = input.capacity + context.reply.buffer.capacity
        guard bytes != accountedBufferBytes else { return }
        worker.server.context.clientBuffers.add(bytes - accountedBufferBytes)
        accountedBufferBytes = bytes
    }

    // MARK: Buffer sizes (Redis's clientsCronResizeQueryBuffer and ...OutputBuffer)

    /// The most input waiting at once, and the most output written at once, since the last
    /// resize check.
    private var inputPeak = 0
    private var replyPeak = 0
    private var replyPeakResetAt: Int64 = 0
    /// When the worker's cron looks at this connection's buffers next.
    var nextBufferCheck: Int64 = 0

    /// Gives back buffer memory this connection does not use, as Redis's client cron does:
    /// an input buffer wasting more than 4 KB is emptied once the client has been idle for over
    /// 2 seconds, or trimmed to its recent peak when over 32 KB and more than twice that peak;
    /// a reply buffer whose recent peak is under half its size shrinks to the peak, but not
    /// below 16 KB. Returns whether the reply buffer shrank (INFO's reply_buffer_shrinks).
    // DIVERGENCE: Redis shrinks its fixed reply buffer down to 1 KB and puts what overflows it
    // in a list; ours is one growable buffer, and one that grew back on every burst of
    // invalidations would count as used memory, make eviction evict more, and so send more
    // invalidations (the feedback loop Redis's tracking test guards against). 16 KB is the
    // size Redis's buffer starts at.
    func resizeBuffers(now: Int64) -> Bool {
        guard isOpen, !closing else { return false }
        if readOffset > 0 && readOffset == input.count {
            input.count = 0
            readOffset = 0
        }
        let pending = input.count - readOffset
        let bulk = parser.bufferedBulkHint
        if input.capacity - input.count > 4 * 1024 && readOffset == 0 {
            if (now - session.lastInteraction) / 1000 > 2 {
                input.resize(to: input.count)
            } else if input.capacity > 32 * 1024 && input.capacity / 2 > inputPeak {
                input.resize(to: max(input.count, inputPeak, bulk))
            }
        }
        inputPeak = max(pending, bulk)
        var shrank = false
        let reply = context.reply.buffer
        let smallest = 16 * 1024
        if reply.capacity / 2 >= smallest && replyPeak < reply.capacity / 2 {
            context.reply.buffer.resize(to: max(smallest, replyPeak + 1))
            shrank = true
        }
        if now - replyPeakResetAt >= 5000 {
            replyPeak = context.reply.buffer.count - written
            replyPeakResetAt = now
        }
        session.replyBufferPeak = replyPeak
        publishBufferSizes()
        accountBuffers()
        return shrank
    }

    /// Takes this connection's buffers out of the total (it is closing).
    func forgetBuffers() {
        worker.server.context.clientBuffers.add(-accountedBufferBytes)
        accountedBufferBytes = 0
    }

    private func processInput() {
        applyParserLimits()
        publishBufferSizes()
        parseAhead()
        defer {
            // Stopped before the end of the batch (waiting on retries it caused): the parser may
            // hold the progress of a command after the batch, which is not where the next parse
            // starts.
            if batch.hasPendingCommands { parser.reset() }
            batch.clear()
            context.keyLocations.clear()
        }
        while readOffset < input.count && !closing && context.blockedClient == nil && unfinishedRetries == 0 {
            if session.killRequested { closing = true; break }
            if let command = batch.take(at: readOffset) {
                context.args = batch.arguments(of: command, base: UnsafeRawPointer(input.base))
                guard run(command.spec, length: command.length) else { break }
                // The rest was parsed under limits this command changed (AUTH, RESET, CONFIG
                // SET proto-max-bulk-len): parse it again.
                if parser.unauthenticated == session.authenticated
                    || parser.maxBulkLength != worker.server.context.config.protoMaxBulkLen {
                    batch.clear()
                    parser.reset()
                    applyParserLimits()
                } else if batch.isFullAndDone {
                    // More complete commands may follow a full batch: the next ones too.
                    parseAhead()
                }
                continue
            }
            let start = UnsafeRawPointer(input.base + readOffset)
            let outcome = parser.parse(start, available: input.count - readOffset)
            switch outcome {
            case .needMore:
                compactInput()
                publishBufferSizes()
                return
            case .empty:
                readOffset += parser.consumed
                parser.reset()
            case .command:
                context.args = parser.args(over: start)
                guard run(context.lookUpCommand(context.args[0]), length: parser.consumed) else { break }
                parser.unauthenticated = !session.authenticated
                parser.reset()
            case .protocolError(let message):
                context.error("ERR " + message)
                worker.server.logProtocolError(message)
                closing = true
            }
        }
        pausedForRetries = unfinishedRetries > 0
        if readOffset >= input.count {
            input.count = 0
            readOffset = 0
            input.shrinkIfIdle(to: 64 * 1024)
        }
        publishBufferSizes()
        if closing { flush() }
    }

    /// Runs the command in `context.args` (`command`: its table entry), `length` bytes at
    /// `readOffset`, and moves past it; false when it blocked (it stays at `readOffset`).
    private func run(_ command: Unmanaged<CommandSpec>?, length: Int) -> Bool {
        Dispatcher.execute(context, command: command)
        if context.blockedThisRun {
            enterBlocked(commandLength: length)
            return false
        }
        unmanagedWorker._withUnsafeGuaranteedRef { $0.serveReadyConnections() }
        readOffset += length
        // QUIT, or a command that gave up on its own runaway reply.
        if session.closeAfterReply || session.killRequested { closing = true }
        return true
    }

    /// The parser's limits: the configured bulk length, and Redis's tighter ones before AUTH.
    private func applyParserLimits() {
        parser.maxBulkLength = worker.server.context.config.protoMaxBulkLen
        parser.unauthenticated = !session.authenticated
    }

    private func compactInput() {
        if readOffset > 0 {
            input.consume(readOffset)
            readOffset = 0
        }
        if input.count > worker.server.context.config.clientQueryBufferLimit {
            worker.server.log(.warning, "Closing client that reached max query buffer length (qbuf=\(input.count))")
            closing = true
        }
    }

    private func publishBufferSizes() {
        session.queryBufferLength = input.count - readOffset
        session.queryBufferCapacity = input.capacity
        session.replyBufferCapacity = context.reply.buffer.capacity
        session.outputBufferLength = context.reply.buffer.count - written
    }

    // MARK: Blocking commands (always on this connection's worker thread)

    var isBlocked: Bool { context.blockedClient != nil && !closing }

    private func enterBlocked(commandLength: Int) {
        blockedCommandLength = commandLength
        parser.reset()
        guard let client = context.blockedClient, client.deadline > 0 else { return }
        let me = Unmanaged.passUnretained(self).toOpaque()
        blockTimer = event_new(worker.base, -1, 0, connectionBlockTimedOut, me)
        let delay = max(client.deadline - Clock.milliseconds(), 0)
        var interval = timeval(tv_sec: Int(delay / 1000), tv_usec: suseconds_t(delay % 1000 * 1000))
        event_add(blockTimer, &interval)
    }

    /// Stops waiting: leaves the registry (which wakes the next waiters) and drops the timer.
    func leaveBlocked() {
        guard let client = context.blockedClient else { return }
        context.blockedClient = nil
        if let blockTimer { event_free(blockTimer) }
        blockTimer = nil
        worker.server.context.blocking.remove(client)
    }

    /// Re-runs the blocked command after a wake-up; if it still finds nothing it keeps waiting
    /// (and frees the keys reserved for it). A postponed command runs afresh instead: it may
    /// be postponed again, block, or complete. `resumingInput: false` (a retry run from inside
    /// another connection's command) leaves the input behind the command for later.
    func retryBlocked(resumingInput: Bool = true) {
        guard isBlocked, let client = context.blockedClient else { return }
        let start = UnsafeRawPointer(input.base + readOffset)
        guard case .command = parser.parse(start, available: input.count - readOffset) else {
            // Cannot happen (the command parsed before it blocked); never leave keys reserved.
            return worker.server.context.blocking.endReservations(of: client)
        }
        context.args = parser.args(over: start)
        if client.isPostponement { leaveBlocked() }
        Dispatcher.execute(context)
        parser.reset()
        if client.isPostponement {
            return context.blockedThisRun ? enterBlocked(commandLength: blockedCommandLength) : resumeAfterBlocking()
        }
        if context.blockedThisRun {
            worker.server.context.blocking.endReservations(of: client)
            if unfinishedRetries == 0 { releaseRetryWaiters() }
            return
        }
        leaveBlocked()
        if unfinishedRetries == 0 { releaseRetryWaiters() }
        guard resumingInput else {
            passBlockedCommand()
            awaitsResume = true
            worker.wake(self, by: nil)
            worker.flushSoon(self)
            return
        }
        resumeAfterBlocking()
    }

    /// Set when a retry ran inside another connection's command: the input behind it runs
    /// when the worker serves its woken connections.
    private(set) var awaitsResume = false

    /// Runs the input behind a command that blocked (also what a retry run inside another
    /// command left for later).
    func resumeInput() {
        awaitsResume = false
        processInput()
        if !closing { flush() }
    }

    /// Tells the connections waiting on this one's retry that it is done.
    func releaseRetryWaiters() {
        let waiters = retryWaiters
        retryWaiters = []
        for waiter in waiters { waiter.worker.retryFinished(for: waiter) }
    }

    /// A retry this connection's write caused has finished; once none is left, what waited
    /// on this connection is released and its input goes on.
    func wokenRetryFinished() {
        unfinishedRetries -= 1
        guard unfinishedRetries == 0 else { return }
        releaseRetryWaiters()
        if pausedForRetries && !closing {
            pausedForRetries = false
            processInput()
            if !closing { flush() }
        }
    }

    func blockTimedOut() {
        guard context.blockedClient != nil else { return }
        leaveBlocked()
        endBlockedCommand(error: nil)
        worker.serveReadyConnections()
    }

    func cancelBlocked(withError: Bool) {
        guard context.blockedClient != nil else { return }
        leaveBlocked()
        endBlockedCommand(error: withError ? RedisError.unblocked : nil)
    }

    /// Replies a blocked command's timeout answer (or `error`), counts its call, and goes on
    /// with the input behind it.
    private func endBlockedCommand(error: String?) {
        if let error { context.error(error) } else { context.reply.nullArray() }
        let index = session.lastCommandIndex
        if index >= 0 {
            context.stats.recordCall(index, ticks: context.blockedRunTicks, failed: error != nil,
                                     trackLatency: context.server.config.latencyTracking)
        }
        context.blockedRunTicks = 0
        resumeAfterBlocking()
    }

    private func resumeAfterBlocking() {
        passBlockedCommand()
        resumeInput()
    }

    /// Moves the input past the command that blocked.
    private func passBlockedCommand() {
        readOffset += blockedCommandLength
        blockedCommandLength = 0
    }

    // BlockingHost: called from any thread.
    func wakeBlocked(by waker: BlockingHost?) {
        // The waker is running its command on its own thread: counting there is safe.
        let waker = waker as? Connection
        waker?.unfinishedRetries += 1
        worker.wake(self, by: waker)
    }
    func cancelBlocking(withError: Bool) { worker.post(.cancelBlocking(self, withError: withError)) }
    var isOnCurrentThread: Bool { worker.isCurrentThread }
    func retryHere() {
        guard let client = context.blockedClient, !client.isPostponement else { return }
        retryBlocked(resumingInput: false)
    }

    // MARK: Pushed messages

    // PushTarget: called from any thread.
    func push(_ message: PushMessage) {
        if worker.isCurrentThread {
            deliver(message)
        } else if let current = Worker.current {
            current.send(.to(self, message), to: worker)
        } else {
            worker.post(.push(self, message))
        }
    }

    /// PUBLISH's fan-out: connections on this thread get the message at once; every other
    /// worker with receivers gets the whole list through the calling worker's outbox (one
    /// inbox message per worker and command batch) and picks its own connections from it.
    static func push(_ message: PushMessage, to targets: [PushTarget]) {
        guard let current = Worker.current else {
            for target in targets { target.push(message) }
            return
        }
        let remote = deliver(message, toThoseOf: targets, on: current)
        guard !remote.isEmpty else { return }
        for worker in current.server.workers where remote.contains(worker.index) {
            current.send(.toLocal(of: targets, message), to: worker)
        }
    }

    /// Delivers `message` to the connections of `targets` that live on `worker` (the current
    /// thread's) and returns the indices of the workers that own the others. This loop runs
    /// once per receiver of every PUBLISH, so it takes no reference counts: the registry's
    /// list holds the connections for the whole call, a pub/sub frame's bytes are fetched
    /// once, and other workers are noted by index.
    @discardableResult
    static func deliver(_ message: PushMessage, toThoseOf targets: [PushTarget], on worker: Worker) -> Worker.WorkerSet {
        var remote = Worker.WorkerSet()
        guard case .pubsub(let frame) = message else {
            for target in targets {
                let connection = unsafeDowncast(target, to: Connection.self)
                if connection.worker === worker { connection.deliver(message) } else { remote.insert(connection.worker.index) }
            }
            return remote
        }
        frame.resp2.withUnsafeBytes { resp2 in
            frame.resp3.withUnsafeBytes { resp3 in
                targets.withUnsafeBufferPointer { list in
                    // A class-bound existential starts with its object reference (Swift's ABI):
                    // loaded as Unmanaged, the element is read without a retain.
                    let elements = UnsafeRawPointer(list.baseAddress)
                    for index in list.indices {
                        elements.unsafelyUnwrapped.load(fromByteOffset: index * MemoryLayout<PushTarget>.stride,
                                                        as: Unmanaged<Connection>.self)._withUnsafeGuaranteedRef {
                            if $0.worker === worker {
                                $0.deliver(frame: $0.context.reply.resp3 ? resp3 : resp2)
                            } else {
                                remote.insert($0.worker.index)
                            }
                        }
                    }
                }
            }
        }
        return remote
    }

    /// Appends a pushed message to the output (on this connection's worker thread).
    func deliver(_ message: PushMessage) {
        // Closed connections have released their events (messages may still be queued).
        guard !closing, isOpen else { return }
        message.write(into: &context.reply)
        afterPush()
    }

    /// Appends a pub/sub frame already rendered in this connection's protocol.
    private func deliver(frame: UnsafeRawBufferPointer) {
        guard !closing, isOpen else { return }
        context.reply.buffer.append(frame)
        afterPush()
    }

    @inline(__always)
    private func afterPush() {
        context.pushedUpTo = context.reply.buffer.count
        checkOutputLimits()
        // Checked here first: calling into the worker costs a reference count per message.
        if !flushScheduled { worker.flushSoon(self) }
    }

    // MARK: Output buffer limits (client-output-buffer-limit)

    /// Set once the output passed its class's limit: the connection is closed without
    /// writing what is pending, as Redis frees such a client.
    private(set) var outputLimitReached = false
    /// When the output first stayed above the soft limit (seconds), 0 while below it.
    private var softLimitSince: Int64 = 0

    /// Redis's checkClientOutputBufferLimits for pushed output: past the hard limit, or past
    /// the soft limit for longer than its seconds, the connection is scheduled to close.
    // DIVERGENCE: checked when a message is appended only (Redis's clientsCron also closes a
    // client that stays above its soft limit without receiving anything more).
    private func checkOutputLimits() {
        let pending = context.reply.buffer.count - written
        let limits = session.subscribed ? worker.outputLimits.pubsub : worker.outputLimits.normal
        let hard = limits.hard > 0 && pending >= limits.hard
        var soft = false
        if limits.soft > 0 && pending >= limits.soft {
            let now = Clock.milliseconds() / 1000
            if softLimitSince == 0 { softLimitSince = now } else { soft = now - softLimitSince > Int64(limits.seconds) }
        } else {
            softLimitSince = 0
        }
        guard hard || soft else { return }
        session.outputBufferLength = pending
        let description = ConnectionFamily.describe(session, server: worker.server.context, now: Clock.milliseconds())
        worker.server.log(.warning, "Client \(description.dropLast()) scheduled to be closed ASAP for overcoming of output buffer limits.")
        outputLimitReached = true
        closing = true
    }

    var hasOutput: Bool { context.reply.buffer.count > written }

    // MARK: Writing

    func flush() {
        // A closed connection's descriptor may already be another client's.
        guard isOpen else { return }
        unmanagedWorker._withUnsafeGuaranteedRef { worker in
            // Writes reach the AOF (and the disk, under appendfsync always) before their
            // replies.
            worker.writeAOFBeforeReplies()
            // Messages this worker's commands pushed elsewhere leave before any reply does.
            worker.sendOutbox()
            // A closing client leaves the tracking registry before its last reply goes out, so
            // a client that saw that reply finds its redirect gone (Redis frees it right after).
            if closing { worker.server.context.tracking.disconnected(session) }
            if outputLimitReached { return worker.close(self) }
            let output = context.reply.buffer
            while written < output.count {
                let sent = write(fd, output.base + written, output.count - written)
                if sent < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN {
                        if !writeRegistered { event_add(writeEvent, nil); writeRegistered = true }
                        publishBufferSizes()
                        accountBuffers()
                        return
                    }
                    return worker.close(self)
                }
                written += sent
                worker.bytesOut += sent
            }
            worker.writesProcessed += 1
            if output.count > replyPeak { replyPeak = output.count }
            context.reply.buffer.count = 0
            written = 0
            // CLIENT LIST's obl: nothing is pending any more (a served blocked client included).
            context.session.outputBufferLength = 0
            // Capacity kept after a burst counts in used_memory. Under a maxmemory limit the
            // buffer goes back to its first 16 KB (Redis's static reply buffer) once written:
            // otherwise a burst of invalidations to tracking clients makes eviction evict more,
            // which sends more invalidations. Without a limit it keeps up to 64 KB, which
            // spares streams of pushes (PUBLISH fan-out) a reallocation per write.
            context.reply.buffer.shrinkIfIdle(to: worker.server.context.config.maxmemory > 0 ? 16 * 1024 : 64 * 1024)
            accountBuffers()
            if writeRegistered { event_del(writeEvent); writeRegistered = false }
            if closing { worker.close(self) }
        }
    }
}

/// libevent callbacks: plain C functions that recover the connection from `arg`. The
/// connection may close (and leave its worker's table) inside the call, so the callback
/// keeps it alive until the call returns.
let connectionReadable: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    let connection = Unmanaged<Connection>.fromOpaque(arg!).takeUnretainedValue()
    withExtendedLifetime(connection) { connection.handleReadable() }
}

let connectionBlockTimedOut: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    let connection = Unmanaged<Connection>.fromOpaque(arg!).takeUnretainedValue()
    withExtendedLifetime(connection) {
        connection.blockTimedOut()
        connection.worker.flushPushed()
    }
}

let connectionWritable: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    let connection = Unmanaged<Connection>.fromOpaque(arg!).takeUnretainedValue()
    withExtendedLifetime(connection) { connection.flush() }
}
