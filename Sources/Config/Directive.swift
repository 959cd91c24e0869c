// The directive table: for each supported redis.conf name, how to parse its arguments into
// ServerConfig (with Redis's error texts), how to print its value for CONFIG GET/REWRITE,
// and whether CONFIG SET may change it.
#if canImport(Glibc)
import Glibc
#endif
import Support

struct Directive {
    let name: String
    let aliases: [String]
    let immutable: Bool
    /// Takes several arguments in a file; CONFIG SET splits its one value on spaces.
    let multiArgument: Bool
    let format: (ServerConfig) -> String
    /// Returns nil on success, else the reason (as Redis words it).
    let apply: (ServerConfig, [String]) -> String?
    /// CONFIG REWRITE's lines for the running value where Redis writes them otherwise than
    /// `ConfigRewriter.render` does (memory units, quoted strings, a line per rule or class).
    var rewriteLines: ((ServerConfig) -> [String])? = nil

    static func named(_ name: String) -> Directive? {
        let lower = name.lowercased()
        return all.first { $0.name == lower || $0.aliases.contains(lower) }
    }

    // MARK: Parsing values (Redis's reasons for refusing them)

    struct Refusal: Error { let reason: String }

    static func parseBool(_ text: String) -> Result<Bool, Refusal> {
        MemoryUnits.parseBool(text).map { .success($0) } ?? .failure(Refusal(reason: "argument must be 'yes' or 'no'"))
    }

    /// A number within `range`, with units (1mb) when `memory`.
    static func parseInteger(_ text: String, in range: ClosedRange<Int>, memory: Bool) -> Result<Int, Refusal> {
        guard let value = memory ? MemoryUnits.parse(text) : Numbers.parseInt64(text).map({ Int($0) }) else {
            return .failure(Refusal(reason: memory ? "argument must be a memory value" : "argument couldn't be parsed into an integer"))
        }
        guard range.contains(value) else {
            return .failure(Refusal(reason: "argument must be between \(range.lowerBound) and \(range.upperBound) inclusive"))
        }
        return .success(value)
    }

    /// One of `options`, lowercased.
    static func parseChoice(_ text: String, _ options: [String]) -> Result<String, Refusal> {
        let lower = text.lowercased()
        guard options.contains(lower) else {
            return .failure(Refusal(reason: "argument(s) must be one of the following: " + options.joined(separator: ", ")))
        }
        return .success(lower)
    }

    /// Hands a parsed value to `store` and returns nil, or returns why it was refused.
    static func stored<Value>(_ parsed: Result<Value, Refusal>, _ store: (Value) -> Void) -> String? {
        switch parsed {
        case .success(let value):
            store(value)
            return nil
        case .failure(let refusal):
            return refusal.reason
        }
    }

    // MARK: Builders

    static func bool(_ name: String, _ key: ReferenceWritableKeyPath<ServerConfig, Bool>, aliases: [String] = [],
                     immutable: Bool = false) -> Directive {
        Directive(name: name, aliases: aliases, immutable: immutable, multiArgument: false,
                  format: { $0[keyPath: key] ? "yes" : "no" },
                  apply: { config, args in stored(parseBool(args[0])) { config[keyPath: key] = $0 } })
    }

    static func integer(_ name: String, _ key: ReferenceWritableKeyPath<ServerConfig, Int>, _ range: ClosedRange<Int>,
                        aliases: [String] = [], immutable: Bool = false, memory: Bool = false) -> Directive {
        Directive(name: name, aliases: aliases, immutable: immutable, multiArgument: false,
                  format: { String($0[keyPath: key]) },
                  apply: { config, args in
                      stored(parseInteger(args[0], in: range, memory: memory)) { config[keyPath: key] = $0 }
                  },
                  rewriteLines: memory ? { [name + " " + formatMemory($0[keyPath: key])] } : nil)
    }

