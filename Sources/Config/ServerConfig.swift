// Every configuration directive Swiftlet supports, with Redis 7.0.15's names, defaults,
// ranges and error texts. Values live in typed stored properties that the server reads on
// its hot paths; a table of `Directive`s (name, aliases, mutability, parse/format) drives
// the config file, command-line overrides and CONFIG GET/SET/REWRITE from one place.
#if canImport(Glibc)
import Glibc
#endif
import Support

public enum MaxmemoryPolicy: String, CaseIterable {
    case volatileLRU = "volatile-lru", volatileLFU = "volatile-lfu", volatileRandom = "volatile-random"
    case volatileTTL = "volatile-ttl", allkeysLRU = "allkeys-lru", allkeysLFU = "allkeys-lfu"
    case allkeysRandom = "allkeys-random", noeviction = "noeviction"
}

public final class ServerConfig: @unchecked Sendable {
    // MARK: Network
    public var port = 6379
    @Guarded public var bind = ["*", "-::*"]
    public var tcpBacklog = 511
    public var tcpKeepalive = 300
    public var timeout = 0
    public var maxclients = 10000
    public var protectedMode = true
    @Guarded public var unixsocket = ""
    public var unixsocketperm = 0
    public var tlsPort = 0
    /// Our own: worker threads, each with its own event loop (default: one per core).
    public var serverThreads = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    // MARK: General
    public var databases = 16
    public var hz = 10
    public var dynamicHz = true
    public var daemonize = false
    @Guarded public var supervised = "no"
    @Guarded public var pidfile = ""
    @Guarded public var loglevel = "notice"
    @Guarded public var logfile = ""
    public var syslogEnabled = false
    @Guarded public var syslogIdent = "redis"
    public var alwaysShowLogo = false
    public var setProcTitle = true
    @Guarded public var procTitleTemplate = "{title} {listen-addr} {server-mode}"
    @Guarded public var enableDebugCommand = "no"
    @Guarded public var enableProtectedConfigs = "no"
    @Guarded public var enableModuleCommand = "no"
    public var crashLogEnabled = true
    /// no, yes (relative to the score the process started with) or absolute.
    @Guarded public var oomScoreAdj = "no"
    /// The scores for a master, a replica and a background child (Swiftlet uses the first).
    @Guarded public var oomScoreAdjValues = [0, 200, 800]
    /// Values of directives for features Swiftlet leaves out (Directive.inert), by name, and
    /// why each one set away from Redis's default has no effect.
    @Guarded var inertValues: [String: String] = [:]
    @Guarded var inertFeatures: [String: String] = [:]
    @Guarded public var ignoreWarnings = ""

    // MARK: Limits and protocol
    public var protoMaxBulkLen = 512 * 1024 * 1024
    /// Size past which a sparse HyperLogLog sketch turns dense.
    public var hllSparseMaxBytes = 3000
    public var clientQueryBufferLimit = 1024 * 1024 * 1024
    @Guarded public var requirepass = ""

    // MARK: Memory and eviction
    public var maxmemory = 0
    public var maxmemoryPolicy = MaxmemoryPolicy.noeviction
    public var maxmemorySamples = 5
    /// Keys the client-tracking table may hold before it invalidates some (0: no limit).
    public var trackingTableMaxKeys = 1_000_000
    public var maxmemoryEvictionTenacity = 10
    public var lfuLogFactor = 10
    public var lfuDecayTime = 1
    public var activeExpireEnabled = true
    public var activeExpireEffort = 1
    public var activeRehashing = true
    public var lazyfreeLazyEviction = false
    public var lazyfreeLazyExpire = false
    public var lazyfreeLazyServerDel = false
    public var lazyfreeLazyUserDel = false
    public var lazyfreeLazyUserFlush = false
    /// Our own: store string values longer than `valueCompressionThreshold` bytes
    /// zlib-compressed when that saves at least an eighth (new writes only).
    public var valueCompression = true
    public var valueCompressionThreshold = 4096

    // MARK: Encodings
    public var hashMaxListpackEntries = 512
    public var hashMaxListpackValue = 64
    public var setMaxIntsetEntries = 512
    public var zsetMaxListpackEntries = 128
    public var zsetMaxListpackValue = 64
    public var listMaxListpackSize = -2
    public var listCompressDepth = 0

