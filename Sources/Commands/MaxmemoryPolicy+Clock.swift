// What a maxmemory policy implies for per-key access data (LFU policies keep a frequency
// counter in the entry's 24 clock bits, LRU policies an access time; OBJECT FREQ/IDLETIME
// and shared-integer reporting depend on which) and for eviction's choice of keys. Switches,
// not string tests: eviction asks these for every sampled key.
import Config

extension MaxmemoryPolicy {
    var isLFU: Bool { self == .allkeysLFU || self == .volatileLFU }
    var usesAccessClock: Bool {
        switch self {
        case .allkeysLRU, .volatileLRU, .allkeysLFU, .volatileLFU: return true
        default: return false
        }
    }
    /// Only keys with a TTL may be evicted.
    var isVolatile: Bool {
        switch self {
        case .volatileLRU, .volatileLFU, .volatileRandom, .volatileTTL: return true
        default: return false
        }
    }
    var isRandom: Bool { self == .allkeysRandom || self == .volatileRandom }
}
