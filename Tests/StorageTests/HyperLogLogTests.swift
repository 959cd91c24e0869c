// HyperLogLog sketches: the empty sketch's layout, sparse and dense sketches agreeing on the
// same elements, promotion at the sparse limit, the cached count, corrupted opcodes detected
// by every reader, and the estimate's error on 200,000 distinct elements.
import Testing
@testable import Storage

@Suite struct HyperLogLogTests {
    private func add(_ count: Int, from first: Int = 0, to sketch: inout [UInt8], limit: Int = 3000) -> Int {
        var changed = 0
        for value in first..<first + count {
            let element = Array("element-\(value)".utf8)
            let update = element.withUnsafeBytes { HyperLogLog.add($0, to: &sketch, sparseLimit: limit) }
            #expect(update != .corrupt)
            if update == .changed { changed += 1 }
        }
        return changed
    }

    @Test func emptySketchIsSparseWithOneLongZeroRun() {
        let sketch = HyperLogLog.emptySketch()
        #expect(sketch.count == HyperLogLog.headerSize + 2)
        #expect(Array(sketch.prefix(4)) == Array("HYLL".utf8) && sketch[4] == 1)
        #expect(sketch.withUnsafeBytes(HyperLogLog.describeSparse) == "Z:16384")
        #expect(sketch.withUnsafeBytes(HyperLogLog.cardinality) == 0)
        #expect(sketch.withUnsafeBytes { HyperLogLog.isSketch(header: $0, length: $0.count) })
    }

    @Test func sparseAndDenseSketchesAgree() throws {
        var sparse = HyperLogLog.emptySketch()
        #expect(add(500, to: &sparse) > 400)
        #expect(!sparse.withUnsafeBytes(HyperLogLog.isDense))
        var dense = try #require(HyperLogLog.emptySketch().withUnsafeBytes(HyperLogLog.densified))
        _ = add(500, to: &dense)
        #expect(dense.count == HyperLogLog.denseSize)
        // The registers agree (only a sparse update marks the cached count stale itself).
        let densifiedRegisters = sparse.withUnsafeBytes(HyperLogLog.densified)?.dropFirst(HyperLogLog.headerSize)
        #expect(densifiedRegisters.map(Array.init) == Array(dense.dropFirst(HyperLogLog.headerSize)))
        let count = try #require(sparse.withUnsafeBytes(HyperLogLog.cardinality))
        #expect(count == dense.withUnsafeBytes(HyperLogLog.cardinality))
        #expect(abs(Int(count) - 500) < 25)
        // The same elements again raise nothing.
        #expect(add(500, to: &sparse) == 0)
    }

    @Test func sparseSketchTurnsDensePastTheLimit() {
        var sketch = HyperLogLog.emptySketch()
        _ = add(20, to: &sketch, limit: 40)
        #expect(sketch.count == HyperLogLog.denseSize)
        var roomy = HyperLogLog.emptySketch()
        _ = add(20, to: &roomy, limit: 3000)
        #expect(roomy.count < 100)
        #expect(roomy.withUnsafeBytes(HyperLogLog.densified) == sketch)
    }

    @Test func cachedCountIsStaleAfterAChange() {
        var sketch = HyperLogLog.emptySketch()
        #expect(sketch.withUnsafeBytes(HyperLogLog.cachedCardinality) == 0)
        sketch.withUnsafeMutableBytes { HyperLogLog.cacheCardinality(0x0123_4567_89AB_CDEF & ~(1 << 63), in: $0) }
        #expect(sketch.withUnsafeBytes(HyperLogLog.cachedCardinality) == 0x0123_4567_89AB_CDEF & ~(1 << 63))
        _ = add(1, to: &sketch)
        #expect(sketch.withUnsafeBytes(HyperLogLog.cachedCardinality) == nil)
    }

    @Test func corruptedOpcodesAreDetected() {
        var sketch = HyperLogLog.emptySketch()
        _ = add(10, to: &sketch)
        sketch += [0x7f, 0xff] // an XZERO past the last register
        #expect(sketch.withUnsafeBytes(HyperLogLog.cardinality) == nil)
        #expect(sketch.withUnsafeBytes(HyperLogLog.densified) == nil)
        var registers = [UInt8](repeating: 0, count: HyperLogLog.registerCount)
        #expect(!sketch.withUnsafeBytes { HyperLogLog.merge($0, into: &registers) })
        var truncated = Array(HyperLogLog.emptySketch().prefix(HyperLogLog.headerSize))
        let element = Array("x".utf8)
        #expect(element.withUnsafeBytes { HyperLogLog.add($0, to: &truncated, sparseLimit: 3000) } == .corrupt)
    }

    @Test func headersRedisRejectsAreNotSketches() {
        func accepted(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { HyperLogLog.isSketch(header: $0, length: $0.count) } }
        var sketch = HyperLogLog.emptySketch()
        sketch[4] = 0 // dense, but not 12304 bytes long
        #expect(!accepted(sketch))
        sketch[4] = 2 // no such encoding
        #expect(!accepted(sketch))
        sketch[4] = 1
        sketch[3] = UInt8(ascii: "X")
        #expect(!accepted(sketch))
        #expect(!accepted(Array(HyperLogLog.emptySketch().prefix(HyperLogLog.headerSize - 1))))
    }

    @Test func estimateIsWithinThreeStandardErrors() throws {
        var sketch = HyperLogLog.emptySketch()
        _ = add(200_000, to: &sketch)
        let count = try #require(sketch.withUnsafeBytes(HyperLogLog.cardinality))
        let standardError = 1.04 / Double(HyperLogLog.registerCount).squareRoot()
        #expect(abs(Double(count) - 200_000) < 3 * standardError * 200_000)
        var registers = [UInt8](repeating: 0, count: HyperLogLog.registerCount)
        #expect(sketch.withUnsafeBytes { HyperLogLog.merge($0, into: &registers) })
        #expect(HyperLogLog.cardinality(registers: registers) == count)
    }
}
