// The running server: binds the listening sockets, starts one worker thread per
// `server-threads` (worker 0 runs on the calling thread and also accepts connections,
// handing them out round-robin), runs the cron (LRU clock, active expiry, table upkeep),
// handles SIGTERM/SIGINT, the pidfile and systemd notification, and implements
// `ServerControl` for the commands that need the network layer.
#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import Commands
import Config
import Storage
import CSystem

public final class Server: ServerControl {
    public let context: ServerContext
    var workers: [Worker] = []
    /// Listening sockets with the address and port each was opened for; changed only on
    /// worker 0's thread (whose event base watches them), read by CONFIG SET on any thread.
    private var listeners: [Listening] = []
    private var listenersLock = pthread_mutex_t()

    struct Listening {
        let fd: Int32
        let address: String
        let port: Int
        var event: OpaquePointer? = nil
    }
    private var nextWorker = 0
    /// Applies oom-score-adj at start-up and on CONFIG SET (from any worker: it has its own lock).
    private let oomScore = OOMScoreAdjuster()
    private var sessionsLock = pthread_mutex_t()
    private var liveSessions: [Int: Session] = [:]
    private var totalConnections = 0
    private var rejectedConnections = 0
    private var signalEvents: [OpaquePointer?] = []
    private var stopping = false
    private var lastOpsSample: (time: Int64, count: Int) = (0, 0)
    private var threads: [pthread_t] = []
    private(set) var port = 0

    // libevent runs without its thread support (evthread_use_pthreads): each event_base is
    // touched only by its own worker's thread (other threads post to its inbox and write its
    // eventfd), so libevent's locking would be pure cost, a lock and unlock per callback.
    public init(config: ServerConfig) {
        context = ServerContext(config: config)
        pthread_mutex_init(&sessionsLock, nil)
        pthread_mutex_init(&listenersLock, nil)
        context.control = self
    }

    func log(_ level: LogLevel, _ message: String) { Logger.shared.log(level, message) }

    func logProtocolError(_ message: String) {
        log(.verbose, "Protocol error (\(message)) from client")
    }

    // MARK: Start-up

    /// Runs until shutdown; returns the process exit status.
    public func run() -> Int32 {
        let config = context.config
        Logger.shared.level = LogLevel(configValue: config.loglevel)
        if !Logger.shared.open(path: config.logfile) {
            fputs("Can't open the log file: \(String(cString: strerror(errno)))\n", stderr)
            return 1
        }
        if config.daemonize && !daemonize() { return 1 }
        Logger.shared.role = "C"
        log(.warning, "oO0OoO0OoO0Oo Swiftlet is starting oO0OoO0OoO0Oo")
        log(.warning, "Swiftlet version=\(ServerIdentity.swiftletVersion) (Redis \(ServerIdentity.redisVersion) compatible), bits=64, pid=\(getpid()), just started")
        if let path = config.configFilePath {
            log(.warning, "Configuration loaded from \(path)")
        } else {
            log(.warning, "Warning: no config file specified, using the default config. In order to specify a config file use swiftlet-server /path/to/swiftlet.conf")
        }
        Logger.shared.role = "M"
        signal(SIGPIPE, SIG_IGN)
        // A parent may have spawned us with signals blocked; SIGTERM must get through.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        pthread_sigmask(SIG_SETMASK, &unblocked, nil)
        let threadCount = max(1, config.serverThreads)
        workers = (0..<threadCount).map { Worker(index: $0, server: self) }
        // Port 0 means no TCP, and Swiftlet has no Unix socket yet: nothing to serve.
        guard config.port != 0 else {
            log(.warning, "Configured to not listen anywhere, exiting.")
            return 1
        }
        guard bindListeners() else {
            log(.warning, "Failed listening on port \(config.port) (TCP), aborting.")
            return 1
        }
        writePidFile()
        if config.setProcTitle { showProcessTitle() }
        announce(threads: threadCount)
        warnAboutInertSettings()
        context.snapshots.log = { warning, message in Logger.shared.log(warning ? .warning : .notice, message) }
        context.scripts.log = { level, message in Logger.shared.log(LogLevel(rawValue: level) ?? .notice, message) }
        context.aof.log = context.snapshots.log
        context.log = context.snapshots.log
        if context.config.appendonly {
            guard context.aof.startAtLaunch() else { return 1 }
        } else {
            guard context.snapshots.loadAtStartup() else { return 1 }
        }
        installSignalHandlers()
        context.baselineMemory = InfoMemoryBaseline.current()
        for worker in workers { worker.startCron(hz: config.hz) }
        config.onChange = { [unowned self] name in self.configurationChanged(name) }
        config.rebindListeners = { [unowned self] in self.rebindListeners() }
        config.adjustOOMScore = { [unowned self] in self.oomScore.apply(self.context.config, log: self.log) }
        _ = oomScore.apply(config, log: log)
        for worker in workers.dropFirst() { startThread(for: worker) }
        log(.notice, "Ready to accept connections tcp")
        if shouldNotifySystemd {
            SystemdNotifier.notify("STATUS=Ready to accept connections\n")
            SystemdNotifier.notify("READY=1\n")
        }
        workers[0].run()
        for thread in threads { pthread_join(thread, nil) }
        context.aof.flushAtExit()
        replaceListeners(keeping: [], adding: [])
        removePidFile()
        log(.warning, "Swiftlet is now ready to exit, bye bye...")
        return 0
    }

