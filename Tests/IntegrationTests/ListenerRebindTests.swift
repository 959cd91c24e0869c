// CONFIG SET port and bind against a real redis-server: the server moves to a new port (the
// old one soon refuses connections, the connection that asked keeps working); a port another
// socket holds, or an address the host does not have, fails with Redis's error and puts every
// value of the same CONFIG SET back, the server still answering where it was.
import Foundation
import Glibc
import Testing
import TestSupport

/// Whether a server answers PING on `port`.
private func answers(on port: Int) -> Bool {
    guard let client = try? RespClient(port: port) else { return false }
    return (try? client.call("PING")) == .simple("PONG")
}

/// A socket listening on a free loopback port, for a server to fail to bind.
private func occupiedPort() throws -> (fd: Int32, port: Int) {
    let port = ServerProcess.freePort()
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    try #require(bound == 0 && listen(fd, 1) == 0)
    return (fd, port)
}

private func rebindTranscript(_ server: ServerProcess) throws -> [String] {
    let client = try RespClient(port: server.port)
    let newPort = ServerProcess.freePort()
    let occupied = try occupiedPort()
    defer { close(occupied.fd) }
    var transcript: [String] = []
    func run(_ args: String...) throws { transcript.append(try client.call(args).description) }
    try run("CONFIG", "SET", "port", String(newPort))
    // Swiftlet's worker 0 closes the old listener right after the reply (DIVERGENCE in
    // Server.rebindListeners): give it a moment.
    let deadline = Date().addingTimeInterval(5)
    while answers(on: server.port) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
    transcript.append("new port answers: \(answers(on: newPort)), old port answers: \(answers(on: server.port))")
    try run("CONFIG", "SET", "maxmemory", "10000001", "port", String(occupied.port), "client-query-buffer-limit", "10m")
    try run("CONFIG", "GET", "maxmemory")
    try run("CONFIG", "GET", "client-query-buffer-limit")
    transcript.append("port kept: \((try client.call("CONFIG", "GET", "port")) == .array([.bulk(Array("port".utf8)), .bulk(Array(String(newPort).utf8))]))")
    transcript.append("still answers: \(answers(on: newPort))")
    try run("CONFIG", "SET", "bind", "10.99.99.99")
    try run("CONFIG", "GET", "bind")
    transcript.append("still answers: \(answers(on: newPort))")
    try run("CONFIG", "SET", "bind", "127.0.0.1 -::1")
    try run("CONFIG", "GET", "bind")
    transcript.append("answers after bind: \(answers(on: newPort))")
    try run("PING")
    return transcript
}

@Test func configSetPortAndBindMatchRedis() throws {
    let ours = try expectTranscriptsMatchRedis("CONFIG SET port/bind", swiftletArguments: ["--server-threads", "2"],
                                               rebindTranscript)
    #expect(ours.count > 1 && ours[1] == "new port answers: true, old port answers: false")
}