    // MARK: Persistence
    @Guarded public var dir: String = ServerConfig.currentDirectory()
    @Guarded public var dbfilename = "dump.rdb"
    @Guarded public var save: [(seconds: Int, changes: Int)] = [(3600, 1), (300, 100), (60, 10000)]
    public var rdbCompression = true
    public var rdbChecksum = true
    public var stopWritesOnBgsaveError = true
    /// Microseconds of sleep per key written by a snapshot (Redis's testing knob to make
    /// saves slow); 0 for none.
    public var rdbKeySaveDelay = 0
    public var appendonly = false
    @Guarded public var appendfilename = "appendonly.aof"
    @Guarded public var appenddirname = "appendonlydir"
    @Guarded public var appendfsync = "everysec"
    public var noAppendfsyncOnRewrite = false
    /// Growth of the AOF over its size after the last rewrite (percent) that starts a rewrite.
    public var autoAofRewritePercentage = 100
    public var autoAofRewriteMinSize = 64 * 1024 * 1024
    public var aofUseRdbPreamble = true
    public var aofLoadTruncated = true
    public var aofRewriteIncrementalFsync = true

    // MARK: Replication and monitoring
    public var replicaReadOnly = true
    public var replicaServeStaleData = true
    public var replBacklogSize = 1024 * 1024
    public var replTimeout = 60
    public var replicaPriority = 100
    public var replDisklessSyncDelay = 5
    @Guarded public var propagationErrorBehavior = "ignore"
    /// Output buffer limits per client class (normal, replica, pubsub): hard bytes, soft
    /// bytes, soft seconds.
    @Guarded public var clientOutputBufferLimits = ServerConfig.defaultClientOutputBufferLimits
    static let defaultClientOutputBufferLimits: [(hard: Int, soft: Int, seconds: Int)] =
        [(0, 0, 0), (256 << 20, 64 << 20, 60), (32 << 20, 8 << 20, 60)]
    /// Bytes, or a share of maxmemory when negative (-10 is 10%), as Redis stores it.
    public var maxmemoryClients = 0
    /// `notify-keyspace-events` as class bits (see KeyspaceEventFlags); 0 is off.
    public var keyspaceEventFlags = 0
    public var latencyTracking = true
    /// Percentiles INFO latencystats reports for each command.
    @Guarded public var latencyTrackingInfoPercentiles: [Double] = [50, 99, 99.9]
    /// Our own: how many key prefixes INFO cachestats lists (0 turns prefix tracking off).
    public var cachestatsPrefixes = 16
    public var latencyMonitorThreshold = 0
    public var slowlogLogSlowerThan = 10000
    public var slowlogMaxLen = 128
    public var busyReplyThreshold = 5000

    /// Absolute path of the config file the server was started with, if any.
    public internal(set) var configFilePath: String?
    /// Called with a directive's name after CONFIG SET changed it.
    public var onChange: ((String) -> Void)?
    /// Listens on `port` and `bind` as they now are, in place of the previous listeners; false
    /// when that failed, having changed nothing (set by the server).
    public var rebindListeners: (() -> Bool)?
    /// Writes the process's oom_score_adj as `oom-score-adj` and its values now say; false when
    /// that failed (set by the server).
    public var adjustOOMScore: (() -> Bool)?

