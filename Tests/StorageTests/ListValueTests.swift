// ListValue checked against an array model under random pushes, pops, inserts, replacements,
// range removals and LREM-style removals, with node limits small enough to split often; and
// pushes at both ends that stay cheap however long the list is.
import Storage
import Testing

struct ListValueTests {
    private func contents(_ list: ListValue) -> [[UInt8]] {
        var result: [[UInt8]] = []
        list.forEach(from: 0, length: list.count) { result.append(Array($0)) }
        return result
    }

    @Test(arguments: [1, 3, 128, -1, -5])
    func randomOperationsMatchArrayModel(fill: Int) {
        var generator = SystemRandomNumberGenerator()
        let list = ListValue(fill: fill)
        var model: [[UInt8]] = []
        for _ in 0..<4000 {
            let element = [UInt8(Int.random(in: 0..<4, using: &generator))]
                + Array(repeating: 7, count: [0, 3, 200, 5000][Int.random(in: 0..<4, using: &generator)])
            switch Int.random(in: 0..<8, using: &generator) {
            case 0:
                element.withUnsafeBytes { list.pushFront($0) }; model.insert(element, at: 0)
            case 1:
                element.withUnsafeBytes { list.pushBack($0) }; model.append(element)
            case 2:
                let atHead = Bool.random(using: &generator)
                #expect(list.pop(atHead: atHead) == (atHead ? model.first : model.last))
                if !model.isEmpty { atHead ? model.removeFirst() : model.removeLast() }
            case 3:
                let index = Int.random(in: 0...model.count, using: &generator)
                element.withUnsafeBytes { list.insert($0, at: index) }; model.insert(element, at: index)
            case 4 where !model.isEmpty:
                let index = Int.random(in: 0..<model.count, using: &generator)
                element.withUnsafeBytes { list.replace(at: index, with: $0) }; model[index] = element
            case 5 where !model.isEmpty:
                let start = Int.random(in: 0..<model.count, using: &generator)
                let length = Int.random(in: 0...min(10, model.count - start), using: &generator)
                list.removeRange(from: start, length: length); model.removeSubrange(start..<start + length)
            case 6:
                let limit = Int.random(in: 0...3, using: &generator), fromTail = Bool.random(using: &generator)
                let removed = element.withUnsafeBytes { list.removeAll(equalTo: $0, limit: limit, fromTail: fromTail) }
                var indexes = model.indices.filter { model[$0] == element }
                if fromTail { indexes.reverse() }
                if limit > 0 { indexes = Array(indexes.prefix(limit)) }
                for index in indexes.sorted(by: >) { model.remove(at: index) }
                #expect(removed == indexes.count)
            case 7 where !model.isEmpty:
                let index = Int.random(in: 0..<model.count, using: &generator)
                #expect(list.withElement(at: index) { Array($0) } == model[index])
            default:
                break
            }
            #expect(list.count == model.count)
        }
        #expect(contents(list) == model)
        var walked: [[UInt8]] = []
        list.walk(fromTail: true) { _, element in walked.append(Array(element)); return true }
        #expect(walked == model.reversed())
        #expect(list.encodingName == "quicklist")
        #expect(list.duplicate().count == list.count)
    }

    /// Pushing at either end costs the same on a 100k-element list as on a small one (bounded
    /// nodes: no shifting of the whole list per push); compared as a ratio so load does not
    /// matter, with a wide margin.
    @Test func pushesAtBothEndsDoNotSlowDownWithLength() {
        func timeOfPushes(onListOf length: Int) -> Duration {
            let list = ListValue(fill: -2)
            let element: [UInt8] = Array("element".utf8)
            element.withUnsafeBytes { bytes in for _ in 0..<length { list.pushBack(bytes) } }
            return ContinuousClock().measure {
                element.withUnsafeBytes { bytes in
                    for index in 0..<4000 {
                        index % 2 == 0 ? list.pushFront(bytes) : list.pushBack(bytes)
                        if index % 4 == 3 { _ = list.pop(atHead: index % 8 == 3) }
                    }
                }
            }
        }
        let small = timeOfPushes(onListOf: 100), large = timeOfPushes(onListOf: 100_000)
        #expect(large < small * 10 + .milliseconds(20), "small \(small), large \(large)")
        let emptied = ListValue(fill: -2)
        [UInt8](repeating: 1, count: 10).withUnsafeBytes { bytes in for _ in 0..<10_000 { emptied.pushFront(bytes) } }
        while emptied.pop(atHead: false) != nil {}
        #expect(emptied.count == 0 && emptied.memoryUsage < 1024)
    }
}
