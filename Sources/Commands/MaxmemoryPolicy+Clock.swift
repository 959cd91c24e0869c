// What a maxmemory policy implies for per-key access data: LFU policies keep a frequency
// counter in the entry's 24 clock bits, LRU policies an access time; OBJECT FREQ/IDLETIME
// and shared-integer reporting depend on which.
import Config

extension MaxmemoryPolicy {
    var isLFU: Bool { rawValue.hasSuffix("lfu") }
    var usesAccessClock: Bool { rawValue.hasSuffix("lfu") || rawValue.hasSuffix("lru") }
}
