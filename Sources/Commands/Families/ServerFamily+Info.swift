// INFO: Redis 7.0.15's sections and field names, so exporters, Sentinel and client libraries
// that parse INFO read Swiftlet as they read Redis. Values come from the keyspace, the
// per-worker command statistics, the network layer and the process itself.
#if canImport(Glibc)
import Glibc
#endif
import Config
import CSystem
import Storage
import Support

enum InfoReport {
    /// What INFO with no argument shows: Redis's default sections plus our Cachestats and Tags.
    static let defaultSections = ["server", "clients", "memory", "persistence", "stats", "replication",
                                  "cpu", "modules", "errorstats", "cluster", "keyspace", "cachestats", "tags"]
    /// Every section, in the order Redis prints them (Cachestats and Tags, ours, last).
    static let allSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules",
                              "commandstats", "errorstats", "latencystats", "cluster", "keyspace", "cachestats", "tags"]

    static func command(_ c: CommandContext) {
        var requested: [String] = []
        for index in 1..<c.args.count { requested.append(c.string(index).lowercased()) }
        c.reply.verbatim(render(c, sections: requested))
    }

    /// The report for the requested section names ("default", "all", "everything" or names).
    static func render(_ c: CommandContext, sections requested: [String]) -> String {
        var wanted: [String] = []
        if requested.isEmpty || requested.contains("default") { wanted += defaultSections }
        if requested.contains("all") || requested.contains("everything") { wanted += allSections }
        wanted += requested.filter { allSections.contains($0) }
        var seen = Set<String>()
        var text = ""
        for section in allSections where wanted.contains(section) && seen.insert(section).inserted {
            if !text.isEmpty { text += "\r\n" }
            text += body(c, section)
        }
        return text
    }

    private static func lines(_ title: String, _ fields: [(String, String)]) -> String {
        var text = "# \(title)\r\n"
        for (name, value) in fields { text += "\(name):\(value)\r\n" }
        return text
    }

    static func human(_ bytes: Int) -> String {
        let value = Double(bytes)
        func fixed(_ v: Double, _ unit: String) -> String {
            let rounded = (v * 100).rounded() / 100
            var text = String(rounded)
            if let dot = text.firstIndex(of: ".") {
                let decimals = text[text.index(after: dot)...].count
                if decimals < 2 { text += String(repeating: "0", count: 2 - decimals) }
            }
            return text + unit
        }
        if bytes < 1024 { return "\(bytes)B" }
        if value < 1024 * 1024 { return fixed(value / 1024, "K") }
        if value < 1024 * 1024 * 1024 { return fixed(value / (1024 * 1024), "M") }
        if value < 1024.0 * 1024 * 1024 * 1024 { return fixed(value / (1024 * 1024 * 1024), "G") }
        return fixed(value / (1024.0 * 1024 * 1024 * 1024), "T")
    }

    /// Resident set size from /proc/self/statm (second field, in pages).
    static func residentSetSize() -> Int {
        guard let file = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 128)
        guard fgets(&line, Int32(line.count), file) != nil else { return 0 }
        let fields = String(cString: line).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    private static func seconds(_ tv: timeval) -> String {
        String(format6(Double(tv.tv_sec) + Double(tv.tv_usec) / 1_000_000))
    }

    static func format6(_ value: Double) -> String { fixed(value, "%.6f") }

    static func format2(_ value: Double) -> String { fixed(value, "%.2f") }
    static func format3(_ value: Double) -> String { fixed(value, "%.3f") }
    static func format4(_ value: Double) -> String { fixed(value, "%.4f") }

    private static func fixed(_ value: Double, _ format: String) -> String {
        var buffer = [CChar](repeating: 0, count: 400)
        _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
        return String(cString: buffer)
    }

    private static func body(_ c: CommandContext, _ section: String) -> String {
        let server = c.server
        let config = server.config
        let network = server.control?.networkMetrics() ?? NetworkMetrics()
        let now = Clock.milliseconds()
        switch section {
        case "server":
            var uts = utsname()
            uname(&uts)
            let system = withUnsafeBytes(of: uts.sysname) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            let release = withUnsafeBytes(of: uts.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            let machine = withUnsafeBytes(of: uts.machine) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            let uptime = (now - server.startedAtMilliseconds) / 1000
            return lines("Server", [
                ("redis_version", ServerIdentity.redisVersion), ("redis_git_sha1", "00000000"), ("redis_git_dirty", "0"),
                ("redis_build_id", "0000000000000000"), ("redis_mode", "standalone"),
                ("os", "\(system) \(release) \(machine)"), ("arch_bits", "64"),
                ("monotonic_clock", "POSIX clock_gettime"), ("multiplexing_api", "epoll"), ("atomicvar_api", "c11-builtin"),
                ("gcc_version", "0.0.0"), ("process_id", String(getpid())),
                ("process_supervised", config.supervised),
                ("run_id", server.runID), ("tcp_port", String(network.tcpPort)),
                ("server_time_usec", String(now * 1000)), ("uptime_in_seconds", String(uptime)),
                ("uptime_in_days", String(uptime / 86400)), ("hz", String(config.hz)), ("configured_hz", String(config.hz)),
                ("lru_clock", String(server.lruClock)), ("executable", CommandLine.arguments.first ?? ""),
                ("config_file", config.configFilePath ?? ""), ("io_threads_active", "0"),
                ("swiftlet_version", ServerIdentity.swiftletVersion), ("server_threads", String(network.workerThreads)),
            ])
        case "clients":
            return lines("Clients", [
                ("connected_clients", String(network.connectedClients)), ("cluster_connections", "0"),
                ("maxclients", String(config.maxclients)), ("client_recent_max_input_buffer", "0"),
                ("client_recent_max_output_buffer", "0"), ("blocked_clients", String(server.blocking.count + server.blocking.postponedCount)),
                ("tracking_clients", String(server.tracking.trackingClients)), ("clients_in_timeout_table", String(server.blocking.countWithTimeout)),
            ])
        case "memory":
            let overview = MemoryFamily.Overview(server)
            let (used, rss, peak) = (overview.used, overview.rss, overview.peak)
            var totalMemory = 0
            var info = sysinfo()
            if sysinfo(&info) == 0 { totalMemory = Int(info.totalram) * Int(info.mem_unit) }
            let compression = server.keyspace.compressionTotals
            let (lua, scripts) = (server.scripts.luaMemory, server.scripts.memory)
            return lines("Memory", [
                ("used_memory", String(used)), ("used_memory_human", human(used)),
                ("used_memory_rss", String(rss)), ("used_memory_rss_human", human(rss)),
                ("used_memory_peak", String(peak)), ("used_memory_peak_human", human(peak)),
                ("used_memory_peak_perc", format2(peak > 0 ? Double(used) * 100 / Double(peak) : 100) + "%"),
                ("used_memory_overhead", String(overview.startup + overview.clients)),
                ("used_memory_startup", String(overview.startup)),
                ("used_memory_dataset", String(overview.dataset)),
                ("total_system_memory", String(totalMemory)), ("total_system_memory_human", human(totalMemory)),
                // Lua heaps of every worker's state; functions are not built, so theirs are 0.
                ("used_memory_lua", String(lua)), ("used_memory_vm_eval", String(lua)),
                ("used_memory_lua_human", human(lua)), ("used_memory_scripts_eval", String(scripts)),
                ("number_of_cached_scripts", String(server.scripts.count)), ("number_of_functions", "0"),
                ("number_of_libraries", "0"), ("used_memory_vm_functions", "0"),
                ("used_memory_vm_total", String(lua)), ("used_memory_vm_total_human", human(lua)),
                ("used_memory_functions", "0"), ("used_memory_scripts", String(scripts)),
                ("used_memory_scripts_human", human(scripts)),
                ("maxmemory", String(config.maxmemory)), ("maxmemory_human", human(config.maxmemory)),
                ("maxmemory_policy", config.maxmemoryPolicy.rawValue),
                ("mem_fragmentation_ratio", format2(used > 0 ? Double(rss) / Double(used) : 0)),
                ("mem_fragmentation_bytes", String(rss - used)),
                ("mem_not_counted_for_evict", "0"), ("mem_replication_backlog", "0"),
                ("mem_clients_slaves", "0"), ("mem_clients_normal", String(overview.clients)),
                ("mem_aof_buffer", "0"), ("mem_allocator", "libc"), ("active_defrag_running", "0"),
                ("lazyfree_pending_objects", String(server.lazyFreer.pendingObjects)),
                ("lazyfreed_objects", String(server.lazyFreer.freedObjects)),
                // Our own (value-compression): compressed string values and the bytes saved.
                ("compressed_values", String(compression.values)),
                ("compressed_bytes_saved", String(compression.bytesSaved)),
            ])
        case "persistence":
            let stats = server.keyspace.aggregateStats()
            let snapshots = server.snapshots!
            let aof = server.aof!
            let running = snapshots.backgroundSaveRunning
            let currentSeconds = running ? (Clock.milliseconds() - snapshots.backgroundSaveStartedAt) / 1000 : -1
            return lines("Persistence", [
                ("loading", snapshots.loading ? "1" : "0"), ("async_loading", "0"), ("current_cow_peak", "0"), ("current_cow_size", "0"),
                ("current_cow_size_age", "0"), ("current_fork_perc", "0.00"), ("current_save_keys_processed", "0"),
                ("current_save_keys_total", "0"),
                ("rdb_changes_since_last_save", String(snapshots.changesSinceLastSave(dirty: stats.dirty))),
                ("rdb_bgsave_in_progress", running ? "1" : "0"), ("rdb_last_save_time", String(snapshots.lastSaveTime)),
                ("rdb_last_bgsave_status", snapshots.lastBackgroundSaveOK ? "ok" : "err"),
                ("rdb_last_bgsave_time_sec", String(snapshots.lastBackgroundSaveSeconds)),
                ("rdb_current_bgsave_time_sec", String(currentSeconds)),
                // No fork, so no copy-on-write: snapshots copy shards, not pages.
                ("rdb_saves", String(snapshots.saves)), ("rdb_last_cow_size", "0"),
                ("rdb_last_load_keys_expired", String(snapshots.lastLoadKeysExpired)),
                ("rdb_last_load_keys_loaded", String(snapshots.lastLoadKeysLoaded)), ("aof_enabled", aof.enabled ? "1" : "0"),
                ("aof_rewrite_in_progress", aof.rewriteRunning ? "1" : "0"),
                ("aof_rewrite_scheduled", aof.rewriteScheduled ? "1" : "0"),
                ("aof_last_rewrite_time_sec", String(aof.lastRewriteSeconds)),
                ("aof_current_rewrite_time_sec", aof.rewriteRunning ? String((Clock.milliseconds() - aof.rewriteStartedAt) / 1000) : "-1"),
                ("aof_last_bgrewrite_status", aof.lastRewriteOK ? "ok" : "err"), ("aof_rewrites", String(aof.rewrites)),
                ("aof_rewrites_consecutive_failures", String(aof.consecutiveRewriteFailures)),
                ("aof_last_write_status", aof.lastWriteOK ? "ok" : "err"), ("aof_last_cow_size", "0"), ("module_fork_in_progress", "0"),
                ("module_fork_last_cow_size", "0"),
            ] + (aof.enabled ? [
                ("aof_current_size", String(aof.currentSize)), ("aof_base_size", String(aof.rewriteBaseSize)),
                ("aof_pending_rewrite", aof.rewriteScheduled ? "1" : "0"), ("aof_buffer_length", String(aof.pendingBytes)),
                ("aof_pending_bio_fsync", "0"), ("aof_delayed_fsync", "0"),
            ] : []))
        case "stats":
            let stats = server.keyspace.aggregateStats()
            let processed = server.workerStats.reduce(0) { $0 + $1.commandsProcessed }
            let errors = server.errorStats.snapshot()
            let evictionTime = server.evictor.exceededTime()
            let expiry = server.activeExpiry.stats
            let pubsub = server.pubsub.counts
            return lines("Stats", [
                ("total_connections_received", String(network.totalConnectionsReceived)),
                ("total_commands_processed", String(processed)), ("instantaneous_ops_per_sec", String(server.instantaneousOps)),
                ("total_net_input_bytes", String(network.totalNetInputBytes)),
                ("total_net_output_bytes", String(network.totalNetOutputBytes)),
                ("total_net_repl_input_bytes", "0"), ("total_net_repl_output_bytes", "0"),
                ("instantaneous_input_kbps", "0.00"), ("instantaneous_output_kbps", "0.00"),
                ("instantaneous_input_repl_kbps", "0.00"), ("instantaneous_output_repl_kbps", "0.00"),
                ("rejected_connections", String(network.rejectedConnections)), ("sync_full", "0"),
                ("sync_partial_ok", "0"), ("sync_partial_err", "0"), ("expired_keys", String(stats.expiredKeys)),
                ("expired_stale_perc", format2(expiry.staleRatio * 100)),
                ("expired_time_cap_reached_count", String(expiry.timeCapReachedCount)),
                ("expire_cycle_cpu_milliseconds", String(expiry.cycleMicroseconds / 1000)),
                ("evicted_keys", String(server.evictor.evictedKeys)), ("evicted_clients", "0"),
                ("total_eviction_exceeded_time", String(evictionTime.total)),
                ("current_eviction_exceeded_time", String(evictionTime.current)),
                ("keyspace_hits", String(stats.keyspaceHits)), ("keyspace_misses", String(stats.keyspaceMisses)),
                ("pubsub_channels", String(pubsub.channels)), ("pubsub_patterns", String(pubsub.patterns)),
                ("pubsubshard_channels", String(pubsub.shardChannels)),
                ("latest_fork_usec", "0"), ("total_forks", "0"), ("migrate_cached_sockets", "0"),
                ("slave_expires_tracked_keys", "0"), ("active_defrag_hits", "0"), ("active_defrag_misses", "0"),
                ("active_defrag_key_hits", "0"), ("active_defrag_key_misses", "0"), ("total_active_defrag_time", "0"),
                ("current_active_defrag_time", "0"), ("tracking_total_keys", String(server.tracking.totalKeys)),
                ("tracking_total_items", String(server.tracking.totalItems)),
                ("tracking_total_prefixes", String(server.tracking.totalPrefixes)), ("unexpected_error_replies", "0"),
                ("total_error_replies", String(errors.total)), ("dump_payload_sanitizations", "0"),
                ("total_reads_processed", String(network.totalReads)), ("total_writes_processed", String(network.totalWrites)),
                ("io_threaded_reads_processed", "0"), ("io_threaded_writes_processed", "0"),
                // DIVERGENCE: reply buffers grow as replies need (no cron expansion to count).
                ("reply_buffer_shrinks", String(network.replyBufferShrinks)), ("reply_buffer_expands", "0"),
            ])
        case "replication":
            return lines("Replication", [
                ("role", server.isReplica ? "slave" : "master"), ("connected_slaves", "0"),
                ("master_failover_state", "no-failover"), ("master_replid", server.replicationID),
                ("master_replid2", String(repeating: "0", count: 40)), ("master_repl_offset", "0"),
                ("second_repl_offset", "-1"), ("repl_backlog_active", "0"),
                ("repl_backlog_size", String(config.replBacklogSize)), ("repl_backlog_first_byte_offset", "0"),
                ("repl_backlog_histlen", "0"),
            ])
        case "cpu":
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            var children = rusage()
            getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &children)
            return lines("CPU", [
                ("used_cpu_sys", seconds(usage.ru_stime)), ("used_cpu_user", seconds(usage.ru_utime)),
                ("used_cpu_sys_children", seconds(children.ru_stime)), ("used_cpu_user_children", seconds(children.ru_utime)),
            ])
        case "modules":
            return lines("Modules", [])
        case "errorstats":
            return lines("Errorstats", server.errorStats.snapshot().byCode.map { ("errorstat_\($0.0)", "count=\($0.1)") })
        case "cluster":
            return lines("Cluster", [("cluster_enabled", "0")])
        case "commandstats":
            var fields: [(String, String)] = []
            for spec in server.table.all {
                var total = CommandStats.Counters()
                for stats in server.workerStats {
                    let counters = stats.counters[spec.statsIndex]
                    total.calls += counters.calls
                    total.ticks &+= counters.ticks
                    total.rejectedCalls += counters.rejectedCalls
                    total.failedCalls += counters.failedCalls
                }
                guard total.calls > 0 || total.rejectedCalls > 0 || total.failedCalls > 0 else { continue }
                let microseconds = Clock.microseconds(ticks: total.ticks)
                let perCall = total.calls > 0 ? Double(microseconds) / Double(total.calls) : 0
                fields.append(("cmdstat_\(spec.fullName)",
                               "calls=\(total.calls),usec=\(microseconds),usec_per_call=\(format2(perCall)),rejected_calls=\(total.rejectedCalls),failed_calls=\(total.failedCalls)"))
            }
            return lines("Commandstats", fields)
        case "latencystats":
            return lines("Latencystats", config.latencyTracking ? latencyFields(server) : [])
        case "cachestats":
            return lines("Cachestats", cacheFields(server))
        case "tags":
            var totals = TagTotals()
            for shard in server.keyspace.shards { shard.withLock { shard.addTagTotals(to: &totals) } }
            return lines("Tags", [("tagged_keys", String(totals.taggedKeys)), ("tag_memberships", String(totals.memberships)),
                                  ("tag_memory", String(totals.memory))])
        case "keyspace":
            var fields: [(String, String)] = []
            for db in 0..<server.keyspace.databaseCount {
                let keys = server.keyspace.keyCount(db: db)
                guard keys > 0 else { continue }
                let expires = server.keyspace.volatileCount(db: db)
                fields.append(("db\(db)", "keys=\(keys),expires=\(expires),avg_ttl=\(server.activeExpiry.averageTTL(db: db))"))
            }
            return lines("Keyspace", fields)
        default:
            return ""
        }
    }

    /// `latency_percentiles_usec_<command>:p50=…,p99=…` for every command with recorded calls,
    /// in Redis's number formats ("%f" trimmed for the percentile, "%.3f" microseconds).
    private static func latencyFields(_ server: ServerContext) -> [(String, String)] {
        let percentiles = server.config.latencyTrackingInfoPercentiles
        let labels = percentiles.map { "p" + Numbers.trimmedDecimal($0) + "=" }
        let histograms = server.workerStats.map(\.latency)
        var fields: [(String, String)] = []
        for spec in server.table.all {
            guard let values = LatencyHistograms.percentiles(percentiles, slot: spec.statsIndex, in: histograms) else { continue }
            let text = zip(labels, values).map { label, ticks in
                label + format3(Double(ticks) / Clock.ticksPerMillisecond * 1000)
            }
            fields.append(("latency_percentiles_usec_\(spec.fullName)", text.joined(separator: ",")))
        }
        return fields
    }

    /// Our Cachestats section: the overall hit ratio, then hits, misses and hit ratio of the
    /// most used key prefixes (README.md documents the fields).
    private static func cacheFields(_ server: ServerContext) -> [(String, String)] {
        let stats = server.keyspace.aggregateStats()
        let limit = server.config.cachestatsPrefixes
        let generation = server.prefixStatsGeneration
        let rows = PrefixStats.top(limit, of: server.workerStats.map { $0.prefixes.snapshot(generation: generation) })
        var fields: [(String, String)] = [
            ("cachestats_hits", String(stats.keyspaceHits)), ("cachestats_misses", String(stats.keyspaceMisses)),
            ("cachestats_hit_ratio", hitRatio(stats.keyspaceHits, stats.keyspaceMisses)),
            ("cachestats_prefixes", String(limit)), ("cachestats_prefixes_shown", String(rows.count)),
        ]
        for row in rows {
            fields.append(("cachestats_prefix_" + prefixLabel(row.prefix),
                           "hits=\(row.hits),misses=\(row.misses),hit_ratio=\(hitRatio(Int(row.hits), Int(row.misses)))"))
        }
        return fields
    }

    /// hits / (hits + misses) with four decimals ("0.0000" before any lookup).
    static func hitRatio(_ hits: Int, _ misses: Int) -> String {
        let lookups = hits + misses
        return format4(lookups > 0 ? Double(hits) / Double(lookups) : 0)
    }

    /// A prefix as an INFO field-name suffix: bytes that would break the `name:value` line or
    /// the `k=v,…` list (controls, space, ':', ',', '=', non-ASCII) become '_'; keys without
    /// any ':' are reported as "(none)".
    static func prefixLabel(_ prefix: [UInt8]?) -> String {
        guard let prefix else { return "(none)" }
        let safe = prefix.map { byte -> UInt8 in
            byte <= 32 || byte >= 127 || byte == 58 || byte == 44 || byte == 61 ? 95 : byte
        }
        return String(decoding: safe, as: UTF8.self)
    }
}
