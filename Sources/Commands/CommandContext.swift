// Everything a handler needs to run one command: its arguments, the connection's session
// and reply writer, the shared server state and a time snapshot. One context lives per
// connection and is reused for every command, so running a command allocates nothing.
import RESP
import Storage
import Support

/// What the network layer does while a script runs past busy-reply-threshold: read and
/// answer the other connections of the script's worker (with BUSY, mostly), as Redis's
/// processEventsWhileBlocked does.
public protocol ScriptHost: AnyObject {
    func serveOthersDuringScript()
}

public final class CommandContext {
    public let server: ServerContext
    public let session: Session
    public var reply: ReplyWriter
    public let stats: CommandStats
    public var args: CommandArgs
    /// Milliseconds since the epoch, sampled once per command like Redis's command time snapshot.
    public var now: Int64 = 0
    /// The command (or subcommand) being run; specs live as long as the process.
    public unowned(unsafe) var command: CommandSpec?
    /// The server's command table, held without reference counting for the request path
    /// (`Unmanaged`: a call through an unowned reference retains).
    private let unmanagedTable: Unmanaged<CommandTable>
    /// End of the pushed frames (pub/sub confirmations and messages) written during the
    /// running command: CLIENT REPLY OFF/SKIP drop only what follows.
    public var pushedUpTo = 0
    /// Set when the handler replied with an error (counted as a failed call).
    public var failed = false
    /// The connection that can park this context in a blocking command (nil in-process). The
    /// connection owns this context, so the back reference needs no counting; a weak one
    /// would move every retain of the connection onto Swift's slow side-table path.
    public unowned(unsafe) var blockingHost: BlockingHost?
    /// The open transaction between MULTI and EXEC/DISCARD.
    public var transaction: Transaction?
    /// The keys this client WATCHes (nil when none).
    public var watcher: Watcher?
    /// True while EXEC runs the queued commands (blocking commands then time out at once).
    public var executingTransaction = false
    /// True while a script or function runs its nested commands (Redis's CLIENT_SCRIPT).
    var runningScript = false
    /// The EVAL/EVALSHA/FCALL command that started the running script, and its arguments: a
    /// read the script makes remembers the script's declared keys for client tracking.
    unowned(unsafe) var scriptCallerCommand: CommandSpec?
    var scriptCallerArgs: CommandArgs?
    /// Arguments of the running command that MONITOR shows as "(redacted)" (passwords), by
    /// position (AUTH and HELLO have theirs within the first 64).
    private var redactedArguments: UInt64 = 0
    /// Memory was over maxmemory (eviction could not make room) when this command started.
    public var overMemoryLimit = false
    /// The connection whose worker answers other clients while a script is busy; nil in-process.
    public unowned(unsafe) var scriptHost: ScriptHost?
    /// The connection that receives pushed messages (pub/sub, tracking); nil in-process.
    public unowned(unsafe) var pushTarget: PushTarget?
    /// Set while this connection waits in a blocking command; the network layer clears it
    /// when the wait ends.
    public var blockedClient: BlockedClient?
    /// Set by `block` when the command just run is (still) waiting: it has not replied, and
    /// is counted in the statistics once it completes.
    public var blockedThisRun = false
    /// Ticks the runs of a command that blocked have taken so far (not the wait itself),
    /// counted in its statistics when it completes.
    public var blockedRunTicks: UInt64 = 0
    /// The server's key events, held without reference counting: every write raises them
    /// (`Unmanaged`: a call through an unowned reference retains).
    let unmanagedKeyEvents: Unmanaged<KeyEvents>
    public var keyEvents: KeyEvents { unmanagedKeyEvents.takeUnretainedValue() }
    /// The write effects of the running command (or atomic group) not handed to the
    /// propagation streams yet (Propagation.swift).
    let pendingEffects = PendingEffects()
    /// Reused storage for the shard indexes a multi-key command locks.
    var shardScratch: [Int] = []
    /// Lock sections (withKey, withKeys, withEachKey) open on this context: only the outermost
    /// may give its locks up for a reservation (an inner one's locks stay held by the outer).
    private var keyLockDepth = 0
    /// The shards and hashes of withEachKey's keys, in argument order.
    private var locationScratch: [(shardIndex: Int, hash: UInt64)] = []
    /// Shards and hashes of the pipelined batch's keys, found while prefetching.
    public var keyLocations = KeyLocations()
    /// The key of the command a script is calling, located while the script made sure its
    /// shard is held: the command takes it from here instead of hashing the key again. Set
    /// and cleared around that one call (ScriptEngine+RedisAPI.swift).
    var nestedKeyLocation: KeyLocations.Location?
    /// This connection's generator for LFU counter increments (the system one is a syscall).
    private var accessRandom = Xorshift64()

