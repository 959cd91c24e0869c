// LATENCY against a real redis-server: the latency monitor's replies (LATEST, HISTORY, RESET,
// GRAPH's error) after DEBUG SLEEPs over and under latency-monitor-threshold, with sample
// times and latencies masked, and LATENCY HISTOGRAM's shape: the same commands (subcommands included, names
// that are not commands skipped) with the same call counts, each with cumulative counts that
// grow at increasing microsecond levels and end at its call count.
import Foundation
import Testing
import TestSupport

/// A reply with every integer that looks like a Unix time (after 2020) masked, and every
/// latency (the sleeps here take at least 60 ms, more on a loaded machine) shown as MS.
private func maskingTimes(_ value: RespValue) -> String {
    switch value {
    case .integer(let number) where number > 1_577_836_800: return ":TIME"
    case .integer(let number) where number >= 60: return ":MS"
    case .array(let items?): return "[" + items.map(maskingTimes).joined(separator: ", ") + "]"
    default: return value.description
    }
}

private func monitorTranscript(port: Int) throws -> [String] {
    let client = try RespClient(port: port)
    var transcript: [String] = []
    func run(_ args: String...) throws { transcript.append(maskingTimes(try client.call(args))) }
    try run("LATENCY", "RESET")
    try run("LATENCY", "LATEST")
    try run("DEBUG", "SLEEP", "0.06")
    try run("LATENCY", "LATEST")
    try run("CONFIG", "SET", "latency-monitor-threshold", "40")
    try run("DEBUG", "SLEEP", "0")
    try run("LATENCY", "LATEST")
    try run("DEBUG", "SLEEP", "0.06")
    try run("LATENCY", "HISTORY", "command")
    try run("LATENCY", "HISTORY", "fast-command")
    try run("LATENCY", "GRAPH", "nosuch")
    try run("LATENCY", "RESET", "command", "nosuch", "command")
    try run("LATENCY", "LATEST")
    try run("LATENCY", "HISTORY")
    try run("LATENCY", "NOSUCH")
    try run("CONFIG", "SET", "latency-monitor-threshold", "0")
    return transcript
}

@Test func latencyMonitorMatchesRedis() throws {
    try expectTranscriptsMatchRedis("LATENCY monitor", swiftletArguments: ["--server-threads", "2"]) {
        try monitorTranscript(port: $0.port)
    }
}

/// Command name and call count per entry of LATENCY HISTOGRAM `names`, checking on the way
/// that each distribution is cumulative and ends at the call count.
private func histogramSummary(_ client: RespClient, _ names: [String]) throws -> [String] {
    guard case .array(let flat?) = try client.call(["LATENCY", "HISTOGRAM"] + names) else { return ["not an array"] }
    var summary: [String] = []
    for pair in stride(from: 0, to: flat.count - 1, by: 2) {
        guard case .bulk(let name?) = flat[pair], case .array(let fields?) = flat[pair + 1], fields.count == 4,
              case .integer(let calls) = fields[1], case .array(let levels?) = fields[3] else {
            summary.append("malformed entry \(flat[pair])")
            continue
        }
        var previous: (level: Int64, count: Int64) = (0, 0)
        for index in stride(from: 0, to: levels.count - 1, by: 2) {
            guard case .integer(let level) = levels[index], case .integer(let count) = levels[index + 1],
                  level > previous.level, count > previous.count else {
                summary.append("levels not increasing for \(String(decoding: name, as: UTF8.self))")
                break
            }
            previous = (level, count)
        }
        if previous.count != calls { summary.append("last level \(previous.count) of \(calls) calls") }
        summary.append("\(String(decoding: name, as: UTF8.self)) \(calls)")
    }
    return summary.sorted()
}

private func histogramTranscript(port: Int) throws -> [String] {
    let client = try RespClient(port: port)
    _ = try client.call("CONFIG", "RESETSTAT")
    for index in 0..<25 { _ = try client.call("SET", "k\(index)", "v") }
    for _ in 0..<7 { _ = try client.call("GET", "k1") }
    _ = try client.call("CONFIG", "GET", "maxmemory")
    return try [["set", "get", "nosuch", "config"], ["config|get"], ["incr"]].flatMap { names in
        ["LATENCY HISTOGRAM " + names.joined(separator: " ")] + (try histogramSummary(client, names))
    }
}

@Test func latencyHistogramMatchesRedis() throws {
    let ours = try expectTranscriptsMatchRedis("LATENCY HISTOGRAM", swiftletArguments: ["--server-threads", "2"]) {
        try histogramTranscript(port: $0.port)
    }
    #expect(ours.contains("set 25"))
}
