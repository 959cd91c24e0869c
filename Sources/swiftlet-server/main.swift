// swiftlet-server: parses the command line and configuration like redis-server, then runs
// the server until it is shut down. First of all it may execute itself again, so that
// malloc uses huge pages (HugePages.swift).
#if canImport(Glibc)
import Glibc
#endif
import Config
import Server

HugePages.reexecuteIfUseful()

switch ServerConfig.startup(arguments: Array(CommandLine.arguments.dropFirst()), readStdin: {
    var text = ""
    while let line = readLine(strippingNewline: false) { text += line }
    return text
}) {
case .exit(let status, let out, let err):
    if !out.isEmpty { fputs(out, stdout) }
    if !err.isEmpty { fputs(err, stderr) }
    exit(status)
case .run(let config):
    exit(Server(config: config).run())
}
