// The generic cell rate algorithm behind CL.THROTTLE, with redis-cell's arithmetic so that
// its users get the same answers: a key holds the theoretical arrival time (TAT) of the next
// request in Unix nanoseconds; a request of `quantity` moves it by quantity × the emission
// interval and is refused when that would put it further ahead of now than the burst allows.
// Pure: the caller reads and stores the TAT under the key's shard lock.

public struct GCRAQuota {
    /// Nanoseconds between requests at the sustained rate (period / count).
    public let emissionInterval: Int64
    /// How far ahead of now the TAT may run: emission interval × (max burst + 1).
    public let delayTolerance: Int64
    /// Max burst + 1: the requests a fresh key allows at once.
    public let limit: Int64

    public enum Failure: Error, Equatable {
        case zeroRate
        case overflow
    }

    /// `count` requests per `periodSeconds`, with bursts of `maxBurst` beyond the first.
    public init(maxBurst: Int64, count: Int64, periodSeconds: Int64) throws(Failure) {
        let (periodNanoseconds, periodOverflow) = periodSeconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !periodOverflow else { throw .overflow }
        guard count != 0 && periodNanoseconds != 0 else { throw .zeroRate }
        // redis-cell divides in floating point and truncates.
        emissionInterval = Int64(Double(periodNanoseconds) / Double(count))
        guard emissionInterval != 0 else { throw .zeroRate }
        let (burst, burstOverflow) = maxBurst.addingReportingOverflow(1)
        let (tolerance, toleranceOverflow) = emissionInterval.multipliedReportingOverflow(by: burst)
        guard !burstOverflow && !toleranceOverflow else { throw .overflow }
        limit = burst
        delayTolerance = tolerance
    }
}

public struct GCRADecision: Equatable {
    public let limited: Bool
    public let limit: Int64
    public let remaining: Int64
    /// Nanoseconds until a retry can succeed; -1 s when not limited (or never, for a request
    /// larger than the burst).
    public let retryAfter: Int64
    /// Nanoseconds until the key is back to its full allowance (the TAT's distance from now).
    public let resetAfter: Int64
    /// The TAT to store when the request is allowed (nil: leave the key as it is).
    public let newTAT: Int64?

    /// Whole seconds, rounded up when there is a partial millisecond (redis-cell's reply).
    public static func seconds(_ nanoseconds: Int64) -> Int64 {
        let whole = nanoseconds / 1_000_000_000
        return nanoseconds % 1_000_000_000 / 1_000_000 > 0 ? whole + 1 : whole
    }

    /// CL.THROTTLE's five integers: limited, limit, remaining, retry after, reset after.
    public var reply: [Int64] {
        [limited ? 1 : 0, limit, remaining, GCRADecision.seconds(retryAfter), GCRADecision.seconds(resetAfter)]
    }
}

public enum GCRA {
    static let notLimited: Int64 = -1_000_000_000

    /// Decides a request of `quantity` at `now` (Unix nanoseconds) against the stored TAT
    /// (nil for a missing key).
    public static func decide(quota: GCRAQuota, storedTAT: Int64?, quantity: Int64,
                              now: Int64) throws(GCRAQuota.Failure) -> GCRADecision {
        let (increment, incrementOverflow) = quota.emissionInterval.multipliedReportingOverflow(by: quantity)
        guard !incrementOverflow else { throw .overflow }
        let tat = storedTAT ?? now
        let (newTAT, tatOverflow) = max(now, tat).addingReportingOverflow(increment)
        guard !tatOverflow else { throw .overflow }
        let allowAt = newTAT &- quota.delayTolerance
        let ttl: Int64
        let limited = now < allowAt
        var retryAfter = notLimited
        if limited {
            if increment <= quota.delayTolerance { retryAfter = allowAt &- now }
            ttl = tat &- now
        } else {
            ttl = newTAT &- now
        }
        var remaining: Int64 = 0
        let next = quota.delayTolerance &- ttl
        if next > -quota.emissionInterval {
            // redis-cell divides whole microseconds in floating point.
            remaining = Int64(Double(next / 1000) / Double(max(quota.emissionInterval / 1000, 1)))
        }
        return GCRADecision(limited: limited, limit: quota.limit, remaining: remaining, retryAfter: retryAfter,
                            resetAfter: ttl, newTAT: limited ? nil : newTAT)
    }
}
