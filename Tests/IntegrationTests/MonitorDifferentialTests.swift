// MONITOR against a real redis-server: one connection monitors while another runs a script of
// commands, and the lines the monitor receives must be the same on both servers once the
// time and the client's address are masked (scripts' own calls show `lua`, which is kept).
// The script covers quoting of binary arguments, databases, scripts and functions, MULTI/EXEC
// (queued commands show when EXEC runs them), redacted passwords, a blocking command, and
// what is never shown: admin commands, unknown commands, arity errors. With 4 worker threads
// the monitor and the client usually sit on different workers. Also: RESET and MONITOR
// inside EXEC, replies compared byte for byte.
import Foundation
import Testing
import TestSupport

private let monitoredScript: [[String]] = [
    ["SET", "foo", "bar"], ["GET", "foo"],
    ["SET", "quoted", "a\"b\\c\nd\re\tf\u{07}\u{08}\u{01}~ end"], ["APPEND", "quoted", "\u{7f}"],
    ["SELECT", "3"], ["INCR", "counter"], ["SELECT", "0"],
    ["EVAL", "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])", "1", "ek", "ev"],
    ["SCRIPT", "LOAD", "return redis.call('incr', 'loaded')"],
    ["EVALSHA", "0000000000000000000000000000000000000000", "0"],
    ["FUNCTION", "LOAD", "REPLACE", "#!lua name=monitorlib\nredis.register_function('mset2', function(keys, args) return redis.call('mset', keys[1], args[1], keys[2], args[2]) end)"],
    ["FCALL", "mset2", "2", "x", "y", "1", "2"],
    ["MULTI"], ["SET", "in", "multi"], ["INCR", "in"], ["EXEC"],
    ["MULTI"], ["NOSUCHCOMMAND"], ["EXEC"],
    ["AUTH", "secret"], ["AUTH", "user", "secret"], ["AUTH", "a", "b", "c"],
    ["HELLO", "2", "AUTH", "default", "secret"], ["HELLO", "9", "AUTH", "default", "secret"],
    ["CONFIG", "GET", "maxmemory"], ["CLIENT", "SETNAME", "shown"], ["CLIENT", "LIST", "ID", "0"], ["DEBUG", "SLEEP", "0"],
    ["NOSUCHCOMMAND", "x"], ["GET"], ["BLPOP", "emptylist", "0.01"], ["PING"],
]

/// The monitor's lines for `monitoredScript` on the server at `port`, time and address masked.
private func monitorLines(port: Int) throws -> [String] {
    let setup = try RespClient(port: port)
    _ = try setup.call("FLUSHALL")
    _ = try setup.call("SCRIPT", "FLUSH")
    _ = try setup.call("FUNCTION", "FLUSH")
    let monitor = try RespClient(port: port)
    #expect(try monitor.call("MONITOR") == .simple("OK"))
    let client = try RespClient(port: port)
    for command in monitoredScript { _ = try client.call(command) }
    _ = try client.call("ECHO", "end-of-script")
    var lines: [String] = []
    while true {
        let (value, raw) = try monitor.readReply()
        guard case .simple(let line) = value else {
            Issue.record("the monitor received \(String(decoding: raw, as: UTF8.self))")
            return lines
        }
        if line.hasSuffix("\"end-of-script\"") { return lines }
        lines.append(masked(line))
    }
}

/// A monitor line with its time and client address replaced (`lua` is kept).
private func masked(_ line: String) -> String {
    guard let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]") else { return line }
    let inside = line[line.index(after: open)..<close].split(separator: " ")
    let client = inside.count == 2 && inside[1] == "lua" ? "lua" : "client"
    let time = line[..<open].trimmingCharacters(in: .whitespaces)
    let timeShape = time.split(separator: ".").map(\.count)
    let shape = timeShape.count == 2 && timeShape[1] == 6 ? "TIME" : "BAD-TIME(\(time))"
    return "\(shape) [\(inside.first ?? "") \(client)]" + line[line.index(after: close)...]
}

@Test(arguments: [1, 4])
func monitorShowsWhatRedisShows(threads: Int) throws {
    try expectTranscriptsMatchRedis("MONITOR, \(threads) threads", swiftletArguments: ["--server-threads", String(threads)]) {
        try monitorLines(port: $0.port)
    }
}

/// RESET ends monitoring, CLIENT LIST flags a monitor with O, EXEC refuses MONITOR, and a
/// monitor asking again gets no reply at all (its next reply is the next command's).
private func monitorLifecycle(port: Int) throws -> [String] {
    let monitor = try RespClient(port: port)
    let other = try RespClient(port: port)
    var replies: [String] = []
    func record(_ raw: [UInt8]) { replies.append(String(decoding: raw, as: UTF8.self)) }
    record(try monitor.rawCall(["MONITOR"]))
    try monitor.send(["MONITOR"])
    if case .bulk(let listing?) = try other.call("CLIENT", "LIST") {
        replies.append(String(decoding: listing, as: UTF8.self).contains("flags=O ") ? "monitor flagged" : "no O flag")
    }
    _ = try other.call("SET", "seen", "1")
    // The second MONITOR got no reply, so the monitor reads the SET line next.
    let (line, _) = try monitor.readReply()
    if case .simple(let text) = line { replies.append(masked(text)) }
    record(try monitor.rawCall(["RESET"]))
    _ = try other.call("SET", "unseen", "1")
    record(try monitor.rawCall(["PING"]))
    _ = try other.call("MULTI")
    _ = try other.call("MONITOR")
    record(try other.rawCall(["EXEC"]))
    return replies
}

@Test func monitorLifecycleMatchesRedis() throws {
    let ours = try expectTranscriptsMatchRedis("MONITOR lifecycle", swiftletArguments: ["--server-threads", "2"]) {
        try monitorLifecycle(port: $0.port)
    }
    #expect(ours.contains("monitor flagged"))
}