    /// Like Redis: a banner (which names the port and PID; Redis's test harness waits for its
    /// " PID: <pid>" line) when `always-show-logo` is set or the log goes to a terminal, else
    /// one log line.
    private func announce(threads: Int) {
        let toTerminal = context.config.logfile.isEmpty && isatty(STDOUT_FILENO) != 0
        guard context.config.alwaysShowLogo || toTerminal else {
            return log(.notice, "Running mode=standalone, port=\(port), server-threads=\(threads).")
        }
        let indent = "        "
        Logger.shared.logRaw(.notice, """

            \(indent)  __
            \(indent) (  `   Swiftlet \(ServerIdentity.swiftletVersion) (Redis \(ServerIdentity.redisVersion) compatible), 64 bit
            \(indent)  `-.   Running in standalone mode, \(threads) server threads
            \(indent) (__)   Port: \(port)
            \(indent)        PID: \(getpid())


            """)
    }

    private var shouldNotifySystemd: Bool {
        let mode = context.config.supervised
        return mode == "systemd" || (mode == "auto" && SystemdNotifier.socketPath != nil)
    }

    private func daemonize() -> Bool {
        let pid = fork()
        if pid < 0 { return false }
        if pid > 0 { exit(0) }
        setsid()
        let devnull = open("/dev/null", O_RDWR)
        if devnull >= 0 {
            dup2(devnull, 0)
            dup2(devnull, 1)
            dup2(devnull, 2)
            if devnull > 2 { close(devnull) }
        }
        return true
    }

    private func startThread(for worker: Worker) {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(worker).toOpaque()
        pthread_create(&thread, nil, { arg in
            let worker = Unmanaged<Worker>.fromOpaque(arg!).takeRetainedValue()
            worker.run()
            return nil
        }, box)
        threads.append(thread)
    }

    // MARK: Listening and accepting

    private func bindListeners() -> Bool {
        switch openListeners(port: context.config.port, bind: context.config.bind, reusing: []) {
        case .success(let (opened, _)):
            replaceListeners(keeping: [], adding: opened)
            return !opened.isEmpty
        case .failure(let reason):
            log(.warning, reason.message)
            return false
        }
    }

    /// The addresses `bind` lists (every IPv4 and IPv6 address when empty), each with whether
    /// the host may lack it (a "-" prefix).
    private static func listenAddresses(_ bind: [String]) -> [(address: String, optional: Bool)] {
        (bind.isEmpty ? ["*", "-::*"] : bind).map { $0.hasPrefix("-") ? (String($0.dropFirst()), true) : ($0, false) }
    }

    /// Opens listening sockets for `port` on the addresses `bind` lists, except where one of
    /// `current` already listens (those are returned as kept); fails with the warning to log
    /// when an address the host must have cannot be bound (closing what it opened).
    private func openListeners(port: Int, bind: [String], reusing current: [Listening])
        -> Result<(opened: [Listening], kept: [Listening]), ListenError> {
        var opened: [Listening] = []
        var kept: [Listening] = []
        for (address, optional) in Server.listenAddresses(bind) {
            if let existing = current.first(where: { $0.address == address && $0.port == port }) {
                kept.append(existing)
                continue
            }
            switch Listener.open(address: address, port: port, backlog: context.config.tcpBacklog) {
            case .success(let (fd, boundPort)):
                opened.append(Listening(fd: fd, address: address, port: boundPort))
            case .failure(let reason):
                if optional && (reason.code == EADDRNOTAVAIL || reason.code == EAFNOSUPPORT || reason.code == EPROTONOSUPPORT) {
                    continue
                }
                for listener in opened { close(listener.fd) }
                return .failure(ListenError(code: reason.code, message:
                    "Warning: Could not create server TCP listening socket \(address):\(port): \(reason.message)"))
            }
        }
        return .success((opened, kept))
    }

