// CL.THROTTLE's arithmetic against the GCRA definition: with a limit of 5 (max burst 4) at
// one request per second, a fresh key allows five requests at once, then one per second;
// the TAT only moves for allowed requests; a request larger than the burst is never allowed
// and gets no retry time; quantity 0 only peeks. Times are in nanoseconds.
import Testing
@testable import Support

struct GCRATests {
    private static let second: Int64 = 1_000_000_000
    private static let start: Int64 = 1_700_000_000 * second

    private struct Step {
        let offset: Int64
        let quantity: Int64
        let limited: Bool
        let remaining: Int64
        let resetAfter: Int64
        let retryAfter: Int64
    }

    @Test func followsTheCellRateDefinition() throws {
        let quota = try GCRAQuota(maxBurst: 4, count: 1, periodSeconds: 1)
        #expect(quota.emissionInterval == Self.second)
        #expect(quota.delayTolerance == 5 * Self.second)
        let s = Self.second, notLimited = -Self.second
        let steps = [
            // Larger than the whole allowance: refused, nothing stored, no retry time.
            Step(offset: 0, quantity: 6, limited: true, remaining: 5, resetAfter: 0, retryAfter: notLimited),
            Step(offset: 0, quantity: 1, limited: false, remaining: 4, resetAfter: s, retryAfter: notLimited),
            Step(offset: 0, quantity: 1, limited: false, remaining: 3, resetAfter: 2 * s, retryAfter: notLimited),
            Step(offset: 0, quantity: 1, limited: false, remaining: 2, resetAfter: 3 * s, retryAfter: notLimited),
            Step(offset: 0, quantity: 1, limited: false, remaining: 1, resetAfter: 4 * s, retryAfter: notLimited),
            Step(offset: 0, quantity: 1, limited: false, remaining: 0, resetAfter: 5 * s, retryAfter: notLimited),
            // The sixth at once is refused until one emission interval has passed.
            Step(offset: 0, quantity: 1, limited: true, remaining: 0, resetAfter: 5 * s, retryAfter: s),
            Step(offset: 3 * s, quantity: 1, limited: false, remaining: 2, resetAfter: 3 * s, retryAfter: notLimited),
            Step(offset: 3_100_000_000, quantity: 1, limited: false, remaining: 1, resetAfter: 3_900_000_000,
                 retryAfter: notLimited),
            Step(offset: 4 * s, quantity: 1, limited: false, remaining: 1, resetAfter: 4 * s, retryAfter: notLimited),
            // Long idle: the TAT is in the past, the allowance is whole again.
            Step(offset: 8 * s, quantity: 1, limited: false, remaining: 4, resetAfter: s, retryAfter: notLimited),
            Step(offset: 9_500_000_000, quantity: 1, limited: false, remaining: 4, resetAfter: s, retryAfter: notLimited),
            Step(offset: 9_500_000_000, quantity: 0, limited: false, remaining: 4, resetAfter: s, retryAfter: notLimited),
            Step(offset: 9_500_000_000, quantity: 2, limited: false, remaining: 2, resetAfter: 3 * s, retryAfter: notLimited),
            Step(offset: 9_500_000_000, quantity: 5, limited: true, remaining: 2, resetAfter: 3 * s, retryAfter: 3 * s),
        ]
        var tat: Int64?
        for (number, step) in steps.enumerated() {
            let decision = try GCRA.decide(quota: quota, storedTAT: tat, quantity: step.quantity,
                                           now: Self.start + step.offset)
            #expect(decision.limited == step.limited, "step \(number)")
            #expect(decision.limit == 5, "step \(number)")
            #expect(decision.remaining == step.remaining, "step \(number)")
            #expect(decision.resetAfter == step.resetAfter, "step \(number)")
            #expect(decision.retryAfter == step.retryAfter, "step \(number)")
            #expect((decision.newTAT == nil) == step.limited, "step \(number)")
            if let newTAT = decision.newTAT { tat = newTAT }
        }
    }

    @Test func replyRoundsPartialSecondsUp() {
        #expect(GCRADecision.seconds(3_900_000_000) == 4)
        #expect(GCRADecision.seconds(3_000_000_000) == 3)
        #expect(GCRADecision.seconds(3_000_400_000) == 3)
        #expect(GCRADecision.seconds(-1_000_000_000) == -1)
        #expect(GCRADecision.seconds(-500_000_000) == 0)
    }

    @Test func refusesZeroRatesAndOverflow() {
        #expect(throws: GCRAQuota.Failure.zeroRate) { try GCRAQuota(maxBurst: 1, count: 0, periodSeconds: 60) }
        #expect(throws: GCRAQuota.Failure.zeroRate) { try GCRAQuota(maxBurst: 1, count: 5, periodSeconds: 0) }
        #expect(throws: GCRAQuota.Failure.overflow) { try GCRAQuota(maxBurst: 1, count: 1, periodSeconds: Int64.max) }
        #expect(throws: GCRAQuota.Failure.overflow) { try GCRAQuota(maxBurst: Int64.max, count: 1, periodSeconds: 60) }
    }
}
