// The pub/sub registry shared by every worker: channels, shard channels and glob patterns,
// each mapped to the clients subscribed to it, and PUBLISH's fan-out (Redis's pubsub.c).
// Subscribing and unsubscribing run on the subscriber's own worker and take the write side
// of a reader-writer lock; PUBLISH and the PUBSUB introspection take the read side, so
// publishers on different workers do not wait for each other, and a PUBLISH while nothing
// at all is subscribed takes no lock. Deliveries go through each subscriber's `PushTarget`,
// which crosses workers through their inboxes: one publisher's messages reach a subscriber
// in the order they were published. Lock order: shard locks, then this lock, then an inbox.
#if canImport(Glibc)
import Glibc
#endif
import Support

/// The subscriptions of one client, kept in its `Session` and changed only on its own worker
/// (through the registry). Other workers read only the published counts (CLIENT LIST).
public struct PubSubMembership {
    fileprivate(set) var channels = Set<[UInt8]>()
    /// Patterns in subscription order, as Redis keeps them (a list).
    fileprivate(set) var patterns: [[UInt8]] = []
    fileprivate(set) var shardChannels = Set<[UInt8]>()
    /// The client's connection while it has subscriptions (the registry's lists hold it).
    fileprivate var target: PushTarget?

    /// Channels and patterns: the count SUBSCRIBE/PSUBSCRIBE confirmations report.
    public var classicCount: Int { channels.count + patterns.count }
    public var shardCount: Int { shardChannels.count }
    /// Any subscription at all: RESP2 clients are then in subscribed mode (flag P).
    public var isSubscribed: Bool { classicCount + shardCount > 0 }
}

public final class PubSubRegistry {
    public enum Kind {
        case channel, pattern, shardChannel
    }

    private var lock = pthread_rwlock_t()
    /// Subscribers in subscription order, as Redis lists them.
    private var channels: [[UInt8]: [PushTarget]] = [:]
    private var shardChannels: [[UInt8]: [PushTarget]] = [:]
    private var patterns: [[UInt8]: [PushTarget]] = [:]
    /// Subscriptions of every kind: zero lets PUBLISH return without locking. A single word
    /// written under the lock; a racing reader sees the old or the new count.
    private var subscriptionTotal = 0

    public init(keyEvents: KeyEvents) {
        pthread_rwlock_init(&lock, nil)
        keyEvents.publishNotifications { [unowned self, unowned keyEvents] _, event, key, db in
            self.publishKeyspaceEvent(event, key, db: db, enabled: keyEvents.enabledClasses)
        }
    }

    private func reading<T>(_ body: () -> T) -> T {
        pthread_rwlock_rdlock(&lock)
        defer { pthread_rwlock_unlock(&lock) }
        return body()
    }

    private func writing<T>(_ body: () -> T) -> T {
        pthread_rwlock_wrlock(&lock)
        defer { pthread_rwlock_unlock(&lock) }
        return body()
    }

    // MARK: Subscribing (on the subscriber's own worker)

    /// Subscribes `session` to `name`; false when it already was.
    public func subscribe(_ session: Session, target: PushTarget, to name: UnsafeRawBufferPointer, _ kind: Kind) -> Bool {
        let name = Array(name)
        let added: Bool
        switch kind {
        case .channel: added = session.pubsub.channels.insert(name).inserted
        case .shardChannel: added = session.pubsub.shardChannels.insert(name).inserted
        case .pattern:
            added = !session.pubsub.patterns.contains(name)
            if added { session.pubsub.patterns.append(name) }
        }
        guard added else { return false }
        session.pubsub.target = target
        writing {
            switch kind {
            case .channel: channels[name, default: []].append(target)
            case .shardChannel: shardChannels[name, default: []].append(target)
            case .pattern: patterns[name, default: []].append(target)
            }
            subscriptionTotal += 1
        }
        session.publishSubscriptionCounts()
        return true
    }

    /// Unsubscribes `session` from `name`; false when it was not subscribed.
    public func unsubscribe(_ session: Session, from name: UnsafeRawBufferPointer, _ kind: Kind) -> Bool {
        let name = Array(name)
        let removed: Bool
        switch kind {
        case .channel: removed = session.pubsub.channels.remove(name) != nil
        case .shardChannel: removed = session.pubsub.shardChannels.remove(name) != nil
        case .pattern:
            if let index = session.pubsub.patterns.firstIndex(of: name) {
                session.pubsub.patterns.remove(at: index)
                removed = true
            } else {
                removed = false
            }
        }
        guard removed, let target = session.pubsub.target else { return false }
        writing {
            switch kind {
            case .channel: Self.remove(target, from: name, in: &channels)
            case .shardChannel: Self.remove(target, from: name, in: &shardChannels)
            case .pattern: Self.remove(target, from: name, in: &patterns)
            }
            subscriptionTotal -= 1
        }
        // The last subscription gone, the session lets go of its connection (no cycle left).
        if !session.pubsub.isSubscribed { session.pubsub.target = nil }
        session.publishSubscriptionCounts()
        return true
    }

