// Helpers the append-only file tests share: a fresh directory, INFO persistence fields,
// waiting for a rewrite to end, copying a server's appendonlydir, and reading the RESP
// commands of an AOF file (and the file its manifest names as the base).
import Foundation
import TestSupport

func makeAOFTestDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-aof-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// A field of INFO persistence.
func persistenceInfo(_ client: RespClient, _ field: String) throws -> String? {
    let text = try client.call("info", "persistence").text ?? ""
    return text.split(whereSeparator: \.isNewline).first { $0.hasPrefix(field + ":") }
        .map { String($0.dropFirst(field.count + 1)) }
}

/// Waits (30 s at most) until no rewrite runs or is scheduled.
func waitForAOFRewrite(_ client: RespClient) throws {
    let deadline = Date().addingTimeInterval(30)
    while try persistenceInfo(client, "aof_rewrite_in_progress") != "0" || persistenceInfo(client, "aof_rewrite_scheduled") != "0",
          Date() < deadline { usleep(10_000) }
}

/// A new directory holding a copy of `server`'s appendonlydir (the caller removes it).
func copyAppendOnlyDirectory(of server: ServerProcess) throws -> URL {
    let copy = try makeAOFTestDirectory()
    try FileManager.default.copyItem(at: server.directory.appendingPathComponent("appendonlydir"),
                                     to: copy.appendingPathComponent("appendonlydir"))
    return copy
}

/// The manifest of the appendonlydir in `directory`.
func aofManifest(in directory: URL) throws -> String {
    try String(contentsOf: directory.appendingPathComponent("appendonlydir/appendonly.aof.manifest"), encoding: .utf8)
}

/// The file the manifest in `directory` names as the base (`type b`).
func aofBaseFile(in directory: URL) throws -> URL? {
    let line = try aofManifest(in: directory).split(separator: "\n").first { $0.hasSuffix(" type b") }
    return line.map { directory.appendingPathComponent("appendonlydir/" + $0.split(separator: " ")[1]) }
}

/// The commands of a RESP AOF file, each with the database it runs in (SELECT tracked and
/// left out; -1 before the first); nil where the file is not RESP commands.
func aofCommands(_ file: URL) throws -> [(db: Int, args: [String])]? {
    let bytes = [UInt8](try Data(contentsOf: file))
    var offset = 0
    func line() -> String? {
        guard let end = bytes[offset...].firstIndex(of: 13), end + 1 < bytes.count, bytes[end + 1] == 10 else { return nil }
        defer { offset = end + 2 }
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }
    var commands: [(db: Int, args: [String])] = []
    var db = -1
    while offset < bytes.count {
        guard let header = line(), header.first == "*", let count = Int(header.dropFirst()) else { return nil }
        var args: [String] = []
        for _ in 0..<count {
            guard let length = line(), length.first == "$", let size = Int(length.dropFirst()),
                  offset + size + 2 <= bytes.count else { return nil }
            args.append(String(decoding: bytes[offset..<offset + size], as: UTF8.self))
            offset += size + 2
        }
        if args.first?.uppercased() == "SELECT", let selected = Int(args[1]) {
            db = selected
        } else {
            commands.append((db, args))
        }
    }
    return commands
}
