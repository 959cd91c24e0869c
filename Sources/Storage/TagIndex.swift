// Tag membership of one database in one shard (Swiftlet's TAG.* commands, not in Redis): which
// keys carry a tag and which tags a key carries, both ways, so that invalidating a tag finds
// its keys and deleting a key finds its tags without a scan. The index lives beside the keys
// it describes, in the key's shard and under the shard's lock: tagging, untagging and the
// cleanup when a key is deleted, overwritten, expired or evicted happen under the lock the
// write already holds, FLUSHDB/SWAPDB carry it along with the keys, and untagged keys pay one
// flag bit (`EntryFlags.tagged`). A tag whose keys live in many shards has a part in each;
// tag-wide commands visit the shards one at a time. Its memory is an O(1) running estimate
// charged to the shard, so `used_memory` and eviction see it.

public struct TagIndex {
    /// Members of a tag or tags of a key.
    typealias Members = ByteTable<Void>

    private var keysByTag = ByteTable<Members>()
    private var tagsByKey = ByteTable<Members>()
    /// Estimated bytes held by both directions.
    public private(set) var memoryUsage = 0
    /// (tag, key) pairs.
    public private(set) var membershipCount = 0

    public init() {}

    public var isEmpty: Bool { membershipCount == 0 }
    /// Keys with at least one tag.
    public var taggedKeyCount: Int { tagsByKey.count }
    /// Tags with at least one key here.
    public var tagCount: Int { keysByTag.count }

    /// Estimated bytes of one member row: its table slot and its byte array.
    static func memberSize(length: Int) -> Int { 64 + (length + 15) & ~15 }
    /// Estimated bytes of one tag's or key's row: its slot, its byte array and its member table.
    static func rowSize(length: Int) -> Int { 192 + (length + 15) & ~15 }

    // MARK: Reading

    public func keys(of tag: UnsafeRawBufferPointer) -> [[UInt8]] { TagIndex.members(of: tag, in: keysByTag) }
    public func tags(of key: UnsafeRawBufferPointer) -> [[UInt8]] { TagIndex.members(of: key, in: tagsByKey) }

    /// Calls `body` with each key carrying `tag` (the index must not change meanwhile).
    public func forEachKey(of tag: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        guard let slot = keysByTag.slot(of: tag) else { return }
        let members = keysByTag.value(at: slot)
        members.forEach { members.key(at: $0).withUnsafeBytes(body) }
    }

    public func hasTags(key: UnsafeRawBufferPointer) -> Bool { tagsByKey.slot(of: key) != nil }

    public func keyCount(of tag: UnsafeRawBufferPointer) -> Int {
        keysByTag.slot(of: tag).map { keysByTag.value(at: $0).count } ?? 0
    }

    private static func members(of name: UnsafeRawBufferPointer, in table: ByteTable<Members>) -> [[UInt8]] {
        guard let slot = table.slot(of: name) else { return [] }
        let members = table.value(at: slot)
        var result: [[UInt8]] = []
        result.reserveCapacity(members.count)
        members.forEach { result.append(members.key(at: $0)) }
        return result
    }

    // MARK: Writing

    /// Tags `key` with `tag`; false when it already was.
    @discardableResult
    public mutating func add(tag: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer) -> Bool {
        guard TagIndex.link(tag, key, in: &keysByTag, memory: &memoryUsage) else { return false }
        TagIndex.link(key, tag, in: &tagsByKey, memory: &memoryUsage)
        membershipCount += 1
        return true
    }

    /// Removes `tag` from `key`; false when the key did not carry it.
    @discardableResult
    public mutating func remove(tag: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer) -> Bool {
        guard TagIndex.unlink(tag, key, in: &keysByTag, memory: &memoryUsage) else { return false }
        TagIndex.unlink(key, tag, in: &tagsByKey, memory: &memoryUsage)
        membershipCount -= 1
        return true
    }

    /// Removes every tag of `key` (the key is gone or was overwritten); returns how many.
    @discardableResult
    public mutating func removeKey(_ key: UnsafeRawBufferPointer) -> Int {
        let tags = self.tags(of: key)
        for tag in tags { tag.withUnsafeBytes { _ = remove(tag: $0, key: key) } }
        return tags.count
    }

