// Listpack checked against an array model under random inserts, removals and replacements,
// including elements long enough to need multi-byte length headers and back-lengths, read
// forwards, backwards and by index from either end.
import Storage
import Testing

struct ListpackTests {
    @Test func randomOperationsMatchArrayModel() {
        var generator = SystemRandomNumberGenerator()
        var listpack = Listpack()
        var model: [[UInt8]] = []
        for step in 0..<3000 {
            let length = [0, 1, 5, 127, 128, 300, 20000][Int.random(in: 0..<7, using: &generator)]
            let element = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            switch Int.random(in: 0..<4, using: &generator) {
            case 0:
                listpack.append(element); model.append(element)
            case 1:
                let index = Int.random(in: 0...model.count, using: &generator)
                listpack.insert(element, at: index); model.insert(element, at: index)
            case 2 where !model.isEmpty:
                let index = Int.random(in: 0..<model.count, using: &generator)
                let length = Int.random(in: 0...min(3, model.count - index), using: &generator)
                listpack.remove(at: index, length: length); model.removeSubrange(index..<index + length)
            case 3 where !model.isEmpty:
                let index = Int.random(in: 0..<model.count, using: &generator)
                listpack.replace(at: index, with: element); model[index] = element
            default:
                break
            }
            #expect(listpack.count == model.count)
            if step % 100 == 0 {
                var seen: [[UInt8]] = []
                listpack.forEach { _, bytes in seen.append(Array(bytes)); return true }
                #expect(seen == model)
                var backwards: [[UInt8]] = []
                listpack.forEachReversed { index, bytes in
                    #expect(index == model.count - 1 - backwards.count)
                    backwards.append(Array(bytes))
                    return true
                }
                #expect(backwards == model.reversed())
            }
        }
        for (index, element) in model.enumerated() { #expect(listpack.element(at: index) == element) }
    }

    @Test func firstIndexHonoursStride() {
        var listpack = Listpack()
        for word in ["a", "b", "b", "a", "c", "d"] { listpack.append(Array(word.utf8)) }
        #expect(Array("b".utf8).withUnsafeBytes { listpack.firstIndex(of: $0) } == 1)
        #expect(Array("b".utf8).withUnsafeBytes { listpack.firstIndex(of: $0, stride: 2) } == 2)
        #expect(Array("a".utf8).withUnsafeBytes { listpack.firstIndex(of: $0, stride: 2) } == 0)
        #expect(Array("d".utf8).withUnsafeBytes { listpack.firstIndex(of: $0, stride: 2) } == nil)
    }
}
