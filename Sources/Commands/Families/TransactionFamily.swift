// Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, as Redis 7.0.15's multi.c. Queueing
// itself happens in the Dispatcher (every command but these and QUIT/RESET is queued while
// a transaction is open); EXEC runs the queue atomically under the shard locks of all its
// keys and replies one array of the commands' replies.
import RESP
import Storage

enum TransactionFamily {
    private static let flags: CommandFlags = [.noscript, .loading, .stale, .fast, .allowBusy]

    static let specs: [CommandSpec] = [
        CommandSpec("multi", arity: 1, flags: flags, acl: [.transaction], group: .transactions, since: "1.2.0",
                    summary: "Open a transaction: the following commands are queued until EXEC.",
                    complexity: "O(1)", handler: multi),
        CommandSpec("exec", arity: 1, flags: [.noscript, .loading, .stale, .skipSlowlog], acl: [.transaction],
                    group: .transactions, since: "1.2.0",
                    summary: "Run the queued commands of the transaction as one atomic step.",
                    complexity: "The sum of the queued commands' complexities", handler: exec),
        CommandSpec("discard", arity: 1, flags: flags, acl: [.transaction], group: .transactions, since: "2.0.0",
                    summary: "Drop the queued commands and close the transaction.",
                    complexity: "O(N) for N queued commands", handler: discard),
        CommandSpec("watch", arity: -2, flags: flags, acl: [.transaction], keys: [KeySpec.rest([.RO])],
                    group: .transactions, since: "2.2.0",
                    summary: "Make the next EXEC conditional on these keys staying unchanged.",
                    complexity: "O(1) per key", arguments: [.key(flags: .multiple)], handler: watch),
        CommandSpec("unwatch", arity: 1, flags: flags, acl: [.transaction], group: .transactions, since: "2.2.0",
                    summary: "Stop watching every key this connection watches.",
                    complexity: "O(1)", handler: unwatch),
    ]

    /// Commands that act on the transaction instead of being queued (with QUIT and RESET).
    static func controlsTransaction(_ spec: CommandSpec) -> Bool {
        switch spec.name {
        case "exec", "discard", "multi", "watch", "quit", "reset": return true
        default: return false
        }
    }

    static func multi(_ c: CommandContext) {
        guard c.transaction == nil else { return c.error("ERR MULTI calls can not be nested") }
        c.transaction = Transaction()
        c.reply.ok()
    }

    static func discard(_ c: CommandContext) {
        guard c.transaction != nil else { return c.error("ERR DISCARD without MULTI") }
        c.endTransaction()
        c.reply.ok()
    }

    static func watch(_ c: CommandContext) {
        guard c.transaction == nil else { return c.error("ERR WATCH inside MULTI is not allowed") }
        let watcher = c.watcher ?? Watcher()
        c.watcher = watcher
        for position in 1..<c.args.count {
            c.withKey(position) { shard, key, hash in
                let expired = shard.presence(db: c.session.db, key: key, hash: hash, now: c.now).expired
                c.server.watches.watch(watcher, db: c.session.db, key: Array(key), expired: expired)
            }
        }
        c.reply.ok()
    }

    static func unwatch(_ c: CommandContext) {
        c.unwatchAll()
        c.reply.ok()
    }

    static func exec(_ c: CommandContext) {
        guard let transaction = c.transaction else { return c.error("ERR EXEC without MULTI") }
        if transaction.refusedCommand {
            c.endTransaction()
            return c.error("EXECABORT Transaction discarded because of previous errors.")
        }
        // The watched keys are checked with their shards held too: no rival write can slip
        // in between the check and the commands.
        let shards = shardsToLock(transaction, c)
        for index in shards { c.keyspace.shards[index].lock() }
        defer { for index in shards.reversed() { c.keyspace.shards[index].unlock() } }
        let aborted = watchedKeysChanged(c)
        c.endTransaction()
        if aborted { return c.reply.nullArray() }
        c.beginAtomicGroup()
        run(transaction, c)
        c.endAtomicGroup()
    }

    private static func watchedKeysChanged(_ c: CommandContext) -> Bool {
        guard let watcher = c.watcher else { return false }
        return c.server.watches.mustAbort(watcher) { db, key in
            key.withUnsafeBytes { key in
                c.keyspace.shard(for: key).withLock {
                    c.keyspace.shard(for: key).presence(db: db, key: key, hash: KeyHash.hash(key), now: c.now).expired
                }
            }
        }
    }

    /// Runs the queued commands (the shards of all their keys are held).
    private static func run(_ transaction: Transaction, _ c: CommandContext) {
        let execArgs = c.args, execSpec = c.command, execIndex = c.session.lastCommandIndex
        c.executingTransaction = true
        c.reply.arrayHeader(transaction.queue.count)
        for queued in transaction.queue {
            queued.withArgs { args in
                c.args = args
                Dispatcher.runQueued(queued.spec, c)
            }
        }
        c.executingTransaction = false
        c.args = execArgs
        c.command = execSpec
        c.session.lastCommandIndex = execIndex
        // Errors of the commands inside count as theirs, not EXEC's.
        c.failed = false
    }

    /// The shards of every watched key and every key the queued commands declare, ascending;
    /// every shard when a command may touch keys it does not declare (keyless commands that
    /// are not O(1), and commands whose keys move with their arguments).
    private static func shardsToLock(_ transaction: Transaction, _ c: CommandContext) -> [Int] {
        var shards = Set<Int>()
        for watched in c.watcher.map(c.server.watches.keys) ?? [] {
            watched.key.withUnsafeBytes { _ = shards.insert(c.keyspace.shardIndex(for: $0)) }
        }
        for queued in transaction.queue {
            let spec = queued.spec
            let positions = queued.withArgs { args in
                CommandIntrospection.keyPositions(of: spec, argumentCount: args.count) { args[$0] }
            }
            if spec.flags.contains(.movableKeys) || (positions.isEmpty && !spec.flags.contains(.fast)) {
                return Array(0..<c.keyspace.shards.count)
            }
            queued.withArgs { args in
                for position in positions { shards.insert(c.keyspace.shardIndex(for: args[position])) }
            }
        }
        return shards.sorted()
    }
}

extension CommandContext {
    /// Closes the open transaction (if any) and forgets the watched keys, as EXEC, DISCARD,
    /// RESET and a disconnect do.
    public func endTransaction() {
        transaction = nil
        unwatchAll()
    }

    func unwatchAll() {
        guard let watcher else { return }
        server.watches.unwatchAll(watcher)
        self.watcher = nil
    }
}
