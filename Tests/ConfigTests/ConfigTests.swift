// Config parsing in-process: Redis's quoting rules, memory units, command-line overrides
// after the file, fatal error blocks, and CONFIG SET's all-or-nothing behaviour.
import Testing
@testable import Config

@Test func argumentSplittingFollowsRedisQuoting() {
    #expect(ArgSplitter.split("set a b") == ["set", "a", "b"])
    #expect(ArgSplitter.split("  save \"\"  ") == ["save", ""])
    #expect(ArgSplitter.split("k \"a b\\n\\x41\" 'it\\'s'") == ["k", "a b\nA", "it's"])
    #expect(ArgSplitter.split("k \"unbalanced") == nil)
    #expect(ArgSplitter.split("k \"a\"b") == nil)
}

@Test func memoryUnits() {
    #expect(MemoryUnits.parse("100") == 100)
    #expect(MemoryUnits.parse("1k") == 1000)
    #expect(MemoryUnits.parse("1KB") == 1024)
    #expect(MemoryUnits.parse("2mb") == 2 * 1024 * 1024)
    #expect(MemoryUnits.parse("1g") == 1_000_000_000)
    #expect(MemoryUnits.parse("1gb") == 1024 * 1024 * 1024)
    #expect(MemoryUnits.parse("-1") == nil)
    #expect(MemoryUnits.parse("1zb") == nil)
    #expect(MemoryUnits.parse("") == nil)
}

@Test func commandLineOverridesComeAfterTheFileText() throws {
    guard case .run(let config) = ServerConfig.startup(arguments: ["-", "--port", "7000", "--save", "--maxmemory", "1mb"],
                                                       readStdin: { "port 6000\nmaxmemory-policy allkeys-lru\n" }) else {
        Issue.record("start-up failed")
        return
    }
    #expect(config.port == 7000)
    #expect(config.save.isEmpty)
    #expect(config.maxmemory == 1024 * 1024)
    #expect(config.maxmemoryPolicy == .allkeysLRU)
}

@Test func badDirectivesProduceRedisErrorBlocks() {
    guard case .exit(let status, _, let stderr) = ServerConfig.startup(arguments: ["--port", "abc"], readStdin: { "" }) else {
        Issue.record("expected an exit")
        return
    }
    #expect(status == 1)
    #expect(stderr == "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 2\n>>> 'port \"abc\"'\nargument couldn't be parsed into an integer\n")
}

@Test func configSetIsAllOrNothing() {
    let config = ServerConfig()
    #expect(config.set([("maxmemory", "10mb"), ("maxmemory-policy", "bogus")])
            == "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")
    #expect(config.maxmemory == 0)
    #expect(config.set([("maxmemory", "10mb"), ("MAXMEMORY-POLICY", "allkeys-lfu")]) == nil)
    #expect(config.maxmemory == 10 * 1024 * 1024)
    #expect(config.set([("daemonize", "yes")]) == "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config")
    #expect(config.set([("nosuch", "1")]) == "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'")
    #expect(config.get(patterns: ["maxmemory-p*"]).map(\.value) == ["allkeys-lfu"])
    #expect(Set(config.get(patterns: ["*read-only"]).map(\.name)) == ["replica-read-only", "slave-read-only"])
}

@Test func multiArgumentDirectivesSplitAQuotedValue() {
    guard case .run(let config) = ServerConfig.startup(arguments: ["--save", "3600 1 60 5", "--bind", "127.0.0.1 -::1"],
                                                       readStdin: { "" }) else {
        Issue.record("start-up failed")
        return
    }
    #expect(config.save.map { [$0.seconds, $0.changes] } == [[3600, 1], [60, 5]])
    #expect(config.bind == ["127.0.0.1", "-::1"])
    #expect(!config.inertSettings.contains { $0.hasPrefix("save") }, "snapshots are implemented")
}

