// A fast pseudo-random generator (xorshift64) for choices that need to look random but not
// be unpredictable: skiplist node levels, eviction sampling, LFU counter increments, and
// reproducible test data. The system generator costs a getrandom system call per number,
// which dominated those hot paths.

public struct Xorshift64: RandomNumberGenerator {
    private var state: UInt64

    /// Seeded once from the system generator.
    public init() { state = UInt64.random(in: 1...UInt64.max) }

    /// A reproducible sequence (a zero seed is replaced: xorshift would stay at zero).
    public init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
