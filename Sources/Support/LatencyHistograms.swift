// Per-command latency histograms for INFO latencystats, one set per worker thread so that
// recording is a plain increment with no lock. Each histogram is log-linear (the HdrHistogram
// idea Redis uses): values below 256 are counted exactly, and every power-of-two range above
// is split into 128 equal sub-buckets, so a reported percentile is at most 1/128 (0.8 %) above
// the true value. A command's histogram is allocated on its first recorded call only.
#if canImport(Glibc)
import Glibc
#endif

public final class LatencyHistograms {
    static let subBucketBits = 7
    static let subBuckets = 1 << subBucketBits
    static let exactLimit: UInt64 = 2 << subBucketBits

    /// Largest value kept apart; larger ones are counted as this (Redis clamps at one second).
    public let maxValue: UInt64
    /// Buckets per histogram.
    let bucketCount: Int
    /// One pointer per slot (command), nil until that slot records its first value.
    private let slots: UnsafeMutablePointer<UnsafeMutablePointer<UInt64>?>
    public let slotCount: Int

    public init(slots slotCount: Int, maxValue: UInt64) {
        self.slotCount = slotCount
        self.maxValue = maxValue
        bucketCount = LatencyHistograms.bucket(of: maxValue) + 1
        slots = .allocate(capacity: slotCount)
        slots.initialize(repeating: nil, count: slotCount)
    }

    deinit {
        for slot in 0..<slotCount { slots[slot]?.deallocate() }
        slots.deallocate()
    }

    /// The bucket counting `value`: exact below 256, then 128 sub-buckets per power of two.
    @inline(__always)
    static func bucket(of value: UInt64) -> Int {
        if value < exactLimit { return Int(value) }
        let shift = (63 - value.leadingZeroBitCount) - subBucketBits
        return subBuckets * shift + Int(value >> UInt64(shift))
    }

    /// The largest value that falls into `bucket` (what a percentile inside it reports).
    static func highestValue(inBucket bucket: Int) -> UInt64 {
        if bucket < Int(exactLimit) { return UInt64(bucket) }
        let shift = bucket / subBuckets - 1
        let lowest = UInt64(bucket - subBuckets * shift) << UInt64(shift)
        return lowest | ((1 << UInt64(shift)) &- 1)
    }

    @inline(__always)
    public func record(slot: Int, value: UInt64) {
        let counts = slots[slot] ?? allocate(slot: slot)
        counts[LatencyHistograms.bucket(of: min(value, maxValue))] &+= 1
    }

    private func allocate(slot: Int) -> UnsafeMutablePointer<UInt64> {
        let counts = UnsafeMutablePointer<UInt64>.allocate(capacity: bucketCount)
        counts.initialize(repeating: 0, count: bucketCount)
        slots[slot] = counts
        return counts
    }

    /// Forgets every recorded value (CONFIG RESETSTAT); the storage is kept, since another
    /// thread may be recording into it.
    public func reset() {
        for slot in 0..<slotCount { slots[slot]?.update(repeating: 0, count: bucketCount) }
    }

    /// `slot`'s histograms in all `sets` added up bucket by bucket; nil when none of them
    /// recorded anything.
    public static func merged(slot: Int, in sets: [LatencyHistograms]) -> Merged? {
        guard let first = sets.first else { return nil }
        let bucketCount = first.bucketCount
        var counts = [UInt64](repeating: 0, count: bucketCount)
        for set in sets {
            guard let slotCounts = set.slots[slot], set.bucketCount == bucketCount else { continue }
            for index in 0..<bucketCount { counts[index] &+= slotCounts[index] }
        }
        let merged = Merged(counts: counts)
        return merged.total > 0 ? merged : nil
    }

    /// The values at the given percentiles (0...100) of `slot`'s histograms in all `sets`
    /// merged, as HdrHistogram reports them (the highest value of the bucket that reaches the
    /// percentile's rank); nil when none of them recorded anything.
    public static func percentiles(_ percentiles: [Double], slot: Int, in sets: [LatencyHistograms]) -> [UInt64]? {
        guard let merged = merged(slot: slot, in: sets) else { return nil }
        return percentiles.map { merged.value(atPercentile: $0) }
    }

    /// One command's histogram, summed over the workers.
    public struct Merged {
        let counts: [UInt64]
        public let total: UInt64

        init(counts: [UInt64]) {
            self.counts = counts
            total = counts.reduce(0, &+)
        }

        func value(atPercentile percentile: Double) -> UInt64 {
            let rank = max(1, UInt64((min(percentile, 100) / 100) * Double(total) + 0.5))
            var seen: UInt64 = 0
            for index in counts.indices {
                seen &+= counts[index]
                if seen >= rank { return LatencyHistograms.highestValue(inBucket: index) }
            }
            return LatencyHistograms.highestValue(inBucket: counts.count - 1)
        }

        /// How many values fell in the buckets up to the one holding `value`.
        public func count(upTo value: UInt64) -> UInt64 {
            let last = min(LatencyHistograms.bucket(of: value), counts.count - 1)
            return counts[...last].reduce(0, &+)
        }
    }
}
