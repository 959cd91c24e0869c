// A snapshot saves the keyspace as it was when it began, whatever happens to the keys before
// its walk reaches them: values overwritten, keys deleted and added, tables grown past the
// point where a capture gives way to growth, databases swapped and flushed. Written in the
// AOF commands format, whose SET commands are easy to read back.
import Testing
#if canImport(Glibc)
import Glibc
#endif
import Storage
import Support
@testable import Persistence

private func key(_ text: String, _ body: (UnsafeRawBufferPointer, UInt64) -> Void) {
    Array(text.utf8).withUnsafeBytes { body($0, KeyHash.hash($0)) }
}

/// Sets `name` to `value` in `db`, replacing an existing value.
private func set(_ keyspace: Keyspace, db: Int, _ name: String, _ value: String) {
    key(name) { bytes, hash in
        let entry = ValueCodec.makeEntry(key: bytes, value: .string(Array(value.utf8)), expireAt: nil, accessClock: 0)
        let shard = keyspace.shard(for: bytes)
        shard.withLock { shard.store(db: db, entry, hash: hash, replacing: shard.link(db: db, key: bytes, hash: hash, now: 0)) }
    }
}

private func delete(_ keyspace: Keyspace, db: Int, _ name: String) {
    key(name) { bytes, hash in
        let shard = keyspace.shard(for: bytes)
        shard.withLock {
            if let link = shard.link(db: db, key: bytes, hash: hash, now: 0) { shard.remove(db: db, at: link, hash: hash) }
        }
    }
}

/// The database → key → value that a commands-format file rebuilds (SELECT and SET only).
private func readBack(_ path: String) throws -> [Int: [String: String]] {
    let lines = String(decoding: try #require(try RDBLoader.readFile(path)), as: UTF8.self)
        .split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
    var result: [Int: [String: String]] = [:]
    var db = 0
    var index = 0
    while index < lines.count, lines[index].hasPrefix("*") {
        let count = Int(lines[index].dropFirst())!
        let words = (0..<count).map { lines[index + 2 + 2 * $0] }
        index += 1 + 2 * count
        switch words[0] {
        case "SELECT": db = Int(words[1])!
        case "SET": result[db, default: [:]][words[1]] = words[2]
        default: Issue.record("unexpected \(words)")
        }
    }
    return result
}

@Test func aSnapshotKeepsThePointInTimeWhateverWritersDo() throws {
    let keyspace = Keyspace(databases: 4, shardCount: 16)
    var expected: [Int: [String: String]] = [:]
    for (db, count) in [(0, 3000), (1, 200), (2, 100)] {
        for index in 0..<count {
            set(keyspace, db: db, "k\(index)", "db\(db)-v\(index)")
            expected[db, default: [:]]["k\(index)"] = "db\(db)-v\(index)"
        }
    }
    var options = KeyspaceSnapshot.Options()
    options.format = .commands
    let snapshot = KeyspaceSnapshot(keyspace: keyspace, options: options)
    snapshot.begin()

    for index in stride(from: 0, to: 3000, by: 3) { set(keyspace, db: 0, "k\(index)", "changed") }
    for index in stride(from: 1, to: 3000, by: 3) { delete(keyspace, db: 0, "k\(index)") }
    // Enough new keys that every shard's table passes four keys per bucket and grows.
    for index in 0..<20_000 { set(keyspace, db: 0, "new\(index)", "later") }
    for shard in keyspace.shards { shard.withLock { shard.swap(1, 2) } }
    for shard in keyspace.shards { shard.withLock { _ = shard.clear(db: 1) } }
    set(keyspace, db: 3, "created", "later")

    let path = "/tmp/swiftlet-snapshot-test-\(UInt32.random(in: 0...UInt32.max)).aof"
    defer { _ = path.withCString { unlink($0) } }
    try snapshot.write(to: path)
    let saved = try readBack(path)
    #expect(saved.keys.sorted() == [0, 1, 2])
    for db in 0...2 {
        let (got, want) = (saved[db] ?? [:], expected[db] ?? [:])
        let wrong = want.filter { got[$0.key] != $0.value }.count
        #expect(wrong == 0 && got.count == want.count,
                "database \(db): \(wrong) keys missing or changed, \(got.count) saved of \(want.count)")
    }
    // Once written, the tables are plain again: the writes above are all there.
    #expect(keyspace.shards.allSatisfy { !$0.dicts[0].isCaptured })
    #expect(keyspace.shards.reduce(0) { $0 + $1.dicts[0].count } == 2000 + 20_000)
}

@Test func anAbandonedSnapshotLeavesTheTablesUncaptured() throws {
    let keyspace = Keyspace(databases: 1, shardCount: 4)
    for index in 0..<100 { set(keyspace, db: 0, "k\(index)", "v") }
    let snapshot = KeyspaceSnapshot(keyspace: keyspace, options: KeyspaceSnapshot.Options())
    snapshot.begin()
    #expect(keyspace.shards.allSatisfy { $0.dicts[0].isCaptured })
    snapshot.abandon()
    #expect(keyspace.shards.allSatisfy { !$0.dicts[0].isCaptured })
    for index in 0..<1000 { set(keyspace, db: 0, "more\(index)", "v") }
    #expect(keyspace.shards.reduce(0) { $0 + $1.dicts[0].count } == 1100)
}

@Test func aTableCaughtMidRehashIsSavedWhole() throws {
    // One shard, filled until its table is in the middle of growing.
    let keyspace = Keyspace(databases: 1, shardCount: 1)
    var expected: [String: String] = [:]
    var index = 0
    while index < 1000 || !keyspace.shards[0].dicts[0].isRehashing {
        set(keyspace, db: 0, "k\(index)", "v\(index)")
        expected["k\(index)"] = "v\(index)"
        index += 1
    }
    var options = KeyspaceSnapshot.Options()
    options.format = .commands
    let snapshot = KeyspaceSnapshot(keyspace: keyspace, options: options)
    snapshot.begin()
    #expect(keyspace.shards[0].dicts[0].isRehashing, "the rehash pauses instead of finishing")

    for key in expected.keys where key.hasSuffix("1") { set(keyspace, db: 0, key, "changed") }
    for key in expected.keys where key.hasSuffix("2") { delete(keyspace, db: 0, key) }
    for extra in 0..<500 { set(keyspace, db: 0, "new\(extra)", "later") }
    #expect(keyspace.shards[0].dicts[0].isRehashing)

    let path = "/tmp/swiftlet-snapshot-rehash-test-\(UInt32.random(in: 0...UInt32.max)).aof"
    defer { _ = path.withCString { unlink($0) } }
    try snapshot.write(to: path)
    let saved = try readBack(path)[0] ?? [:]
    let wrong = expected.filter { saved[$0.key] != $0.value }.count
    #expect(wrong == 0 && saved.count == expected.count, "\(wrong) keys missing or changed, \(saved.count) saved of \(expected.count)")
    // Uncaptured, the table finishes growing as keys keep coming.
    for extra in 0..<20_000 { set(keyspace, db: 0, "more\(extra)", "x") }
    #expect(!keyspace.shards[0].dicts[0].isCaptured)
}
