// The client-side caching subcommands of CLIENT: TRACKING (default, BCAST with prefixes,
// OPTIN/OPTOUT, NOLOOP, REDIRECT), CACHING, GETREDIR and TRACKINGINFO, with Redis's checks
// and error texts. The table of tracked keys and the invalidations live in `ClientTracking`.
import Support

extension ConnectionFamily {
    static let trackingSubcommands: [CommandSpec] = [
        clientSub("tracking", arity: -3, since: "6.0.0", summary: "Turn client-side caching invalidations on or off.",
                  arguments: [
                    CommandArgument("status", .oneof, [.token("ON"), .token("OFF")]),
                    CommandArgument("client-id", .integer, token: "REDIRECT", flags: .optional),
                    CommandArgument("prefix", .string, token: "PREFIX", flags: [.optional, .multiple, .multipleToken]),
                    CommandArgument("BCAST", .pureToken, token: "BCAST", flags: .optional),
                    CommandArgument("OPTIN", .pureToken, token: "OPTIN", flags: .optional),
                    CommandArgument("OPTOUT", .pureToken, token: "OPTOUT", flags: .optional),
                    CommandArgument("NOLOOP", .pureToken, token: "NOLOOP", flags: .optional)],
                  handler: tracking),
        clientSub("caching", arity: 3, since: "6.0.0", summary: "Say whether the next command's keys are to be tracked.",
                  arguments: [CommandArgument("mode", .oneof, [.token("YES"), .token("NO")])], handler: caching),
        clientSub("getredir", arity: 2, since: "6.0.0", summary: "The id invalidations are redirected to.",
                  handler: getRedirect),
        clientSub("trackinginfo", arity: 2, since: "6.2.0", summary: "Describe this connection's tracking mode.",
                  handler: trackingInfo),
    ]

    // DIVERGENCE: our own wording, in Redis's help layout.
    static let trackingHelp = [
        "CACHING (YES|NO)",
        "    In OPTIN mode, track the keys of the next command (YES); in OPTOUT mode, do not (NO).",
        "GETREDIR",
        "    Return the id of the connection invalidations are redirected to, 0 for none,",
        "    -1 when tracking is off.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Turn invalidation messages for client-side caching on or off:",
        "    * REDIRECT <id>: send them to connection <id> instead.",
        "    * BCAST: announce every change of keys starting with the given prefixes",
        "      (all keys without PREFIX), whether read or not.",
        "    * OPTIN: track only the keys of commands after CLIENT CACHING YES.",
        "    * OPTOUT: track every key but those of commands after CLIENT CACHING NO.",
        "    * NOLOOP: leave out the keys this connection changed itself.",
        "TRACKINGINFO",
        "    Describe this connection's tracking mode.",
    ]

    static func tracking(_ c: CommandContext) {
        var redirect: Int64 = 0
        var options: TrackingFlags = []
        var prefixes: [[UInt8]] = []
        var j = 3
        while j < c.args.count {
            let hasValue = j + 1 < c.args.count
            if c.args.equals(j, "redirect") && hasValue {
                j += 1
                if redirect != 0 { return c.error("ERR A client can only redirect to a single other client") }
                guard let id = c.integer(j) else { return }
                redirect = id
                guard c.server.tracking.clientExists(Int(id)) else {
                    return c.error("ERR The client ID you want redirect to does not exist")
                }
            } else if c.args.equals(j, "bcast") {
                options.insert(.bcast)
            } else if c.args.equals(j, "optin") {
                options.insert(.optin)
            } else if c.args.equals(j, "optout") {
                options.insert(.optout)
            } else if c.args.equals(j, "noloop") {
                options.insert(.noloop)
            } else if c.args.equals(j, "prefix") && hasValue {
                j += 1
                prefixes.append(Array(c.args[j]))
            } else {
                return c.error(RedisError.syntax)
            }
            j += 1
        }
        let session = c.session
        if c.args.equals(2, "on") {
            guard let message = trackingConflict(session.trackingFlags, options, hasPrefixes: !prefixes.isEmpty) else {
                if options.contains(.bcast), let collision = c.server.tracking.prefixCollision(for: session, prefixes) {
                    return c.error(bytes: collision)
                }
                c.server.tracking.enable(session, redirect: Int(redirect), flags: options, prefixes: prefixes)
                return c.reply.ok()
            }
            c.error(message)
        } else if c.args.equals(2, "off") {
            c.server.tracking.disable(session)
            c.reply.ok()
        } else {
            c.error(RedisError.syntax)
        }
    }

    /// Redis's objection to turning tracking on with `options` given the `current` mode.
    private static func trackingConflict(_ current: TrackingFlags, _ options: TrackingFlags, hasPrefixes: Bool) -> String? {
        if !options.contains(.bcast) && hasPrefixes { return "ERR PREFIX option requires BCAST mode to be enabled" }
        if current.contains(.on) && current.contains(.bcast) != options.contains(.bcast) {
            return "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."
        }
        if options.contains(.bcast) && !options.isDisjoint(with: [.optin, .optout]) {
            return "ERR OPTIN and OPTOUT are not compatible with BCAST"
        }
        if options.isSuperset(of: [.optin, .optout]) { return "ERR You can't specify both OPTIN mode and OPTOUT mode" }
        if (options.contains(.optin) && current.contains(.optout)) || (options.contains(.optout) && current.contains(.optin)) {
            return "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."
        }
        return nil
    }

    static func caching(_ c: CommandContext) {
        let flags = c.session.trackingFlags
        guard flags.contains(.on) else {
            return c.error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
        }
        if c.args.equals(2, "yes") {
            guard flags.contains(.optin) else {
                return c.error("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
            }
        } else if c.args.equals(2, "no") {
            guard flags.contains(.optout) else {
                return c.error("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
            }
        } else {
            return c.error(RedisError.syntax)
        }
        c.session.trackingFlags.insert(.caching)
        c.reply.ok()
    }

    static func getRedirect(_ c: CommandContext) {
        c.reply.integer(c.server.tracking.state(of: c.session).shownRedirect)
    }

    static func trackingInfo(_ c: CommandContext) {
        let state = c.server.tracking.state(of: c.session)
        let flags = c.session.trackingFlags
        var names = [flags.contains(.on) ? "on" : "off"]
        if flags.contains(.bcast) { names.append("bcast") }
        if flags.contains(.optin) { names += flags.contains(.caching) ? ["optin", "caching-yes"] : ["optin"] }
        if flags.contains(.optout) { names += flags.contains(.caching) ? ["optout", "caching-no"] : ["optout"] }
        if flags.contains(.noloop) { names.append("noloop") }
        if state.brokenRedirect { names.append("broken_redirect") }
        c.reply.mapHeader(3)
        c.reply.bulk("flags")
        c.reply.setHeader(names.count)
        for name in names { c.reply.bulk(name) }
        c.reply.bulk("redirect")
        c.reply.integer(state.shownRedirect)
        c.reply.bulk("prefixes")
        c.reply.arrayHeader(state.prefixes.count)
        for prefix in state.prefixes { c.reply.bulk(prefix) }
    }
}

extension TrackingState {
    /// CLIENT LIST's tracking flags: t (tracking), R (broken redirect), B (BCAST).
    var listFlags: String {
        guard flags.contains(.on) else { return "" }
        return "t" + (brokenRedirect ? "R" : "") + (flags.contains(.bcast) ? "B" : "")
    }

    /// The redirect id as CLIENT GETREDIR, TRACKINGINFO and LIST show it: -1 when not tracking.
    var shownRedirect: Int { flags.contains(.on) ? redirect : -1 }
}
