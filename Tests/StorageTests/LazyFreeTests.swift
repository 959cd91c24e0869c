// The background freer: large collections handed over by `Entry.free(deferringTo:)` are
// released on its thread (and counted), small ones on the spot; jobs run in order.
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Storage

private final class DeinitProbe {
    let onDeinit: () -> Void
    init(_ onDeinit: @escaping () -> Void) { self.onDeinit = onDeinit }
    deinit { onDeinit() }
}

private func waitUntilIdle(_ freer: LazyFreer) {
    for _ in 0..<500 where freer.pendingObjects > 0 { usleep(2000) }
}

private func setEntry(members: Int, stringMembers: Bool) -> Entry {
    let set = SetValue()
    for i in 0..<members {
        let member = Array((stringMembers ? "m\(i)" : "\(i)").utf8)
        _ = member.withUnsafeBytes { set.add($0, integer: stringMembers ? nil : Int64(i), maxIntsetEntries: 512) }
    }
    return Array("key".utf8).withUnsafeBytes {
        Entry.make(key: $0, payload: .collection(set), expireAt: nil, rawEncoding: false, accessClock: 0)
    }
}

@Test func jobsRunInTheBackgroundAndAreCounted() {
    let freer = LazyFreer()
    var releasedOn: [pthread_t] = []
    let gate = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    pthread_mutex_init(gate, nil)
    defer { gate.deallocate() }
    for objects in [1, 10, 100] {
        let probe = DeinitProbe {
            pthread_mutex_lock(gate)
            releasedOn.append(pthread_self())
            pthread_mutex_unlock(gate)
        }
        freer.submit(objects: objects) { withExtendedLifetime(probe) {} }
    }
    waitUntilIdle(freer)
    #expect(freer.pendingObjects == 0)
    #expect(freer.freedObjects == 111)
    pthread_mutex_lock(gate)
    #expect(releasedOn.count == 3)
    #expect(releasedOn.allSatisfy { pthread_equal($0, pthread_self()) == 0 })
    pthread_mutex_unlock(gate)
    freer.resetStats()
    #expect(freer.freedObjects == 0)
}

@Test func onlyCollectionsAboveTheThresholdGoToTheBackground() {
    let freer = LazyFreer()
    // An intset is one block whatever its size; a hashtable of 65 members costs 65 steps.
    setEntry(members: 500, stringMembers: false).free(deferringTo: freer)
    setEntry(members: 64, stringMembers: true).free(deferringTo: freer)
    #expect(freer.freedObjects == 0 && freer.pendingObjects == 0)
    setEntry(members: 65, stringMembers: true).free(deferringTo: freer)
    waitUntilIdle(freer)
    #expect(freer.freedObjects == 1)
}
