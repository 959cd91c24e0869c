// The 24 access bits every entry carries, kept the way the maxmemory policy needs them:
// LRU policies (and no policy) store the LRU clock in seconds; LFU policies store the
// minute of the last decay (16 bits) and a logarithmic access counter (8 bits) that starts at
// 5, rises with probability 1/((counter-5)*lfu-log-factor+1) per access and loses one per
// lfu-decay-time minutes idle. OBJECT IDLETIME and OBJECT FREQ read them back.
import Config
import Storage
import Support

extension ServerContext {
    static let lfuInitialCounter: UInt32 = 5

    /// The access bits of a newly created key.
    public var initialAccessClock: UInt32 {
        config.maxmemoryPolicy.isLFU ? lfuMinutes << 8 | ServerContext.lfuInitialCounter : lruClock
    }

    /// Records an access to `entry` (shard locked); `random` decides LFU counter increments.
    public func recordAccess(_ entry: Entry, random: inout Xorshift64) {
        guard config.maxmemoryPolicy.isLFU else {
            entry.accessClock = lruClock
            return
        }
        var counter = decayedFrequency(entry)
        if counter < 255 {
            let base = Double(counter > ServerContext.lfuInitialCounter ? counter - ServerContext.lfuInitialCounter : 0)
            if Double.random(in: 0..<1, using: &random) < 1 / (base * Double(config.lfuLogFactor) + 1) { counter += 1 }
        }
        entry.accessClock = lfuMinutes << 8 | counter
    }

    /// The LFU counter after applying the decay for the minutes the key sat idle.
    public func decayedFrequency(_ entry: Entry) -> UInt32 {
        let stamp = entry.accessClock >> 8, counter = entry.accessClock & 0xFF
        let now = lfuMinutes
        let idleMinutes = now >= stamp ? now - stamp : 0xFFFF - stamp + now
        let periods = config.lfuDecayTime > 0 ? idleMinutes / UInt32(config.lfuDecayTime) : 0
        return periods >= counter ? 0 : counter - periods
    }

    /// Seconds since the last access under an LRU clock (handles the 24-bit wrap).
    public func idleSeconds(_ entry: Entry) -> UInt32 {
        let now = lruClock, then = entry.accessClock
        return now >= then ? now - then : 0xFF_FFFF - then + now
    }
}
