// Reaching a collection value (list, set, sorted set, hash) from a handler with Redis's rules:
// reads count keyspace hits and misses, a key of another type gets WRONGTYPE, writers may
// create the key, a collection left empty is deleted with its key, and size changes are
// charged to the shard's memory. Shared by every collection family.
import Storage

extension CommandContext {
    /// The collection at `key` for reading (shard locked). When the key is missing `missing`
    /// runs (it usually replies the empty answer) and nil is returned; when it holds another
    /// type WRONGTYPE is replied and nil is returned.
    @inline(__always)
    public func readCollection<Object: CollectionObject>(_ shard: Shard, _ key: UnsafeRawBufferPointer, _ hash: UInt64,
                                                         _ type: Object.Type, missing: () -> Void) -> Object? {
        guard let entry = lookupRead(shard, key, hash) else {
            missing()
            return nil
        }
        guard entry.kind == Object.kind else {
            error(RedisError.wrongType)
            return nil
        }
        return entry.collection(as: Object.self)
    }

    /// Locks the shard of the key at argument `index` and runs `body` with its collection,
    /// as `readCollection` finds it (missing: `missing` runs; another type: WRONGTYPE).
    public func readCollection<Object: CollectionObject>(keyAt index: Int, _ type: Object.Type, missing: () -> Void,
                                                         _ body: (Object) -> Void) {
        withKey(index) { shard, key, hash in
            guard let object = readCollection(shard, key, hash, type, missing: missing) else { return }
            body(object)
        }
    }

    /// Runs `body` on the collection at `key` for writing (shard locked). A missing key is
    /// created with `create` when given (raising "new" first and waking clients blocked on
    /// it, as Redis's dbAdd does; so pass `create` only when `body` will add), else `missing`
    /// runs and nil is returned; a key of another type gets WRONGTYPE and nil. `body` raises
    /// its own key events. Afterwards the key is deleted (raising "del") if `body` emptied
    /// the collection, or the change in size is charged to the shard.
    @discardableResult
    public func modifyCollection<Object: CollectionObject, Result>(
        _ shard: Shard, _ key: UnsafeRawBufferPointer, _ hash: UInt64, _ type: Object.Type,
        create: (() -> Object)? = nil, missing: () -> Void = {}, _ body: (Object) -> Result
    ) -> Result? {
        guard let link = lookupWrite(shard, key, hash) else {
            guard let create else {
                missing()
                return nil
            }
            let object = create()
            notifyKeyspaceEvent(.newKey, "new", key)
            let result = body(object)
            if object.count > 0 {
                shard.store(db: session.db, Entry.make(key: key, payload: .collection(object), expireAt: nil,
                                                       rawEncoding: false, accessClock: server.initialAccessClock),
                            hash: hash, replacing: nil)
                signalKeyReady(key)
            }
            return result
        }
        let entry = Entry(link.pointee!)
        guard entry.kind == Object.kind else {
            error(RedisError.wrongType)
            return nil
        }
        let object = entry.collection(as: Object.self)
        let sizeBefore = object.memoryUsage
        let result = body(object)
        if object.count == 0 {
            // Found again: a body that stored another key in this shard (LMOVE, SMOVE creating
            // their destination) may have moved what points at this entry.
            if let current = shard.dicts[session.db].link(key, hash: hash) {
                shard.remove(db: session.db, at: current, hash: hash)
            }
            notifyKeyspaceEvent(.generic, "del", key)
        } else {
            shard.collectionResized(by: object.memoryUsage - sizeBefore)
        }
        return result
    }

    /// Makes `object` the value of `key` (shard locked), replacing whatever the key held and
    /// dropping its TTL, or deletes the key when `object` is empty: the STORE variants
    /// (SINTERSTORE, ZUNIONSTORE, SORT ... STORE). Raises `event` for a stored result, "del"
    /// for a deleted destination, and nothing when an empty result meets no key, as Redis.
    public func storeCollection(_ shard: Shard, _ key: UnsafeRawBufferPointer, _ hash: UInt64, _ object: CollectionObject,
                                event: (KeyspaceEventClass, StaticString)) {
        let existing = lookupWrite(shard, key, hash)
        guard object.count > 0 else {
            if let existing {
                shard.remove(db: session.db, at: existing, hash: hash)
                keyChanged(key, .generic, "del")
            }
            return
        }
        if existing == nil { notifyKeyspaceEvent(.newKey, "new", key) }
        shard.store(db: session.db, Entry.make(key: key, payload: .collection(object), expireAt: nil,
                                               rawEncoding: false, accessClock: server.initialAccessClock),
                    hash: hash, replacing: existing)
        signalKeyReady(key)
        keyChanged(key, event.0, event.1)
    }
}
