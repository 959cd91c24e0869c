// A fast pseudo-random generator (xorshift64) for choices that need to look random but not
// be unpredictable: skiplist node levels and eviction sampling. The system generator costs
// a getrandom system call per number, which dominated both hot paths.

public struct Xorshift64: RandomNumberGenerator {
    private var state: UInt64

    /// Seeded once from the system generator.
    public init() { state = UInt64.random(in: 1...UInt64.max) }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
