// The keyspace's record of databases that may hold keys: set on insert and swap, cleared
// only by a recount, databases 63 and up sharing the last bit.
import Testing
@testable import Storage

private func insert(_ keyspace: Keyspace, db: Int, _ key: String) {
    Array(key.utf8).withUnsafeBytes { raw in
        let shard = keyspace.shard(for: raw)
        shard.withLock {
            let entry = Entry.make(key: raw, payload: .integer(1), expireAt: nil, rawEncoding: false, accessClock: 0)
            shard.store(db: db, entry, hash: KeyHash.hash(raw), replacing: nil)
        }
    }
}

private func occupied(_ keyspace: Keyspace) -> [Int] {
    OccupiedDatabases.databases(in: keyspace.occupiedDatabases.mask, count: keyspace.databaseCount)
}

@Test func insertsAndSwapsMarkDatabasesAndOnlyARecountClearsThem() {
    let keyspace = Keyspace(databases: 16, shardCount: 8)
    #expect(occupied(keyspace).isEmpty)
    insert(keyspace, db: 3, "a")
    insert(keyspace, db: 3, "b")
    #expect(occupied(keyspace) == [3])
    for shard in keyspace.shards { shard.withLock { shard.swap(3, 5) } }
    #expect(occupied(keyspace) == [3, 5])
    keyspace.recountOccupiedDatabases()
    #expect(occupied(keyspace) == [5])
    for shard in keyspace.shards { shard.withLock { _ = shard.clear(db: 5) } }
    #expect(occupied(keyspace) == [5])
    keyspace.recountOccupiedDatabases()
    #expect(occupied(keyspace).isEmpty)
}

@Test func databasesFrom63UpShareTheLastBit() {
    let keyspace = Keyspace(databases: 70, shardCount: 4)
    insert(keyspace, db: 65, "k")
    #expect(occupied(keyspace) == Array(63..<70))
    insert(keyspace, db: 1, "k")
    keyspace.recountOccupiedDatabases()
    #expect(occupied(keyspace) == [1] + Array(63..<70))
}
