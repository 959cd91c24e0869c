// HashValue checked against a dictionary model under random sets and removals, and its
// one-way listpack → hashtable conversion at exactly the configured thresholds.
import Storage
import Testing

struct HashValueTests {
    private func set(_ hash: HashValue, _ field: [UInt8], _ value: [UInt8], maxEntries: Int = 8, maxValue: Int = 16) -> Bool {
        field.withUnsafeBytes { f in value.withUnsafeBytes { v in hash.set(f, v, maxEntries: maxEntries, maxValue: maxValue) } }
    }

    private func contents(_ hash: HashValue) -> [[UInt8]: [UInt8]] {
        var result: [[UInt8]: [UInt8]] = [:]
        hash.forEach { result[Array($0)] = Array($1) }
        return result
    }

    @Test func randomOperationsMatchDictionaryModel() {
        for _ in 0..<20 {
            let hash = HashValue()
            var model: [[UInt8]: [UInt8]] = [:]
            for _ in 0..<300 {
                let field = Array("f\(Int.random(in: 0..<12))".utf8)
                if Bool.random() {
                    let value = [UInt8](repeating: UInt8.random(in: 97...122), count: Int.random(in: 0...18))
                    #expect(set(hash, field, value) == (model.updateValue(value, forKey: field) == nil))
                } else {
                    #expect(field.withUnsafeBytes { hash.remove($0) } == (model.removeValue(forKey: field) != nil))
                }
                #expect(hash.count == model.count)
                #expect(contents(hash) == model)
                for (field, value) in model {
                    #expect(field.withUnsafeBytes { hash.withValue($0) { Array($0) } } == value)
                }
            }
        }
    }

    @Test func listpackKeepsInsertionOrderUntilEntriesExceedLimit() {
        let hash = HashValue()
        for index in 0..<4 { _ = set(hash, Array("k\(index)".utf8), [1], maxEntries: 4) }
        #expect(hash.encodingName == "listpack")
        #expect(hash.allPairs().map(\.field) == (0..<4).map { Array("k\($0)".utf8) })
        _ = set(hash, Array("k0".utf8), [2], maxEntries: 4)
        #expect(hash.encodingName == "listpack")
        _ = set(hash, Array("k4".utf8), [1], maxEntries: 4)
        #expect(hash.encodingName == "hashtable")
        for index in 0..<5 { _ = Array("k\(index)".utf8).withUnsafeBytes { hash.remove($0) } }
        _ = set(hash, [1], [1], maxEntries: 4)
        #expect(hash.encodingName == "hashtable")
    }

    @Test func longFieldOrValueConverts() {
        let short = HashValue()
        #expect(set(short, [1], [UInt8](repeating: 0, count: 16)))
        #expect(short.encodingName == "listpack")
        let longValue = HashValue()
        _ = set(longValue, [1], [UInt8](repeating: 0, count: 17))
        #expect(longValue.encodingName == "hashtable")
        let longField = HashValue()
        _ = set(longField, [UInt8](repeating: 0, count: 17), [1])
        #expect(longField.encodingName == "hashtable")
        let copy = longField.duplicate()
        _ = set(copy, [2], [2])
        #expect(copy.count == 2 && longField.count == 1)
    }
}