    /// On worker 0's thread: stops listening on every socket but those in `kept`, and starts
    /// accepting on `added`.
    func replaceListeners(keeping kept: [Int32], adding added: [Listening]) {
        pthread_mutex_lock(&listenersLock)
        defer { pthread_mutex_unlock(&listenersLock) }
        for listener in listeners where !kept.contains(listener.fd) {
            if let event = listener.event { event_free(event) }
            close(listener.fd)
        }
        listeners.removeAll { !kept.contains($0.fd) }
        let me = Unmanaged.passUnretained(self).toOpaque()
        for var listener in added {
            listener.event = event_new(workers[0].base, listener.fd, Int16(EV_READ | EV_PERSIST), serverAccept, me)
            event_add(listener.event, nil)
            listeners.append(listener)
        }
        port = listeners.first?.port ?? 0
        if context.config.setProcTitle { showProcessTitle() }
    }

    /// CONFIG SET port or bind, on the thread that runs it: opens the sockets the new values
    /// need (keeping those already listening on an address and port that stay), and has
    /// worker 0 swap them in (port 0: no listener at all). False when a socket could not be
    /// opened; then nothing has changed, and CONFIG SET puts the old values back.
    // DIVERGENCE: Redis closes its listeners before binding the new ones. Ours are swapped
    // afterwards, by worker 0 through its inbox, so that the command never waits for worker 0,
    // which could be waiting for a shard lock that this command's EXEC holds.
    private func rebindListeners() -> Bool {
        pthread_mutex_lock(&listenersLock)
        let current = listeners
        pthread_mutex_unlock(&listenersLock)
        let config = context.config
        var opened: [Listening] = []
        var kept: [Listening] = []
        if config.port != 0 {
            switch openListeners(port: config.port, bind: config.bind, reusing: current) {
            case .success(let listening): (opened, kept) = listening
            case .failure(let reason):
                log(.warning, reason.message)
                return false
            }
        }
        let keptFDs = kept.map(\.fd)
        if workers[0].isCurrentThread {
            replaceListeners(keeping: keptFDs, adding: opened)
        } else {
            workers[0].post(.replaceListeners(keeping: keptFDs, adding: opened))
        }
        return true
    }

    func acceptReady(fd listenerFD: Int32) {
        for _ in 0..<1000 {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(listenerFD, $0, &length)
                }
            }
            if fd < 0 {
                if errno != EAGAIN && errno != EINTR { log(.verbose, "Accepting client connection: \(String(cString: strerror(errno)))") }
                return
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if context.config.tcpKeepalive > 0 {
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            pthread_mutex_lock(&sessionsLock)
            let full = liveSessions.count >= context.config.maxclients
            if full { rejectedConnections += 1 } else { totalConnections += 1 }
            pthread_mutex_unlock(&sessionsLock)
            if full {
                let message = "-ERR max number of clients reached\r\n"
                _ = message.withCString { write(fd, $0, strlen($0)) }
                close(fd)
                continue
            }
            let peer = Listener.describe(peerOf: fd)
            let local = Listener.describe(localOf: fd)
            if refusedByProtectedMode(peer: peer) {
                // DIVERGENCE: our own wording for the DENIED explanation, same error code.
                let message = "-DENIED Swiftlet is running in protected mode: no password is set and it listens on all interfaces, so only loopback clients are accepted. Set requirepass, bind specific addresses, or turn protected-mode off.\r\n"
                _ = message.withCString { write(fd, $0, strlen($0)) }
                close(fd)
                continue
            }
            let target = workers[nextWorker % workers.count]
            nextWorker += 1
            if target === workers[0] {
                target.adopt(fd: fd, peer: peer, local: local)
            } else {
                target.post(.adopt(fd: fd, peer: peer, local: local))
            }
        }
    }

    /// Redis's protected mode: with no password and no explicit bind address, only loopback
    /// clients may connect.
    private func refusedByProtectedMode(peer: String) -> Bool {
        let config = context.config
        guard config.protectedMode, config.requirepass.isEmpty, config.bind == ["*", "-::*"] else { return false }
        return !(peer.hasPrefix("127.") || peer.hasPrefix("::1:") || peer.hasPrefix("::ffff:127."))
    }

    // MARK: Sessions (ServerControl)

    func register(_ session: Session) {
        pthread_mutex_lock(&sessionsLock)
        liveSessions[session.id] = session
        pthread_mutex_unlock(&sessionsLock)
    }

    func unregister(_ session: Session) {
        pthread_mutex_lock(&sessionsLock)
        liveSessions.removeValue(forKey: session.id)
        pthread_mutex_unlock(&sessionsLock)
    }

