// Native rate limiting: CL.THROTTLE, compatible with the redis-cell module (same arguments,
// same five-integer reply, same GCRA arithmetic in `Support.GCRA`), so users of that module
// can switch without changing code. The key holds the TAT as an integer string with an
// expire time, as redis-cell stores it; the decision runs under the key's shard lock, so
// concurrent callers on any worker thread never exceed the limit.
#if canImport(Glibc)
import Glibc
#endif
import Storage
import Support

enum RateLimitFamily {
    static let specs: [CommandSpec] = [
        CommandSpec("cl.throttle", arity: -5, flags: [.write, .denyoom, .fast], acl: [.write, .fast],
                    keys: [KeySpec.single([.RW, .access, .update])],
                    group: .string, since: ServerIdentity.swiftletVersion,
                    summary: "Rate-limit with the generic cell rate algorithm, as redis-cell's command of the same name.",
                    complexity: "O(1)",
                    arguments: [.key(), CommandArgument("max_burst", .integer), CommandArgument("count_per_period", .integer),
                                CommandArgument("period", .integer), CommandArgument("quantity", .integer, flags: .optional)],
                    handler: throttle),
    ]

    /// redis-cell reports its errors with this prefix.
    private static func cellError(_ c: CommandContext, _ message: String) { c.error("Cell error: " + message) }

    static func throttle(_ c: CommandContext) {
        guard c.args.count <= 6 else {
            return cellError(c, "Usage: cl.throttle <key> <max_burst> <count per period> <period> [<quantity>]")
        }
        var numbers: [Int64] = []
        for index in 2..<c.args.count {
            guard let value = Numbers.parseInt64(c.args[index]) else {
                return cellError(c, "Couldn't parse as integer: " + c.string(index))
            }
            numbers.append(value)
        }
        let quantity = numbers.count == 4 ? numbers[3] : 1
        let quota: GCRAQuota
        do throws(GCRAQuota.Failure) {
            quota = try GCRAQuota(maxBurst: numbers[0], count: numbers[1], periodSeconds: numbers[2])
        } catch {
            return reportFailure(c, error)
        }
        c.withKey(1) { shard, key, hash in
            let link = c.lookupWrite(shard, key, hash)
            var storedTAT: Int64?
            if let link {
                let entry = Entry(link.pointee!)
                if c.rejectNonString(entry) { return }
                // DIVERGENCE: redis-cell fails on a value it cannot parse with a Rust parse
                // error text; we say which key holds it.
                guard let value = c.integerValue(entry) else {
                    return cellError(c, "the value of the key is not a throttle state")
                }
                storedTAT = value
            }
            let decision: GCRADecision
            do throws(GCRAQuota.Failure) {
                decision = try GCRA.decide(quota: quota, storedTAT: storedTAT, quantity: quantity, now: wallClockNanoseconds())
            } catch {
                return reportFailure(c, error)
            }
            if let newTAT = decision.newTAT {
                store(c, shard, key, hash, link: link, tat: newTAT, ttl: decision.resetAfter)
            }
            c.reply.arrayHeader(5)
            for value in decision.reply { c.reply.integer(value) }
        }
    }

    /// Stores the new TAT, expiring when the allowance is whole again (redis-cell's TTL).
    private static func store(_ c: CommandContext, _ shard: Shard, _ key: UnsafeRawBufferPointer, _ hash: UInt64,
                              link: EntryLink?, tat: Int64, ttl: Int64) {
        let ttlMilliseconds = ttl / 1_000_000
        guard ttlMilliseconds > 0 else {
            // Nothing left to remember (a zero-quantity peek at a fresh key).
            guard let link else { return }
            shard.remove(db: c.session.db, at: link, hash: hash)
            c.signalModifiedKey(key)
            c.rewritePropagated { command in
                command.add("DEL")
                command.add(key)
            }
            return
        }
        c.signalStringWritten(key)
        if link == nil { c.notifyKeyspaceEvent(.newKey, "new", key) }
        let expireAt = c.now + ttlMilliseconds
        shard.store(db: c.session.db, c.integerEntry(key: key, value: tat, expireAt: expireAt), hash: hash, replacing: link)
        c.signalModifiedKey(key)
        // The decision depends on the clock: the AOF records the state it left, not the call.
        c.rewritePropagated { command in
            command.add("SET")
            command.add(key)
            command.add(tat)
            command.add("PXAT")
            command.add(expireAt)
        }
    }

    private static func reportFailure(_ c: CommandContext, _ failure: GCRAQuota.Failure) {
        switch failure {
        case .zeroRate: cellError(c, "Zero rates are not supported")
        // DIVERGENCE: redis-cell's duration arithmetic panics on overflow; we refuse.
        case .overflow: cellError(c, "arguments out of range")
        }
    }

    private static func wallClockNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
