// Per-connection state that commands read and change: selected database, protocol version,
// name and library info, reply mode. The Server owns one per connection; other workers read
// it only for CLIENT LIST/KILL, under `descriptionLock` for the text fields.
#if canImport(Glibc)
import Glibc
#endif

public enum ReplyMode {
    case on, off, skipNext, skipThis
}

public final class Session {
    public let id: Int
    public var db = 0
    public var protocolVersion = 2
    public let createdAt: Int64
    public var lastInteraction: Int64
    public var replyMode = ReplyMode.on
    public var noEvict = false
    /// False until AUTH succeeds when `requirepass` is set.
    public var authenticated = true
    /// The client replaying the AOF: it runs while everyone else gets LOADING.
    public var replaysAOF = false
    /// Set by QUIT: flush the reply, then close.
    public var closeAfterReply = false
    /// Set by MONITOR (CLIENT LIST flag O), cleared by RESET.
    public internal(set) var isMonitor = false
    /// Set (from any thread) by CLIENT KILL; the owning worker closes the connection.
    public var killRequested: Bool {
        get { killFlag.load(as: Int.self) != 0 }
        set { killFlag.storeBytes(of: newValue ? 1 : 0, as: Int.self) }
    }
    private let killFlag = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
    public let peerAddress: String
    public let localAddress: String
    public let fd: Int32
    /// This client's CLIENT TRACKING mode (a copy the tracking registry keeps current, read
    /// after each command on the client's own thread).
    public var trackingFlags: TrackingFlags = []
    /// Invalidations of keys this client's running command changed, sent after its reply
    /// (nil: everything, after a flush). Only the client's own thread touches them.
    public var pendingInvalidations: [[UInt8]?] = []
    /// The thread running this tracking client's current command (nil between commands), so
    /// that keys the server itself deletes meanwhile (lazy expiry) are invalidated after the
    /// reply, as Redis does for its current client.
    public var trackingCommandThread: pthread_t?
    /// Statistics index of the last command run, for CLIENT LIST's `cmd=`.
    public var lastCommandIndex = -1
    /// Query and output buffer sizes, published by the connection for CLIENT LIST.
    public var queryBufferLength = 0
    public var queryBufferCapacity = 0
    /// CLIENT LIST's rbs and rbp: the reply buffer's size and its recent peak use.
    public var replyBufferCapacity = 0
    public var replyBufferPeak = 0
    public var outputBufferLength = 0
    /// Pub/sub subscriptions, changed only on this connection's worker (by the registry).
    public internal(set) var pubsub = PubSubMembership()
    /// Subscription counts (channels, patterns, shard channels) for other workers' CLIENT LIST.
    public private(set) var subscriptionCounts = (channels: 0, patterns: 0, shardChannels: 0)

    private let descriptionLock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var _name: [UInt8] = []
    private var _libName: [UInt8] = []
    private var _libVersion: [UInt8] = []

    public init(id: Int, peerAddress: String, localAddress: String, fd: Int32, now: Int64) {
        self.id = id
        self.peerAddress = peerAddress
        self.localAddress = localAddress
        self.fd = fd
        self.createdAt = now
        self.lastInteraction = now
        pthread_mutex_init(descriptionLock, nil)
        killFlag.storeBytes(of: 0, as: Int.self)
    }

    func publishSubscriptionCounts() {
        subscriptionCounts = (pubsub.channels.count, pubsub.patterns.count, pubsub.shardChannels.count)
    }

    /// RESP2 clients with subscriptions accept only the pub/sub commands, PING, QUIT and RESET.
    @inline(__always)
    public var inSubscribedMode: Bool { protocolVersion == 2 && subscribed }
    /// Redis's CLIENT_PUBSUB flag (P in CLIENT LIST, class pubsub for limits and filters).
    public var subscribed: Bool {
        let counts = subscriptionCounts
        return counts.channels + counts.patterns + counts.shardChannels > 0
    }

    /// Loopback or Unix-socket peer (for `enable-debug-command local`).
    public var isLocal: Bool {
        peerAddress.hasPrefix("127.") || peerAddress.hasPrefix("::1") || peerAddress.hasPrefix("[::1]")
            || peerAddress.hasPrefix("/") || peerAddress.isEmpty
    }

    deinit {
        pthread_mutex_destroy(descriptionLock)
        descriptionLock.deallocate()
        killFlag.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(descriptionLock)
        defer { pthread_mutex_unlock(descriptionLock) }
        return body()
    }

    public var name: [UInt8] {
        get { locked { _name } }
        set { locked { _name = newValue } }
    }

    public var libName: [UInt8] {
        get { locked { _libName } }
        set { locked { _libName = newValue } }
    }

    public var libVersion: [UInt8] {
        get { locked { _libVersion } }
        set { locked { _libVersion = newValue } }
    }
}