    public func sessions() -> [Session] {
        pthread_mutex_lock(&sessionsLock)
        defer { pthread_mutex_unlock(&sessionsLock) }
        return liveSessions.values.sorted { $0.id < $1.id }
    }

    public func kill(where matches: (Session) -> Bool) -> Int {
        let victims = sessions().filter(matches)
        for session in victims { session.killRequested = true }
        if !victims.isEmpty { for worker in workers { worker.post(.checkKills) } }
        return victims.count
    }

    public func networkMetrics() -> NetworkMetrics {
        var metrics = NetworkMetrics()
        pthread_mutex_lock(&sessionsLock)
        metrics.connectedClients = liveSessions.count
        metrics.totalConnectionsReceived = totalConnections
        metrics.rejectedConnections = rejectedConnections
        pthread_mutex_unlock(&sessionsLock)
        for worker in workers {
            metrics.totalNetInputBytes += worker.bytesIn
            metrics.totalNetOutputBytes += worker.bytesOut
            metrics.totalReads += worker.readsProcessed
            metrics.totalWrites += worker.writesProcessed
            metrics.replyBufferShrinks += worker.replyBufferShrinks
        }
        metrics.workerThreads = workers.count
        metrics.tcpPort = port
        return metrics
    }

    public func resetNetworkStats() {
        pthread_mutex_lock(&sessionsLock)
        totalConnections = 0
        rejectedConnections = 0
        pthread_mutex_unlock(&sessionsLock)
        for worker in workers {
            worker.bytesIn = 0
            worker.bytesOut = 0
            worker.readsProcessed = 0
            worker.writesProcessed = 0
            worker.replyBufferShrinks = 0
        }
    }

    public func shutdown() {
        log(.warning, "User requested shutdown...")
        stop()
    }

    /// Stops every worker loop; `run()` then cleans up and returns.
    func stop() {
        if stopping { return }
        stopping = true
        if shouldNotifySystemd { SystemdNotifier.notify("STOPPING=1\n") }
        for worker in workers { worker.post(.stop) }
    }

    /// Logs each setting that has no effect (at start-up), or only `name`'s (after CONFIG SET).
    private func warnAboutInertSettings(only name: String? = nil) {
        for setting in context.config.inertSettings where name.map({ setting.hasPrefix($0 + " ") }) ?? true {
            log(.warning, "WARNING: \(setting); the setting is accepted but has no effect.")
        }
    }

    /// Shows the process title `proc-title-template` describes (`ps`, /proc/PID/cmdline).
    private func showProcessTitle() {
        let executable = CommandLine.arguments.first ?? "swiftlet-server"
        if let title = ProcessTitle.expand(context.config.procTitleTemplate, title: executable, config: context.config) {
            ProcessTitleArea.shared.set(title)
        }
    }

    /// Applies CONFIG SET changes that need more than a new stored value.
    private func configurationChanged(_ name: String) {
        warnAboutInertSettings(only: name)
        switch name {
        case "hz": for worker in workers { worker.post(.restartCron) }
        case "proc-title-template": showProcessTitle()
        case "loglevel": Logger.shared.level = LogLevel(configValue: context.config.loglevel)
        case "notify-keyspace-events": context.applyKeyspaceEventsConfig()
        case "appendfsync": context.aof.applyFsyncConfig()
        case "appendonly":
            if context.config.appendonly {
                if !context.aof.enable() { log(.warning, "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.") }
            } else {
                context.aof.disable()
            }
        case "maxmemory":
            context.maxmemoryChanged()
            let limit = context.config.maxmemory, used = context.usedMemory(dataset: context.keyspace.usedMemory)
            if limit > 0 && limit < used {
                log(.warning, "WARNING: the new maxmemory value set via CONFIG SET (\(limit)) is smaller than the current memory usage (\(used)). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.")
            }
        default: break
        }
    }

    // MARK: Cron

    func serverCron(now: Int64) {
        context.refreshClocks()
        context.blocking.endPauseIfElapsed(now: now)
        let processed = context.workerStats.reduce(0) { $0 + $1.commandsProcessed }
        if lastOpsSample.time > 0 && now > lastOpsSample.time {
            context.instantaneousOps = max(0, (processed - lastOpsSample.count) * 1000 / Int(now - lastOpsSample.time))
        }
        lastOpsSample = (now, processed)
        // Go on evicting between commands too, so an idle server comes back under its limit.
        if context.config.maxmemory > 0 { _ = context.evictor.makeRoom(context) }
        if context.config.activeExpireEnabled && context.deletesKeysOnItsOwn { runExpiryCycle(.slow, now: now) }
        context.sweepFillLocks(now: now)
        context.snapshots.cron(now: now)
        context.aof.cron()
        let shards = context.keyspace.shards
        // Table upkeep: a slice of the shards per tick keeps each tick short.
        let slice = max(1, shards.count / max(context.config.hz, 1))
        for offset in 0..<slice {
            let shard = shards[(tableCursor + offset) % shards.count]
            shard.withLock { shard.tidyTables(rehashSteps: 100) }
        }
        tableCursor = (tableCursor + slice) % shards.count
    }

