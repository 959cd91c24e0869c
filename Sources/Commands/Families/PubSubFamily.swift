// The pub/sub command group: SUBSCRIBE/UNSUBSCRIBE, PSUBSCRIBE/PUNSUBSCRIBE and the shard
// variants SSUBSCRIBE/SUNSUBSCRIBE, PUBLISH/SPUBLISH, and PUBSUB's introspection. The
// subscriptions live in the shared `PubSubRegistry`; confirmations are written as Redis
// writes them (a three-element array in RESP2, a push frame in RESP3), and messages reach
// subscribers on any worker through their `PushTarget`. Without a cluster, shard channels
// are a separate namespace that patterns never match, as in a standalone Redis.
import RESP

public enum PubSubFamily {
    public static let specs: [CommandSpec] = [
        CommandSpec("subscribe", arity: -2, flags: [.pubsub, .noscript, .loading, .stale, .sentinel], group: .pubsub,
                    since: "2.0.0", summary: "Listen for messages published to the given channels.",
                    complexity: "O(N) for N channels", arguments: [CommandArgument("channel", .string, flags: .multiple)],
                    handler: { subscribe($0, .channel) }),
        CommandSpec("unsubscribe", arity: -1, flags: [.pubsub, .noscript, .loading, .stale, .sentinel], group: .pubsub,
                    since: "2.0.0", summary: "Stop listening to the given channels, or to every channel.",
                    complexity: "O(N) for N channels left",
                    arguments: [CommandArgument("channel", .string, flags: [.optional, .multiple])],
                    handler: { unsubscribe($0, .channel) }),
        CommandSpec("psubscribe", arity: -2, flags: [.pubsub, .noscript, .loading, .stale, .sentinel], group: .pubsub,
                    since: "2.0.0", summary: "Listen for messages published to channels matching the given patterns.",
                    complexity: "O(N) for N patterns",
                    arguments: [CommandArgument("pattern", .block, flags: .multiple, [CommandArgument("pattern", .pattern)])],
                    handler: { subscribe($0, .pattern) }),
        CommandSpec("punsubscribe", arity: -1, flags: [.pubsub, .noscript, .loading, .stale, .sentinel], group: .pubsub,
                    since: "2.0.0", summary: "Stop listening to the given patterns, or to every pattern.",
                    complexity: "O(N+M) for N patterns left and M patterns of this client",
                    arguments: [CommandArgument("pattern", .pattern, flags: [.optional, .multiple])],
                    handler: { unsubscribe($0, .pattern) }),
        CommandSpec("publish", arity: 3, flags: [.pubsub, .loading, .stale, .fast, .mayReplicate, .sentinel],
                    group: .pubsub, since: "2.0.0", summary: "Send a message to a channel's subscribers.",
                    complexity: "O(N+M) for N subscribers of the channel and M subscribed patterns",
                    arguments: [CommandArgument("channel", .string), CommandArgument("message", .string)],
                    handler: { publish($0, shard: false) }),
        CommandSpec("ssubscribe", arity: -2, flags: [.pubsub, .noscript, .loading, .stale],
                    keys: [.rest([.notKey])], group: .pubsub, since: "7.0.0",
                    summary: "Listen for messages published to the given shard channels.",
                    complexity: "O(N) for N shard channels",
                    arguments: [CommandArgument("shardchannel", .string, flags: .multiple)],
                    handler: { subscribe($0, .shardChannel) }),
        CommandSpec("sunsubscribe", arity: -1, flags: [.pubsub, .noscript, .loading, .stale],
                    keys: [.rest([.notKey])], group: .pubsub, since: "7.0.0",
                    summary: "Stop listening to the given shard channels, or to every shard channel.",
                    complexity: "O(N) for N shard channels left",
                    arguments: [CommandArgument("shardchannel", .string, flags: [.optional, .multiple])],
                    handler: { unsubscribe($0, .shardChannel) }),
        CommandSpec("spublish", arity: 3, flags: [.pubsub, .loading, .stale, .fast, .mayReplicate],
                    keys: [.single([.notKey])], group: .pubsub, since: "7.0.0",
                    summary: "Send a message to a shard channel's subscribers.",
                    complexity: "O(N) for N subscribers of the shard channel",
                    arguments: [CommandArgument("shardchannel", .string), CommandArgument("message", .string)],
                    handler: { publish($0, shard: true) }),
        CommandSpec("pubsub", arity: -2, flags: [], group: .pubsub, since: "2.8.0",
                    summary: "Inspect the pub/sub state of the server.", complexity: "Depends on subcommand.",
                    subcommands: [
                        introspection("channels", arity: -2, since: "2.8.0", summary: "List the channels that have subscribers.",
                                      complexity: "O(N) for N active channels",
                                      arguments: [CommandArgument("pattern", .pattern, flags: .optional)],
                                      handler: { channels($0, shard: false) }),
                        introspection("numsub", arity: -2, since: "2.8.0", summary: "Count the subscribers of channels.",
                                      complexity: "O(N) for N channels asked about",
                                      arguments: [CommandArgument("channel", .string, flags: [.optional, .multiple])],
                                      handler: { subscriberCounts($0, shard: false) }),
                        introspection("numpat", arity: 2, since: "2.8.0", summary: "Count the distinct subscribed patterns.",
                                      complexity: "O(1)", handler: { $0.reply.integer($0.server.pubsub.counts.patterns) }),
                        introspection("shardchannels", arity: -2, since: "7.0.0",
                                      summary: "List the shard channels that have subscribers.",
                                      complexity: "O(N) for N active shard channels",
                                      arguments: [CommandArgument("pattern", .pattern, flags: .optional)],
                                      handler: { channels($0, shard: true) }),
                        introspection("shardnumsub", arity: -2, since: "7.0.0", summary: "Count the subscribers of shard channels.",
                                      complexity: "O(N) for N shard channels asked about",
                                      arguments: [CommandArgument("shardchannel", .string, flags: [.optional, .multiple])],
                                      handler: { subscriberCounts($0, shard: true) }),
                        CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .pubsub, since: "6.2.0",
                                    summary: "Explain the subcommands.", complexity: "O(1)",
                                    handler: { HelpText.reply($0, command: "PUBSUB", lines: pubsubHelp) }),
                    ], handler: nil),
    ]

    private static func introspection(_ name: String, arity: Int, since: String, summary: String, complexity: String,
                                      arguments: [CommandArgument] = [],
                                      handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: arity, flags: [.pubsub, .loading, .stale], group: .pubsub, since: since,
                    summary: summary, complexity: complexity, arguments: arguments, handler: handler)
    }

    // DIVERGENCE: our own wording, in Redis's help layout.
    static let pubsubHelp = [
        "CHANNELS [<pattern>]",
        "    List the channels with at least one subscriber, those matching <pattern> if given.",
        "NUMPAT",
        "    Count the distinct patterns clients are subscribed to.",
        "NUMSUB [<channel> ...]",
        "    Count the subscribers of each <channel> (pattern subscriptions are not counted).",
        "SHARDCHANNELS [<pattern>]",
        "    List the shard channels with at least one subscriber, those matching <pattern> if given.",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Count the subscribers of each <shardchannel>.",
    ]

    private static func words(_ kind: PubSubRegistry.Kind) -> (subscribe: StaticString, unsubscribe: StaticString) {
        switch kind {
        case .channel: return ("subscribe", "unsubscribe")
        case .pattern: return ("psubscribe", "punsubscribe")
        case .shardChannel: return ("ssubscribe", "sunsubscribe")
        }
    }

    /// A (un)subscription confirmation: the verb, the name (null when unsubscribing from
    /// nothing) and the client's count in that namespace (channels + patterns, or shard channels).
    private static func confirm(_ c: CommandContext, _ verb: StaticString, _ name: UnsafeRawBufferPointer?,
                                _ kind: PubSubRegistry.Kind) {
        let membership = c.session.pubsub
        c.reply.pushHeader(3)
        c.reply.bulk(verb.utf8Start, verb.utf8CodeUnitCount)
        if let name { c.reply.bulk(name) } else { c.reply.nullBulk() }
        c.reply.integer(kind == .shardChannel ? membership.shardCount : membership.classicCount)
        c.pushedUpTo = c.reply.buffer.count
    }

    static func subscribe(_ c: CommandContext, _ kind: PubSubRegistry.Kind) {
        // DIVERGENCE: only network clients can receive messages; in-process contexts are refused.
        guard let target = c.pushTarget else { return c.error("ERR pub/sub needs a client connection") }
        for index in 1..<c.args.count {
            _ = c.server.pubsub.subscribe(c.session, target: target, to: c.args[index], kind)
            confirm(c, words(kind).subscribe, c.args[index], kind)
        }
    }

    static func unsubscribe(_ c: CommandContext, _ kind: PubSubRegistry.Kind) {
        let registry = c.server.pubsub
        let verb = words(kind).unsubscribe
        guard c.args.count == 1 else {
            for index in 1..<c.args.count {
                _ = registry.unsubscribe(c.session, from: c.args[index], kind)
                confirm(c, verb, c.args[index], kind)
            }
            return
        }
        let names = registry.subscriptions(of: c.session, kind)
        for name in names {
            name.withUnsafeBytes { name in
                _ = registry.unsubscribe(c.session, from: name, kind)
                confirm(c, verb, name, kind)
            }
        }
        // Unsubscribing from everything while subscribed to nothing still confirms.
        if names.isEmpty { confirm(c, verb, nil, kind) }
    }

    static func publish(_ c: CommandContext, shard: Bool) {
        c.reply.integer(c.server.pubsub.publish(c.args[1], c.args[2], shard: shard))
    }

    static func channels(_ c: CommandContext, shard: Bool) {
        guard c.args.count <= 3 else { return c.error(bytes: RedisError.subcommandSyntax(c.args)) }
        let names = c.server.pubsub.channelNames(matching: c.args.count == 3 ? c.args[2] : nil, shard: shard)
        c.reply.arrayHeader(names.count)
        for name in names { c.reply.bulk(name) }
    }

    static func subscriberCounts(_ c: CommandContext, shard: Bool) {
        c.reply.arrayHeader((c.args.count - 2) * 2)
        for index in 2..<c.args.count {
            c.reply.bulk(c.args[index])
            c.reply.integer(c.server.pubsub.subscriberCount(c.args[index], shard: shard))
        }
    }
}
