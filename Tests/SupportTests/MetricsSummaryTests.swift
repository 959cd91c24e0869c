// The two bounded summaries behind INFO's metrics, checked against exact models: latency
// histograms (percentiles never below the true value and at most 1/128 above it, merged
// across workers, clamped, reset) and the Space-Saving prefix summary (exact while prefixes
// fit, the heavy hitters kept and never undercounted once they do not, no prefix counted
// twice after many evictions from its open-addressed index).
import Testing
@testable import Support

@Test func histogramBucketsAreContiguousAndTight() {
    var previousBucket = -1
    for value in UInt64(0)..<100_000 {
        let bucket = LatencyHistograms.bucket(of: value)
        #expect(bucket == previousBucket || bucket == previousBucket + 1)
        previousBucket = bucket
        let highest = LatencyHistograms.highestValue(inBucket: bucket)
        #expect(highest >= value && Double(highest - value) <= Double(value) / 128)
    }
    var random = Xorshift64(seed: 7)
    for _ in 0..<10_000 {
        let value = random.next() >> (random.next() % 64)
        let highest = LatencyHistograms.highestValue(inBucket: LatencyHistograms.bucket(of: value))
        #expect(highest >= value && Double(highest - value) <= Double(value) / 128)
    }
}

@Test func histogramPercentilesMatchTheExactOnesWithinOnePercent() {
    var random = Xorshift64(seed: 42)
    let workers = (0..<3).map { _ in LatencyHistograms(slots: 4, maxValue: 1 << 40) }
    var values: [UInt64] = []
    for index in 0..<20_000 {
        let value = 1 + (random.next() >> (24 + random.next() % 36))
        values.append(value)
        workers[index % 3].record(slot: 2, value: value)
    }
    values.sort()
    let percentiles = [0, 1, 50, 90, 99, 99.9, 100]
    let reported = LatencyHistograms.percentiles(percentiles, slot: 2, in: workers)!
    for (percentile, value) in zip(percentiles, reported) {
        let rank = max(1, Int((percentile / 100) * Double(values.count) + 0.5))
        let exact = values[rank - 1]
        #expect(value >= exact && Double(value) <= Double(exact) * (1 + 1.0 / 128) + 1, "p\(percentile)")
    }
    #expect(LatencyHistograms.percentiles([50], slot: 1, in: workers) == nil)
    #expect(LatencyHistograms.percentiles([], slot: 2, in: workers) == [])
    for worker in workers { worker.reset() }
    #expect(LatencyHistograms.percentiles([50], slot: 2, in: workers) == nil)
}

@Test func histogramClampsAtItsMaximum() {
    let histogram = LatencyHistograms(slots: 1, maxValue: 1_000_000)
    histogram.record(slot: 0, value: 10)
    histogram.record(slot: 0, value: 1 << 50)
    let top = LatencyHistograms.percentiles([100], slot: 0, in: [histogram])![0]
    #expect(top >= 1_000_000 && top < 1_010_000)
}

private func record(_ stats: PrefixStats, _ key: String, hit: Bool, capacity: Int) {
    Array(key.utf8).withUnsafeBytes { stats.record($0, hit: hit, generation: 0, capacity: capacity) }
}

private func label(_ row: PrefixStats.Row) -> String {
    row.prefix.map { String(decoding: $0, as: UTF8.self) } ?? "(none)"
}

