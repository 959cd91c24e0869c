// The append-only file, in Redis 7's multi-part layout: `dir/appenddirname` holds a base file
// (an RDB, `<appendfilename>.<seq>.base.rdb`, or with `aof-use-rdb-preamble no` the RESP
// commands rebuilding the data, `<appendfilename>.<seq>.base.aof`), incremental files in RESP
// (`<appendfilename>.<seq>.incr.aof`) and the manifest naming them. While enabled it is one
// stream of the propagation layer: connections write what the stream collected before they
// send replies (and fsync first under `appendfsync always`, so an acknowledged write is on
// disk); a background thread writes what server-side deletions left and fsyncs once a second
// under `everysec`. BGREWRITEAOF is forkless: the snapshot machinery fixes a point in time
// with every shard locked, the new incremental file starts at that same point, the snapshot is
// written as the new base, and the manifest is swapped atomically before old files go.
#if canImport(Glibc)
import Glibc
#endif
import Config
import Persistence
import RESP
import Storage
import Support

public final class AppendOnlyFile {
    private unowned let server: ServerContext
    /// Guards the file state below; taken before the propagation lock, never before a shard.
    private var mutex = pthread_mutex_t()
    public var log: (_ warning: Bool, _ message: String) -> Void = { _, _ in }

    private let stream = PropagationStream()
    /// Whether the AOF is on (aof_enabled): attached to propagation, an incremental file open.
    public private(set) var enabled = false
    private var fd: Int32 = -1
    private var manifest = AOFManifest()
    /// Written but not fsynced yet.
    private var unsynced = false
    public private(set) var currentSize = 0
    /// The AOF's size when the last rewrite ended (or the base's at load): auto-rewrite growth.
    public private(set) var rewriteBaseSize = 0
    public private(set) var baseSize = 0
    public private(set) var rewriteRunning = false
    public private(set) var rewriteScheduled = false
    public private(set) var rewriteStartedAt: Int64 = 0
    public private(set) var lastRewriteSeconds = -1
    public private(set) var lastRewriteOK = true
    public private(set) var lastWriteOK = true
    public private(set) var rewrites = 0
    public private(set) var consecutiveRewriteFailures = 0
    private var flusherRunning = false
    /// DEBUG AOF-FLUSH-SLEEP: a pause before each write of the collected bytes (tests).
    public var flushSleepMicroseconds = 0
    public enum FsyncPolicy { case always, everysec, no }
    /// `appendfsync`, kept here so the reply path reads no guarded setting.
    public var fsyncPolicy = FsyncPolicy.everysec

    /// Re-reads `appendfsync` (at start-up and after CONFIG SET).
    public func applyFsyncConfig() {
        switch config.appendfsync {
        case "always": fsyncPolicy = .always
        case "no": fsyncPolicy = .no
        default: fsyncPolicy = .everysec
        }
    }

    init(server: ServerContext) {
        self.server = server
        pthread_mutex_init(&mutex, nil)
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }

    private var config: ServerConfig { server.config }
    private var directory: String { config.dir + "/" + config.appenddirname }
    private func path(_ name: String) -> String { directory + "/" + name }
    private var manifestName: String { config.appendfilename + ".manifest" }
    public var manifestPath: String { path(manifestName) }

    // MARK: Writing

    /// Writes what the stream collected; fsyncs too under `appendfsync always` (or when
    /// `sync`). Connections call it before sending replies.
    @inline(__always)
    public func writeBeforeReplies() {
        guard enabled else { return }
        locked { writePendingLocked(sync: fsyncPolicy == .always) }
    }

    private func writePendingLocked(sync: Bool) {
        guard fd >= 0 else { return }
        let bytes = server.propagation.withLock { () -> [UInt8] in
            defer { stream.pending.removeAll(keepingCapacity: true) }
            return stream.pending
        }
        if !bytes.isEmpty {
            if flushSleepMicroseconds > 0 { usleep(UInt32(flushSleepMicroseconds)) }
            let ok = bytes.withUnsafeBytes { raw -> Bool in
                var offset = 0
                while offset < raw.count {
                    let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    offset += written
                }
                return true
            }
            if !ok && lastWriteOK { log(true, "Error writing to the AOF file: \(String(cString: strerror(errno)))") }
            lastWriteOK = ok
            currentSize += bytes.count
            unsynced = true
        }
        if sync && unsynced && !(config.noAppendfsyncOnRewrite && rewriteRunning) {
            fdatasync(fd)
            unsynced = false
        }
    }