    public init() {}

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        return getcwd(&buffer, buffer.count) != nil ? String(cString: buffer) : "/"
    }

    /// Settings accepted for compatibility with existing redis.conf files whose feature has
    /// not landed yet, with a value other than the default: the server warns about each at
    /// start-up (and on CONFIG SET) instead of silently pretending.
    public var inertSettings: [String] {
        var names: [String] = []
        if !unixsocket.isEmpty { names.append("unixsocket (Unix-socket listening is not implemented yet)") }
        if syslogEnabled { names.append("syslog-enabled (logging to syslog is not implemented yet)") }
        if listCompressDepth > 0 { names.append("list-compress-depth (quicklist node compression is not implemented yet)") }
        if maxmemoryClients != 0 { names.append("maxmemory-clients (client eviction is not implemented yet)") }
        // The pubsub class is enforced; normal clients only on pushed messages, replicas not yet.
        let limitsChanged = zip(clientOutputBufferLimits, ServerConfig.defaultClientOutputBufferLimits).prefix(2).contains { $0 != $1 }
        if limitsChanged {
            names.append("client-output-buffer-limit (only the pubsub class is enforced yet)")
        }
        if lazyfreeLazyExpire { names.append("lazyfree-lazy-expire (expired keys are freed on the spot)") }
        if lazyfreeLazyServerDel { names.append("lazyfree-lazy-server-del (overwritten values are freed on the spot)") }
        if propagationErrorBehavior != "ignore" {
            names.append("propagation-error-behavior (replication is not implemented yet)")
        }
        names += inertFeatures.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }
        return names
    }

    // MARK: CONFIG GET / SET

    /// Name/value pairs for every directive whose name (or alias) matches one of the patterns.
    public func get(patterns: [String]) -> [(name: String, value: String)] {
        var result: [(String, String)] = []
        var seen = Set<String>()
        for directive in Directive.all {
            for name in [directive.name] + directive.aliases where !seen.contains(name) {
                let matched = patterns.contains { pattern in
                    Glob.matches(pattern: Array(pattern.utf8), string: Array(name.utf8), caseInsensitive: true)
                }
                guard matched else { continue }
                seen.insert(name)
                result.append((name, directive.format(self)))
            }
        }
        return result
    }

    /// Applies name/value pairs atomically; nil on success, else Redis's error text.
    public func set(_ pairs: [(String, String)]) -> String? {
        var directives: [Directive] = []
        for (name, _) in pairs {
            guard let directive = Directive.named(name) else {
                return "ERR Unknown option or number of arguments for CONFIG SET - '\(name)'"
            }
            if directive.immutable {
                return "ERR CONFIG SET failed (possibly related to argument '\(name)') - can't set immutable config"
            }
            if directives.contains(where: { $0.name == directive.name }) {
                return "ERR CONFIG SET failed (possibly related to argument '\(name)') - duplicate parameter"
            }
            directives.append(directive)
        }
        let previous = directives.map { $0.format(self) }
        func undo(through last: Int) {
            guard last >= 0 else { return }
            for index in 0...last {
                let old = previous[index]
                _ = directives[index].apply(self, directives[index].multiArgument ? ServerConfig.splitWords(old) : [old])
            }
        }
        for (index, directive) in directives.enumerated() {
            let value = pairs[index].1
            let arguments = directive.multiArgument ? ServerConfig.splitWords(value) : [value]
            if let failure = directive.apply(self, arguments) {
                undo(through: index - 1)
                return "ERR CONFIG SET failed (possibly related to argument '\(directive.name)') - \(failure)"
            }
        }
        // A new port or bind list, or OOM score, takes effect at once; if it cannot, every
        // value goes back (and effects already applied are applied again to the old values),
        // as Redis rolls back a failed apply.
        let effects: [(names: Set<String>, apply: (() -> Bool)?, reason: (String) -> String)] = [
            (["port", "bind"], rebindListeners,
             { $0 == "port" ? "Unable to listen on this port. Check server logs." : "Failed to bind to specified addresses." }),
            (["oom-score-adj", "oom-score-adj-values"], adjustOOMScore,
             { _ in "Failed to set current oom_score_adj. Check server logs." }),
        ]
        var applied: [() -> Bool] = []
        for effect in effects {
            let named = directives.indices.filter { effect.names.contains(directives[$0].name) }
            guard let first = named.first, let apply = effect.apply,
                  named.contains(where: { directives[$0].format(self) != previous[$0] }) else { continue }
            guard apply() else {
                undo(through: directives.count - 1)
                for reapply in applied { _ = reapply() }
                return "ERR CONFIG SET failed (possibly related to argument '\(directives[first].name)') - \(effect.reason(directives[first].name))"
            }
            applied.append(apply)
        }
        for directive in directives { onChange?(directive.name) }
        return nil
    }

    /// A multi-argument CONFIG SET value split on single spaces as Redis does (sdssplitlen):
    /// doubled spaces give empty words, which the directives then reject; "" gives none.
    static func splitWords(_ value: String) -> [String] {
        value.isEmpty ? [] : value.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
    }

    /// The rewrite of the config file; nil on success, else Redis's error text.
    public func rewrite() -> String? {
        guard let path = configFilePath else { return "ERR The server is running without a config file" }
        do {
            try ConfigRewriter.rewrite(path: path, config: self)
            return nil
        } catch let error as ConfigRewriter.Failure {
            return "ERR Rewriting config file: \(error.message)"
        } catch {
            return "ERR Rewriting config file: \(error)"
        }
    }
}