@Test func latencyPercentilesAndCachestatsPrefixes() throws {
    guard case .run(let config) = ServerConfig.startup(
        arguments: ["-", "--cachestats-prefixes", "4"],
        readStdin: { "latency-tracking-info-percentiles 0 99.99 100\n" }) else {
        Issue.record("start-up failed")
        return
    }
    #expect(config.latencyTrackingInfoPercentiles == [0, 99.99, 100])
    #expect(config.cachestatsPrefixes == 4)
    #expect(config.get(patterns: ["latency-tracking-info-percentiles"]).first?.value == "0 99.99 100")
    #expect(config.set([("latency-tracking-info-percentiles", "")]) == nil)
    #expect(config.latencyTrackingInfoPercentiles.isEmpty)
    #expect(config.set([("latency-tracking-info-percentiles", "50  99")])?.hasSuffix("- Invalid latency-tracking-info-percentiles parameters") == true)
    #expect(config.set([("cachestats-prefixes", "1025")])
            == "ERR CONFIG SET failed (possibly related to argument 'cachestats-prefixes') - argument must be between 0 and 1024 inclusive")
    #expect(config.set([("cachestats-prefixes", "0")]) == nil && config.cachestatsPrefixes == 0)
    #expect(ConfigRewriter.render(Directive.named("latency-tracking-info-percentiles")!, config)
            == "latency-tracking-info-percentiles \"\"")
}

/// Directives of the Tcl suite's default.conf and unit overrides, with Redis's validation
/// texts and CONFIG GET forms (checked against redis-server 7.0.15).
@Test func compatibilityDirectivesValidateLikeRedis() {
    let config = ServerConfig()
    func failure(_ name: String, _ value: String) -> String? {
        let prefix = "ERR CONFIG SET failed (possibly related to argument '\(name)') - "
        return config.set([(name, value)]).map { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : $0 }
    }
    #expect(config.set([("client-output-buffer-limit", "replica 100000000 100mb 300")]) == nil)
    #expect(config.get(patterns: ["client-output-buffer-limit"]).map(\.value)
            == ["normal 0 0 0 slave 100000000 104857600 300 pubsub 33554432 8388608 60"])
    #expect(failure("client-output-buffer-limit", "master 1 1 1") == "Invalid client class specified in buffer limit configuration.")
    #expect(failure("client-output-buffer-limit", "normal 1 1") == "Wrong number of arguments in buffer limit configuration.")
    #expect(failure("client-output-buffer-limit", "normal 1 1 -1") == "Error in hard, soft or soft_seconds setting in buffer limit configuration.")
    #expect(config.set([("maxmemory-clients", "10%")]) == nil)
    #expect(config.get(patterns: ["maxmemory-clients"]).map(\.value) == ["10%"])
    #expect(failure("maxmemory-clients", "101%") == "percentage argument must be less or equal to 100")
    #expect(failure("maxmemory-clients", "abc") == "argument must be a memory or percent value")
    #expect(config.set([("maxmemory-clients", "3mb")]) == nil)
    #expect(config.get(patterns: ["maxmemory-clients"]).map(\.value) == ["3145728"])
    #expect(failure("propagation-error-behavior", "x") == "argument(s) must be one of the following: ignore, panic, panic-on-replicas")
    #expect(config.get(patterns: ["repl-diskless-sync-delay"]).map(\.value) == ["5"])
    #expect(config.get(patterns: ["no-appendfsync-on-rewrite"]).map(\.value) == ["no"])
    #expect(config.inertSettings.contains { $0.hasPrefix("client-output-buffer-limit") })
    #expect(config.inertSettings.contains { $0.hasPrefix("maxmemory-clients") })
}

@Test func aBareSaveLineClearsTheRules() {
    // Redis's test suite writes `save ""` into config files as a bare "save " line.
    guard case .run(let config) = ServerConfig.startup(arguments: ["-"], readStdin: { "save \nport 7000\n" }) else {
        Issue.record("start-up failed")
        return
    }
    #expect(config.save.isEmpty)
    guard case .run(let other) = ServerConfig.startup(arguments: ["-"], readStdin: { "port\n" }) else { return }
    Issue.record("a single-argument directive without its argument was accepted (port \(other.port))")
}
