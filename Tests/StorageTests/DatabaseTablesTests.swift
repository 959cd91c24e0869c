// The tables of databases 1 and up live in one zero-page region shared by a keyspace's
// shards: each shard's database keeps its own keys, swaps and flushes move or clear exactly
// one, and a database nobody used leaves its part of the region unmapped.
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Storage

private func store(_ shard: Shard, db: Int, _ key: String) {
    Array(key.utf8).withUnsafeBytes { raw in
        shard.withLock {
            let entry = Entry.make(key: raw, payload: .integer(Int64(db)), expireAt: nil, rawEncoding: false, accessClock: 0)
            shard.store(db: db, entry, hash: KeyHash.hash(raw), replacing: nil)
        }
    }
}

private func holds(_ shard: Shard, db: Int, _ key: String) -> Bool {
    Array(key.utf8).withUnsafeBytes { raw in
        shard.withLock { shard.find(db: db, key: raw, hash: KeyHash.hash(raw), now: 0) != nil }
    }
}

@Test func everyShardAndDatabaseKeepsItsOwnTable() {
    let keyspace = Keyspace(databases: 16, shardCount: 4)
    for (index, shard) in keyspace.shards.enumerated() {
        for db in [0, 1, 7, 15] { store(shard, db: db, "key-\(index)-\(db)") }
    }
    for (index, shard) in keyspace.shards.enumerated() {
        for db in 0..<16 {
            #expect(shard.dicts[db].count == ([0, 1, 7, 15].contains(db) ? 1 : 0), "shard \(index) db \(db)")
        }
        #expect(holds(shard, db: 7, "key-\(index)-7"))
        #expect(!holds(shard, db: 7, "key-\(index)-1"))
    }
    let shard = keyspace.shards[2]
    shard.withLock { shard.swap(0, 15) }
    #expect(holds(shard, db: 0, "key-2-15") && holds(shard, db: 15, "key-2-0"))
    #expect(holds(keyspace.shards[1], db: 0, "key-1-0"))
    #expect(shard.withLock { shard.clear(db: 7) } == 1)
    #expect(shard.dicts[7].count == 0 && keyspace.shards[3].dicts[7].count == 1)
}

@Test func aStandaloneShardMapsItsOwnTables() {
    let shard = Shard(databases: 3)
    store(shard, db: 2, "k")
    #expect(holds(shard, db: 2, "k") && !holds(shard, db: 0, "k") && shard.dicts[1].count == 0)
}

@Test func unusedDatabasesCostNoResidentMemory() {
    let keyspace = Keyspace(databases: 16, shardCount: 1024)
    let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    // Database 9's tables: one per shard, side by side in the region.
    func residentPages(db: Int) -> Int {
        let start = UnsafeMutableRawPointer(keyspace.shards[0].dicts.pointer(db))
        let aligned = UnsafeMutableRawPointer(bitPattern: Int(bitPattern: start) & ~(pageSize - 1))!
        let length = start - aligned + 1024 * MemoryLayout<Dict>.stride
        var vector = [UInt8](repeating: 0, count: (length + pageSize - 1) / pageSize)
        guard mincore(aligned, length, &vector) == 0 else { return -1 }
        return vector.filter { $0 & 1 != 0 }.count
    }
    #expect(residentPages(db: 9) == 0)
    for shard in keyspace.shards.prefix(64) { store(shard, db: 9, "k") }
    #expect(residentPages(db: 9) > 0)
    #expect(residentPages(db: 12) == 0)
}
