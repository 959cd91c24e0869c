// LATENCY: the latency monitor's samples (LATEST, HISTORY, RESET, GRAPH, DOCTOR; see
// LatencyMonitor) and the per-command latency histograms (HISTOGRAM), in Redis 7.0's reply
// shapes. HISTOGRAM reports, for each command with recorded calls, its call count and the
// cumulative count of calls at or under each of HdrHistogram's power-of-two reporting levels
// from 1 µs, as Redis prints them from its own histograms.
#if canImport(Glibc)
import Glibc
#endif
import Support

extension ServerFamily {
    private static func latencySub(_ name: String, arity: Int, summary: String, arguments: [CommandArgument] = [],
                                   handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: arity, flags: [.admin, .noscript, .loading, .stale],
                    tips: name == "reset" ? ["request_policy:all_nodes", "response_policy:all_succeeded"]
                        : ["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
                    group: .server, since: name == "histogram" ? "7.0.0" : "2.8.13", summary: summary,
                    complexity: name == "histogram" ? "O(N) for N commands reported" : "O(1)",
                    arguments: arguments, handler: handler)
    }

    static let latencySpec = CommandSpec("latency", arity: -2, flags: [], group: .server, since: "2.8.13",
                                         summary: "Latency diagnostics.", complexity: "Depends on subcommand.",
                                         subcommands: [
        latencySub("doctor", arity: 2, summary: "A readable report of the latency samples.", handler: latencyDoctor),
        latencySub("graph", arity: 3, summary: "An ASCII graph of one kind of event's samples.",
                   arguments: [CommandArgument("event", .string)], handler: latencyGraph),
        CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .server, since: "2.8.13",
                    summary: "Explain the subcommands.", complexity: "O(1)",
                    handler: { HelpText.reply($0, command: "LATENCY", lines: latencyHelp) }),
        latencySub("histogram", arity: -2, summary: "Cumulative latency distributions of commands.",
                   arguments: [CommandArgument("command", .string, flags: [.optional, .multiple])], handler: latencyHistogram),
        latencySub("history", arity: 3, summary: "The samples of one kind of event.",
                   arguments: [CommandArgument("event", .string)], handler: latencyHistory),
        latencySub("latest", arity: 2, summary: "The latest sample of every kind of event.", handler: latencyLatest),
        latencySub("reset", arity: -2, summary: "Forget the samples of some or all kinds of events.",
                   arguments: [CommandArgument("event", .string, flags: [.optional, .multiple])], handler: latencyReset),
    ], handler: nil)

    // DIVERGENCE: our own wording, in Redis's help layout.
    static let latencyHelp = [
        "DOCTOR",
        "    Return a readable report of the latency samples.",
        "GRAPH <event>",
        "    Return an ASCII graph of the samples of <event>.",
        "HISTORY <event>",
        "    Return the time and latency of every sample of <event>.",
        "LATEST",
        "    Return the latest sample of every kind of event.",
        "RESET [<event> ...]",
        "    Forget the samples of the given kinds of events (default: all of them).",
        "HISTOGRAM [<command> ...]",
        "    Return the cumulative latency distribution of the given commands (default: all",
        "    commands with recorded calls).",
    ]

    static func latencyLatest(_ c: CommandContext) {
        let all = c.server.latencyMonitor.all
        c.reply.arrayHeader(all.count)
        for (kind, series) in all {
            c.reply.arrayHeader(4)
            c.reply.bulk(kind)
            c.reply.integer(series.latest?.time ?? 0)
            c.reply.integer(series.latest?.milliseconds ?? 0)
            c.reply.integer(series.highest)
        }
    }

    static func latencyHistory(_ c: CommandContext) {
        let samples = c.server.latencyMonitor.series(of: c.string(2))?.chronological ?? []
        c.reply.arrayHeader(samples.count)
        for sample in samples {
            c.reply.arrayHeader(2)
            c.reply.integer(sample.time)
            c.reply.integer(sample.milliseconds)
        }
    }

    static func latencyReset(_ c: CommandContext) {
        let kinds = c.args.count > 2 ? (2..<c.args.count).map { c.string($0) } : nil
        c.reply.integer(c.server.latencyMonitor.reset(kinds))
    }

    // DIVERGENCE: our own graph layout: one row per sample, oldest first, with a bar scaled to
    // the series' highest sample (Redis draws a sparkline across).
    static func latencyGraph(_ c: CommandContext) {
        let kind = c.string(2)
        guard let series = c.server.latencyMonitor.series(of: kind) else {
            return c.error("ERR No samples available for event '\(kind)'")
        }
        let samples = series.chronological
        let high = samples.map(\.milliseconds).max() ?? 0, low = samples.map(\.milliseconds).min() ?? 0
        var text = "\(kind) - high \(high) ms, low \(low) ms (all time high \(series.highest) ms)\n"
        text += String(repeating: "-", count: 80) + "\n"
        let now = Glibc.time(nil)
        for sample in samples {
            let width = high > 0 ? max(1, sample.milliseconds * 50 / high) : 1
            let age = "\(now - sample.time)s ago"
            text += age + String(repeating: " ", count: max(1, 12 - age.count)) + String(repeating: "#", count: width)
                + " \(sample.milliseconds) ms\n"
        }
        c.reply.verbatim(text)
    }

    // DIVERGENCE: our own report: what is sampled, then per kind of event the number of
    // samples, their average, the highest and the latest (Redis writes advice in prose).
    static func latencyDoctor(_ c: CommandContext) {
        let threshold = c.server.config.latencyMonitorThreshold
        let all = c.server.latencyMonitor.all
        var text = threshold > 0
            ? "The latency monitor keeps events of at least \(threshold) ms (latency-monitor-threshold).\n"
            : "The latency monitor is off (latency-monitor-threshold is 0).\n"
        if all.isEmpty { text += "No latency sample has been recorded.\n" }
        for (kind, series) in all {
            let samples = series.chronological
            let average = samples.isEmpty ? 0 : samples.map(\.milliseconds).reduce(0, +) / samples.count
            text += "\(kind): \(samples.count) samples, average \(average) ms, highest \(series.highest) ms"
            if let latest = series.latest { text += ", latest \(latest.milliseconds) ms at \(latest.time)" }
            text += ".\n"
        }
        c.reply.verbatim(text)
    }

    static func latencyHistogram(_ c: CommandContext) {
        var specs: [CommandSpec] = []
        if c.args.count == 2 {
            specs = c.server.table.all
        } else {
            for index in 2..<c.args.count {
                guard let spec = CommandIntrospection.resolve(c, c.string(index)) else { continue }
                specs.append(spec)
                specs += spec.subcommands
            }
        }
        let histograms = c.server.workerStats.map(\.latency)
        let reported = specs.compactMap { spec in
            LatencyHistograms.merged(slot: spec.statsIndex, in: histograms).map { (spec.fullName, $0) }
        }
        c.reply.mapHeader(reported.count)
        for (name, histogram) in reported {
            c.reply.bulk(name)
            c.reply.mapHeader(2)
            c.reply.bulk("calls")
            c.reply.integer(Int(histogram.total))
            c.reply.bulk("histogram_usec")
            let levels = reportingLevels(histogram)
            c.reply.mapHeader(levels.count)
            for (microseconds, count) in levels {
                c.reply.integer(microseconds)
                c.reply.integer(Int(count))
            }
        }
    }

    /// HdrHistogram's logarithmic iteration as Redis runs it (first level 1024 ns, doubling;
    /// 2 significant digits): each level reports the highest value equivalent to it, in whole
    /// microseconds, with the calls at or under it, where that count grew.
    private static func reportingLevels(_ histogram: LatencyHistograms.Merged) -> [(Int, UInt64)] {
        let ticksPerNanosecond = Clock.ticksPerMillisecond / 1_000_000
        var levels: [(Int, UInt64)] = []
        var previous: UInt64 = 0
        for doubling in 0..<40 {
            let highestEquivalent = (1024 << doubling) + (8 << doubling) - 1
            let count = histogram.count(upTo: UInt64(Double(highestEquivalent) * ticksPerNanosecond))
            if count > previous { levels.append((highestEquivalent / 1000, count)) }
            previous = count
            if count >= histogram.total { break }
        }
        return levels
    }
}
