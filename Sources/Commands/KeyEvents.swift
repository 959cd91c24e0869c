// Key events: the one "key modified" signal every write emits once per key it changes
// (Redis's signalModifiedKey), and keyspace notifications (Redis's notifyKeyspaceEvent).
// Write commands, expiry, eviction and flushes raise them through `CommandContext`; client
// tracking, tag cleanup and WATCH observe the first, the pub/sub publisher the second.
// Observers are registered while the server starts, before any worker runs, and only read
// afterwards, so raising an event takes no lock here. Events are raised on the writer's
// thread with the key's shard locked (lock order: shard, then whatever the observer takes).
import Storage

/// Redis's notification classes (NOTIFY_* in server.h): which events `notify-keyspace-events`
/// lets through, and the class each event belongs to. The bits follow Config's
/// `KeyspaceEventFlags` letters, so the parsed setting converts as is.
public struct KeyspaceEventClass: OptionSet, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let keyspace = KeyspaceEventClass(rawValue: 1 << 0)   // K
    public static let keyevent = KeyspaceEventClass(rawValue: 1 << 1)   // E
    public static let generic = KeyspaceEventClass(rawValue: 1 << 2)    // g
    public static let string = KeyspaceEventClass(rawValue: 1 << 3)     // $
    public static let list = KeyspaceEventClass(rawValue: 1 << 4)       // l
    public static let set = KeyspaceEventClass(rawValue: 1 << 5)        // s
    public static let hash = KeyspaceEventClass(rawValue: 1 << 6)       // h
    public static let zset = KeyspaceEventClass(rawValue: 1 << 7)       // z
    public static let expired = KeyspaceEventClass(rawValue: 1 << 8)    // x
    public static let evicted = KeyspaceEventClass(rawValue: 1 << 9)    // e
    public static let stream = KeyspaceEventClass(rawValue: 1 << 10)    // t
    public static let keyMiss = KeyspaceEventClass(rawValue: 1 << 11)   // m
    public static let module = KeyspaceEventClass(rawValue: 1 << 12)    // d
    public static let newKey = KeyspaceEventClass(rawValue: 1 << 13)    // n
    /// `A`: every class but key misses and new keys, as in Redis.
    public static let all: KeyspaceEventClass = [.generic, .string, .list, .set, .hash, .zset, .expired, .evicted,
                                                 .stream, .module]
}

public final class KeyEvents {
    /// Told of every key a write changes. `by` is the session whose command changed it (nil
    /// for expiry, eviction and other server-side deletions).
    public typealias ModifiedObserver = (_ db: Int, _ key: UnsafeRawBufferPointer, _ by: Session?) -> Void
    /// Publishes one keyspace notification whose class is enabled.
    public typealias NotificationSink = (_ eventClass: KeyspaceEventClass, _ event: StaticString,
                                         _ key: UnsafeRawBufferPointer, _ db: Int) -> Void

    /// Told when a whole database (`db`) or every database (nil) is emptied at once.
    public typealias FlushObserver = (_ db: Int?) -> Void
    /// Told when SWAPDB exchanges two databases (Redis then touches the WATCHed keys of both;
    /// tracking is not told, as in Redis).
    public typealias SwapObserver = (_ first: Int, _ second: Int) -> Void

    private(set) var modifiedObservers: [ModifiedObserver] = []
    private(set) var flushObservers: [FlushObserver] = []
    private(set) var swapObservers: [SwapObserver] = []
    private(set) var notificationSink: NotificationSink?
    /// The classes `notify-keyspace-events` enables (empty: notifications off). Written by
    /// CONFIG SET on any thread, read on every write: a single word, so a racing reader sees
    /// either the old or the new set.
    public var enabledClasses: KeyspaceEventClass = []

    public init() {}

    /// How many of `modifiedObservers` are gated: the server's own (tracking, WATCH), which
    /// want events only while `ServerContext.keyModificationsObserved` says so.
    private var gatedModifiedObservers = 0

