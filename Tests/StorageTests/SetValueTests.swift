// IntSet and SetValue checked against Swift sets under random operations: intsets stay
// sorted and widen (never narrow) as Redis's do, and SetValue converts to hashtable one way,
// on the first non-integer member or past the intset entry limit.
import Storage
import Testing

struct SetValueTests {
    @Test func intSetMatchesSortedModelAndWidens() {
        var intset = IntSet()
        var model = Set<Int64>()
        let pool: [Int64] = [0, 1, -1, 300, Int64(Int16.max), Int64(Int16.min), 40_000, Int64(Int32.min),
                             Int64(Int32.max) + 1, Int64.min, Int64.max]
        for _ in 0..<2000 {
            let value = Bool.random() ? pool.randomElement()! : Int64.random(in: -50...50)
            if Bool.random() {
                #expect(intset.insert(value) == model.insert(value).inserted)
            } else {
                #expect(intset.remove(value) == (model.remove(value) != nil))
            }
            #expect((0..<intset.count).map { intset.value(at: $0) } == model.sorted())
        }
        var widths = IntSet()
        _ = widths.insert(5)
        #expect(widths.width == 2)
        _ = widths.insert(70_000)
        #expect(widths.width == 4)
        _ = widths.insert(Int64.max)
        #expect(widths.width == 8)
        _ = widths.remove(Int64.max)
        #expect(widths.width == 8 && (0..<widths.count).map { widths.value(at: $0) } == [5, 70_000])
    }

    private func add(_ set: SetValue, _ member: String, limit: Int = 8) -> Bool {
        let bytes = Array(member.utf8)
        return bytes.withUnsafeBytes { set.add($0, integer: Int64(member), maxIntsetEntries: limit) }
    }

    private func contains(_ set: SetValue, _ member: String) -> Bool {
        Array(member.utf8).withUnsafeBytes { set.contains($0, integer: Int64(member)) }
    }

    @Test func randomOperationsMatchSetModel() {
        for _ in 0..<20 {
            let set = SetValue()
            var model = Set<String>()
            for _ in 0..<300 {
                let member = Int.random(in: 0..<10) == 0 ? "m\(Int.random(in: 0..<5))" : String(Int.random(in: -6...6))
                if Bool.random() {
                    #expect(add(set, member) == model.insert(member).inserted)
                } else {
                    let removed = Array(member.utf8).withUnsafeBytes { set.remove($0, integer: Int64(member)) }
                    #expect(removed == (model.remove(member) != nil))
                }
                #expect(set.count == model.count)
                #expect(Set(set.members().map { String(decoding: $0, as: UTF8.self) }) == model)
                for member in model { #expect(contains(set, member)) }
            }
        }
    }

    @Test func conversionIsOneWayAtRedisThresholds() {
        let set = SetValue()
        for value in [3, 1, 2, 4] { _ = add(set, String(value), limit: 4) }
        #expect(set.encodingName == "intset")
        #expect(set.members() == ["1", "2", "3", "4"].map { Array($0.utf8) })
        _ = add(set, "4", limit: 4)
        #expect(set.encodingName == "intset")
        _ = add(set, "5", limit: 4)
        #expect(set.encodingName == "hashtable")
        let text = SetValue()
        _ = add(text, "1")
        _ = add(text, "a")
        #expect(text.encodingName == "hashtable")
        _ = Array("a".utf8).withUnsafeBytes { text.remove($0, integer: nil) }
        #expect(text.encodingName == "hashtable" && contains(text, "1"))
        let copy = text.duplicate()
        _ = add(copy, "2")
        #expect(copy.count == 2 && text.count == 1)
    }
}
