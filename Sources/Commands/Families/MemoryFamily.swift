// MEMORY: per-key memory usage, the memory overview (STATS) in Redis 7.0.15's field names and
// nesting, a plain-language DOCTOR report, and the allocator's own view (MALLOC-STATS, PURGE).
// Figures come from the shards' running accounting and from glibc's malloc, the allocator
// Swiftlet uses; the arguments, reply shapes and errors are Redis's.
#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Storage

enum MemoryFamily {
    static let specs: [CommandSpec] = [
        CommandSpec("memory", arity: -2, flags: [], group: .server, since: "4.0.0",
                    summary: "Inspect how the server uses memory.", complexity: "Depends on subcommand.",
                    subcommands: [
                        CommandSpec("usage", arity: -3, flags: [.readonly], keys: [KeySpec.single([.RO], at: 2)],
                                    group: .server, since: "4.0.0", summary: "Bytes a key and its value take.",
                                    complexity: "O(1)",
                                    arguments: [.key(), CommandArgument("count", .integer, token: "SAMPLES", flags: .optional)],
                                    handler: usage),
                        overview("stats", summary: "Break down where the server's memory goes.", handler: stats),
                        overview("doctor", summary: "Explain memory problems in plain words.", handler: doctor),
                        overview("malloc-stats", summary: "The allocator's own statistics.", handler: mallocStats),
                        CommandSpec("purge", arity: 2, flags: [], tips: ["request_policy:all_shards", "response_policy:all_succeeded"],
                                    group: .server, since: "4.0.0", summary: "Give free allocator memory back to the system.",
                                    complexity: "Proportional to the free memory the allocator holds", handler: purge),
                        CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .server, since: "4.0.0",
                                    summary: "Explain the subcommands.", complexity: "O(1)",
                                    handler: { HelpText.reply($0, command: "MEMORY", lines: help) }),
                    ], handler: nil),
    ]

    private static func overview(_ name: String, summary: String, handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: 2, flags: [],
                    tips: ["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
                    group: .server, since: "4.0.0", summary: summary, complexity: "O(1)", handler: handler)
    }

    // DIVERGENCE: help texts are our own words, in Redis's layout.
    static let help = [
        "DOCTOR",
        "    Describe memory problems of the server, if any, in plain words.",
        "MALLOC-STATS",
        "    Show the memory allocator's internal statistics.",
        "PURGE",
        "    Ask the allocator to hand unused memory back to the operating system.",
        "STATS",
        "    Break down the server's memory use (same figures as INFO memory and more).",
        "USAGE <key> [SAMPLES <count>]",
        "    Report the bytes <key> and its value take. SAMPLES is accepted for compatibility;",
        "    sizes are tracked exactly, so no sampling happens.",
    ]

    // MARK: USAGE

    static func usage(_ c: CommandContext) {
        var index = 3
        while index < c.args.count {
            guard c.args.equals(index, "samples"), index + 1 < c.args.count else { return c.error(RedisError.syntax) }
            guard let samples = c.integer(index + 1) else { return }
            guard samples >= 0 else { return c.error(RedisError.syntax) }
            index += 2
        }
        c.withKey(2) { shard, key, hash in
            guard let entry = shard.find(db: c.session.db, key: key, hash: hash, now: c.now, expireKeys: c.expiresKeys) else {
                return c.reply.nullBulk()
            }
            // DIVERGENCE: the figure is this server's layout, not Redis's: the key's single
            // allocation (key, value or collection header, expiry, access clock) plus its
            // collection's tracked size and its slot in the table's index. Collections keep a
            // running size, so SAMPLES (Redis's estimate from N elements) changes nothing.
            c.reply.integer(entry.allocationSize + MemoryLayout<UInt>.size)
        }
    }

    // MARK: STATS

    /// The memory figures INFO memory and MEMORY STATS/DOCTOR share, taken at one moment.
    struct Overview {
        var used = 0
        var peak = 0
        var startup = 0
        var clients = 0
        var connectedClients = 0
        var dataset = 0
        var rss = 0

        init(_ server: ServerContext) {
            let network = server.control?.networkMetrics() ?? NetworkMetrics()
            dataset = server.keyspace.usedMemory
            clients = server.clientBufferBytes
            connectedClients = network.connectedClients
            startup = server.baselineMemory
            used = server.usedMemory(dataset: dataset)
            server.notePeakMemory(used)
            peak = server.peakMemory
            rss = InfoReport.residentSetSize()
        }
    }

    static func stats(_ c: CommandContext) {
        let overview = Overview(c.server)
        let keyspace = c.keyspace
        // Per database: its keys and the bytes of its tables' bucket arrays (Redis's "main
        // hashtable overhead"); databases without keys are left out, as Redis does.
        var keys = [Int](repeating: 0, count: keyspace.databaseCount)
        var tableBytes = keys
        for shard in keyspace.shards {
            shard.withLock {
                for db in 0..<keyspace.databaseCount {
                    keys[db] += shard.dicts[db].count
                    tableBytes[db] += shard.dicts[db].bucketBytes
                }
            }
        }
        let databases = (0..<keyspace.databaseCount).filter { keys[$0] > 0 }.map { (db: $0, keys: keys[$0], tableBytes: tableBytes[$0]) }
        let totalKeys = databases.reduce(0) { $0 + $1.keys }
        let overheadTotal = overview.startup + overview.clients + databases.reduce(0) { $0 + $1.tableBytes }
        let netUsage = max(overview.used - overview.startup, 0)
        let dataset = max(overview.used - overheadTotal, 0)
        let heap = mallinfo2()
        let allocated = Int(heap.uordblks + heap.hblkhd)
        let active = Int(heap.arena + heap.hblkhd)
        let resident = overview.rss
        func ratio(_ a: Int, _ b: Int) -> Double { b > 0 ? Double(a) / Double(b) : 0 }

        c.reply.mapHeader(27 + databases.count)
        func field(_ name: String, _ value: Int) {
            c.reply.bulk(name)
            c.reply.integer(value)
        }
        func field(_ name: String, double value: Double) {
            c.reply.bulk(name)
            c.reply.double(value)
        }
        field("peak.allocated", overview.peak)
        field("total.allocated", overview.used)
        field("startup.allocated", overview.startup)
        field("replication.backlog", 0)
        field("clients.slaves", 0)
        field("clients.normal", overview.clients)
        field("cluster.links", 0)
        field("aof.buffer", 0)
        field("lua.caches", 0)
        field("functions.caches", 0)
        for database in databases {
            c.reply.bulk("db.\(database.db)")
            c.reply.mapHeader(3)
            field("overhead.hashtable.main", database.tableBytes)
            // DIVERGENCE: expire times live inside each key's allocation, and there is no
            // cluster slot-to-keys index, so these two overheads are always 0.
            field("overhead.hashtable.expires", 0)
            field("overhead.hashtable.slot-to-keys", 0)
        }
        field("overhead.total", overheadTotal)
        field("keys.count", totalKeys)
        field("keys.bytes-per-key", totalKeys > 0 ? netUsage / totalKeys : 0)
        field("dataset.bytes", dataset)
        field("dataset.percentage", double: netUsage > 0 ? Double(dataset) * 100 / Double(netUsage) : 0)
        field("peak.percentage", double: overview.peak > 0 ? Double(overview.used) * 100 / Double(overview.peak) : 0)
        field("allocator.allocated", allocated)
        field("allocator.active", active)
        field("allocator.resident", resident)
        field("allocator-fragmentation.ratio", double: ratio(active, allocated))
        field("allocator-fragmentation.bytes", active - allocated)
        field("allocator-rss.ratio", double: ratio(resident, active))
        field("allocator-rss.bytes", resident - active)
        // DIVERGENCE: glibc reports no resident figure of its own (jemalloc does), so the
        // process RSS stands for allocator.resident and the RSS overhead is nil.
        field("rss-overhead.ratio", double: 1)
        field("rss-overhead.bytes", 0)
        field("fragmentation", double: ratio(overview.rss, overview.used))
        field("fragmentation.bytes", overview.rss - overview.used)
    }

    // MARK: DOCTOR

    // DIVERGENCE: the report is our own wording and checks (Redis's is its own prose too);
    // it is text for people, so no client parses it.
    static func doctor(_ c: CommandContext) {
        c.reply.verbatim(doctorReport(Overview(c.server)))
    }

    /// A short report in our own words: what looks wrong and what to do about it.
    static func doctorReport(_ overview: Overview) -> String {
        if overview.used < 5 * 1024 * 1024 {
            return "This server holds very little data (under 5 MB), too little for a meaningful memory diagnosis. Load some data and ask again."
        }
        var findings: [String] = []
        if overview.peak > overview.used * 3 / 2 {
            findings.append("* Peak memory (\(InfoReport.human(overview.peak))) is much higher than current use (\(InfoReport.human(overview.used))). Freed memory is often kept by the allocator; MEMORY PURGE asks it to return what it can.")
        }
        if overview.rss > overview.used * 7 / 5 && overview.rss - overview.used > 10 * 1024 * 1024 {
            findings.append("* The process's resident memory (\(InfoReport.human(overview.rss))) is well above what the data needs (\(InfoReport.human(overview.used))): the heap is fragmented. MEMORY PURGE may help; a restart compacts it fully.")
        }
        if overview.connectedClients > 0 && overview.clients / overview.connectedClients > 200 * 1024 {
            findings.append("* Client buffers average more than 200 KB per connection (\(InfoReport.human(overview.clients)) in all): look for slow readers or very large replies (CLIENT LIST shows buffer sizes).")
        }
        if findings.isEmpty { return "No memory problems found: peak, fragmentation and client buffers all look normal." }
        return "Memory findings:\n\n" + findings.joined(separator: "\n\n") + "\n"
    }

    // MARK: MALLOC-STATS and PURGE

    // DIVERGENCE: Swiftlet runs on glibc's malloc, so this is malloc_info's XML where Debian's
    // Redis (jemalloc) prints jemalloc's statistics text; both are a verbatim string.
    static func mallocStats(_ c: CommandContext) {
        var buffer: UnsafeMutablePointer<CChar>?
        var size = 0
        guard let stream = open_memstream(&buffer, &size) else {
            return c.reply.bulk("Stats not supported for the current allocator")
        }
        malloc_info(0, stream)
        fclose(stream)
        defer { free(buffer) }
        c.reply.verbatim(buffer.map { String(cString: $0) } ?? "")
    }

    static func purge(_ c: CommandContext) {
        malloc_trim(0)
        c.reply.ok()
    }
}
