// Client-side caching (Redis's tracking.c): which clients read which keys, which prefixes the
// BCAST clients follow, and the invalidation messages a change sends them. One table serves
// every worker under one lock (lock order: shard, this lock, a worker's inbox), so a key
// changed on any worker reaches its readers on every worker through their `PushTarget`. As in
// Redis the table ignores the database number, and a client that stops tracking is dropped
// from the key table lazily, when a key it read changes.
import Config
#if canImport(Glibc)
import Glibc
#endif

/// A client's tracking mode, as CLIENT TRACKING set it (Redis's CLIENT_TRACKING_* flags).
public struct TrackingFlags: OptionSet {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let on = TrackingFlags(rawValue: 1 << 0)
    public static let bcast = TrackingFlags(rawValue: 1 << 1)
    public static let optin = TrackingFlags(rawValue: 1 << 2)
    public static let optout = TrackingFlags(rawValue: 1 << 3)
    public static let noloop = TrackingFlags(rawValue: 1 << 4)
    /// CLIENT CACHING was given for the next command.
    public static let caching = TrackingFlags(rawValue: 1 << 5)
}

/// What CLIENT TRACKINGINFO and CLIENT LIST show of one client.
public struct TrackingState {
    public var flags: TrackingFlags = []
    public var redirect = 0
    /// The BCAST prefixes, in byte order.
    public var prefixes: [[UInt8]] = []
    /// An invalidation found the redirect client gone.
    public var brokenRedirect = false
}

public final class ClientTracking {
    private final class Client {
        let session: Session
        let target: PushTarget
        var state = TrackingState()
        init(session: Session, target: PushTarget) {
            self.session = session
            self.target = target
        }
    }

    /// Keys changed under one BCAST prefix since the last broadcast, each with the id of the
    /// client that changed it last (0: the server), for NOLOOP.
    private final class Prefix {
        var clients = Set<Int>()
        var changed: [[UInt8]: Int] = [:]
    }

    private var lock = pthread_mutex_t()
    /// Every connected client, for redirect lookups; tracking or not.
    private var clients: [Int: Client] = [:]
    /// The tracking table: key → ids of the clients that may cache it.
    private var table: [[UInt8]: Set<Int>] = [:]
    private var prefixes: [[UInt8]: Prefix] = [:]
    /// BCAST invalidations are waiting for `sendBroadcasts` (read without the lock).
    public private(set) var pendingBroadcast = false

    /// Set once a client first enables tracking (Redis creates its table then): until then a
    /// modified key costs one load.
    public private(set) var inUse = false
    public private(set) var trackingClients = 0
    public private(set) var totalItems = 0
    public var totalKeys: Int { locked { table.count } }
    public var totalPrefixes: Int { locked { prefixes.count } }

