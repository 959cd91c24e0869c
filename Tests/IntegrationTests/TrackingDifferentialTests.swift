// Differential tests of client-side caching: scripts drive several named connections (a
// tracking client, a redirect client, a writer...) against swiftlet-server and a real
// redis-server, and everything each connection receives after each step (replies, RESP3
// invalidation pushes, RESP2 `__redis__:invalidate` messages) must be byte-identical. After
// every step each connection is sent a CLIENT GETNAME marker (its name is set on connect) and
// read up to the marker's reply, so pushes are compared in the order they arrive.
import Foundation
import Testing
import TestSupport

/// One line of a multi-connection script: `name: command`, where `{other}` in the command
/// stands for connection `other`'s id and `!close` closes the connection.
struct ClientStep {
    let client: String
    let command: [String]
}

func clientScript(_ lines: String) -> [ClientStep] {
    lines.split(separator: "\n").compactMap { line in
        guard let colon = line.firstIndex(of: ":") else { return nil }
        let words = line[line.index(after: colon)...].split(separator: " ").map(String.init)
        return words.isEmpty ? nil : ClientStep(client: line[..<colon].trimmingCharacters(in: .whitespaces), command: words)
    }
}

/// Waits until the server on `port` no longer lists connection `clientID` (CLIENT LIST ID), so
/// a test sees a close take effect whatever the load on the machine.
func waitUntilDropped(clientID: Int, port: Int) throws {
    let observer = try RespClient(port: port)
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline {
        if case .bulk(let listing) = try observer.call("CLIENT", "LIST", "ID", String(clientID)), listing?.isEmpty ?? true { return }
        Thread.sleep(forTimeInterval: 0.01)
    }
    Issue.record("connection \(clientID) was still open on port \(port) after 10 s")
}

/// The named connections of one script run against one server.
private final class ScriptedClients {
    let port: Int
    private(set) var clients: [String: RespClient] = [:]
    private(set) var ids: [String: Int] = [:]

    init(port: Int) { self.port = port }

    func client(_ name: String) throws -> RespClient {
        if let client = clients[name] { return client }
        let client = try RespClient(port: port)
        _ = try client.call("CLIENT", "SETNAME", "marker-" + name)
        if case .integer(let id) = try client.call("CLIENT", "ID") { ids[name] = Int(id) }
        clients[name] = client
        return client
    }

    /// Closes `name` and waits until the server has dropped it.
    func close(_ name: String) throws {
        clients.removeValue(forKey: name)
        if let id = ids[name] { try waitUntilDropped(clientID: id, port: port) }
    }

    /// Reads what `name` received up to its marker's reply, ids replaced by `{name}`.
    func received(_ name: String, step: ClientStep) throws -> String {
        let client = try client(name)
        // RESET drops the name: give it back (and leave its +OK out).
        let renamed = name == step.client && step.command[0].lowercased() == "reset"
        if renamed { try client.send(["CLIENT", "SETNAME", "marker-" + name]) }
        try client.send(["CLIENT", "GETNAME"])
        var frames: [String] = []
        while true {
            let (value, raw) = try client.readReply()
            if value == .bulk(Array(("marker-" + name).utf8)) { break }
            if case .error(let message) = value, message.contains("'client|getname'") { break }
            frames.append(normalize(String(decoding: raw, as: UTF8.self), sender: name == step.client ? step : nil))
        }
        if renamed { frames.removeLast() }
        return name + ": " + frames.joined(separator: " | ")
    }

    private func normalize(_ frame: String, sender step: ClientStep?) -> String {
        let command = step?.command.prefix(2).joined(separator: " ").lowercased() ?? ""
        // HELLO's map carries the connection id.
        if command.hasPrefix("hello") && (frame.hasPrefix("%7") || frame.hasPrefix("*14")) { return "<hello>" }
        guard command == "client getredir" || command == "client trackinginfo" || frame.contains("tracking-redir-broken")
                || command == "client id" else { return frame }
        var text = frame
        for (name, id) in ids { text = text.replacingOccurrences(of: ":\(id)\r\n", with: ":{\(name)}\r\n") }
        return text
    }

