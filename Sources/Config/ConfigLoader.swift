// Start-up: redis-server's command line (config file, `-` for stdin, `--name value`
// overrides appended after the file, --version, --help) and redis.conf loading with
// `include` (globs allowed), last-one-wins directives and Redis's fatal error block.
#if canImport(Glibc)
import Glibc
#endif
import Support

public enum StartupOutcome {
    case run(ServerConfig)
    case exit(status: Int32, stdout: String, stderr: String)
}

extension ServerConfig {
    public static let versionLine = "Redis server v=7.0.15 sha=00000000:0 malloc=libc bits=64 build=0000000000000000"

    public static let usage = """
        Usage: swiftlet-server [/path/to/swiftlet.conf] [options] [-]
               swiftlet-server - (read config from stdin)
               swiftlet-server -v or --version
               swiftlet-server -h or --help

        Examples:
               swiftlet-server (run the server with default config)
               swiftlet-server /etc/swiftlet/swiftlet.conf
               swiftlet-server --port 7777
               swiftlet-server --port 7777 --replicaof 127.0.0.1 8888
               swiftlet-server /etc/myswiftlet.conf --loglevel verbose -
               swiftlet-server /etc/myswiftlet.conf --loglevel verbose

        """

    /// Turns argv (without the program name) into a configuration or an exit.
    public static func startup(arguments: [String], readStdin: () -> String) -> StartupOutcome {
        if let first = arguments.first {
            if first == "-v" || first == "--version" { return .exit(status: 0, stdout: versionLine + "\n", stderr: "") }
            if first == "-h" || first == "--help" { return .exit(status: 0, stdout: usage, stderr: "") }
        }
        var index = 0
        var filePath: String?
        if let first = arguments.first, !first.hasPrefix("-") {
            filePath = first
            index = 1
        }
        var readFromStdin = false
        var overrides = ""
        var sawOption = false
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "-" {
                readFromStdin = true
            } else if argument.hasPrefix("--") {
                if sawOption { overrides += "\n" }
                overrides += String(argument.dropFirst(2))
                // `--save` without a value means `save ""`.
                if argument == "--save" && (index + 1 == arguments.count || arguments[index + 1].hasPrefix("--")) {
                    overrides += " \"\""
                }
                sawOption = true
            } else {
                overrides += " " + QuotedSplitter.quote(argument)
            }
            index += 1
        }
        let config = ServerConfig()
        var text = ""
        if let filePath {
            guard let contents = readFile(filePath) else {
                let reason = String(cString: strerror(errno))
                return .exit(status: 1, stdout: "", stderr: "Fatal error, can't open config file '\(filePath)': \(reason)\n")
            }
            text = contents
            config.configFilePath = absolutePath(filePath)
        }
        if readFromStdin { text += readStdin() }
        if !overrides.isEmpty { text += "\n" + overrides }
        if let failure = config.load(text: text) { return .exit(status: 1, stdout: "", stderr: failure) }
        return .run(config)
    }

    static func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk.prefix(count)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return currentDirectory() + "/" + path
    }

    /// Applies config text; returns Redis's fatal error block on the first bad line.
    func load(text: String) -> String? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (number, rawLine) in lines.enumerated() {
            let line = rawLine.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let words = ArgSplitter.split(line) else {
                return errorBlock(line: number + 1, text: line, reason: "Unbalanced quotes in configuration line")
            }
            guard let first = words.first else { continue }
            let name = first.lowercased()
            var args = Array(words.dropFirst())
            if name == "include" && args.count == 1 {
                if let failure = include(pattern: args[0]) { return failure }
                continue
            }
            guard let directive = Directive.named(name) else {
                return errorBlock(line: number + 1, text: line, reason: "Bad directive or wrong number of arguments")
            }
            // A multi-argument directive may have none ("save" alone clears the rules, as the
            // line `save ""` becomes when written without quotes).
            guard args.count == 1 || directive.multiArgument else {
                return errorBlock(line: number + 1, text: line, reason: "wrong number of arguments")
            }
            // Like Redis, a multi-argument directive given one quoted value (`save "3600 1"`,
            // as `--save "3600 1"` produces) takes that value's words as its arguments.
            if directive.multiArgument && args.count == 1, let split = ArgSplitter.split(args[0]), !split.isEmpty {
                args = split
            }
            if let failure = directive.apply(self, args) {
                return errorBlock(line: number + 1, text: line, reason: failure)
            }
        }
        return nil
    }

    private func include(pattern: String) -> String? {
        let paths: [String]
        if pattern.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) {
            var matches = glob_t()
            defer { globfree(&matches) }
            guard glob(pattern, 0, nil, &matches) == 0 else { return nil }
            paths = (0..<Int(matches.gl_pathc)).compactMap { matches.gl_pathv[$0].map { String(cString: $0) } }
        } else {
            paths = [pattern]
        }
        for path in paths {
            guard let contents = ServerConfig.readFile(path) else {
                return "Fatal error, can't open config file '\(path)': \(String(cString: strerror(errno)))\n"
            }
            if let failure = load(text: contents) { return failure }
        }
        return nil
    }

    private func errorBlock(line: Int, text: String, reason: String) -> String {
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line \(line)\n>>> '\(text)'\n\(reason)\n"
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
