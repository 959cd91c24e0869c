// keyspace_hits and keyspace_misses, the figures a cache's hit ratio is read from, against a
// real redis-server: after each of a list of commands over every type, both servers show the
// same counts. Redis counts the lookups of EXISTS, TYPE, TTL, TOUCH and OBJECT (without
// touching the key's access clock, except TOUCH) and of GETSET and SET ... GET, but not those
// of writes or of MEMORY USAGE. Under allkeys-lfu the first access raises a new key's
// counter from 5 to 6 for sure, which shows that EXISTS, TYPE, TTL and OBJECT leave it alone
// and TOUCH and GET do not.
import Testing
import TestSupport

private let commands = """
    get s|get nokey|mget s nokey|getrange s 0 1|strlen s|lcs s s|exists s nokey|type s|type nokey|ttl s|\
    pttl nokey|expiretime s|pexpiretime nokey|touch s nokey|dump s|object encoding s|object encoding nokey|\
    object refcount s|memory usage s|randomkey|keys *|scan 0|lrange l 0 -1|llen l|lindex l 0|lpos l a|\
    hget h f|hmget h f nof|hgetall h|hexists h f|hrandfield h|hscan h 0|smembers st|sismember st a|\
    sinter st st2|sintercard 2 st st2|sinterstore dst st st2|sunionstore dst st nokey|smove st st2 a|\
    zrange z 0 -1|zscore z a|zrank z a|zrangebyscore z 0 5|zunion 2 z nokey|zrangestore dz z 0 -1|\
    zinterstore dz 1 z|getbit bm 1|bitcount bm|bitfield_ro bm get u4 0|bitop and dbm bm nokey|geopos g p|\
    geosearch g fromlonlat 13 38 byradius 100 km|sort l alpha|sort l alpha store ds|copy s s2|\
    rename s2 s3|move s3 1|append s x|incr nokeyint|del s3|expire s 100|persist s|lpush l c|lpop l|\
    hset h f2 v|sadd st c|zadd z 3 c|setbit bm 3 1|getdel s|getset s v|getset nogs v|set s v get|\
    set nos v get
    """.split(separator: "|").map { $0.split(separator: " ").map(String.init) }

private func hitsAndMisses(_ client: RespClient) throws -> String {
    let stats = try client.call("INFO", "stats").text ?? ""
    return stats.split(separator: "\r\n").filter { $0.hasPrefix("keyspace_hits:") || $0.hasPrefix("keyspace_misses:") }
        .joined(separator: " ")
}

private func statsTranscript(port: Int) throws -> [String] {
    let client = try RespClient(port: port)
    for setup in [["FLUSHALL"], ["SET", "s", "hello"], ["RPUSH", "l", "a", "b"], ["HSET", "h", "f", "v"],
                  ["SADD", "st", "a", "b"], ["SADD", "st2", "b"], ["ZADD", "z", "1", "a", "2", "b"],
                  ["GEOADD", "g", "13.36", "38.11", "p"], ["SET", "bm", "\u{0F}"], ["CONFIG", "RESETSTAT"]] {
        _ = try client.call(setup)
    }
    var transcript: [String] = []
    for command in commands {
        _ = try client.call(command)
        transcript.append(command.joined(separator: " ") + " -> " + (try hitsAndMisses(client)))
    }
    _ = try client.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    for command in [["SET", "f", "v"], ["EXISTS", "f"], ["TYPE", "f"], ["TTL", "f"], ["OBJECT", "ENCODING", "f"],
                    ["OBJECT", "FREQ", "f"], ["TOUCH", "f"], ["OBJECT", "FREQ", "f"], ["SET", "g2", "v"],
                    ["GET", "g2"], ["OBJECT", "FREQ", "g2"]] {
        transcript.append(command.joined(separator: " ") + " -> " + (try client.call(command)).description)
    }
    _ = try client.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
    return transcript
}

@Test func keyspaceHitsAndMissesMatchRedis() throws {
    try expectTranscriptsMatchRedis("keyspace hits and misses", swiftletArguments: ["--server-threads", "2"]) {
        try statsTranscript(port: $0.port)
    }
}
