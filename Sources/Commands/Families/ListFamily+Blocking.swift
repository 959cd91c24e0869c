// The blocking list commands: BLPOP, BRPOP, BLMPOP, BLMOVE and BRPOPLPUSH. Each first acts
// like its non-blocking twin; when every key is missing it parks the connection on its keys
// (see Blocking.swift) until a write creates one of them, the timeout passes, or CLIENT
// UNBLOCK. A woken connection re-runs the command on its own worker; one that still finds
// nothing keeps its place in line. Where blocking is not allowed the command answers as if
// it had timed out at once.
import RESP
import Storage

extension ListFamily {
    static let blockingSpecs: [CommandSpec] = [
        blockingPopSpec("blpop", summary: "Pop the head of the first non-empty list, waiting for one if all are empty.",
                        handler: { blockingPop($0, atHead: true) }),
        blockingPopSpec("brpop", summary: "Pop the tail of the first non-empty list, waiting for one if all are empty.",
                        handler: { blockingPop($0, atHead: false) }),
        CommandSpec("blmove", arity: 6, flags: [.write, .denyoom, .noscript, .blocking], acl: [.list],
                    keys: [popKey, KeySpec.single(insertKey.flags, at: 2)], group: .list, since: "6.2.0",
                    summary: "Move an element between lists like LMOVE, waiting for the source to exist.",
                    complexity: "O(1)",
                    arguments: [.key("source"), .key("destination", spec: 1),
                                CommandArgument("wherefrom", .oneof, sides), CommandArgument("whereto", .oneof, sides),
                                CommandArgument("timeout", .double)],
                    handler: { c in
                        guard let fromHead = side(c, 3), let toHead = side(c, 4) else { return }
                        blockingMove(c, fromHead: fromHead, toHead: toHead, timeoutIndex: 5)
                    }),
        CommandSpec("brpoplpush", arity: 4, flags: [.write, .denyoom, .noscript, .blocking], acl: [.list],
                    keys: [popKey, KeySpec.single(insertKey.flags, at: 2)], group: .list, since: "2.2.0",
                    summary: "Move the tail of a list onto the head of another, waiting for the source to exist.",
                    complexity: "O(1)", docFlags: ["deprecated"], deprecatedSince: "6.2.0",
                    replacedBy: "`BLMOVE` with the `RIGHT` and `LEFT` arguments",
                    history: [("6.0.0", "The timeout may have a fractional part.")],
                    arguments: [.key("source"), .key("destination", spec: 1), CommandArgument("timeout", .double)],
                    handler: { blockingMove($0, fromHead: false, toHead: true, timeoutIndex: 3) }),
        CommandSpec("blmpop", arity: -5, flags: [.write, .blocking], acl: [.list],
                    keys: [KeySpec(popKey.flags, .index(2), .keyNum(index: 0, firstKey: 1, step: 1))],
                    group: .list, since: "7.0.0",
                    summary: "Pop elements from the first non-empty list among several, waiting for one if all are empty.",
                    complexity: "O(N+M): N keys tried, M elements popped",
                    arguments: [CommandArgument("timeout", .double)] + multiPopArguments, handler: blmpop),
    ]

    private static func blockingPopSpec(_ name: String, summary: String, handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: -3, flags: [.write, .noscript, .blocking], acl: [.list],
                    keys: [KeySpec(popKey.flags, .index(1), .range(lastKey: -2, step: 1, limit: 0))],
                    group: .list, since: "2.0.0", summary: summary, complexity: "O(N) for N keys",
                    history: [("6.0.0", "The timeout may have a fractional part.")],
                    arguments: [.key(flags: .multiple), CommandArgument("timeout", .double)], handler: handler)
    }

    static func blockingPop(_ c: CommandContext, atHead: Bool) {
        let keys = 1..<c.args.count - 1
        guard let deadline = c.blockingDeadline(c.args.count - 1) else { return }
        c.attemptOrBlock(keysAt: keys, deadline: deadline, nothing: { c.reply.nullArray() }) {
            popFirstNonEmpty(c, keys: keys, atHead: atHead, count: nil)
        }
    }

    static func blmpop(_ c: CommandContext) {
        guard let (keys, atHead, count) = multiPopArguments(c, numkeysIndex: 2),
              let deadline = c.blockingDeadline(1) else { return }
        c.attemptOrBlock(keysAt: keys, deadline: deadline, nothing: { c.reply.nullArray() }) {
            popFirstNonEmpty(c, keys: keys, atHead: atHead, count: count)
        }
    }

    static func blockingMove(_ c: CommandContext, fromHead: Bool, toHead: Bool, timeoutIndex: Int) {
        guard let deadline = c.blockingDeadline(timeoutIndex) else { return }
        // Only the source is waited on; the destination's shard is locked for the move.
        c.withKeys([1, 2]) {
            guard !moveElement(c, fromHead: fromHead, toHead: toHead) else { return }
            if c.canBlock {
                c.block(keysAt: [1], deadline: deadline)
            } else {
                c.reply.nullBulk()
            }
        }
    }
}
