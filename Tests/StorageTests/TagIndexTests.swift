// The tag index: random tagging and untagging checked against a model of both directions
// (tag → keys, key → tags), memory back to zero when emptied; and the shard's cleanup: a
// tagged key loses its tags when removed, detached (RENAME/MOVE), replaced by a whole new
// value, expired lazily or actively, or its database flushed, keeps them when the value is
// edited (`keepTags`), and SWAPDB carries them with the database.
import Testing
@testable import Storage

struct TagIndexTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func randomOperationsMatchModel() {
        var index = TagIndex()
        var model: [[UInt8]: Set<[UInt8]>] = [:]   // key → tags
        for step in 0..<8000 {
            let tag = bytes("tag:\(Int.random(in: 0..<30))")
            let key = bytes("key:\(Int.random(in: 0..<200))")
            switch Int.random(in: 0..<10) {
            case 0..<6:
                let added = tag.withUnsafeBytes { t in key.withUnsafeBytes { index.add(tag: t, key: $0) } }
                #expect(added == model[key, default: []].insert(tag).inserted)
            case 6..<9:
                let removed = tag.withUnsafeBytes { t in key.withUnsafeBytes { index.remove(tag: t, key: $0) } }
                #expect(removed == (model[key]?.remove(tag) != nil))
                if model[key]?.isEmpty == true { model[key] = nil }
            default:
                let count = key.withUnsafeBytes { index.removeKey($0) }
                #expect(count == (model.removeValue(forKey: key)?.count ?? 0))
            }
            if step % 500 == 0 || step == 7999 {
                #expect(index.taggedKeyCount == model.count)
                #expect(index.membershipCount == model.values.reduce(0) { $0 + $1.count })
                for (key, tags) in model {
                    #expect(Set(key.withUnsafeBytes { index.tags(of: $0) }) == tags)
                }
                var byTag: [[UInt8]: Set<[UInt8]>] = [:]
                for (key, tags) in model { for tag in tags { byTag[tag, default: []].insert(key) } }
                #expect(index.tagCount == byTag.count)
                for (tag, keys) in byTag {
                    #expect(Set(tag.withUnsafeBytes { index.keys(of: $0) }) == keys)
                    #expect(tag.withUnsafeBytes { index.keyCount(of: $0) } == keys.count)
                }
            }
        }
        for key in Array(model.keys) { _ = key.withUnsafeBytes { index.removeKey($0) } }
        #expect(index.isEmpty && index.memoryUsage == 0 && index.tagCount == 0 && index.taggedKeyCount == 0)
    }

    // MARK: Shard cleanup

    private let keyspace = Keyspace(databases: 2, shardCount: 1)
    private var shard: Shard { keyspace.shards[0] }

    private func put(_ key: String, _ value: String, db: Int = 0, expireAt: Int64? = nil, keepTags: Bool = false) {
        let k = bytes(key), v = bytes(value)
        k.withUnsafeBytes { kb in
            v.withUnsafeBytes { vb in
                let hash = KeyHash.hash(kb)
                let entry = Entry.make(key: kb, payload: .bytes(vb), expireAt: expireAt, rawEncoding: false, accessClock: 0)
                shard.store(db: db, entry, hash: hash, replacing: shard.dicts[db].link(kb, hash: hash), keepTags: keepTags)
            }
        }
    }

    private func tag(_ key: String, _ tag: String, db: Int = 0) {
        bytes(key).withUnsafeBytes { kb in
            let link = shard.dicts[db].link(kb, hash: KeyHash.hash(kb))!
            _ = bytes(tag).withUnsafeBytes { shard.addTag($0, db: db, at: link) }
        }
    }

    private func tags(_ key: String, db: Int = 0) -> Set<String> {
        Set(bytes(key).withUnsafeBytes { shard.tags(of: $0, db: db) }.map { String(decoding: $0, as: UTF8.self) })
    }

    private func isTagged(_ key: String, db: Int = 0) -> Bool {
        bytes(key).withUnsafeBytes { kb in shard.dicts[db].link(kb, hash: KeyHash.hash(kb)).map { Entry($0.pointee!).isTagged } ?? false }
    }

    private func remove(_ key: String, db: Int = 0) {
        bytes(key).withUnsafeBytes { kb in
            let hash = KeyHash.hash(kb)
            shard.remove(db: db, at: shard.dicts[db].link(kb, hash: hash)!, hash: hash)
        }
    }

    /// Bytes the shard holds besides its bucket arrays (which stay grown until the cron shrinks them).
    private var memoryBesidesBuckets: Int { shard.usedMemory - shard.dicts[0].bucketBytes - shard.dicts[1].bucketBytes }

    @Test func removalAndWholeValueWritesDropTagsEditsKeepThem() {
        let baseline = memoryBesidesBuckets
        put("a", "1"); put("b", "2")
        tag("a", "t"); tag("a", "u"); tag("b", "t")
        #expect(tags("a") == ["t", "u"] && isTagged("a"))
        #expect(shard.usedMemory > baseline + 2 * 48)
        put("a", "edited value", keepTags: true)
        #expect(tags("a") == ["t", "u"] && isTagged("a"))
        put("a", "new value")
        #expect(tags("a").isEmpty && !isTagged("a"))
        #expect(Set(bytes("t").withUnsafeBytes { shard.taggedKeys($0, db: 0) }) == [bytes("b")])
        remove("b")
        #expect(bytes("t").withUnsafeBytes { shard.taggedKeys($0, db: 0) }.isEmpty)
        remove("a")
        #expect(memoryBesidesBuckets == baseline && shard.tagIndexes.isEmpty)
    }

    @Test func untaggingTheLastTagClearsTheFlag() {
        put("k", "v")
        tag("k", "t")
        bytes("k").withUnsafeBytes { kb in
            let link = shard.dicts[0].link(kb, hash: KeyHash.hash(kb))!
            #expect(bytes("x").withUnsafeBytes { !shard.removeTag($0, db: 0, at: link) })
            #expect(bytes("t").withUnsafeBytes { shard.removeTag($0, db: 0, at: link) })
        }
        #expect(!isTagged("k") && shard.tagIndexes.isEmpty)
    }

    @Test func detachedEntriesLeaveTheirTagsBehind() {
        put("k", "v")
        tag("k", "t")
        let entry = bytes("k").withUnsafeBytes { kb in
            let hash = KeyHash.hash(kb)
            return shard.detach(db: 0, at: shard.dicts[0].link(kb, hash: hash)!, hash: hash)
        }
        #expect(!entry.isTagged && tags("k").isEmpty)
        // MOVE stores the same entry in another database: untagged there.
        shard.store(db: 1, entry, hash: KeyHash.hash(entry.key), replacing: nil)
        #expect(!isTagged("k", db: 1) && tags("k", db: 1).isEmpty)
    }

    @Test func expiryDropsTags() {
        put("lazy", "v", expireAt: 1)
        put("active", "v", expireAt: 1)
        tag("lazy", "t"); tag("active", "t")
        let found = bytes("lazy").withUnsafeBytes { shard.find(db: 0, key: $0, hash: KeyHash.hash($0), now: 10) }
        #expect(found == nil && tags("lazy").isEmpty)
        var doomed: [Entry] = []
        _ = shard.expireSample(db: 0, now: 10, keys: 20, doomed: &doomed)
        #expect(tags("active").isEmpty && shard.tagIndexes.isEmpty)
    }

    @Test func flushDropsAndSwapCarriesTags() {
        let baseline = memoryBesidesBuckets
        put("a", "1", db: 0); put("b", "1", db: 1)
        tag("a", "t", db: 0); tag("b", "t", db: 1)
        shard.swap(0, 1)
        #expect(tags("a", db: 1) == ["t"] && tags("b", db: 0) == ["t"] && tags("a", db: 0).isEmpty)
        shard.clear(db: 0)
        shard.clear(db: 1)
        #expect(shard.tagIndexes.isEmpty && memoryBesidesBuckets == baseline)
    }
}