    /// Adds `member` to the members of `name`, creating its row and adding the bytes it takes
    /// to `memory`; false when already there.
    @discardableResult
    private static func link(_ name: UnsafeRawBufferPointer, _ member: UnsafeRawBufferPointer,
                             in table: inout ByteTable<Members>, memory: inout Int) -> Bool {
        let slot: Int
        if let existing = table.slot(of: name) {
            slot = existing
        } else {
            table.insert(name, Members())
            slot = table.slot(of: name)!
            memory += rowSize(length: name.count)
        }
        let added = table.modifyValue(at: slot) { $0.insert(member, ()) == nil }
        if added { memory += memberSize(length: member.count) }
        return added
    }

    /// Removes `member` from the members of `name`, dropping a row left empty and the bytes
    /// freed from `memory`; false when it was not there.
    @discardableResult
    private static func unlink(_ name: UnsafeRawBufferPointer, _ member: UnsafeRawBufferPointer,
                               in table: inout ByteTable<Members>, memory: inout Int) -> Bool {
        guard let slot = table.slot(of: name) else { return false }
        let (removed, empty) = table.modifyValue(at: slot) { members in
            (members.remove(member) != nil, members.count == 0)
        }
        guard removed else { return false }
        memory -= memberSize(length: member.count)
        if empty {
            table.remove(name)
            memory -= rowSize(length: name.count)
        }
        return true
    }
}

/// Tag totals over shards and databases, for INFO.
public struct TagTotals {
    public var taggedKeys = 0
    public var memberships = 0
    public var memory = 0

    public init() {}
}

extension Shard {
    /// Tags the key of the live entry at `link` with `tag`; false when it already carried it.
    public func addTag(_ tag: UnsafeRawBufferPointer, db: Int, at link: EntryLink) -> Bool {
        let entry = Entry(link.pointee!)
        return updateTags(db: db) { index in
            let added = index.add(tag: tag, key: entry.key)
            entry.isTagged = true
            return added
        }
    }

    /// Removes `tag` from the key of the live entry at `link`; false when it did not carry it.
    public func removeTag(_ tag: UnsafeRawBufferPointer, db: Int, at link: EntryLink) -> Bool {
        let entry = Entry(link.pointee!)
        guard entry.isTagged else { return false }
        return updateTags(db: db) { index in
            let removed = index.remove(tag: tag, key: entry.key)
            if !index.hasTags(key: entry.key) { entry.isTagged = false }
            return removed
        }
    }

    /// Drops the tags of `entry`, which is being removed or replaced by a whole new value.
    @inline(__always)
    public func dropTags(db: Int, of entry: Entry) {
        guard entry.isTagged else { return }
        updateTags(db: db) { index in index.removeKey(entry.key) }
        entry.isTagged = false
    }

    /// Runs `body` on the index of `db`, charging its change in memory to the shard and
    /// forgetting an index left empty.
    @discardableResult
    private func updateTags<Result>(db: Int, _ body: (inout TagIndex) -> Result) -> Result {
        var index = tagIndexes.removeValue(forKey: db) ?? TagIndex()
        let before = index.memoryUsage
        let result = body(&index)
        account(index.memoryUsage - before)
        if !index.isEmpty { tagIndexes[db] = index }
        return result
    }

    /// Keys of `db` in this shard that carry `tag`.
    public func taggedKeys(_ tag: UnsafeRawBufferPointer, db: Int) -> [[UInt8]] {
        tagIndexes[db]?.keys(of: tag) ?? []
    }

    /// Calls `body` with each key of `db` in this shard that carries `tag`; `body` must not
    /// change the shard's tags (collect the keys with `taggedKeys` for that).
    public func forEachTaggedKey(_ tag: UnsafeRawBufferPointer, db: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
        tagIndexes[db]?.forEachKey(of: tag, body)
    }

    /// Tags of `key` in `db`.
    public func tags(of key: UnsafeRawBufferPointer, db: Int) -> [[UInt8]] {
        tagIndexes[db]?.tags(of: key) ?? []
    }

    /// Adds this shard's tag figures to `totals`.
    public func addTagTotals(to totals: inout TagTotals) {
        for index in tagIndexes.values {
            totals.taggedKeys += index.taggedKeyCount
            totals.memberships += index.membershipCount
            totals.memory += index.memoryUsage
        }
    }

    /// Drops the tag index of `db` (its keys are all gone: FLUSHDB/FLUSHALL).
    func clearTags(db: Int) {
        guard let index = tagIndexes.removeValue(forKey: db) else { return }
        account(-index.memoryUsage)
    }
}