    /// The background flusher: writes server-side effects, fsyncs each second (everysec).
    private func startFlusher() {
        guard !flusherRunning else { return }
        flusherRunning = true
        BackgroundJob { [self] in
            var ticks = 0
            while locked({ flusherRunning }) {
                usleep(100_000)
                ticks += 1
                let syncNow = (ticks % 10 == 0 && fsyncPolicy == .everysec) || fsyncPolicy == .always
                locked { if enabled { writePendingLocked(sync: syncNow) } }
            }
        }.start()
    }

    // MARK: Turning on and off

    /// Start-up with `appendonly yes`: loads the AOF (true when none exists yet), then opens
    /// the incremental file, creating a base first when there is none. False (after logging)
    /// when the server must not start.
    public func startAtLaunch() -> Bool {
        applyFsyncConfig()
        guard config.appendonly else { return true }
        let started = Clock.milliseconds()
        switch loadAll() {
        case .failed: return false
        case .loaded:
            log(false, "DB loaded from append only file: \(InfoReport.format3(Double(Clock.milliseconds() - started) / 1000)) seconds")
        case .none: break
        }
        guard ensureDirectory() else { return false }
        if manifest.base == nil && manifest.incremental.isEmpty {
            let format = baseFormat
            let name = baseName(seq: 1, format: format)
            do {
                let snapshot = server.snapshots.makeAOFBaseSnapshot(format: format)
                baseSize = try snapshot.write(to: path(name))
            } catch {
                log(true, "\(error)")
                return false
            }
            manifest.base = AOFManifest.Entry(name: name, seq: 1, type: .base)
            log(false, "Creating AOF base file \(name) on server start")
            currentSize = baseSize
            rewriteBaseSize = baseSize
        }
        if manifest.incremental.isEmpty {
            let entry = AOFManifest.Entry(name: incrementalName(seq: 1), seq: 1, type: .incremental)
            manifest.incremental.append(entry)
            log(false, "Creating AOF incr file \(entry.name) on server start")
        }
        let opened = server.keyspace.withAllShardsLocked { () -> Bool in
            locked {
                fd = open(path(manifest.incremental.last!.name), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
                guard fd >= 0 else { return false }
                attach()
                return true
            }
        }
        guard opened else {
            log(true, "Can't open the append-only file \(manifest.incremental.last!.name): \(String(cString: strerror(errno)))")
            return false
        }
        guard persistManifest(manifest) else { return false }
        removeHistory()
        startFlusher()
        return true
    }

    private func attach() {
        stream.selectedDB = -1
        server.propagation.attach(stream)
        enabled = true
    }

    private func incrementalName(seq: Int) -> String { "\(config.appendfilename).\(seq).incr.aof" }

    /// What a base written now holds: an RDB, or RESP commands under `aof-use-rdb-preamble no`.
    private var baseFormat: KeyspaceSnapshot.Format { config.aofUseRdbPreamble ? .rdb : .commands }

    private func baseName(seq: Int, format: KeyspaceSnapshot.Format) -> String {
        "\(config.appendfilename).\(seq).base." + (format == .rdb ? "rdb" : "aof")
    }

    private func ensureDirectory() -> Bool {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            log(true, "Can't open or create append-only dir \(config.appenddirname): \(String(cString: strerror(errno)))")
            return false
        }
        return true
    }

    /// CONFIG SET appendonly yes: a rewrite writes the current data as a new base.
    public func enable() -> Bool {
        guard !enabled else { return true }
        guard ensureDirectory() else { return false }
        applyFsyncConfig()
        startFlusher()
        if let existing = manifestText, let parsed = try? AOFManifest.parse(existing) {
            locked { manifest = parsed }
        }
        switch startRewrite(enabling: true) {
        case .started, .scheduled: return true
        case .alreadyRunning, .failed: return false
        }
    }

    /// CONFIG SET appendonly no: what was collected is written and synced, the file closed.
    public func disable() {
        guard enabled else { return }
        server.keyspace.withAllShardsLocked {
            locked {
                writePendingLocked(sync: true)
                server.propagation.detach(stream)
                enabled = false
                if fd >= 0 { close(fd) }
                fd = -1
            }
        }
    }

    /// Shutdown: the last writes reach the disk.
    public func flushAtExit() {
        locked {
            writePendingLocked(sync: true)
            flusherRunning = false
        }
    }

    // MARK: Rewriting

    public enum RewriteStart { case started, scheduled, alreadyRunning, failed }