    /// Registers an observer of modified keys (only while the server starts). A `gated` one
    /// is told only while `ServerContext.keyModificationsObserved` holds, which must then
    /// cover what it waits for: writes skip the calls (and their retains) otherwise.
    public func observeModified(gated: Bool = false, _ observer: @escaping ModifiedObserver) {
        modifiedObservers.append(observer)
        if gated { gatedModifiedObservers += 1 }
    }

    /// Whether some observer wants every modified key, gate or not.
    @inline(__always)
    private var hasUngatedModifiedObservers: Bool { modifiedObservers.count > gatedModifiedObservers }

    /// Registers an observer of flushed databases (only while the server starts).
    public func observeFlush(_ observer: @escaping FlushObserver) {
        flushObservers.append(observer)
    }

    /// Registers an observer of swapped databases (only while the server starts).
    public func observeSwap(_ observer: @escaping SwapObserver) {
        swapObservers.append(observer)
    }

    /// Installs the publisher of keyspace notifications (only while the server starts).
    public func publishNotifications(through sink: @escaping NotificationSink) {
        notificationSink = sink
    }

    /// Raises the "key modified" event for `key` in `db`.
    @inline(__always)
    public func modified(_ key: UnsafeRawBufferPointer, db: Int, by session: Session?) {
        guard !modifiedObservers.isEmpty else { return }
        for observer in modifiedObservers { observer(db, key, session) }
    }

    /// Raises the "key modified" event for `key` in `db` unless nobody wants it now: the
    /// gated observers only while `gatesOpen` (`ServerContext.keyModificationsObserved`).
    @inline(__always)
    public func modified(_ key: UnsafeRawBufferPointer, db: Int, by session: Session?, gatesOpen: Bool) {
        guard gatesOpen || hasUngatedModifiedObservers else { return }
        modified(key, db: db, by: session)
    }

    /// Raises the "database flushed" event for `db` (nil: every database).
    public func flushed(db: Int?) {
        for observer in flushObservers { observer(db) }
    }

    /// Raises the "databases swapped" event.
    public func swapped(_ first: Int, _ second: Int) {
        for observer in swapObservers { observer(first, second) }
    }

    /// Raises a keyspace notification, published when its class and K or E are enabled.
    @inline(__always)
    public func notify(_ eventClass: KeyspaceEventClass, _ event: StaticString, _ key: UnsafeRawBufferPointer, db: Int) {
        let enabled = enabledClasses
        guard enabled.contains(eventClass), !enabled.isDisjoint(with: [.keyspace, .keyevent]),
              let sink = notificationSink else { return }
        sink(eventClass, event, key, db)
    }
}

extension CommandContext {
    /// The running command changed `key` (in the selected database unless `db` is given).
    @inline(__always)
    public func signalModifiedKey(_ key: UnsafeRawBufferPointer, db: Int? = nil) {
        noteCommandChanged()
        let db = db ?? session.db
        let observed = server.keyModificationsObserved
        unmanagedKeyEvents._withUnsafeGuaranteedRef { $0.modified(key, db: db, by: session, gatesOpen: observed) }
    }

    /// The running command emptied `db` (nil: every database): FLUSHDB, FLUSHALL. Called
    /// with every shard locked, so the flush is propagated here, in order.
    public func signalFlushedDB(_ db: Int?) {
        noteCommandChanged()
        commitEffects()
        keyEvents.flushed(db: db)
    }

    /// The running command changed `key` and raises `event` for it: the usual pair of
    /// signalModifiedKey and notifyKeyspaceEvent every write emits, in Redis's order.
    @inline(__always)
    public func keyChanged(_ key: UnsafeRawBufferPointer, _ eventClass: KeyspaceEventClass, _ event: StaticString,
                           db: Int? = nil) {
        signalModifiedKey(key, db: db)
        notifyKeyspaceEvent(eventClass, event, key, db: db)
    }

    /// The running command raised `event` of `eventClass` on `key`.
    @inline(__always)
    public func notifyKeyspaceEvent(_ eventClass: KeyspaceEventClass, _ event: StaticString,
                                    _ key: UnsafeRawBufferPointer, db: Int? = nil) {
        let db = db ?? session.db
        unmanagedKeyEvents._withUnsafeGuaranteedRef { $0.notify(eventClass, event, key, db: db) }
    }
}