@Test func prefixSummaryIsExactWhilePrefixesFit() {
    var random = Xorshift64(seed: 3)
    let stats = PrefixStats()
    let prefixes = ["user", "session", "", "a", "page", "cart", "user2", "x"]
    var model: [String: (hits: UInt64, misses: UInt64)] = [:]
    for _ in 0..<20_000 {
        let choice = Int(random.next() % UInt64(prefixes.count + 1))
        let hit = random.next() % 3 != 0
        let key = choice == prefixes.count ? "nocolon\(random.next() % 100)" : "\(prefixes[choice]):\(random.next() % 1000)"
        let name = choice == prefixes.count ? "(none)" : prefixes[choice]
        record(stats, key, hit: hit, capacity: 16)
        if hit { model[name, default: (0, 0)].hits += 1 } else { model[name, default: (0, 0)].misses += 1 }
    }
    let rows = stats.snapshot(generation: 0)
    #expect(rows.count == model.count)
    for row in rows {
        let expected = model[label(row)]
        #expect(expected?.hits == row.hits && expected?.misses == row.misses && row.count == row.hits + row.misses, "\(label(row))")
    }
    #expect(stats.snapshot(generation: 1).isEmpty)
}

@Test func prefixSummaryKeepsHeavyHittersAmongManyPrefixes() {
    var random = Xorshift64(seed: 11)
    let stats = PrefixStats()
    let capacity = 32
    var truth: [String: UInt64] = [:]
    var total: UInt64 = 0
    for _ in 0..<50_000 {
        // Half the lookups go to 5 hot prefixes, the rest to 5,000 cold ones.
        let name = random.next() % 2 == 0 ? "hot\(random.next() % 5)" : "cold\(random.next() % 5000)"
        record(stats, name + ":k", hit: true, capacity: capacity)
        truth[name, default: 0] += 1
        total += 1
    }
    let rows = stats.snapshot(generation: 0)
    #expect(rows.count == capacity)
    #expect(Set(rows.map(label)).count == rows.count, "a prefix is counted twice: the index lost it")
    for row in rows { #expect(row.count >= truth[label(row)] ?? 0 && row.hits <= truth[label(row)] ?? 0) }
    for (name, count) in truth where count > total / UInt64(capacity) {
        #expect(rows.contains { label($0) == name }, "\(name) (\(count) of \(total)) was dropped")
    }
    let top = PrefixStats.top(5, of: [rows, rows])
    #expect(Set(top.map(label)) == Set((0..<5).map { "hot\($0)" }))
    #expect(top.first.map { $0.count >= 2 * (truth[label($0)] ?? 0) } == true)
}

@Test func prefixSummaryRebuildsOnNewGenerationOrCapacity() {
    let stats = PrefixStats()
    record(stats, "a:1", hit: true, capacity: 8)
    #expect(stats.snapshot(generation: 0).count == 1)
    Array("a:1".utf8).withUnsafeBytes { stats.record($0, hit: false, generation: 1, capacity: 8) }
    let rows = stats.snapshot(generation: 1)
    #expect(rows.count == 1 && rows[0].hits == 0 && rows[0].misses == 1)
    Array("a:1".utf8).withUnsafeBytes { stats.record($0, hit: false, generation: 1, capacity: 0) }
    #expect(stats.snapshot(generation: 1).isEmpty)
    let long = String(repeating: "p", count: 100) + ":k"
    Array(long.utf8).withUnsafeBytes { stats.record($0, hit: true, generation: 1, capacity: 4) }
    #expect(stats.snapshot(generation: 1).first?.prefix?.count == PrefixStats.maxPrefixLength)
}

@Test func prefixSummaryCountsRunsOfOnePrefixExactly() {
    // A key with the prefix counted last takes a shortcut past hashing; keys that only start
    // like it ("user2:" after "user:", "user" without a colon) must not take it, and a prefix
    // cut at 64 bytes counts with the keys whose ':' comes later.
    let stats = PrefixStats()
    let long = String(repeating: "p", count: PrefixStats.maxPrefixLength)
    let keys = ["user:1", "user:2", "user2:1", "user2:2", "user", "user:3", ":x", ":y",
                long + ":1", long + "q:2", long + ":3", "nocolon", "user:4", "user:5"]
    for key in keys { record(stats, key, hit: true, capacity: 8) }
    let counts = Dictionary(uniqueKeysWithValues: stats.snapshot(generation: 0).map { (label($0), $0.count) })
    #expect(counts == ["user": 5, "user2": 2, "(none)": 2, "": 2, long: 3])
}
