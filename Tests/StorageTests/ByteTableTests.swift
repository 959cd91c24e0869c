// ByteTable checked against a dictionary model under random inserts and removals (growing
// and shrinking), and its SCAN cursor's guarantee: a full walk interleaved with writes
// returns every key present for the whole walk.
import Storage
import Testing

struct ByteTableTests {
    private func key(_ n: Int) -> [UInt8] { Array("key:\(n)".utf8) }

    @Test func randomOperationsMatchDictionaryModel() {
        var table = ByteTable<Int>()
        var model: [[UInt8]: Int] = [:]
        for step in 0..<6000 {
            let k = key(Int.random(in: 0..<(step < 3000 ? 2000 : 50)))
            if step < 3000 ? Int.random(in: 0..<3) > 0 : Bool.random() && Bool.random() {
                #expect(k.withUnsafeBytes { table.insert($0, step) } == model.updateValue(step, forKey: k))
            } else {
                #expect(k.withUnsafeBytes { table.remove($0) } == model.removeValue(forKey: k))
            }
            #expect(table.count == model.count)
        }
        var seen: [[UInt8]: Int] = [:]
        table.forEach { seen[table.key(at: $0)] = table.value(at: $0) }
        #expect(seen == model)
        if table.count > 0 { #expect(model[table.key(at: table.randomSlot())] != nil) }
    }

    @Test func scanReturnsEveryStableKeyAcrossGrowthAndShrink() {
        var table = ByteTable<Void>()
        for n in 0..<100 { _ = key(n).withUnsafeBytes { table.insert($0, ()) } }
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        var round = 0
        repeat {
            cursor = table.scan(cursor: cursor) { seen.insert(table.key(at: $0)) }
            round += 1
            // Grow, then shrink, with keys that come and go during the walk.
            if round == 5 { for n in 1000..<1400 { _ = key(n).withUnsafeBytes { table.insert($0, ()) } } }
            if round == 40 { for n in 1000..<1400 { _ = key(n).withUnsafeBytes { table.remove($0) } } }
        } while cursor != 0
        for n in 0..<100 { #expect(seen.contains(key(n))) }
    }
}