    private static let emptySlices = UnsafeMutablePointer<ArgSlice>.allocate(capacity: 1)

    public init(server: ServerContext, session: Session, stats: CommandStats, reply: ReplyWriter = ReplyWriter()) {
        self.server = server
        self.session = session
        self.stats = stats
        unownedKeyspace = server.keyspace
        prefixStats = .passUnretained(stats.prefixes)
        unmanagedKeyEvents = .passUnretained(server.keyEvents)
        unmanagedTable = .passUnretained(server.table)
        self.reply = reply
        args = CommandArgs(base: UnsafeRawPointer(CommandContext.emptySlices),
                           slices: UnsafePointer(CommandContext.emptySlices), count: 0)
    }

    deinit { reply.deallocate() }

    public var keyspace: Keyspace { server.keyspace }
    /// The keyspace outlives every connection; holding it unowned keeps retains off the hot path.
    private unowned(unsafe) let unownedKeyspace: Keyspace
    /// This worker's per-prefix hit counters (its `stats` own them), counted on every read;
    /// borrowed through `Unmanaged`, since calling through an unowned reference still retains.
    private let prefixStats: Unmanaged<PrefixStats>

    /// The running command's full name ("get", "client|setname"), as errors quote it.
    public var commandName: String { command?.fullName ?? "" }

    // MARK: Replies that count as errors

    public func error(_ message: String) {
        failed = true
        server.errorStats.record(Array(message.utf8))
        reply.error(message)
    }

    public func error(bytes message: [UInt8]) {
        failed = true
        server.errorStats.record(message)
        reply.error(bytes: message)
    }

    /// True, after marking the connection to be closed, once the reply being built has grown
    /// past `proto-max-bulk-len`: loops whose length the client chooses (HRANDFIELD key
    /// -9223372036854775807) stop there instead of exhausting memory.
    // DIVERGENCE: Redis stops such a reply only at a client-output-buffer-limit, which normal
    // clients do not have by default, so it would keep allocating until the kernel kills it.
    public var replyOverflowed: Bool {
        guard reply.buffer.count > server.config.protoMaxBulkLen else { return false }
        session.killRequested = true
        return true
    }

    // MARK: Argument parsing with Redis's error replies

    /// Argument `index` as a 64-bit integer, or replies `message` and returns nil.
    public func integer(_ index: Int, orReply message: String = RedisError.notInteger) -> Int64? {
        if let value = Numbers.parseInt64(args[index]) { return value }
        error(message)
        return nil
    }

