// ZSetValue in both encodings (listpack and skip list) checked against a sorted-array model
// under random inserts, score updates, removals and rank-range deletions: ranks, scores,
// bounded counts, forward and reverse windows, the one-way conversion threshold, copies.
import Storage
import Testing

struct ZSetValueTests {
    typealias Element = (member: [UInt8], score: Double)

    static func precedes(_ a: Element, _ b: Element) -> Bool {
        a.score != b.score ? a.score < b.score : a.member.lexicographicallyPrecedes(b.member)
    }

    static func contents(_ zset: ZSetValue, reverse: Bool = false) -> [Element] {
        var out: [Element] = []
        zset.forEach(ranks: 0..<zset.count, reverse: reverse) { member, score in out.append((Array(member), score)) }
        return out
    }

    func check(_ zset: ZSetValue, _ model: [Element]) {
        #expect(zset.count == model.count)
        let forward = ZSetValueTests.contents(zset)
        #expect(forward.map(\.member) == model.map(\.member))
        #expect(forward.map(\.score) == model.map(\.score))
        #expect(ZSetValueTests.contents(zset, reverse: true).map(\.member) == model.reversed().map(\.member))
        guard !model.isEmpty else { return }
        let probe = Int.random(in: 0..<model.count)
        model[probe].member.withUnsafeBytes { member in
            #expect(zset.rank(of: member) == probe)
            #expect(zset.score(of: member) == model[probe].score)
        }
        #expect(zset.element(atRank: probe).member == model[probe].member)
        let bound = Double(Int.random(in: -5...105))
        #expect(zset.countLeading { score, _ in score < bound } == model.filter { $0.score < bound }.count)
        let lower = Int.random(in: 0..<model.count), upper = Int.random(in: lower...model.count)
        var window: [[UInt8]] = []
        zset.forEach(ranks: lower..<upper, reverse: true) { member, _ in window.append(Array(member)) }
        #expect(window == model[lower..<upper].reversed().map(\.member))
    }

    func run(maxEntries: Int, steps: Int) {
        let zset = ZSetValue(maxListpackEntries: maxEntries, maxListpackValue: 64)
        var model: [Element] = []
        for _ in 0..<steps {
            let member = Array("m\(Int.random(in: 0..<400))".utf8)
            let score = Double(Int.random(in: 0..<100))
            let existing = model.firstIndex { $0.member == member }
            switch Int.random(in: 0..<5) {
            case 0, 1:
                member.withUnsafeBytes { bytes in
                    if let existing {
                        zset.update(bytes, from: model[existing].score, to: score)
                        model.remove(at: existing)
                    } else {
                        zset.insert(bytes, score: score, maxListpackEntries: maxEntries, maxListpackValue: 64)
                    }
                }
                let position = model.firstIndex { ZSetValueTests.precedes((member, score), $0) } ?? model.count
                model.insert((member, score), at: position)
            case 2:
                let removed = member.withUnsafeBytes { zset.remove($0) }
                #expect(removed == (existing != nil))
                if let existing { model.remove(at: existing) }
            case 3 where !model.isEmpty && Int.random(in: 0..<10) == 0:
                let lower = Int.random(in: 0..<model.count)
                let upper = min(model.count, lower + Int.random(in: 0...4))
                zset.removeRanks(lower..<upper)
                model.removeSubrange(lower..<upper)
            default:
                check(zset, model)
            }
            if model.count > maxEntries { #expect(zset.encodingName == "skiplist") }
        }
        check(zset, model)
    }

    @Test func listpackEncodingMatchesModel() { run(maxEntries: 1000, steps: 1500) }

    @Test func skiplistEncodingMatchesModel() { run(maxEntries: 8, steps: 3000) }

    @Test func longMemberConvertsAndCopiesKeepContents() {
        let zset = ZSetValue(maxListpackEntries: 128, maxListpackValue: 4)
        Array("abc".utf8).withUnsafeBytes { zset.insert($0, score: 1, maxListpackEntries: 128, maxListpackValue: 4) }
        #expect(zset.encodingName == "listpack")
        Array("abcde".utf8).withUnsafeBytes { zset.insert($0, score: 2, maxListpackEntries: 128, maxListpackValue: 4) }
        #expect(zset.encodingName == "skiplist")
        #expect(ZSetValueTests.contents(zset).map(\.score) == [1, 2])
        let copy = zset.duplicate()
        #expect(copy.encodingName == "skiplist")
        #expect(ZSetValueTests.contents(copy).map(\.member) == [Array("abc".utf8), Array("abcde".utf8)])
    }

    /// SCAN's guarantee on the skiplist encoding: a member present for the whole iteration is
    /// returned, even while others are added and removed between steps (the table grows and
    /// shrinks under the cursor).
    @Test func scanOfSkiplistSurvivesGrowthAndRemoval() {
        let zset = ZSetValue(maxListpackEntries: 4, maxListpackValue: 64)
        func bytes(_ n: Int) -> [UInt8] { Array("m\(n)".utf8) }
        for n in 0..<200 { bytes(n).withUnsafeBytes { zset.insert($0, score: Double(n), maxListpackEntries: 4, maxListpackValue: 64) } }
        #expect(!zset.isListpack)
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        var step = 0
        repeat {
            cursor = zset.scan(cursor: cursor) { member, _ in seen.insert(Array(member)) }
            step += 1
            // Churn: members 200+ come and go, and the table grows past and back.
            if step % 3 == 0 {
                for n in 200..<600 {
                    bytes(n).withUnsafeBytes { zset.insert($0, score: Double(n), maxListpackEntries: 4, maxListpackValue: 64) }
                }
            } else if step % 3 == 1 {
                for n in 200..<600 { _ = bytes(n).withUnsafeBytes { zset.remove($0) } }
            }
        } while cursor != 0
        for n in 0..<200 { #expect(seen.contains(bytes(n)), "member \(n) missed") }
    }
}
