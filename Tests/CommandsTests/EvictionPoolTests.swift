// The eviction pool: keeps the 16 highest-scoring candidates whatever the order they are
// offered in, hands out the best first, ignores an entry it already holds, copies keys of
// any length, and keeps candidates' databases and shards.
import Testing
@testable import Commands
import Storage

/// Entries for the keys "key:0" ... (freed when the test ends).
private final class Entries {
    let all: [Entry]
    init(count: Int, keyLength: Int = 8) {
        all = (0..<count).map { index in
            let key = Array(("key:\(index):" + String(repeating: "x", count: keyLength)).utf8)
            return key.withUnsafeBytes { Entry.make(key: $0, payload: .integer(1), expireAt: nil, rawEncoding: false, accessClock: 0) }
        }
    }
    deinit { for entry in all { entry.free() } }
}

private func key(_ victim: EvictionPool.Victim) -> String { String(decoding: victim.key, as: UTF8.self) }

@Test func keepsTheBestSixteenAndHandsOutTheBestFirst() {
    let entries = Entries(count: 100)
    var pool = EvictionPool()
    defer { pool.deallocate() }
    var generator = SystemRandomNumberGenerator()
    for index in (0..<100).shuffled(using: &generator) {
        pool.offer(entries.all[index], db: index % 3, shard: index * 7, score: UInt64(index))
    }
    #expect(pool.count == EvictionPool.capacity)
    for expected in (84..<100).reversed() {
        let victim = pool.popBest()
        #expect(victim.map(key) == String(decoding: entries.all[expected].key, as: UTF8.self))
        #expect(victim?.db == expected % 3 && victim?.shard == expected * 7)
    }
    #expect(pool.popBest() == nil)
}

@Test func anEntryAlreadyPooledIsNotPooledTwice() {
    let entries = Entries(count: 3)
    var pool = EvictionPool()
    defer { pool.deallocate() }
    pool.offer(entries.all[0], db: 0, shard: 1, score: 5)
    pool.offer(entries.all[0], db: 0, shard: 1, score: 5)
    pool.offer(entries.all[1], db: 0, shard: 1, score: 5)
    pool.offer(entries.all[0], db: 2, shard: 1, score: 5)
    #expect(pool.count == 3)
    pool.offer(entries.all[2], db: 0, shard: 1, score: 9)
    #expect(pool.popBest().map(key) == String(decoding: entries.all[2].key, as: UTF8.self))
}

@Test func keysLongerThanASlotsBufferAreCopiedWhole() {
    let entries = Entries(count: 20, keyLength: 500)
    var pool = EvictionPool()
    defer { pool.deallocate() }
    for (index, entry) in entries.all.enumerated() { pool.offer(entry, db: 0, shard: 0, score: UInt64(index)) }
    var seen = 0
    while let victim = pool.popBest() {
        #expect(key(victim) == String(decoding: entries.all[19 - seen].key, as: UTF8.self))
        seen += 1
    }
    #expect(seen == EvictionPool.capacity)
    let scratch = pool.scratchVictim(entries.all[0].key, db: 4, shard: 9)
    #expect(key(scratch) == String(decoding: entries.all[0].key, as: UTF8.self) && scratch.db == 4 && scratch.shard == 9)
}