    func run(_ step: ClientStep) throws -> [String] {
        if step.command == ["!close"] {
            try close(step.client)
            return []
        }
        var command: [String] = []
        for word in step.command {
            if word.hasPrefix("{") && word.hasSuffix("}") {
                let name = String(word.dropFirst().dropLast())
                _ = try client(name)
                command.append(String(ids[name] ?? 0))
            } else {
                command.append(word)
            }
        }
        try client(step.client).send(command)
        var transcript = [try received(step.client, step: step)]
        for name in clients.keys.sorted() where name != step.client {
            transcript.append(try received(name, step: step))
        }
        return transcript
    }
}

/// Runs each multi-connection script against a fresh swiftlet-server (`threads` workers) and a
/// real redis-server; returns how many steps were compared.
func expectClientScriptsMatchRedis(_ scripts: [(String, [ClientStep])], threads: Int,
                                   swiftletArguments: [String] = []) throws -> Int {
    let swiftlet = try ServerProcess.swiftlet(["--server-threads", String(threads)] + swiftletArguments)
    defer { swiftlet.stop() }
    let redis = try ServerProcess.redis()
    defer { redis.stop() }
    var compared = 0
    for (name, steps) in scripts {
        _ = try RespClient(port: swiftlet.port).call("FLUSHALL")
        _ = try RespClient(port: redis.port).call("FLUSHALL")
        let ours = ScriptedClients(port: swiftlet.port)
        let theirs = ScriptedClients(port: redis.port)
        for step in steps {
            let context = "[\(name), \(threads) threads] \(step.client): \(step.command.joined(separator: " "))"
            let got: [String], expected: [String]
            do {
                got = try ours.run(step)
                expected = try theirs.run(step)
            } catch {
                Issue.record("\(context): \(error)")
                throw error
            }
            #expect(got == expected, "\(context)")
            compared += 1
        }
    }
    return compared
}