    /// BGREWRITEAOF (and turning the AOF on): scheduled while a background save runs.
    @discardableResult
    public func startRewrite(enabling: Bool = false) -> RewriteStart {
        let claimed = locked { () -> RewriteStart? in
            if rewriteRunning { return .alreadyRunning }
            guard server.snapshots.claimExclusiveSnapshot() else {
                rewriteScheduled = true
                return .scheduled
            }
            rewriteRunning = true
            rewriteScheduled = false
            rewriteStartedAt = Clock.milliseconds()
            return nil
        }
        if let claimed { return claimed }
        guard ensureDirectory() else {
            finishRewrite(failure: "can't create the AOF directory")
            return .failed
        }
        let recording = enabling || locked { enabled }
        let format = baseFormat
        let snapshot = server.snapshots.makeAOFBaseSnapshot(format: format) { [self] in
            // Every shard is locked: writes after this point go to the new incremental file.
            if recording { locked { openNextIncremental(enabling: enabling) } }
        }
        guard !recording || locked({ fd >= 0 }) else {
            snapshot.abandon()
            finishRewrite(failure: "can't open the new incremental AOF")
            return .failed
        }
        log(false, "Background append only file rewriting started")
        BackgroundJob(nice: BackgroundJob.snapshotNice) { [self] in
            let seq = (locked { manifest.base?.seq } ?? 0) + 1
            let name = baseName(seq: seq, format: format)
            do {
                let size = try snapshot.write(to: path(name))
                installBase(AOFManifest.Entry(name: name, seq: seq, type: .base), size: size, recording: recording)
                finishRewrite(failure: nil)
            } catch {
                finishRewrite(failure: "\(error)")
            }
        }.start()
        return .started
    }