    /// Argument `index` as an integer within `range`, replying as Redis does when it names no
    /// message of its own: not an integer, or out of range with the bounds.
    public func integer(_ index: Int, in range: ClosedRange<Int64>) -> Int64? {
        guard let value = integer(index) else { return nil }
        guard range.contains(value) else {
            error("ERR value is out of range, value must between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return value
    }

    /// Argument `index` as an integer within `range`, or replies `message`.
    public func integer(_ index: Int, in range: ClosedRange<Int64>, orReply message: String) -> Int64? {
        guard let value = Numbers.parseInt64(args[index]), range.contains(value) else {
            error(message)
            return nil
        }
        return value
    }

    // MARK: Key access

    public func string(_ index: Int) -> String { args.string(index) }

    /// Runs `body` with the shard of key `index` locked, passing the shard, key and hash.
    @inline(__always)
    public func withKey<T>(_ index: Int, _ body: (Shard, UnsafeRawBufferPointer, UInt64) -> T) -> T {
        let key = args[index]
        let (shardIndex, hash) = locate(key)
        return unmanagedShard(at: shardIndex)._withUnsafeGuaranteedRef { shard in
            shard.lock()
            keyLockDepth += 1
            if server.blocking.reservationCount > 0 && keyLockDepth == 1 {
                waitOutReservations({ reservationHolder(of: key) }, unlock: shard.unlock, lock: shard.lock)
            }
            defer {
                keyLockDepth -= 1
                shard.unlock()
            }
            defer { commitEffects() }
            return body(shard, key, hash)
        }
    }

    /// The shard index and hash of `key`: noted while prefetching (or by a script for the
    /// command it calls), else computed.
    @inline(__always)
    public func locate(_ key: UnsafeRawBufferPointer) -> (shardIndex: Int, hash: UInt64) {
        if let nested = nestedKeyLocation, nested.address == key.baseAddress, nested.length == key.count {
            return (nested.shardIndex, nested.hash)
        }
        if let noted = keyLocations.find(key) { return (noted.shardIndex, noted.hash) }
        return computeLocation(of: key)
    }

    /// The shard index and hash of `key`, from its bytes.
    @inline(__always)
    private func computeLocation(of key: UnsafeRawBufferPointer) -> (shardIndex: Int, hash: UInt64) {
        (Keyspace.shardIndex(for: key, mask: unownedKeyspace.shardMask), KeyHash.hash(key))
    }

    /// The command table's entry for the command named `name` (any case).
    @inline(__always)
    public func lookUpCommand(_ name: UnsafeRawBufferPointer) -> Unmanaged<CommandSpec>? {
        unmanagedTable._withUnsafeGuaranteedRef { $0.lookupUnowned(name) }
    }

    /// The shard at `index`, borrowed without reference counting (the keyspace keeps it).
    @inline(__always)
    func unmanagedShard(at index: Int) -> Unmanaged<Shard> { unownedKeyspace.unownedShards[index] }

    /// Calls `body` with the shard and hash of `key`, whose shard the caller already holds
    /// locked (inside `withKeys`).
    @inline(__always)
    public func inLockedShard<T>(of key: UnsafeRawBufferPointer, _ body: (Shard, UInt64) -> T) -> T {
        let (shardIndex, hash) = locate(key)
        return unmanagedShard(at: shardIndex)._withUnsafeGuaranteedRef { body($0, hash) }
    }

    /// Hides the argument at `position` from MONITOR (a password).
    func redactArgument(_ position: Int) {
        if position < 64 { redactedArguments |= 1 << UInt64(position) }
    }

    func isRedacted(_ position: Int) -> Bool { position < 64 && redactedArguments & (1 << UInt64(position)) != 0 }

    /// Forgets the previous command's redactions as a command starts.
    @inline(__always)
    func clearRedactions() { redactedArguments = 0 }

    /// Notes the shard and hash of `key`, a key of the pipelined batch being prefetched whose
    /// bytes follow those of every key noted before (see `KeyLocations`).
    @inline(__always)
    public func noteBatchKey(_ key: UnsafeRawBufferPointer) {
        let (shardIndex, hash) = computeLocation(of: key)
        keyLocations.append(key, shardIndex: shardIndex, hash: hash)
    }

    /// Prefetches, stage by stage, what looking up the first `limit` noted keys in `db` will
    /// touch (more would start pushing the first ones out of the cache before they are used).
    public func prefetchNotedKeys(db: Int, limit: Int) {
        guard keyLocations.entries.count > 1 else { return }
        Unmanaged.passUnretained(unownedKeyspace)._withUnsafeGuaranteedRef { keyspace in
            for stage in Keyspace.PrefetchStage.allCases {
                for location in keyLocations.entries.prefix(limit) {
                    keyspace.prefetch(stage, db: db, shardIndex: location.shardIndex, hash: location.hash)
                }
            }
        }
    }

    /// Runs `body` with the shards of the given argument positions locked in ascending order.
    public func withKeys<Positions: Sequence<Int>, T>(_ positions: Positions, _ body: () -> T) -> T {
        shardScratch.removeAll(keepingCapacity: true)
        for position in positions { shardScratch.append(locate(args[position]).shardIndex) }
        return withShards(keysAt: positions, body)
    }

    /// Locks the shards of the keys at `positions`, then calls `body` for each such key with
    /// its shard and hash (the common loop of DEL, EXISTS, MGET, MSET...).
    public func withEachKey(_ positions: StrideTo<Int>, _ body: (Shard, UnsafeRawBufferPointer, UInt64) -> Void) {
        locationScratch.removeAll(keepingCapacity: true)
        shardScratch.removeAll(keepingCapacity: true)
        for position in positions {
            let location = locate(args[position])
            locationScratch.append(location)
            shardScratch.append(location.shardIndex)
        }
        let shards = unownedKeyspace.unownedShards
        withShards(keysAt: positions) {
            for (offset, position) in positions.enumerated() {
                let location = locationScratch[offset]
                shards[location.shardIndex]._withUnsafeGuaranteedRef { body($0, args[position], location.hash) }
            }
        }
    }

    /// Runs `body` with the shards in `shardScratch`, those of the keys at `positions`, locked
    /// in ascending order.
    private func withShards<Positions: Sequence<Int>, T>(keysAt positions: Positions, _ body: () -> T) -> T {
        shardScratch.sort()
        lockScratchShards()
        keyLockDepth += 1
        if server.blocking.reservationCount > 0 && keyLockDepth == 1 {
            waitOutReservations({ positions.lazy.compactMap { self.reservationHolder(of: self.args[$0]) }.first },
                                unlock: unlockScratchShards, lock: lockScratchShards)
        }
        defer {
            commitEffects()
            keyLockDepth -= 1
            unlockScratchShards()
        }
        return body()
    }

    private func lockScratchShards() {
        let shards = unownedKeyspace.unownedShards
        var previous = -1
        for index in shardScratch where index != previous {
            shards[index]._withUnsafeGuaranteedRef { $0.lock() }
            previous = index
        }
    }

    private func unlockScratchShards() {
        let shards = unownedKeyspace.unownedShards
        var previous = -1
        for index in shardScratch.reversed() where index != previous {
            shards[index]._withUnsafeGuaranteedRef { $0.unlock() }
            previous = index
        }
    }

    /// Records a read or write of `entry` for the LRU/LFU clock (shard locked).
    @inline(__always)
    public func recordAccess(_ entry: Entry) { server.recordAccess(entry, random: &accessRandom) }

    /// Replicas keep expired keys until the master deletes them, and so does a paused server.
    public var expiresKeys: Bool { server.deletesKeysOnItsOwn }

    /// Looks up a live key for reading, counting a keyspace hit or miss. `touch: false` leaves
    /// its LRU/LFU clock alone, and `notifyMiss: false` raises no keymiss event (Redis's
    /// LOOKUP_NOTOUCH and LOOKUP_NONOTIFY: EXISTS, TYPE, TTL and OBJECT look keys up so).
    @inline(__always)
    public func lookupRead(_ shard: Shard, _ key: UnsafeRawBufferPointer, _ hash: UInt64, touch: Bool = true,
                           notifyMiss: Bool = true) -> Entry? {
        let entry = shard.find(db: session.db, key: key, hash: hash, now: now, expireKeys: expiresKeys)
        if let entry, touch { recordAccess(entry) }
        countRead(shard, key, found: entry != nil, notifyMiss: notifyMiss)
        return entry
    }

    /// Counts a read of `key` as a keyspace hit or miss (and for its prefix in INFO
    /// cachestats); a miss raises the keymiss event unless `notifyMiss` is false. Writes that
    /// return the old value (GETSET, SET ... GET) read it so, as in Redis.
    @inline(__always)
    public func countRead(_ shard: Shard, _ key: UnsafeRawBufferPointer, found: Bool, notifyMiss: Bool = true) {
        if found {
            shard.stats.keyspaceHits += 1
        } else {
            shard.stats.keyspaceMisses += 1
            if notifyMiss { notifyKeyMiss(key) }
        }
        let generation = server.prefixStatsGeneration, capacity = server.config.cachestatsPrefixes * 4
        prefixStats._withUnsafeGuaranteedRef { $0.record(key, hit: found, generation: generation, capacity: capacity) }
    }

    /// A read found no `key`: the "keymiss" notification Redis's read lookups raise.
    @inline(__always)
    public func notifyKeyMiss(_ key: UnsafeRawBufferPointer) { notifyKeyspaceEvent(.keyMiss, "keymiss", key) }

    /// Looks up a live key for writing (no hit/miss accounting), returning its link.
    @inline(__always)
    public func lookupWrite(_ shard: Shard, _ key: UnsafeRawBufferPointer, _ hash: UInt64, db: Int? = nil) -> EntryLink? {
        shard.link(db: db ?? session.db, key: key, hash: hash, now: now, expireKeys: expiresKeys)
    }
}