let trackingScripts: [(String, [ClientStep])] = [
    ("resp3 default mode", clientScript("""
    a: hello 3
    a: client tracking on
    a: get k
    a: mget k1 k2 k
    b: set k 1
    b: set k 2
    a: get k
    b: mset k1 x k2 y
    a: set k mine
    a: get k
    a: incr k
    a: get k
    a: del k
    a: hget h f
    b: hset h f v
    a: smembers s
    b: sadd s m
    a: client tracking off
    a: get k
    b: set k 3
    """)),
    ("resp2 redirect through pub/sub", clientScript("""
    r: subscribe __redis__:invalidate
    a: client tracking on redirect {r}
    a: client getredir
    a: client trackinginfo
    a: get k
    b: set k 1
    a: get k
    a: set k 2
    a: get k
    b: flushall
    a: get x
    b: flushdb
    a: set y 1
    """)),
    ("a read inside a script remembers the script's declared keys", clientScript("""
    a: hello 3
    a: client tracking on
    a: eval redis.call('set','k3','bar') 2 k1 k2
    b: mset k2 1 k1 1
    a: eval redis.call('get','k3') 2 k1 k2
    b: mset k2 2 k1 2
    a: eval_ro redis.call('ping') 2 k1 k2
    b: mset k2 3 k1 3
    a: eval_ro redis.call('get','k1') 2 k1 k2
    b: mset k2 4 k1 4
    a: client tracking off
    a: client tracking on optin
    a: eval redis.call('get','k3') 1 k1
    b: set k1 5
    a: client caching yes
    a: eval redis.call('get','k3');return(redis.call('get','k2')) 1 k1
    b: mset k1 6 k2 6
    """)),
    ("resp2 redirect to an unsubscribed client", clientScript("""
    r: ping
    a: client tracking on redirect {r}
    a: get k
    b: set k 1
    """)),
    ("resp3 redirect and broken redirect", clientScript("""
    r: hello 3
    a: hello 3
    a: client tracking on redirect {r}
    a: get k
    b: set k 1
    r: !close
    a: get k
    b: set k 2
    a: client trackinginfo
    a: client getredir
    """)),
    ("resp2 tracking without redirect", clientScript("""
    a: client tracking on
    a: get k
    b: set k 1
    a: set k 2
    a: client trackinginfo
    """)),
    ("bcast with prefixes", clientScript("""
    a: hello 3
    a: client tracking on bcast prefix user: prefix item:
    a: client trackinginfo
    b: set user:1 x
    b: set other 1
    b: mset item:2 a item:1 b user:3 c nope d
    a: set user:9 mine
    a: client tracking on bcast prefix user:x
    a: client tracking on bcast prefix order:
    a: client trackinginfo
    b: set order:1 x
    a: client tracking off
    b: set user:1 y
    c: hello 3
    c: client tracking on bcast
    b: set anything 1
    c: set own 1
    """)),
    ("noloop", clientScript("""
    a: hello 3
    a: client tracking on noloop
    a: get k
    a: set k 1
    a: get k
    b: set k 2
    c: hello 3
    c: client tracking on bcast noloop
    c: set k 3
    b: set k 4
    c: mset k 5 j 6
    """)),
    ("optin and optout", clientScript("""
    a: hello 3
    a: client tracking on optin
    a: get k
    b: set k 1
    a: client caching yes
    a: client trackinginfo
    a: get k
    a: get j
    b: set k 2
    b: set j 2
    a: client caching no
    a: client tracking off
    a: client tracking on optout
    a: client trackinginfo
    a: client caching no
    a: get k
    b: set k 3
    a: get k
    b: set k 4
    a: client caching yes
    a: client tracking on optin
    a: client tracking off
    a: client tracking on optin
    a: client caching yes
    a: client tracking on optin
    a: get q
    b: set q 1
    """)),
    ("mixed protocols and switching to RESP3", clientScript("""
    r: subscribe __redis__:invalidate
    a: client tracking on redirect {r}
    a: get k
    c: hello 3
    c: client tracking on
    c: get k
    b: set k 1
    a: get k
    a: hello 3
    b: set k 2
    a: client tracking on
    a: get k
    b: set k 3
    r: unsubscribe
    a: client tracking on redirect {r}
    a: get k
    b: set k 4
    """)),
    ("own writes of every type after the reply", clientScript("""
    a: hello 3
    a: client tracking on
    a: hgetall h
    a: hset h f v g w
    a: hgetall h
    a: hdel h f
    a: lrange l 0 -1
    a: rpush l x y
    a: lrange l 0 -1
    b: lpop l
    a: zrange z 0 -1
    b: zadd z 1 m
    a: exists e1 e2
    b: mset e1 1 e2 2
    a: type t
    a: set t 1 px 1
    b: debug sleep 0.05
    a: get t
    a: strlen big
    b: append big more
    a: getrange big 0 1
    b: expire big 100
    a: ttl big
    b: persist big
    a: get big
    b: rename big moved
    a: get moved
    b: copy moved big
    b: unlink moved
    """)),
    ("errors", clientScript("""
    a: client tracking
    a: client tracking maybe
    a: client tracking on bogus
    a: client tracking on prefix
    a: client tracking on prefix p
    a: client tracking on bcast optin
    a: client tracking on optin optout
    a: client tracking on redirect 0
    a: client tracking on redirect -1
    a: client tracking on redirect abc
    a: client tracking on redirect 999999
    a: client tracking on redirect {b} redirect {b}
    a: client tracking on bcast prefix a prefix ab
    a: client tracking on bcast prefix ab prefix a
    a: client caching yes
    a: client caching maybe
    a: client caching
    a: client getredir x
    a: client trackinginfo x
    a: client tracking on
    a: client tracking on bcast
    a: client caching yes
    a: client caching no
    a: client caching maybe
    a: client tracking on optin
    a: client tracking off
    a: client tracking on optin
    a: client tracking on optout
    a: client tracking off
    a: client tracking off
    a: client getredir
    a: client trackinginfo
    """)),
    ("flush and reset", clientScript("""
    a: hello 3
    a: client tracking on
    a: get k
    b: flushall
    a: get k
    a: flushdb
    a: get k
    a: reset
    a: client trackinginfo
    b: set k 1
    """)),
]

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct TrackingDifferentialTests {
    @Test(arguments: [1, 4])
    func trackingScriptsMatchRedis(threads: Int) throws {
        #expect(try expectClientScriptsMatchRedis(trackingScripts, threads: threads) > 180)
    }

    /// Past tracking-table-max-keys the table forgets keys, telling their readers.
    @Test func tableLimitInvalidates() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "2"])
        defer { server.stop() }
        let a = try RespClient(port: server.port)
        _ = try a.call("HELLO", "3")
        _ = try a.call("CLIENT", "TRACKING", "ON")
        _ = try a.call("CONFIG", "SET", "tracking-table-max-keys", "1")
        _ = try a.call("GET", "k1")
        #expect(try a.call("GET", "k2") == .other("_", [], ""))
        let push = try a.readReply().value
        #expect(push == .other(">", [.bulk(Array("invalidate".utf8)), .array([.bulk(Array("k1".utf8))])], "")
                || push == .other(">", [.bulk(Array("invalidate".utf8)), .array([.bulk(Array("k2".utf8))])], ""))
        #expect(try a.call("INFO", "stats").text?.contains("tracking_total_keys:1\r\n") == true)
        #expect(try a.call("CONFIG", "GET", "tracking-table-max-keys")
                == .other("%", [.bulk(Array("tracking-table-max-keys".utf8)), .bulk(Array("1".utf8))], ""))
    }

    /// INFO's tracking counters, and CLIENT LIST's flags and redirect, follow the clients.
    @Test func infoAndClientList() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        let redirect = try RespClient(port: server.port)
        guard case .integer(let redirectID) = try redirect.call("CLIENT", "ID") else { return #expect(Bool(false)) }
        let a = try RespClient(port: server.port)
        _ = try a.call("CLIENT", "TRACKING", "ON", "REDIRECT", String(redirectID))
        _ = try a.call("MGET", "x", "y")
        let b = try RespClient(port: server.port)
        _ = try b.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p", "PREFIX", "q")
        let info = try a.call("INFO").text ?? ""
        for line in ["tracking_clients:2", "tracking_total_keys:2", "tracking_total_items:2", "tracking_total_prefixes:2"] {
            #expect(info.contains(line + "\r\n"), "\(line)")
        }
        #expect(try a.call("CLIENT", "INFO").text?.contains("flags=t db=") == true)
        #expect(try a.call("CLIENT", "INFO").text?.contains("redir=\(redirectID) ") == true)
        #expect(try b.call("CLIENT", "INFO").text?.contains("flags=tB ") == true)
        _ = try redirect.call("QUIT")
        try waitUntilDropped(clientID: Int(redirectID), port: server.port)
        _ = try b.call("SET", "x", "1")
        #expect(try a.call("CLIENT", "INFO").text?.contains("flags=tR ") == true)
        _ = try b.call("CLIENT", "TRACKING", "OFF")
        #expect(try b.call("CLIENT", "INFO").text?.contains("flags=N ") == true)
        #expect(try b.call("CLIENT", "INFO").text?.contains("redir=-1 ") == true)
        let after = try b.call("INFO").text ?? ""
        for line in ["tracking_clients:1", "tracking_total_keys:1", "tracking_total_items:1", "tracking_total_prefixes:0"] {
            #expect(after.contains(line + "\r\n"), "\(line)")
        }
    }
}

/// redis-py 5 (found as PubSubRedisPyTests finds it) drives client-side caching: RESP3
/// invalidation pushes through its parser, RESP2 ones through a PubSub redirect.
@Suite(.serialized, .enabled(if: RedisPy.available, "needs redis-py 5 (scripts/test creates .build/redis-py-venv)"))
struct TrackingRedisPyTests {
    @Test(arguments: [1, 4])
    func redisPyReceivesInvalidations(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let script = RedisPy.packageRoot.appendingPathComponent("Tests/IntegrationTests/Python/tracking_redis_py.py").path
        let result = try ChildProcess.run(RedisPy.interpreter!, [script, String(server.port)])
        #expect(result.status == 0 && result.output.hasSuffix("OK\n"), "\(result.output)")
    }
}
