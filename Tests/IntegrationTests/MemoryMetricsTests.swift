// The operator-facing memory and cache metrics on a live server: MEMORY USAGE grows with the
// value it measures, MEMORY STATS/DOCTOR/MALLOC-STATS/PURGE/HELP answer in their shapes, INFO latencystats lines appear per command (subcommands and blocking
// commands included), follow the percentile config, and vanish on CONFIG RESETSTAT or when
// tracking is off, and INFO cachestats counts hits and misses per key prefix exactly for a
// known mix of lookups spread over several workers. Idle clients give their buffer memory
// back, as Redis's client cron has them do, and cost little resident memory to begin with.
import Foundation
import Testing
import TestSupport

@Suite(.serialized)
struct MemoryMetricsTests {
    private func integer(_ value: RespValue) -> Int64 {
        if case .integer(let number) = value { return number }
        Issue.record("expected an integer, got \(value)")
        return 0
    }

    /// The `name:value` fields of an INFO section.
    private func fields(_ client: RespClient, _ section: String) throws -> [String: String] {
        let text = try client.call("INFO", section).text ?? ""
        var result: [String: String] = [:]
        for line in text.split(separator: "\r\n") where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            result[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return result
    }

    /// CLIENT LIST's query buffer (qbuf + qbuf-free) and reply buffer (rbs) of the client
    /// named `name`, as `observer` sees them.
    private func buffers(of name: String, _ observer: RespClient) throws -> (query: Int, reply: Int) {
        let listing = try observer.call("CLIENT", "LIST").text ?? ""
        guard let line = listing.split(separator: "\n").first(where: { $0.contains("name=\(name) ") }) else { return (-1, -1) }
        func field(_ key: String) -> Int {
            line.split(separator: " ").first { $0.hasPrefix(key + "=") }.flatMap { Int($0.dropFirst(key.count + 1)) } ?? -1
        }
        return (field("qbuf") + field("qbuf-free"), field("rbs"))
    }

    @Test func idleClientsGiveBufferMemoryBack() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "2"])
        defer { server.stop() }
        let observer = try RespClient(port: server.port)
        let idle = try RespClient(port: server.port)
        _ = try idle.call("CLIENT", "SETNAME", "idle")
        // A big command leaves a big query buffer; more small ones shrink it towards their
        // peak within about a second.
        _ = try idle.call("SET", "x", String(repeating: "A", count: 400_000))
        let afterBig = try buffers(of: "idle", observer).query
        #expect(afterBig > 32_768)
        var trimmed = afterBig
        let deadline = Date().addingTimeInterval(5)
        while trimmed >= afterBig && Date() < deadline {
            _ = try idle.call("SET", "x", "small")
            Thread.sleep(forTimeInterval: 0.05)
            trimmed = try buffers(of: "idle", observer).query
        }
        #expect(trimmed > 0 && trimmed < afterBig, "query buffer \(afterBig) then \(trimmed)")
        // Idle for more than 2 seconds after a read (which gives the buffer room for the next
        // one): the query buffer is released, and used_memory drops.
        _ = try idle.call("SET", "x", "small")
        #expect(try buffers(of: "idle", observer).query >= 16_384)
        let usedBefore = Int(try fields(observer, "memory")["used_memory"] ?? "") ?? 0
        Thread.sleep(forTimeInterval: 3.5)
        let (query, reply) = try buffers(of: "idle", observer)
        #expect(query == 0, "query buffer \(query) after 3.5 s idle")
        #expect(reply == 16_384, "reply buffer \(reply)")
        let usedAfter = Int(try fields(observer, "memory")["used_memory"] ?? "") ?? 0
        #expect(usedAfter <= usedBefore - 16_384, "used_memory \(usedBefore) then \(usedAfter)")
        // The released buffer comes back when the client speaks again.
        #expect(try idle.call("GET", "x") == .bulk(Array("small".utf8)))
        #expect(try buffers(of: "idle", observer).query > 0)
    }

    /// Resident memory of process `pid`, from /proc.
    private func residentBytes(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    @Test func idleConnectionsCostLittleResidentMemory() throws {
        // Their 16 KB buffers sit in page slots, where only written pages are resident: about
        // 12 KB each here (Redis: about 10), against 36 KB for two buffers on the huge-page
        // heap, where every byte is.
        let server = try ServerProcess.swiftlet(["--server-threads", "1"])
        defer { server.stop() }
        let count = 500
        let before = residentBytes(server.pid)
        let clients = try (0..<count).map { _ in try RespClient(port: server.port) }
        for client in clients { #expect(try client.call("PING") == .simple("PONG")) }
        let perConnection = (residentBytes(server.pid) - before) / count
        #expect(perConnection > 0 && perConnection < 20 * 1024, "\(perConnection) bytes of RSS per connection")
    }

    @Test func memoryUsageGrowsWithValueSize() throws {
        // Repeated bytes would be stored compressed: measure plain storage.
        let server = try ServerProcess.swiftlet(["--value-compression", "no"])
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        #expect(try client.call("MEMORY", "USAGE", "missing") == .bulk(nil))
        var previous: Int64 = 0
        for size in [1, 100, 10_000, 1_000_000] {
            _ = try client.call("SET", "s", String(repeating: "x", count: size))
            let usage = integer(try client.call("MEMORY", "USAGE", "s"))
            #expect(usage > previous && usage >= Int64(size), "string of \(size) bytes: \(usage)")
            previous = usage
        }
        previous = 0
        for fields in [1, 100, 1000] {
            for field in 0..<fields { _ = try client.call("HSET", "h", "field\(field)", "value-\(field)") }
            let usage = integer(try client.call("MEMORY", "USAGE", "h", "SAMPLES", "0"))
            #expect(usage > previous && usage >= Int64(fields * 10), "hash of \(fields) fields: \(usage)")
            previous = usage
        }
        // A key's usage is part of used_memory: deleting the big string lowers it by about as much.
        _ = try client.call("SET", "s", String(repeating: "x", count: 1_000_000))
        let before = Int64(try fields(client, "memory")["used_memory"] ?? "") ?? 0
        _ = try client.call("DEL", "s")
        let after = Int64(try fields(client, "memory")["used_memory"] ?? "") ?? 0
        #expect(before - after >= 1_000_000)
    }

    /// A command still arriving costs memory before there is any reply to it: its query
    /// buffer counts in used_memory (and so can make keys be evicted) as soon as it is read.
    @Test func aCommandStillArrivingCountsInUsedMemory() throws {
        let server = try ServerProcess.swiftlet()
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        func usedMemory() throws -> Int { Int(try fields(client, "memory")["used_memory"] ?? "") ?? 0 }
        let before = try usedMemory()
        let sender = try RespClient(port: server.port)
        // Half of a 1 MB SET: the server buffers it and has nothing to reply yet.
        try sender.send(raw: Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000\r\n".utf8)
                        + [UInt8](repeating: 120, count: 500_000))
        let deadline = Date().addingTimeInterval(5)
        var grown = try usedMemory() - before
        while grown < 500_000 && Date() < deadline {
            usleep(50_000)
            grown = try usedMemory() - before
        }
        #expect(grown >= 500_000, "used_memory grew by \(grown) bytes")
    }

    @Test func memoryOverviewSubcommandsReportOurAccounting() throws {
        let server = try ServerProcess.swiftlet()
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        for index in 0..<100 { _ = try client.call("SET", "key:\(index)", String(repeating: "v", count: 100)) }
        _ = try client.call("HELLO", "3")
        guard case .other("%", let items, _) = try client.call("MEMORY", "STATS") else {
            Issue.record("MEMORY STATS is not a map in RESP3")
            return
        }
        var stats: [String: RespValue] = [:]
        for pair in stride(from: 0, to: items.count, by: 2) { stats[items[pair].text ?? ""] = items[pair + 1] }
        #expect(stats["keys.count"] == .integer(100))
        let used = Int64(try fields(client, "memory")["used_memory"] ?? "") ?? 0
        if case .integer(let total) = stats["total.allocated"] { #expect(total > 100 * 100 && abs(total - used) < used / 10) }
        if case .other("%", let db0, _)? = stats["db.0"] { #expect(db0.count == 6) } else { Issue.record("no db.0 map") }
        guard case .other("=", _, let report) = try client.call("MEMORY", "DOCTOR") else {
            Issue.record("MEMORY DOCTOR is not a verbatim string in RESP3")
            return
        }
        #expect(report.hasPrefix("txt:") && report.count > 20)
        #expect(try client.call("MEMORY", "MALLOC-STATS").text?.contains("<malloc") == true)
        #expect(try client.call("MEMORY", "PURGE") == .simple("OK"))
        guard case .array(let help?) = try client.call("MEMORY", "HELP") else {
            Issue.record("MEMORY HELP is not an array")
            return
        }
        #expect(help.first == .simple("MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))
        #expect(help.contains(.simple("USAGE <key> [SAMPLES <count>]")) && help.last == .simple("    Print this help."))
    }

    @Test func latencyStatsFollowCallsConfigAndReset() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "2", "--enable-debug-command", "yes"])
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        _ = try client.call("CONFIG", "RESETSTAT")
        _ = try client.call("SET", "k", "v")
        _ = try client.call("GET", "k")
        _ = try client.call("CLIENT", "ID")
        _ = try client.call("DEBUG", "SLEEP", "0.05")
        var stats = try fields(client, "latencystats")
        for name in ["set", "get", "client|id", "config|resetstat", "debug"] {
            let line = stats["latency_percentiles_usec_\(name)"] ?? ""
            #expect(line.range(of: #"^p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}$"#, options: .regularExpression) != nil,
                    "\(name): \(line)")
        }
        let debugMedian = Double(stats["latency_percentiles_usec_debug"]?.split(separator: ",")[0].dropFirst(4) ?? "") ?? 0
        let setMedian = Double(stats["latency_percentiles_usec_set"]?.split(separator: ",")[0].dropFirst(4) ?? "") ?? 0
        #expect(debugMedian >= 50_000 && debugMedian < 100_000 && setMedian < debugMedian)
        #expect(stats["latency_percentiles_usec_hset"] == nil)

        _ = try client.call("CONFIG", "SET", "latency-tracking-info-percentiles", "0 100")
        stats = try fields(client, "latencystats")
        #expect(stats["latency_percentiles_usec_set"]?.hasPrefix("p0=") == true)
        #expect(stats["latency_percentiles_usec_set"]?.contains(",p100=") == true)

        // A blocking command is recorded when it completes: served, or timed out.
        let blocked = try RespClient(port: server.port)
        try blocked.send(["BLPOP", "list", "0"])
        usleep(100_000)
        _ = try client.call("RPUSH", "list", "a")
        _ = try blocked.readReply()
        _ = try blocked.call("BLPOP", "other", "0.01")
        #expect(try fields(client, "commandstats")["cmdstat_blpop"]?.hasPrefix("calls=2,") == true)
        #expect(try fields(client, "latencystats")["latency_percentiles_usec_blpop"] != nil)

        _ = try client.call("CONFIG", "SET", "latency-tracking", "no")
        #expect(try fields(client, "latencystats").isEmpty)
        _ = try client.call("CONFIG", "SET", "latency-tracking", "yes")
        _ = try client.call("CONFIG", "RESETSTAT")
        stats = try fields(client, "latencystats")
        #expect(stats["latency_percentiles_usec_set"] == nil && stats["latency_percentiles_usec_debug"] == nil)
        #expect(try (client.call("INFO", "everything").text ?? "").contains("# Latencystats\r\n"))
    }

    @Test func cacheStatsCountHitsAndMissesPerPrefixAcrossWorkers() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        // Round-robin placement puts these connections on all four workers.
        let clients = try (0..<8).map { _ in try RespClient(port: server.port) }
        _ = try clients[0].call("CONFIG", "RESETSTAT")
        for (index, client) in clients.enumerated() {
            _ = try client.call("SET", "user:\(index)", "u")
            _ = try client.call("GET", "user:\(index)")          // user: 8 hits
            _ = try client.call("GET", "user:missing\(index)")   // user: 8 misses
            _ = try client.call("GET", "session:\(index)")       // session: 8 misses
            _ = try client.call("MGET", "user:\(index)", "plain\(index)", ":x") // user hit, (none) miss, "" miss
            _ = try client.call("SET", "page:\(index)", "p")
            for _ in 0..<4 { _ = try client.call("GET", "page:\(index)") } // page: 32 hits
        }
        var stats = try fields(clients[0], "cachestats")
        #expect(stats["cachestats_hits"] == "48" && stats["cachestats_misses"] == "32")
        #expect(stats["cachestats_hit_ratio"] == "0.6000")
        #expect(stats["cachestats_prefixes"] == "16" && stats["cachestats_prefixes_shown"] == "5")
        #expect(stats["cachestats_prefix_user"] == "hits=16,misses=8,hit_ratio=0.6667")
        #expect(stats["cachestats_prefix_page"] == "hits=32,misses=0,hit_ratio=1.0000")
        #expect(stats["cachestats_prefix_session"] == "hits=0,misses=8,hit_ratio=0.0000")
        #expect(stats["cachestats_prefix_(none)"] == "hits=0,misses=8,hit_ratio=0.0000")
        #expect(stats["cachestats_prefix_"] == "hits=0,misses=8,hit_ratio=0.0000")
        // The busiest prefixes come first.
        let text = try clients[0].call("INFO", "cachestats").text ?? ""
        #expect(text.range(of: "cachestats_prefix_page:")!.lowerBound < text.range(of: "cachestats_prefix_user:")!.lowerBound)
        #expect(try (clients[0].call("INFO").text ?? "").contains("# Cachestats\r\n"))
        #expect(try (clients[0].call("INFO", "all").text ?? "").contains("cachestats_prefix_page:"))

        _ = try clients[0].call("CONFIG", "SET", "cachestats-prefixes", "2")
        _ = try clients[1].call("GET", "user:1")
        stats = try fields(clients[0], "cachestats")
        #expect(stats["cachestats_prefixes_shown"].map { Int($0)! <= 2 } == true)
        #expect(stats["cachestats_prefix_session"] == nil)

        _ = try clients[0].call("CONFIG", "SET", "cachestats-prefixes", "0")
        _ = try clients[1].call("GET", "user:1")
        stats = try fields(clients[0], "cachestats")
        #expect(stats["cachestats_prefixes_shown"] == "0" && stats["cachestats_prefix_user"] == nil)
        #expect(stats["cachestats_hits"] == "50")

        _ = try clients[0].call("CONFIG", "SET", "cachestats-prefixes", "16")
        _ = try clients[0].call("CONFIG", "RESETSTAT")
        stats = try fields(clients[0], "cachestats")
        #expect(stats["cachestats_hits"] == "0" && stats["cachestats_prefixes_shown"] == "0")
        _ = try clients[2].call("GET", "user:2")
        #expect(try fields(clients[0], "cachestats")["cachestats_prefix_user"] == "hits=1,misses=0,hit_ratio=1.0000")
    }
}
