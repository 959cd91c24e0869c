// MULTI/EXEC state of one client, and the registry of WATCHed keys shared by all workers.
// Queued commands are copied out of the input buffer (which moves on) into one byte block
// each. EXEC locks the shards of every key its commands declare (all shards when one of them
// declares none), so no other client sees an intermediate state; shard mutexes are recursive,
// so the commands inside lock them again as usual. A key-modified event for a watched key
// (from any worker, expiry and eviction included) marks its watchers, and their EXEC aborts.
#if canImport(Glibc)
import Glibc
#endif
import RESP
import Storage

/// One command queued between MULTI and EXEC.
final class QueuedCommand {
    private let bytes: [UInt8]
    private let slices: [ArgSlice]
    unowned(unsafe) let spec: CommandSpec

    init(_ args: CommandArgs, spec: CommandSpec) {
        var bytes: [UInt8] = []
        var slices: [ArgSlice] = []
        slices.reserveCapacity(args.count)
        for index in 0..<args.count {
            slices.append(ArgSlice(offset: bytes.count, length: args[index].count))
            bytes.append(contentsOf: args[index])
        }
        self.bytes = bytes
        self.slices = slices
        self.spec = spec
    }

    func withArgs<T>(_ body: (CommandArgs) -> T) -> T {
        bytes.withUnsafeBytes { raw in
            slices.withUnsafeBufferPointer { slicePointer in
                body(CommandArgs(base: raw.baseAddress ?? UnsafeRawPointer(slicePointer.baseAddress!),
                                 slices: slicePointer.baseAddress!, count: slices.count))
            }
        }
    }
}

/// A client's open transaction (between MULTI and EXEC/DISCARD).
public final class Transaction {
    var queue: [QueuedCommand] = []
    /// A command was refused while queueing: EXEC answers EXECABORT.
    var refusedCommand = false
    /// The union of the queued commands' flags (EXEC is refused under OOM if one may grow memory).
    public private(set) var queuedFlags: CommandFlags = []
    /// The flags some queued command lacks (EXEC is refused while loading if one lacks `loading`).
    public private(set) var flagsSomeQueuedLacks: CommandFlags = []

    /// Queues `command`, whose call has `flags` (a script's declared flags count, as in Redis).
    func append(_ command: QueuedCommand, flags: CommandFlags) {
        queue.append(command)
        queuedFlags.formUnion(flags)
        flagsSomeQueuedLacks.formUnion(CommandFlags(rawValue: ~flags.rawValue))
    }
}

/// The keys one client WATCHes; `touched` is set when one of them changes.
public final class Watcher {
    struct WatchedKey {
        let db: Int
        let key: [UInt8]
        /// The key existed but had expired when WATCH ran: its deletion is no change.
        var expiredWhenWatched: Bool
    }

    var keys: [WatchedKey] = []
    /// Guarded by the registry lock.
    var touched = false
}

public final class WatchRegistry {
    private struct Slot: Hashable {
        let db: Int
        let key: [UInt8]
    }

    private var lock = pthread_mutex_t()
    private var watchers: [Slot: [Watcher]] = [:]
    /// Watched (db, key) pairs. Read without the lock by writers holding a key's shard lock:
    /// WATCH registers under that same shard lock, so a writer of a watched key sees it.
    public private(set) var count = 0

    public init() { pthread_mutex_init(&lock, nil) }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return body()
    }

    /// Adds `key` of `db` to `watcher` (call with the key's shard locked).
    func watch(_ watcher: Watcher, db: Int, key: [UInt8], expired: Bool) {
        locked {
            guard !watcher.keys.contains(where: { $0.db == db && $0.key == key }) else { return }
            watcher.keys.append(Watcher.WatchedKey(db: db, key: key, expiredWhenWatched: expired))
            watchers[Slot(db: db, key: key), default: []].append(watcher)
            count += 1
        }
    }

    /// The keys `watcher` watches (other threads update their flags under the lock).
    func keys(of watcher: Watcher) -> [Watcher.WatchedKey] { locked { watcher.keys } }

    /// Forgets every key `watcher` watches.
    func unwatchAll(_ watcher: Watcher) {
        locked {
            for watched in watcher.keys {
                let slot = Slot(db: watched.db, key: watched.key)
                guard var list = watchers[slot] else { continue }
                list.removeAll { $0 === watcher }
                watchers[slot] = list.isEmpty ? nil : list
                count -= 1
            }
            watcher.keys = []
            watcher.touched = false
        }
    }

    /// A key changed: marks its watchers (unless it was already expired when watched and has
    /// just been deleted, which Redis counts as no change).
    func keyModified(db: Int, key: UnsafeRawBufferPointer, stillExists: Bool) {
        locked {
            guard let list = watchers[Slot(db: db, key: Array(key))] else { return }
            for watcher in list {
                if let index = watcher.keys.firstIndex(where: { $0.db == db && $0.key.elementsEqual(key) }),
                   watcher.keys[index].expiredWhenWatched {
                    if !stillExists {
                        watcher.keys[index].expiredWhenWatched = false
                        continue
                    }
                }
                watcher.touched = true
            }
        }
    }

    /// Database `db` is being emptied (FLUSHDB/FLUSHALL) or swapped with `replacedWith`
    /// (SWAPDB); called with every shard locked. `state` tells whether a key exists in a
    /// database and whether it has expired there. Follows Redis's touchAllWatchedKeysInDb.
    func databaseReplaced(_ db: Int, with replacedWith: Int?,
                          state: (_ db: Int, _ key: [UInt8]) -> (exists: Bool, expired: Bool)) {
        guard count > 0 else { return }
        locked {
            for (slot, list) in watchers where slot.db == db {
                let emptied = state(db, slot.key)
                let replacement = replacedWith.map { state($0, slot.key) } ?? (exists: false, expired: false)
                guard emptied.exists || replacement.exists else { continue }
                for watcher in list {
                    guard let index = watcher.keys.firstIndex(where: { $0.db == db && $0.key == slot.key }) else { continue }
                    if watcher.keys[index].expiredWhenWatched {
                        if !replacement.exists {
                            watcher.keys[index].expiredWhenWatched = false
                            continue
                        } else if replacement.expired {
                            continue
                        }
                    } else if !emptied.exists && replacement.expired {
                        watcher.keys[index].expiredWhenWatched = true
                        continue
                    }
                    watcher.touched = true
                }
            }
        }
    }

    /// Whether EXEC must abort: a watched key changed, or expired after WATCH.
    func mustAbort(_ watcher: Watcher, expiredNow: (_ db: Int, _ key: [UInt8]) -> Bool) -> Bool {
        let (touched, keys) = locked { (watcher.touched, watcher.keys) }
        return touched || keys.contains { !$0.expiredWhenWatched && expiredNow($0.db, $0.key) }
    }
}
