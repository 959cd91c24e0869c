// Where connections' input and output buffers live: 16 KB slots carved from regions mapped
// apart from malloc's heap, on ordinary 4 KB pages. The server asks malloc for huge pages
// (Server/HugePages.swift), which suits the keyspace but makes every byte of a heap block
// resident; a connection's two 16 KB buffers then cost 32 KB of RSS however little it sends.
// In a slot only the pages a connection writes become resident, as with Redis's jemalloc:
// an idle connection costs about 12 KB instead of 36. A slot handed back returns its pages to
// the kernel, so a burst of connections does not keep its memory. Slots are taken and given
// back when connections open, close or resize their buffers, never per request.
#if canImport(Glibc)
import Glibc
#endif

public final class PageSlots: @unchecked Sendable {
    /// The one pool of the process (connections move between threads only when they close).
    public static let shared = PageSlots()

    public static let slotSize = 16 * 1024
    private static let regionSize = 2 * 1024 * 1024

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var free: [UnsafeMutableRawPointer] = []
    private var regions = 0

    private init() {
        pthread_mutex_init(mutex, nil)
    }

    /// A slot of `slotSize` bytes, or nil when no region can be mapped (the caller uses malloc).
    public func take() -> UnsafeMutableRawPointer? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if free.isEmpty { mapRegion() }
        return free.popLast()
    }

    /// Takes back a slot from `take`, dropping its pages.
    public func give(_ slot: UnsafeMutableRawPointer) {
        madvise(slot, PageSlots.slotSize, MADV_DONTNEED)
        pthread_mutex_lock(mutex)
        free.append(slot)
        pthread_mutex_unlock(mutex)
    }

    /// Slots handed out and not given back.
    public var slotsInUse: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return regions * (PageSlots.regionSize / PageSlots.slotSize) - free.count
    }

    private func mapRegion() {
        let size = PageSlots.regionSize
        guard let region = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              region != MAP_FAILED else { return }
        madvise(region, size, MADV_NOHUGEPAGE)
        regions += 1
        // Handed out from the region's start: the last slot pushed is the first popped.
        for offset in stride(from: size - PageSlots.slotSize, through: 0, by: -PageSlots.slotSize) {
            free.append(region + offset)
        }
    }
}