    /// With every shard locked: what the current file collected is written, then a new
    /// incremental file opens and the manifest lists it after the old ones.
    private func openNextIncremental(enabling: Bool) {
        if enabled { writePendingLocked(sync: true) }
        let entry = AOFManifest.Entry(name: incrementalName(seq: manifest.lastIncrementalSeq + 1),
                                      seq: manifest.lastIncrementalSeq + 1, type: .incremental)
        let next = open(path(entry.name), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard next >= 0 else {
            log(true, "Can't open the append-only file \(entry.name): \(String(cString: strerror(errno)))")
            if !enabled { fd = -1 }
            return
        }
        var updated = manifest
        if enabling {
            // Files left from an earlier run are history now: the new base replaces them.
            updated.history += (updated.base.map { [$0] } ?? []) + updated.incremental
            updated.base = nil
            updated.incremental = []
        }
        updated.incremental.append(entry)
        guard persistManifest(updated) else {
            close(next)
            if !enabled { fd = -1 }
            return
        }
        manifest = updated
        if fd >= 0 { close(fd) }
        fd = next
        log(false, "Creating AOF incr file \(entry.name) on background rewrite")
        if enabled {
            server.propagation.withLock { stream.selectedDB = -1 }
        } else {
            attach()
        }
    }

    /// The snapshot is on disk: the manifest names it with the newest incremental file only,
    /// and the files it replaces go. Without the AOF on, no incremental file follows it.
    private func installBase(_ base: AOFManifest.Entry, size: Int, recording: Bool) {
        locked {
            var updated = manifest
            let kept = recording ? Array(updated.incremental.suffix(1)) : []
            let replaced = (updated.base.map { [$0] } ?? []) + updated.history + updated.incremental.dropLast(kept.count)
            updated.base = base
            updated.history = []
            updated.incremental = kept
            guard persistManifest(updated) else { return }
            manifest = updated
            for entry in replaced where entry.name != base.name { unlink(path(entry.name)) }
            baseSize = size
            currentSize = size + (kept.last.map(incrementalSize) ?? 0)
            rewriteBaseSize = currentSize
        }
    }

    private func incrementalSize(_ entry: AOFManifest.Entry) -> Int {
        var info = stat()
        return stat(path(entry.name), &info) == 0 ? Int(info.st_size) : 0
    }

    private func finishRewrite(failure: String?) {
        let now = Clock.milliseconds()
        locked {
            rewriteRunning = false
            lastRewriteSeconds = Int((now - rewriteStartedAt) / 1000)
            lastRewriteOK = failure == nil
            if failure == nil {
                rewrites += 1
                consecutiveRewriteFailures = 0
            } else {
                consecutiveRewriteFailures += 1
            }
        }
        server.snapshots.releaseExclusiveSnapshot()
        if let failure {
            log(true, "Background AOF rewrite failed: \(failure)")
        } else {
            log(false, "Background AOF rewrite terminated with success")
            log(false, "Background AOF rewrite finished successfully")
        }
    }

    /// Cron: a scheduled rewrite once no save runs, or an automatic one on growth.
    public func cron() {
        let (scheduled, running, on) = locked { (rewriteScheduled, rewriteRunning, enabled) }
        guard !running else { return }
        if scheduled {
            startRewrite()
            return
        }
        let percentage = config.autoAofRewritePercentage
        guard on, percentage > 0, currentSize > config.autoAofRewriteMinSize else { return }
        let base = max(rewriteBaseSize, 1)
        let growth = (currentSize * 100 / base) - 100
        if growth >= percentage {
            log(false, "Starting automatic rewriting of AOF on \(growth)% growth")
            startRewrite()
        }
    }

    // MARK: The manifest

    /// Writes `manifest` to a temporary file, fsyncs and renames it into place.
    private func persistManifest(_ manifest: AOFManifest) -> Bool {
        let temporary = path("temp-" + manifestName)
        let bytes = Array(manifest.text.utf8)
        let out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else {
            log(true, "Can't open the AOF manifest file \(temporary): \(String(cString: strerror(errno)))")
            return false
        }
        let written = bytes.withUnsafeBytes { write(out, $0.baseAddress!, $0.count) }
        let synced = fsync(out) == 0
        close(out)
        guard written == bytes.count, synced, rename(temporary, manifestPath) == 0 else {
            log(true, "Can't persist the AOF manifest file \(manifestName): \(String(cString: strerror(errno)))")
            unlink(temporary)
            return false
        }
        let directoryFD = open(directory, O_RDONLY)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
        return true
    }

    /// Removes the files the manifest lists as history (as Redis does after start-up).
    private func removeHistory() {
        locked {
            guard !manifest.history.isEmpty else { return }
            let history = manifest.history
            manifest.history = []
            guard persistManifest(manifest) else { return }
            for entry in history { unlink(path(entry.name)) }
        }
    }

    // MARK: Loading

    private var manifestText: String? {
        (try? RDBLoader.readFile(manifestPath)).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) }
    }

    enum LoadResult { case none, loaded, failed }

    /// True while the files are replayed (start-up, DEBUG LOADAOF): other clients get LOADING.
    public private(set) var loading = false

    /// Reads the manifest and replays every file it lists into the (empty) keyspace.
    private func loadAll() -> LoadResult {
        guard let text = manifestText else { return .none }
        loading = true
        defer { loading = false }
        do {
            manifest = try AOFManifest.parse(text)
        } catch let error as AOFManifest.ParseError {
            log(true, "\n*** FATAL AOF MANIFEST FILE ERROR ***\n")
            if let line = error.line {
                log(true, "Reading the manifest file, at line \(error.lineNumber)\n")
                log(true, ">>> '\(line)'\n")
            }
            log(true, "\(error.message)\n")
            return .failed
        } catch {
            return .failed
        }
        let files = manifest.replayOrder
        var total = 0
        for (index, entry) in files.enumerated() {
            let started = Clock.milliseconds()
            let last = index == files.count - 1
            guard let bytes = try? RDBLoader.readFile(path(entry.name)) else {
                log(true, "The append log file \(entry.name) doesn't exist: \(String(cString: strerror(errno)))")
                return .failed
            }
            total += bytes.count
            let kind = entry.type == .base ? "base" : "incr"
            if bytes.starts(with: Array("REDIS".utf8)) {
                log(false, entry.type == .base && entry.name.hasSuffix(".rdb")
                    ? "Reading RDB base file on AOF loading..." : "Reading RDB preamble from AOF file...")
                do {
                    try server.snapshots.loadAOFBase(bytes)
                } catch {
                    log(true, "\(error)")
                    return .failed
                }
            } else {
                switch replay(bytes, file: entry.name, isLast: last) {
                case .ok: break
                case .truncated(let validUpTo):
                    total -= bytes.count - validUpTo
                case .failed: return .failed
                }
            }
            if entry.type == .base { baseSize = total }
            log(false, "DB loaded from \(kind) file \(entry.name): \(InfoReport.format3(Double(Clock.milliseconds() - started) / 1000)) seconds")
        }
        currentSize = total
        rewriteBaseSize = baseSize
        return .loaded
    }

    /// DEBUG LOADAOF: what was collected is synced, the data and function libraries emptied
    /// and the files replayed. False when they cannot be loaded.
    // DIVERGENCE: Redis exits when DEBUG LOADAOF fails to load; Swiftlet replies an error.
    // Writes other clients make while the files replay are applied but not recorded (Redis
    // runs the reload alone on its single thread).
    public func reloadFromDisk() -> Bool {
        let keyspace = server.keyspace
        let wasEnabled = keyspace.withAllShardsLocked { () -> Bool in
            let wasEnabled = locked { () -> Bool in
                guard enabled else { return false }
                writePendingLocked(sync: true)
                server.propagation.detach(stream)
                return true
            }
            for shard in keyspace.shards {
                for db in 0..<keyspace.databaseCount { shard.clear(db: db) }
            }
            return wasEnabled
        }
        // The libraries go too, as Redis's emptyData does: the base brings them back.
        server.functions.flush()
        let loaded = loadAll()
        // The file goes on where it stopped: no SELECT is repeated.
        if wasEnabled { keyspace.withAllShardsLocked { locked { server.propagation.attach(stream) } } }
        removeHistory()
        if loaded != .failed { log(true, "Append Only File loaded by DEBUG LOADAOF") }
        return loaded != .failed
    }

    enum ReplayResult { case ok, truncated(Int), failed }

    /// Runs the commands of one RESP file as a client would; a truncated last command is
    /// dropped (and the file cut there) when `aof-load-truncated` allows, as Redis does.
    private func replay(_ bytes: [UInt8], file: String, isLast: Bool) -> ReplayResult {
        let session = Session(id: 0, peerAddress: "", localAddress: "", fd: -1, now: Clock.milliseconds())
        session.replaysAOF = true
        let context = CommandContext(server: server, session: session, stats: CommandStats(commandCount: server.table.all.count))
        var parser = CommandParser(maxBulkLength: Int.max)
        defer { parser.deallocate() }
        var offset = 0
        var validUpTo = 0
        var inTransaction = false
        return bytes.withUnsafeBytes { raw -> ReplayResult in
            while offset < raw.count {
                let start = raw.baseAddress! + offset
                // Annotation lines ('#') are skipped; anything else but a RESP array is bad.
                if start.load(as: UInt8.self) == UInt8(ascii: "#") {
                    let rest = UnsafeRawBufferPointer(start: start, count: raw.count - offset)
                    guard let newline = rest.firstIndex(of: 10) else { break }
                    offset += newline + 1
                    if !inTransaction { validUpTo = offset }
                    continue
                }
                if start.load(as: UInt8.self) != UInt8(ascii: "*") {
                    log(true, badFormat(file))
                    return .failed
                }
                switch parser.parse(start, available: raw.count - offset) {
                case .empty:
                    offset += parser.consumed
                    parser.reset()
                case .command:
                    context.args = parser.args(over: start)
                    guard server.table.lookupUnowned(context.args[0]) != nil else {
                        log(true, "Unknown command '\(context.args.string(0))' reading the append only file \(file)")
                        return .failed
                    }
                    if context.args.equals(0, "multi") { inTransaction = true }
                    if context.args.equals(0, "exec") { inTransaction = false }
                    Dispatcher.execute(context)
                    context.reply.buffer.count = 0
                    offset += parser.consumed
                    parser.reset()
                    if !inTransaction { validUpTo = offset }
                case .needMore:
                    return truncated(file: file, validUpTo: validUpTo, isLast: isLast)
                case .protocolError:
                    log(true, badFormat(file))
                    return .failed
                }
            }
            // A MULTI without its EXEC is a truncated transaction.
            return inTransaction ? truncated(file: file, validUpTo: validUpTo, isLast: isLast) : .ok
        }
    }

    private func badFormat(_ file: String) -> String {
        "Bad file format reading the append only file \(file): make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
    }

    private func truncated(file: String, validUpTo: Int, isLast: Bool) -> ReplayResult {
        if config.aofLoadTruncated {
            log(true, "!!! Warning: short read while loading the AOF file \(file)!!!")
            log(true, "!!! Truncating the AOF \(file) at offset \(validUpTo) !!!")
            if truncate(path(file), off_t(validUpTo)) == -1 {
                log(true, "Error truncating the AOF file \(file): \(String(cString: strerror(errno)))")
            } else {
                log(true, "AOF \(file) loaded anyway because aof-load-truncated is enabled")
                guard isLast else {
                    log(true, "Fatal error: the truncated file is not the last file")
                    return .failed
                }
                return .truncated(validUpTo)
            }
        }
        log(true, "Unexpected end of file reading the append only file \(file). You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.")
        return .failed
    }

    // MARK: INFO

    public var pendingBytes: Int { server.propagation.withLock { stream.pending.count } }
}