    /// A byte count as Redis's CONFIG REWRITE writes it: in gb, mb or kb when it divides.
    static func formatMemory(_ bytes: Int) -> String {
        for (unit, size) in [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10)] where bytes != 0 && bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return String(bytes)
    }

    /// "name "value"", quoted and escaped as Redis writes string settings back.
    static func quotedLine(_ name: String, _ value: String) -> [String] { [name + " " + QuotedSplitter.quote(value)] }

    static func string(_ name: String, _ key: ReferenceWritableKeyPath<ServerConfig, String>, immutable: Bool = false,
                       validate: ((ServerConfig, String) -> String?)? = nil) -> Directive {
        Directive(name: name, aliases: [], immutable: immutable, multiArgument: false,
                  format: { $0[keyPath: key] },
                  apply: { config, args in
                      if let failure = validate?(config, args[0]) { return failure }
                      config[keyPath: key] = args[0]
                      return nil
                  },
                  rewriteLines: { quotedLine(name, $0[keyPath: key]) })
    }

    /// One of `options`; a spelling in `readsBackAs` is stored (and read back) as its value,
    /// as Redis names an enum value by its first spelling.
    static func choice(_ name: String, _ key: ReferenceWritableKeyPath<ServerConfig, String>, _ options: [String],
                       immutable: Bool = false, readsBackAs spellings: [String: String] = [:]) -> Directive {
        Directive(name: name, aliases: [], immutable: immutable, multiArgument: false,
                  format: { $0[keyPath: key] },
                  apply: { config, args in
                      stored(parseChoice(args[0], options)) { config[keyPath: key] = spellings[$0] ?? $0 }
                  })
    }

    /// How an unimplemented feature's directive validates its value, as Redis does.
    enum InertKind {
        case bool, integer(ClosedRange<Int>), memory, choice([String])
    }

    /// A Redis directive for a feature Swiftlet leaves out (replication, streams, HyperLogLog,
    /// jemalloc): checked as Redis checks it and kept for CONFIG GET/REWRITE, so a stock
    /// redis.conf (Debian's sets each of these to its default) loads. A value other than
    /// Redis's default is listed among the inert settings the server warns about at start.
    static func inert(_ name: String, _ defaultValue: String, _ kind: InertKind, aliases: [String] = [],
                      feature: String) -> Directive {
        Directive(name: name, aliases: aliases, immutable: false, multiArgument: false,
                  format: { $0.inertValues[name] ?? defaultValue },
                  apply: { config, args in
                      let parsed: Result<String, Refusal>
                      switch kind {
                      case .bool: parsed = parseBool(args[0]).map { $0 ? "yes" : "no" }
                      case .integer(let range): parsed = parseInteger(args[0], in: range, memory: false).map(String.init)
                      case .memory: parsed = parseInteger(args[0], in: 0...Int.max, memory: true).map(String.init)
                      case .choice(let options): parsed = parseChoice(args[0], options)
                      }
                      return stored(parsed) { value in
                          config.inertValues[name] = value
                          config.inertFeatures[name] = value == defaultValue ? nil : feature
                      }
                  },
                  rewriteLines: {
                      guard case .memory = kind else { return nil }
                      return { [name + " " + formatMemory(Int($0.inertValues[name] ?? defaultValue) ?? 0)] }
                  }())
    }

    // MARK: The table

    static let intMax = Int(Int32.max)

    static let all: [Directive] = [
        // CONFIG SET of either re-binds the listeners (ServerConfig.rebindListeners).
        integer("port", \.port, 0...65535),
        Directive(name: "bind", aliases: [], immutable: false, multiArgument: true,
                  format: { $0.bind.joined(separator: " ") },
                  apply: { config, args in
                      guard args.count <= 16 else { return "Too many bind addresses specified." }
                      config.bind = args.count == 1 && args[0].isEmpty ? [] : args
                      return nil
                  }),
        integer("tcp-backlog", \.tcpBacklog, 0...intMax, immutable: true),
        integer("tcp-keepalive", \.tcpKeepalive, 0...intMax),
        integer("timeout", \.timeout, 0...intMax),
        integer("maxclients", \.maxclients, 1...Int(UInt32.max)),
        bool("protected-mode", \.protectedMode),
        string("unixsocket", \.unixsocket, immutable: true),
        integer("tls-port", \.tlsPort, 0...0),
        integer("server-threads", \.serverThreads, 1...128, immutable: true),
        integer("databases", \.databases, 1...intMax, immutable: true),
        Directive(name: "hz", aliases: [], immutable: false, multiArgument: false,
                  format: { String($0.hz) },
                  apply: { config, args in
                      guard let value = Numbers.parseInt64(args[0]) else { return "argument couldn't be parsed into an integer" }
                      guard value >= 0 && value <= Int64(intMax) else { return "argument must be between 0 and \(intMax) inclusive" }
                      // Like Redis, out-of-range rates are clamped to 1...500.
                      config.hz = min(max(Int(value), 1), 500)
                      return nil
                  }),
        bool("dynamic-hz", \.dynamicHz),
        bool("daemonize", \.daemonize, immutable: true),
        choice("supervised", \.supervised, ["upstart", "systemd", "auto", "no"], immutable: true),
        string("pidfile", \.pidfile, immutable: true),
        choice("loglevel", \.loglevel, ["debug", "verbose", "notice", "warning"]),
        string("logfile", \.logfile, immutable: true),
        bool("syslog-enabled", \.syslogEnabled, immutable: true),
        string("syslog-ident", \.syslogIdent, immutable: true),
        bool("always-show-logo", \.alwaysShowLogo, immutable: true),
        bool("set-proc-title", \.setProcTitle, immutable: true),
        string("proc-title-template", \.procTitleTemplate, validate: { ProcessTitle.validationError($1, config: $0) }),
        choice("enable-debug-command", \.enableDebugCommand, ["no", "yes", "local"], immutable: true),
        choice("enable-protected-configs", \.enableProtectedConfigs, ["no", "yes", "local"], immutable: true),
        choice("enable-module-command", \.enableModuleCommand, ["no", "yes", "local"], immutable: true),
        bool("crash-log-enabled", \.crashLogEnabled),
        choice("oom-score-adj", \.oomScoreAdj, ["no", "yes", "relative", "absolute"], readsBackAs: ["relative": "yes"]),
        Directive(name: "oom-score-adj-values", aliases: [], immutable: false, multiArgument: true,
                  format: { $0.oomScoreAdjValues.map(String.init).joined(separator: " ") },
                  apply: { config, args in
                      guard args.count == 3 else { return "wrong number of arguments" }
                      let values = args.compactMap { Numbers.parseInt64($0).map(Int.init) }
                      guard values.count == 3, values.allSatisfy((-2000...2000).contains) else {
                          return "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                      }
                      config.oomScoreAdjValues = values
                      return nil
                  }),
        string("ignore-warnings", \.ignoreWarnings),
        integer("proto-max-bulk-len", \.protoMaxBulkLen, 1024 * 1024...Int.max, memory: true),
        integer("hll-sparse-max-bytes", \.hllSparseMaxBytes, 0...Int.max, memory: true),
        integer("client-query-buffer-limit", \.clientQueryBufferLimit, 1024 * 1024...Int.max, memory: true),
        string("requirepass", \.requirepass),
        integer("maxmemory", \.maxmemory, 0...Int.max, memory: true),
        Directive(name: "maxmemory-policy", aliases: [], immutable: false, multiArgument: false,
                  format: { $0.maxmemoryPolicy.rawValue },
                  apply: { config, args in
                      guard let policy = MaxmemoryPolicy(rawValue: args[0].lowercased()) else {
                          return "argument(s) must be one of the following: "
                              + MaxmemoryPolicy.allCases.map(\.rawValue).joined(separator: ", ")
                      }
                      config.maxmemoryPolicy = policy
                      return nil
                  }),
        Directive(name: "maxmemory-clients", aliases: [], immutable: false, multiArgument: false,
                  format: { $0.maxmemoryClients < 0 ? "\(-$0.maxmemoryClients)%" : String($0.maxmemoryClients) },
                  apply: { config, args in
                      if let bytes = MemoryUnits.parse(args[0]) {
                          config.maxmemoryClients = bytes
                      } else if args[0].count > 1, args[0].hasSuffix("%"),
                                let percent = Numbers.parseInt64(String(args[0].dropLast())), percent >= 0 {
                          guard percent <= 100 else { return "percentage argument must be less or equal to 100" }
                          config.maxmemoryClients = -Int(percent)
                      } else {
                          return "argument must be a memory or percent value"
                      }
                      return nil
                  },
                  rewriteLines: { config in
                      ["maxmemory-clients " + (config.maxmemoryClients < 0 ? "\(-config.maxmemoryClients)%" : formatMemory(config.maxmemoryClients))]
                  }),
        integer("maxmemory-samples", \.maxmemorySamples, 1...intMax),
        integer("tracking-table-max-keys", \.trackingTableMaxKeys, 0...Int.max),
        integer("maxmemory-eviction-tenacity", \.maxmemoryEvictionTenacity, 0...100),
        integer("lfu-log-factor", \.lfuLogFactor, 0...intMax),
        integer("lfu-decay-time", \.lfuDecayTime, 0...intMax),
        integer("active-expire-effort", \.activeExpireEffort, 1...10),
        bool("activerehashing", \.activeRehashing),
        bool("lazyfree-lazy-eviction", \.lazyfreeLazyEviction),
        bool("lazyfree-lazy-expire", \.lazyfreeLazyExpire),
        bool("lazyfree-lazy-server-del", \.lazyfreeLazyServerDel),
        bool("lazyfree-lazy-user-del", \.lazyfreeLazyUserDel),
        bool("lazyfree-lazy-user-flush", \.lazyfreeLazyUserFlush),
        bool("value-compression", \.valueCompression),
        integer("value-compression-threshold", \.valueCompressionThreshold, 0...Int.max, memory: true),
        integer("hash-max-listpack-entries", \.hashMaxListpackEntries, 0...Int.max, aliases: ["hash-max-ziplist-entries"]),
        integer("hash-max-listpack-value", \.hashMaxListpackValue, 0...Int.max, aliases: ["hash-max-ziplist-value"], memory: true),
        integer("set-max-intset-entries", \.setMaxIntsetEntries, 0...Int.max),
        integer("zset-max-listpack-entries", \.zsetMaxListpackEntries, 0...Int.max, aliases: ["zset-max-ziplist-entries"]),
        integer("zset-max-listpack-value", \.zsetMaxListpackValue, 0...Int.max, aliases: ["zset-max-ziplist-value"], memory: true),
        integer("list-max-listpack-size", \.listMaxListpackSize, Int(Int32.min)...intMax, aliases: ["list-max-ziplist-size"]),
        integer("list-compress-depth", \.listCompressDepth, 0...intMax),
        Directive(name: "dir", aliases: [], immutable: false, multiArgument: false,
                  format: { _ in ServerConfig.currentDirectory() },
                  apply: { config, args in
                      guard chdir(args[0]) == 0 else { return String(cString: strerror(errno)) }
                      config.dir = ServerConfig.currentDirectory()
                      return nil
                  },
                  rewriteLines: { _ in quotedLine("dir", ServerConfig.currentDirectory()) }),
        string("dbfilename", \.dbfilename, validate: { $1.contains("/") ? "dbfilename can't be a path, just a filename" : nil }),
        Directive(name: "save", aliases: [], immutable: false, multiArgument: true,
                  format: { $0.save.map { "\($0.seconds) \($0.changes)" }.joined(separator: " ") },
                  apply: { config, args in
                      if args.count == 1 && args[0].isEmpty { config.save = []; return nil }
                      guard args.count % 2 == 0 else { return "Invalid save parameters" }
                      var rules: [(Int, Int)] = []
                      for pair in stride(from: 0, to: args.count, by: 2) {
                          guard let seconds = Int(args[pair]), let changes = Int(args[pair + 1]), seconds >= 0, changes >= 0 else {
                              return "Invalid save parameters"
                          }
                          rules.append((seconds, changes))
                      }
                      config.save = rules
                      return nil
                  },
                  rewriteLines: { config in
                      config.save.isEmpty ? ["save \"\""] : config.save.map { "save \($0.seconds) \($0.changes)" }
                  }),
        bool("rdbcompression", \.rdbCompression),
        bool("rdbchecksum", \.rdbChecksum, immutable: true),
        bool("stop-writes-on-bgsave-error", \.stopWritesOnBgsaveError),
        // DIVERGENCE: Redis hides this testing knob from CONFIG GET *.
        integer("rdb-key-save-delay", \.rdbKeySaveDelay, Int(Int32.min)...intMax),
        bool("appendonly", \.appendonly),
        string("appendfilename", \.appendfilename, immutable: true),
        string("appenddirname", \.appenddirname, immutable: true),
        choice("appendfsync", \.appendfsync, ["always", "everysec", "no"]),
        bool("no-appendfsync-on-rewrite", \.noAppendfsyncOnRewrite),
        integer("auto-aof-rewrite-percentage", \.autoAofRewritePercentage, 0...intMax),
        integer("auto-aof-rewrite-min-size", \.autoAofRewriteMinSize, 0...Int.max, memory: true),
        bool("aof-use-rdb-preamble", \.aofUseRdbPreamble),
        bool("aof-load-truncated", \.aofLoadTruncated),
        bool("aof-rewrite-incremental-fsync", \.aofRewriteIncrementalFsync),
        bool("replica-read-only", \.replicaReadOnly, aliases: ["slave-read-only"]),
        bool("replica-serve-stale-data", \.replicaServeStaleData, aliases: ["slave-serve-stale-data"]),
        integer("repl-backlog-size", \.replBacklogSize, 1...Int.max, memory: true),
        integer("repl-timeout", \.replTimeout, 1...intMax),
        integer("replica-priority", \.replicaPriority, 0...intMax, aliases: ["slave-priority"]),
        integer("repl-diskless-sync-delay", \.replDisklessSyncDelay, 0...intMax),
        choice("propagation-error-behavior", \.propagationErrorBehavior, ["ignore", "panic", "panic-on-replicas"]),
        Directive(name: "client-output-buffer-limit", aliases: [], immutable: false, multiArgument: true,
                  format: { config in
                      zip(["normal", "slave", "pubsub"], config.clientOutputBufferLimits)
                          .map { "\($0) \($1.hard) \($1.soft) \($1.seconds)" }.joined(separator: " ")
                  },
                  apply: { config, args in
                      guard args.count % 4 == 0 else { return "Wrong number of arguments in buffer limit configuration." }
                      var limits = config.clientOutputBufferLimits
                      for group in stride(from: 0, to: args.count, by: 4) {
                          let classes = ["normal": 0, "slave": 1, "replica": 1, "pubsub": 2]
                          guard let index = classes[args[group].lowercased()] else {
                              return "Invalid client class specified in buffer limit configuration."
                          }
                          guard let hard = MemoryUnits.parse(args[group + 1]), let soft = MemoryUnits.parse(args[group + 2]),
                                let seconds = Numbers.parseInt64(args[group + 3]), seconds >= 0, seconds <= Int32.max else {
                              return "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                          }
                          limits[index] = (hard, soft, Int(seconds))
                      }
                      config.clientOutputBufferLimits = limits
                      return nil
                  },
                  rewriteLines: { config in
                      zip(["normal", "replica", "pubsub"], config.clientOutputBufferLimits).map { name, limit in
                          "client-output-buffer-limit \(name) \(formatMemory(limit.hard)) \(formatMemory(limit.soft)) \(limit.seconds)"
                      }
                  }),
        Directive(name: "notify-keyspace-events", aliases: [], immutable: false, multiArgument: false,
                  format: { KeyspaceEventFlags.format($0.keyspaceEventFlags) },
                  apply: { config, args in
                      guard let flags = KeyspaceEventFlags.parse(args[0]) else {
                          return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
                      }
                      config.keyspaceEventFlags = flags
                      return nil
                  },
                  rewriteLines: { quotedLine("notify-keyspace-events", KeyspaceEventFlags.format($0.keyspaceEventFlags)) }),
        bool("latency-tracking", \.latencyTracking),
        Directive(name: "latency-tracking-info-percentiles", aliases: [], immutable: false, multiArgument: true,
                  format: { $0.latencyTrackingInfoPercentiles.map(Numbers.trimmedDecimal).joined(separator: " ") },
                  apply: { config, args in
                      // A single empty argument (CONFIG SET x "") means no percentiles at all.
                      let words = args.count == 1 && args[0].isEmpty ? [] : args
                      var percentiles: [Double] = []
                      for word in words {
                          guard let value = Array(word.utf8).withUnsafeBytes({ Numbers.parseDouble($0) }) else {
                              return "Invalid latency-tracking-info-percentiles parameters"
                          }
                          guard value >= 0 && value <= 100 else {
                              return "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                          }
                          percentiles.append(value)
                      }
                      config.latencyTrackingInfoPercentiles = percentiles
                      return nil
                  }),
        integer("cachestats-prefixes", \.cachestatsPrefixes, 0...1024),
        integer("latency-monitor-threshold", \.latencyMonitorThreshold, 0...Int.max),
        integer("slowlog-log-slower-than", \.slowlogLogSlowerThan, -1...Int.max),
        integer("slowlog-max-len", \.slowlogMaxLen, 0...Int.max),
        integer("busy-reply-threshold", \.busyReplyThreshold, 0...Int.max, aliases: ["lua-time-limit"]),
        inert("acllog-max-len", "128", .integer(0...Int(Int64.max)), feature: "ACL users are not implemented"),
        inert("aof-timestamp-enabled", "no", .bool, feature: "AOF timestamps are not implemented"),
        // Redis turns THP off for its fork's sake; Swiftlet does not fork and wants huge pages.
        inert("disable-thp", "yes", .bool, feature: "Swiftlet does not fork, so huge pages cost no copy-on-write"),
        inert("jemalloc-bg-thread", "yes", .bool, feature: "Swiftlet uses glibc's malloc"),
        inert("rdb-del-sync-files", "no", .bool, feature: "replication is not implemented"),
        inert("rdb-save-incremental-fsync", "yes", .bool, feature: "snapshots are synced once, at the end"),
        inert("repl-disable-tcp-nodelay", "no", .bool, feature: "replication is not implemented"),
        inert("repl-diskless-load", "disabled", .choice(["disabled", "on-empty-db", "swapdb"]),
              feature: "replication is not implemented"),
        inert("repl-diskless-sync", "yes", .bool, feature: "replication is not implemented"),
        inert("repl-diskless-sync-max-replicas", "0", .integer(0...Int(Int32.max)), feature: "replication is not implemented"),
        inert("replica-lazy-flush", "no", .bool, aliases: ["slave-lazy-flush"], feature: "replication is not implemented"),
        inert("stream-node-max-bytes", "4096", .memory, feature: "streams are not implemented"),
        inert("stream-node-max-entries", "100", .integer(0...Int(Int64.max)), feature: "streams are not implemented"),
    ]
}
