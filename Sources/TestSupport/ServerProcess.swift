// Starts a server binary (swiftlet-server or Debian's redis-server) on a free loopback port
// for a test, waits until it answers PING, and stops exactly that process (SIGTERM, then
// SIGKILL) when the test is done. Tests never use fixed ports or servers they did not start.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public final class ServerProcess {
    public let port: Int
    public let process: ChildProcess
    public let directory: URL

    public var pid: Int32 { process.pid }

    public enum Failure: Error, CustomStringConvertible {
        case missingBinary(String)
        case didNotStart(String)
        case notRealRedis(String)
        public var description: String {
            switch self {
            case .notRealRedis(let binary):
                return "\(binary) is not Redis (its INFO names swiftlet_version): reinstall Debian's redis-server"
            case .missingBinary(let what): return "binary not found: \(what)"
            case .didNotStart(let log): return "server did not start:\n\(log)"
            }
        }
    }

    /// Path of the built swiftlet-server: $SWIFTLET_SERVER_BIN, else next to the test bundle.
    public static var swiftletBinary: String? {
        if let path = ProcessInfo.processInfo.environment["SWIFTLET_SERVER_BIN"], FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("swiftlet-server").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }

    /// Path of Debian's redis-server: $REDIS_SERVER_BIN or the usual locations.
    public static var redisBinary: String? {
        let candidates = [ProcessInfo.processInfo.environment["REDIS_SERVER_BIN"], "/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public static var redisAvailable: Bool { redisBinary != nil }

    /// Ports this test process has handed out: a port stays bindable until its server binds
    /// it, and two tests starting servers at the same moment must not get the same one (the
    /// second server fails to bind, and its test would find the first one answering on its
    /// port).
    private static var portsHandedOut = Set<Int>()
    private static let portsLock = NSLock()

    /// A port nothing listens on right now and no other test of this process was given,
    /// below the kernel's ephemeral range: a port from that range (the kernel's pick for port
    /// 0) can be taken as the local port of some test's outgoing connection before the server
    /// binds it ("Address already in use").
    public static func freePort() -> Int {
        // (A machine whose ephemeral range starts low leaves no such ports: any will do.)
        let low = 10_000, high = ephemeralRangeStart > 11_000 ? ephemeralRangeStart - 1 : 65_000
        while true {
            let port = Int.random(in: low...high)
            guard canBind(port) else { continue }
            portsLock.lock()
            defer { portsLock.unlock() }
            if portsHandedOut.insert(port).inserted { return port }
        }
    }

    /// The first port of the kernel's ephemeral range (net.ipv4.ip_local_port_range).
    private static let ephemeralRangeStart: Int = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) } ?? 32768
    }()

    /// Whether a listening socket could bind 127.0.0.1:`port` now.
    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    public static func swiftlet(_ arguments: [String] = [], environment: [String: String] = [:]) throws -> ServerProcess {
        guard let binary = swiftletBinary else { throw Failure.missingBinary("swiftlet-server (build it, or set SWIFTLET_SERVER_BIN)") }
        return try ServerProcess(binary: binary, arguments: ["--save", "", "--enable-debug-command", "yes"] + arguments,
                                 environment: environment)
    }

    public static func redis(_ arguments: [String] = []) throws -> ServerProcess {
        guard let binary = redisBinary else { throw Failure.missingBinary("redis-server") }
        let server = try ServerProcess(binary: binary, arguments: ["--save", "", "--appendonly", "no", "--enable-debug-command", "yes"] + arguments)
        // A reference that is really Swiftlet would make every differential test pass by
        // comparing Swiftlet with itself.
        if case .bulk(let info?) = try RespClient(port: server.port).call("INFO", "server"),
           String(decoding: info, as: UTF8.self).contains("swiftlet_version") {
            server.stop()
            throw Failure.notRealRedis(binary)
        }
        return server
    }

    /// Starts `binary [config-file] --port <free> --bind 127.0.0.1 --dir <temp> <arguments>`
    /// (a leading config file path in `arguments` stays first, as the command line requires).
    public init(binary: String, arguments: [String], environment: [String: String] = [:], waitUntilReady: Bool = true) throws {
        port = ServerProcess.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configFile = arguments.first.map { $0.hasPrefix("-") ? [] : [$0] } ?? []
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NOTIFY_SOCKET")
        for (key, value) in environment { env[key] = value }
        process = try ChildProcess(binary, configFile + ["--port", String(port), "--bind", "127.0.0.1", "--dir", directory.path]
                                   + arguments.dropFirst(configFile.count), environment: env)
        if waitUntilReady { try waitForPing() }
    }

    private func waitForPing() throws {
        let deadline = Date().addingTimeInterval(15)
        var lastProbe = "none"
        while Date() < deadline {
            if !process.isRunning {
                usleep(100_000)  // what it printed may still be in the pipe
                throw Failure.didNotStart("pid \(pid) exited (status \(process.status.map(String.init) ?? "?"))\n\(log)")
            }
            lastProbe = probe()
            if lastProbe.isEmpty { return }
            usleep(20_000)
        }
        stop()
        throw Failure.didNotStart("pid \(pid) on port \(port) not ready after 15 s (last probe: \(lastProbe))\n\(log)")
    }

    /// Empty when this process answers on `port`; otherwise what stood in the way. The answer
    /// must come from this process: a server of someone else's on the port means ours could
    /// not bind it (and will exit).
    private func probe() -> String {
        guard let client = try? RespClient(port: port) else { return "cannot connect" }
        guard let pong = try? client.call("PING") else { return "no answer to PING" }
        guard pong == .simple("PONG") else { return "PING answered \(pong)" }
        guard case .bulk(let info?) = try? client.call("INFO", "server") else { return "no INFO" }
        return String(decoding: info, as: UTF8.self).contains("process_id:\(process.pid)\r\n") ? "" : "another process answers"
    }

    /// Everything the server printed so far.
    public var log: String { process.output }

    /// Whether the server logs `text` within `seconds`: its output reaches `log` through a
    /// pipe, some time after the server wrote it.
    public func logs(_ text: String, within seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !log.contains(text) && Date() < deadline { usleep(10_000) }
        return log.contains(text)
    }

    /// Sends `signal` to this server only.
    public func signal(_ number: Int32) {
        if process.isRunning { kill(pid, number) }
    }

    /// Waits up to `seconds` for the process to exit; returns its status if it did.
    @discardableResult
    public func waitForExit(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        return process.status
    }

    /// SIGTERM, then SIGKILL after five seconds; idempotent.
    public func stop() {
        if process.isRunning {
            signal(SIGTERM)
            if waitForExit(seconds: 5) == nil {
                signal(SIGKILL)
                waitForExit(seconds: 5)
            }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}

extension ServerProcess {
    /// Polls INFO (up to about `seconds`) until `blocked_clients` reads `count`; false if it never does.
    public func waitForBlockedClients(_ count: Int, seconds: Double = 5) throws -> Bool {
        let probe = try RespClient(port: port)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let info = try probe.call("INFO", "clients").text, info.contains("blocked_clients:\(count)\r\n") { return true }
            usleep(10_000)
        }
        return false
    }
}
