// Connection buffers in page slots: the bytes survive every move between a slot and malloc's
// memory, slots go back to the pool when a buffer leaves them, and a slot given back holds no
// resident pages. (Serialized: the tests count the one process-wide pool's slots.)
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import RESP

@Suite(.serialized) struct ByteBufferTests {
    private func fill(_ buffer: inout ByteBuffer, count: Int) {
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        buffer.append(bytes)
    }

    private func expectFilled(_ buffer: ByteBuffer, count: Int) {
        #expect(buffer.count == count)
        #expect(buffer.bytes == (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
    }

    @Test func pageSlotBufferMovesToMallocAndBackWithItsBytes() {
        let before = PageSlots.shared.slotsInUse
        var buffer = ByteBuffer(pageSlot: ())
        #expect(buffer.inPageSlot)
        #expect(buffer.capacity == PageSlots.slotSize)
        #expect(PageSlots.shared.slotsInUse == before + 1)

        fill(&buffer, count: PageSlots.slotSize + 100)
        #expect(!buffer.inPageSlot)
        #expect(buffer.capacity >= PageSlots.slotSize + 100)
        #expect(PageSlots.shared.slotsInUse == before)
        expectFilled(buffer, count: PageSlots.slotSize + 100)

        buffer.consume(PageSlots.slotSize)
        let rest = buffer.bytes
        buffer.resize(to: 1000)
        #expect(buffer.inPageSlot)
        #expect(buffer.capacity == PageSlots.slotSize)
        #expect(buffer.bytes == rest)
        #expect(PageSlots.shared.slotsInUse == before + 1)

        buffer.count = 0
        buffer.resize(to: 0)
        #expect(!buffer.inPageSlot)
        #expect(buffer.capacity == 0)
        #expect(PageSlots.shared.slotsInUse == before)

        buffer.reserve(16 * 1024)
        #expect(buffer.inPageSlot)
        buffer.deallocate()
        #expect(PageSlots.shared.slotsInUse == before)
    }

    @Test func resizingWithinASlotKeepsIt() {
        var buffer = ByteBuffer(pageSlot: ())
        defer { buffer.deallocate() }
        fill(&buffer, count: 500)
        let base = buffer.base
        buffer.resize(to: 4096)
        buffer.shrinkIfIdle(to: 1024)
        #expect(buffer.base == base)
        #expect(buffer.capacity == PageSlots.slotSize)
        expectFilled(buffer, count: 500)
    }

    @Test func ordinaryBufferNeverTakesASlot() {
        let before = PageSlots.shared.slotsInUse
        var buffer = ByteBuffer(capacity: 64)
        defer { buffer.deallocate() }
        fill(&buffer, count: 3000)
        buffer.resize(to: 3000)
        #expect(!buffer.inPageSlot)
        #expect(PageSlots.shared.slotsInUse == before)
        expectFilled(buffer, count: 3000)
    }

    @Test func givenBackSlotHoldsNoResidentPages() throws {
        let slot = try #require(PageSlots.shared.take())
        slot.initializeMemory(as: UInt8.self, repeating: 0xAB, count: PageSlots.slotSize)
        #expect(residentPages(slot) == PageSlots.slotSize / pageSize)
        PageSlots.shared.give(slot)
        #expect(residentPages(slot) == 0)
    }

    private var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

    private func residentPages(_ slot: UnsafeMutableRawPointer) -> Int {
        var vector = [UInt8](repeating: 0, count: PageSlots.slotSize / pageSize)
        guard mincore(slot, PageSlots.slotSize, &vector) == 0 else { return -1 }
        return vector.filter { $0 & 1 != 0 }.count
    }
}
