// SLOWLOG against a real redis-server: with every command logged (slowlog-log-slower-than
// 0), the same commands leave the same entries on both servers once ids, times, durations
// and client addresses are masked (a script's calls keep Redis's `?:0`). Covered: client
// names, long and many arguments trimmed, redacted passwords, scripts, MULTI/EXEC (EXEC is
// not logged, its commands are), a blocking command logged once served and not when it
// times out, SLOWLOG GET's count and its errors, and trimming to slowlog-max-len.
import Foundation
import Testing
import TestSupport

/// An entry's arguments, client (address masked) and name, one line per entry.
private func maskedEntries(_ reply: RespValue) -> [String] {
    guard case .array(let entries?) = reply else { return ["not an array: \(reply)"] }
    return entries.map { entry in
        guard case .array(let fields?) = entry, fields.count == 6, case .integer = fields[0], case .integer = fields[1],
              case .integer = fields[2], case .array(let arguments?) = fields[3], case .bulk(let peer?) = fields[4],
              case .bulk(let name?) = fields[5] else { return "malformed: \(entry)" }
        let peerText = String(decoding: peer, as: UTF8.self)
        return arguments.map(\.description).joined(separator: " ") + " | " + (peerText == "?:0" ? peerText : "client")
            + " | " + String(decoding: name, as: UTF8.self)
    }
}

private func slowlogTranscript(port: Int) throws -> [String] {
    let client = try RespClient(port: port)
    let pusher = try RespClient(port: port)
    var transcript: [String] = []
    func run(_ args: [String]) throws { transcript.append(try client.call(args).description) }
    try run(["FLUSHALL"])
    try run(["CONFIG", "SET", "slowlog-log-slower-than", "0"])
    try run(["CONFIG", "SET", "slowlog-max-len", "128"])
    try run(["SLOWLOG", "RESET"])
    try run(["CLIENT", "SETNAME", "logged"])
    try run(["SET", "k", String(repeating: "v", count: 200)])
    try run(["SADD", "s"] + (1...40).map(String.init))
    try run(["EVAL", "redis.call('set', KEYS[1], 'x') return redis.call('get', KEYS[1])", "1", "scripted"])
    try run(["MULTI"])
    try run(["INCR", "n"])
    try run(["EXEC"])
    try run(["AUTH", "secret"])
    try run(["CONFIG", "SET", "requirepass", "", "maxmemory-samples", "5"])
    try run(["BLPOP", "empty", "0.01"])
    try client.send(["BLPOP", "served", "0"])
    _ = try pusher.call("LPUSH", "served", "item")
    transcript.append(try client.readReply().value.description)
    try run(["SLOWLOG", "GET", "-2"])
    try run(["SLOWLOG", "GET", "x"])
    try run(["SLOWLOG", "GET", "1", "2"])
    try run(["SLOWLOG", "LEN", "extra"])
    try run(["SLOWLOG", "LEN"])
    transcript += maskedEntries(try client.call("SLOWLOG", "GET", "-1"))
    transcript += maskedEntries(try client.call("SLOWLOG", "GET", "2"))
    try run(["CONFIG", "SET", "slowlog-max-len", "3"])
    for key in ["a", "b", "c", "d"] { try run(["GET", key]) }
    transcript += maskedEntries(try client.call("SLOWLOG", "GET"))
    try run(["SLOWLOG", "GET", "0"])
    try run(["CONFIG", "SET", "slowlog-log-slower-than", "-1"])
    try run(["SLOWLOG", "RESET"])
    try run(["GET", "a"])
    try run(["SLOWLOG", "LEN"])
    return transcript
}

@Test func slowlogMatchesRedis() throws {
    // One worker: a served BLPOP is logged after the LPUSH that served it, which with more
    // threads can race with the LPUSH's own entry.
    try expectTranscriptsMatchRedis("SLOWLOG", swiftletArguments: ["--server-threads", "1"]) {
        try slowlogTranscript(port: $0.port)
    }
}