    public init() { pthread_mutex_init(&lock, nil) }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return body()
    }

    // MARK: Connections

    public func connected(_ session: Session, target: PushTarget) {
        locked { clients[session.id] = Client(session: session, target: target) }
    }

    public func disconnected(_ session: Session) {
        locked {
            disableLocked(session)
            clients.removeValue(forKey: session.id)
        }
    }

    public func clientExists(_ id: Int) -> Bool { locked { clients[id] != nil } }

    public func state(of session: Session) -> TrackingState {
        locked { clients[session.id]?.state ?? TrackingState() }
    }

    // MARK: Turning tracking on and off

    /// The error Redis gives when one of `newPrefixes` overlaps another or one the client
    /// already follows, or nil.
    public func prefixCollision(for session: Session, _ newPrefixes: [[UInt8]]) -> [UInt8]? {
        let existing = locked { clients[session.id]?.state.prefixes ?? [] }
        func overlap(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.starts(with: b) || b.starts(with: a) }
        let tail = Array(". Prefixes for a single client must not overlap.".utf8)
        for (i, prefix) in newPrefixes.enumerated() {
            if let old = existing.first(where: { overlap($0, prefix) }) {
                return Array("ERR Prefix '".utf8) + prefix + Array("' overlaps with an existing prefix '".utf8) + old + [39] + tail
            }
            if let other = newPrefixes[(i + 1)...].first(where: { overlap($0, prefix) }) {
                return Array("ERR Prefix '".utf8) + prefix + Array("' overlaps with another provided prefix '".utf8) + other
                    + [39] + tail
            }
        }
        return nil
    }

    /// CLIENT TRACKING ON: `flags` holds the options given (BCAST, OPTIN, OPTOUT, NOLOOP).
    public func enable(_ session: Session, redirect: Int, flags: TrackingFlags, prefixes newPrefixes: [[UInt8]]) {
        locked {
            guard let client = clients[session.id] else { return }
            if !client.state.flags.contains(.on) { trackingClients += 1 }
            inUse = true
            client.state.flags = flags.union(.on).intersection([.on, .bcast, .optin, .optout, .noloop])
            client.state.brokenRedirect = false
            client.state.redirect = redirect
            if flags.contains(.bcast) {
                for prefix in newPrefixes.isEmpty ? [[]] : newPrefixes {
                    let state = prefixes[prefix] ?? Prefix()
                    prefixes[prefix] = state
                    if state.clients.insert(session.id).inserted { client.state.prefixes.append(prefix) }
                }
                client.state.prefixes.sort { $0.lexicographicallyPrecedes($1) }
            }
            // A CLIENT CACHING given before stays for the next command, as in Redis.
            session.trackingFlags = client.state.flags.union(session.trackingFlags.intersection(.caching))
        }
    }

    /// CLIENT TRACKING OFF, RESET, and a closing connection.
    public func disable(_ session: Session) { locked { disableLocked(session) } }

    private func disableLocked(_ session: Session) {
        guard let client = clients[session.id], client.state.flags.contains(.on) else { return }
        for prefix in client.state.prefixes {
            guard let state = prefixes[prefix] else { continue }
            state.clients.remove(session.id)
            if state.clients.isEmpty { prefixes.removeValue(forKey: prefix) }
        }
        client.state = TrackingState()
        trackingClients -= 1
        session.trackingFlags = []
    }

    // MARK: Remembering keys read

    /// After a command of a tracking client: remembers the keys a read-only one read (default
    /// mode, as OPTIN/OPTOUT and CLIENT CACHING allow), then spends the CACHING flag unless
    /// the command was CLIENT CACHING itself or runs inside EXEC or a script. As in Redis 7.0,
    /// a read inside a script remembers the script's declared keys (those of its EVAL, EVALSHA
    /// or FCALL), and EVAL_RO, EVALSHA_RO and FCALL_RO remember nothing by themselves.
    public func afterCommand(_ c: CommandContext, _ spec: CommandSpec) {
        let session = c.session
        let flags = session.trackingFlags
        if spec.flags.contains(.readonly) && flags.contains(.on) && !flags.contains(.bcast)
            && !ClientTracking.readOnlyScriptCommands.contains(spec.name) {
            let caching = flags.contains(.caching)
            if !(flags.contains(.optin) && !caching) && !(flags.contains(.optout) && caching) {
                let command = c.runningScript ? c.scriptCallerCommand ?? spec : spec
                let args = c.runningScript ? c.scriptCallerArgs ?? c.args : c.args
                let positions = command.flags.contains(.pubsub)
                    ? [] : CommandIntrospection.keyPositions(of: command, argumentCount: args.count) { args[$0] }
                if !positions.isEmpty {
                    remember(positions.map { Array(args[$0]) }, by: session.id, maxKeys: c.server.config.trackingTableMaxKeys)
                }
            }
        }
        if flags.contains(.caching) && !c.executingTransaction && !spec.fullName.hasPrefix("client|") {
            session.trackingFlags.remove(.caching)
        }
    }

    private static let readOnlyScriptCommands: Set<String> = ["eval_ro", "evalsha_ro", "fcall_ro"]

    /// Records that client `id` may cache `keys`, then keeps the table within `maxKeys`.
    func remember(_ keys: [[UInt8]], by id: Int, maxKeys: Int) {
        locked {
            for key in keys where table[key, default: []].insert(id).inserted { totalItems += 1 }
            enforceLimitLocked(maxKeys)
        }
    }

    /// Invalidates keys until the table holds at most `tracking-table-max-keys` (0: no limit).
    public func enforceLimit(_ config: ServerConfig) {
        guard inUse else { return }
        locked { enforceLimitLocked(config.trackingTableMaxKeys) }
    }

    // DIVERGENCE: Redis picks the keys to drop by a random walk of its radix tree; we drop
    // them in hash-table order, which the per-process hash seed makes just as arbitrary.
    private func enforceLimitLocked(_ maxKeys: Int) {
        guard maxKeys > 0 else { return }
        while table.count > maxKeys, let key = table.first?.key {
            invalidateLocked(key, by: nil, broadcast: false)
        }
    }

    // MARK: Invalidation

    /// A key changed (`by` the session whose command changed it, nil for the server).
    public func keyModified(_ key: UnsafeRawBufferPointer, by session: Session?) {
        guard inUse else { return }
        locked { invalidateLocked(Array(key), by: session, broadcast: true) }
    }

    private func invalidateLocked(_ key: [UInt8], by session: Session?, broadcast: Bool) {
        if broadcast && !prefixes.isEmpty {
            for (prefix, state) in prefixes where key.starts(with: prefix) {
                state.changed[key] = session?.id ?? 0
                pendingBroadcast = true
            }
        }
        guard let ids = table.removeValue(forKey: key) else { return }
        totalItems -= ids.count
        for id in ids {
            guard let client = clients[id], client.state.flags.contains(.on), !client.state.flags.contains(.bcast) else { continue }
            if id == session?.id || (session == nil && isRunningHere(client.session)) {
                if client.state.flags.contains(.noloop) { continue }
                // Redis sends the running client's own invalidations after its reply.
                client.session.pendingInvalidations.append(key)
            } else {
                sendLocked(client, .invalidate(keys: [key]))
            }
        }
    }

    /// True when `session`'s command is running on this thread (only then may its pending
    /// invalidations be touched here).
    private func isRunningHere(_ session: Session) -> Bool {
        guard let thread = session.trackingCommandThread else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    /// FLUSHALL/FLUSHDB: every tracking client hears "everything" (a null) and the table empties.
    public func flushed(by session: Session?) {
        guard inUse else { return }
        locked {
            for client in clients.values where client.state.flags.contains(.on) {
                if client.session === session {
                    client.session.pendingInvalidations.append(nil)
                } else {
                    sendLocked(client, .invalidate(keys: nil))
                }
            }
            table.removeAll()
            totalItems = 0
        }
    }

    /// Sends the running client's own invalidations, held back until its reply was written.
    public func sendPending(_ session: Session) {
        let pending = session.pendingInvalidations
        session.pendingInvalidations.removeAll()
        locked {
            guard let client = clients[session.id] else { return }
            for key in pending { sendLocked(client, .invalidate(keys: key.map { [$0] })) }
        }
    }

    /// Sends what BCAST clients are owed: per prefix, the keys changed since the last call
    /// (prefixes and keys in byte order, without the client's own changes under NOLOOP). Called by each worker
    /// once the events at hand are handled, as Redis does before its event loop sleeps.
    public func sendBroadcasts() {
        guard pendingBroadcast else { return }
        locked {
            pendingBroadcast = false
            let due = prefixes.filter { !$0.value.changed.isEmpty }.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            for (_, state) in due {
                let changed = state.changed.sorted { $0.key.lexicographicallyPrecedes($1.key) }
                state.changed.removeAll()
                for id in state.clients {
                    guard let client = clients[id] else { continue }
                    let noloop = client.state.flags.contains(.noloop)
                    let keys = changed.compactMap { noloop && $0.value == id ? nil : $0.key }
                    if !keys.isEmpty { sendLocked(client, .invalidate(keys: keys)) }
                }
            }
        }
    }

    /// Delivers `message` to `client`, or to its redirect client; RESP2 clients can only be
    /// reached through a redirect (as pub/sub messages on `__redis__:invalidate`).
    private func sendLocked(_ client: Client, _ message: PushMessage) {
        let redirect = client.state.redirect
        guard redirect != 0 else {
            if client.session.protocolVersion > 2 { client.target.push(message) }
            return
        }
        guard let receiver = clients[redirect] else {
            client.state.brokenRedirect = true
            if client.session.protocolVersion > 2 { client.target.push(.trackingRedirectBroken(redirect)) }
            return
        }
        // A RESP2 receiver gets it as a pub/sub message, and only while it has subscriptions.
        if receiver.session.protocolVersion > 2 || receiver.session.subscribed { receiver.target.push(message) }
    }
}
