// ReusableList: emptying keeps the storage, later appends overwrite in place, and only the
// elements appended since are visible.
import Testing
import Support

@Test func emptiedListShowsOnlyWhatWasAppendedSince() {
    var list = ReusableList<Int>()
    #expect(list.isEmpty)
    for value in 0..<10 { list.append(value) }
    #expect(list.count == 10 && list[9] == 9)
    #expect(Array(list.prefix(3)) == [0, 1, 2])
    list.removeAll()
    #expect(list.isEmpty && list.prefix(5).isEmpty)
    list.append(42)
    list.append(43)
    #expect(list.count == 2 && list[0] == 42 && list[1] == 43)
    #expect(Array(list.prefix(10)) == [42, 43])
    for value in 0..<20 { list.append(value) }
    #expect(list.count == 22 && list[21] == 19)
}