    private static func remove(_ target: PushTarget, from name: [UInt8], in table: inout [[UInt8]: [PushTarget]]) {
        guard var subscribers = table.removeValue(forKey: name) else { return }
        subscribers.removeAll { $0 === target }
        // An empty list goes with its entry, so abandoned channels cost nothing.
        if !subscribers.isEmpty { table[name] = subscribers }
    }

    /// The names `session` is subscribed to in `kind` (channels in no particular order,
    /// patterns in subscription order, as Redis iterates them when unsubscribing from all).
    public func subscriptions(of session: Session, _ kind: Kind) -> [[UInt8]] {
        switch kind {
        case .channel: return Array(session.pubsub.channels)
        case .shardChannel: return Array(session.pubsub.shardChannels)
        case .pattern: return session.pubsub.patterns
        }
    }

    /// Drops every subscription of `session` (RESET, disconnection), without confirmations.
    public func forget(_ session: Session) {
        guard session.pubsub.isSubscribed else { return }
        for kind in [Kind.channel, .pattern, .shardChannel] {
            for name in subscriptions(of: session, kind) {
                _ = name.withUnsafeBytes { unsubscribe(session, from: $0, kind) }
            }
        }
    }

    // MARK: Publishing (any worker)

    /// Delivers `payload` to the subscribers of `channel` (and, for classic channels, of every
    /// matching pattern); returns how many deliveries were made, as PUBLISH replies.
    public func publish(_ channel: UnsafeRawBufferPointer, _ payload: UnsafeRawBufferPointer, shard: Bool = false) -> Int {
        guard subscriptionTotal > 0 else { return 0 }
        return publish(channel: Array(channel), payload: Array(payload), shard: shard)
    }

    private func publish(channel: [UInt8], payload: [UInt8], shard: Bool) -> Int {
        reading {
            var receivers = 0
            if let subscribers = (shard ? shardChannels : channels)[channel] {
                let message = PushMessage.pubsub(PubSubFrame(kind: shard ? .smessage : .message, pattern: nil,
                                                             channel: channel, payload: payload))
                type(of: subscribers[0]).push(message, to: subscribers)
                receivers += subscribers.count
            }
            // Shard channels ignore patterns, as in Redis.
            guard !shard else { return receivers }
            for (pattern, subscribers) in patterns where Glob.matches(pattern: pattern, string: channel) {
                let message = PushMessage.pubsub(PubSubFrame(kind: .pmessage, pattern: pattern, channel: channel,
                                                             payload: payload))
                type(of: subscribers[0]).push(message, to: subscribers)
                receivers += subscribers.count
            }
            return receivers
        }
    }

    /// Publishes a keyspace notification as notify.c does: `__keyspace@<db>__:<key>` carrying
    /// the event when K is enabled, `__keyevent@<db>__:<event>` carrying the key when E is.
    private func publishKeyspaceEvent(_ event: StaticString, _ key: UnsafeRawBufferPointer, db: Int,
                                      enabled: KeyspaceEventClass) {
        guard subscriptionTotal > 0 else { return }
        let eventName = Array(UnsafeRawBufferPointer(start: event.utf8Start, count: event.utf8CodeUnitCount))
        let keyBytes = Array(key)
        if enabled.contains(.keyspace) {
            _ = publish(channel: Array("__keyspace@\(db)__:".utf8) + keyBytes, payload: eventName, shard: false)
        }
        if enabled.contains(.keyevent) {
            _ = publish(channel: Array("__keyevent@\(db)__:".utf8) + eventName, payload: keyBytes, shard: false)
        }
    }

    // MARK: Introspection (PUBSUB, INFO)

    /// Active channels (or shard channels) whose name matches `pattern` (all when nil).
    public func channelNames(matching pattern: UnsafeRawBufferPointer?, shard: Bool) -> [[UInt8]] {
        reading {
            let table = shard ? shardChannels : channels
            guard let pattern else { return Array(table.keys) }
            return table.keys.filter { name in name.withUnsafeBytes { Glob.matches(pattern: pattern, string: $0) } }
        }
    }

    /// Subscribers of one channel (or shard channel), patterns not counted.
    public func subscriberCount(_ channel: UnsafeRawBufferPointer, shard: Bool) -> Int {
        guard subscriptionTotal > 0 else { return 0 }
        let name = Array(channel)
        return reading { (shard ? shardChannels : channels)[name]?.count ?? 0 }
    }

    /// Distinct channels, patterns and shard channels with at least one subscriber.
    public var counts: (channels: Int, patterns: Int, shardChannels: Int) {
        reading { (channels.count, patterns.count, shardChannels.count) }
    }
}