    private var tableCursor = 0

    /// Worker 0's timer for fast expiry cycles (made on first use), pending while slow
    /// cycles run out of time.
    private var fastExpiryTimer: OpaquePointer?
    private var fastExpiryArmed = false

    func fastExpiryTick() {
        guard context.config.activeExpireEnabled && context.deletesKeysOnItsOwn else { return updateFastExpiryTimer() }
        runExpiryCycle(.fast, now: Clock.milliseconds())
    }

    /// Runs an expiry cycle (the slow one once per tick), then arms or disarms the fast ones.
    private func runExpiryCycle(_ mode: ActiveExpiry.Mode, now: Int64) {
        let config = context.config
        let microseconds = context.activeExpiry.run(mode, hz: config.hz, effort: config.activeExpireEffort, now: now,
                                                    clock: Clock.monotonicMicroseconds)
        context.latencyMonitor.record("expire-cycle", milliseconds: Int(microseconds / 1000),
                                      threshold: config.latencyMonitorThreshold)
        updateFastExpiryTimer()
    }

    /// Fast cycles start every two fast-cycle durations, Redis's spacing; the timer is pending
    /// only while the last cycle hit its time limit, so an idle server wakes up no more than
    /// `hz` times a second.
    private func updateFastExpiryTimer() {
        let wanted = context.activeExpiry.wantsFastCycles && context.config.activeExpireEnabled && context.deletesKeysOnItsOwn
        if wanted == fastExpiryArmed { return }
        fastExpiryArmed = wanted
        guard wanted else {
            event_del(fastExpiryTimer)
            return
        }
        if fastExpiryTimer == nil {
            let me = Unmanaged.passUnretained(self).toOpaque()
            fastExpiryTimer = event_new(workers[0].base, -1, Int16(EV_PERSIST), serverFastExpiry, me)
        }
        let micros = ActiveExpiry.Tuning(effort: context.config.activeExpireEffort).fastDurationMicros
        var interval = timeval(tv_sec: 0, tv_usec: suseconds_t(2 * micros))
        event_add(fastExpiryTimer, &interval)
    }

    // MARK: Signals, pidfile

    private func installSignalHandlers() {
        let me = Unmanaged.passUnretained(self).toOpaque()
        for number in [SIGTERM, SIGINT] {
            let event = event_new(workers[0].base, number, Int16(EV_SIGNAL | EV_PERSIST), serverSignal, me)
            event_add(event, nil)
            signalEvents.append(event)
        }
    }

    func handleSignal(_ number: Int32) {
        let name = number == SIGINT ? "SIGINT" : "SIGTERM"
        Logger.shared.log(.warning, "Received \(name) scheduling shutdown...")
        if !context.config.save.isEmpty && !context.snapshots.saveBeforeExit() {
            return log(.warning, "\(name) received but errors trying to shut down the server, check the logs for more information")
        }
        stop()
    }

    private func writePidFile() {
        let path = context.config.pidfile
        guard !path.isEmpty else { return }
        guard let file = fopen(path, "w") else {
            log(.warning, "Failed to write PID file: \(String(cString: strerror(errno)))")
            return
        }
        fputs("\(getpid())\n", file)
        fclose(file)
    }

    private func removePidFile() {
        let path = context.config.pidfile
        if !path.isEmpty { unlink(path) }
    }
}

enum InfoMemoryBaseline {
    /// Bytes the allocator has handed out right now (glibc's arenas, via mallinfo2).
    static func current() -> Int {
        let info = mallinfo2()
        return Int(info.uordblks) + Int(info.hblkhd)
    }
}

let serverAccept: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { fd, _, arg in
    Unmanaged<Server>.fromOpaque(arg!).takeUnretainedValue().acceptReady(fd: fd)
}

let serverFastExpiry: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    Unmanaged<Server>.fromOpaque(arg!).takeUnretainedValue().fastExpiryTick()
}

let serverSignal: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { signal, _, arg in
    Unmanaged<Server>.fromOpaque(arg!).takeUnretainedValue().handleSignal(signal)
}
