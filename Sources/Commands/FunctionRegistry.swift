// The function libraries every worker shares (Redis 7.0's functions.c): library name → its
// code and the functions it registered, and function name → library. FUNCTION LOAD checks a
// library by running it in the loading worker's function state; the registry only stores
// what passed. Each change bumps `generation`, and every worker reloads all libraries into a
// fresh function state the next time it runs FCALL (ScriptEngine+Functions).
#if canImport(Glibc)
import Glibc
#endif
import Persistence
import Support

/// A function a library registered: its name, description and flags.
public final class LibraryFunction {
    public let name: String
    public let description: String?
    public let flags: ScriptFlags
    /// Set when a run reached an undeclared key: later runs lock every shard.
    var needsAllShards = false

    init(name: String, description: String?, flags: ScriptFlags) {
        self.name = name
        self.description = description
        self.flags = flags
    }
}

public final class FunctionLibrary {
    public let name: String
    /// The whole payload FUNCTION LOAD got, shebang included (FUNCTION LIST WITHCODE, DUMP).
    public let code: [UInt8]
    /// In registration order.
    public let functions: [LibraryFunction]

    init(name: String, code: [UInt8], functions: [LibraryFunction]) {
        self.name = name
        self.code = code
        self.functions = functions
    }

    /// The library's name from its `#!lua name=<name>` line, with Redis's errors; also
    /// returns where the code after the shebang starts (its newline kept for line numbers).
    static func metadata(of code: [UInt8]) -> Result<(name: String, body: Int), ScriptError> {
        guard code.count >= 2, code[0] == 35, code[1] == 33 else { return .failure(ScriptError("ERR Missing library metadata")) }
        guard let newline = code.firstIndex(of: 10) else { return .failure(ScriptError("ERR Invalid library metadata")) }
        var parts: [[UInt8]] = [], current: [UInt8] = []
        let balanced = Array(code[..<newline]).withUnsafeBytes { line in
            QuotedSplitter.split(line, byte: { current.append($0) }, endOfArgument: {
                parts.append(current)
                current = []
            })
        }
        guard balanced, let first = parts.first else { return .failure(ScriptError("ERR Invalid library metadata")) }
        let engine = String(decoding: first.dropFirst(2), as: UTF8.self)
        var name: String?
        for part in parts.dropFirst() {
            let text = String(decoding: part, as: UTF8.self)
            guard text.lowercased().hasPrefix("name=") else {
                return .failure(ScriptError("ERR Invalid metadata value given: " + text))
            }
            guard name == nil else {
                return .failure(ScriptError("ERR Invalid metadata value, name argument was given multiple times"))
            }
            name = String(text.dropFirst(5))
        }
        guard let name else { return .failure(ScriptError("ERR Library name was not given")) }
        guard validName(name) else {
            return .failure(ScriptError("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"))
        }
        guard engine.uppercased() == "LUA" else { return .failure(ScriptError("ERR Engine '\(engine)' not found")) }
        return .success((name, newline))
    }

    /// Redis's rule for library and function names: letters, digits and underscores, not empty.
    static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            (byte >= 97 && byte <= 122) || (byte >= 65 && byte <= 90) || (byte >= 48 && byte <= 57) || byte == 95
        }
    }
}

public final class FunctionRegistry {
    private var lock = pthread_mutex_t()
    /// In load order (FUNCTION LIST and DUMP walk them so).
    private var libraries: [FunctionLibrary] = []
    /// By lower-cased name: FCALL finds a function whatever the case, as in Redis (library
    /// names, and function names within a library, are case-sensitive there too).
    private var functions: [String: (library: FunctionLibrary, function: LibraryFunction)] = [:]
    /// Bumped by every change; workers reload their function state when it moves.
    public private(set) var generation = 0

    public init() { pthread_mutex_init(&lock, nil) }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return body()
    }

    public var all: [FunctionLibrary] { locked { libraries } }

    public func function(named name: String) -> (library: FunctionLibrary, function: LibraryFunction)? {
        locked { functions[name.lowercased()] }
    }

    public func library(named name: String) -> FunctionLibrary? { locked { libraries.first { $0.name == name } } }

    public var counts: (libraries: Int, functions: Int) { locked { (libraries.count, functions.count) } }

    /// Adds checked libraries; `replace` lets them take the place of libraries of the same
    /// name. Fails, changing nothing, on a name taken without `replace` or a function name
    /// another library registered.
    func add(_ added: [FunctionLibrary], replace: Bool, flushFirst: Bool = false) -> ScriptError? {
        locked {
            var kept = flushFirst ? [] : libraries
            for library in added {
                if let index = kept.firstIndex(where: { $0.name == library.name }) {
                    guard replace else { return ScriptError("ERR Library \(library.name) already exists") }
                    kept.remove(at: index)
                }
            }
            var index: [String: (library: FunctionLibrary, function: LibraryFunction)] = [:]
            for library in kept {
                for function in library.functions { index[function.name.lowercased()] = (library, function) }
            }
            for library in added {
                for function in library.functions {
                    let key = function.name.lowercased()
                    guard index[key] == nil else { return ScriptError("ERR Function \(function.name) already exists") }
                    index[key] = (library, function)
                }
            }
            libraries = kept + added
            functions = index
            generation += 1
            return nil
        }
    }

    /// The error of adding `library` to `others` (a payload naming a library or function twice).
    static func collision(adding library: FunctionLibrary, to others: [FunctionLibrary]) -> ScriptError? {
        if others.contains(where: { $0.name == library.name }) {
            return ScriptError("ERR Library \(library.name) already exists")
        }
        for function in library.functions
        where others.contains(where: { $0.functions.contains { $0.name.lowercased() == function.name.lowercased() } }) {
            return ScriptError("ERR Function \(function.name) already exists")
        }
        return nil
    }

    func delete(_ name: String) -> Bool {
        locked {
            guard let index = libraries.firstIndex(where: { $0.name == name }) else { return false }
            for function in libraries[index].functions { functions[function.name.lowercased()] = nil }
            libraries.remove(at: index)
            generation += 1
            return true
        }
    }

    public func flush() {
        locked {
            libraries = []
            functions = [:]
            generation += 1
        }
    }

    /// Bytes of the libraries' code and names (used_memory_functions).
    public var memory: Int {
        locked { libraries.reduce(0) { $0 + $1.code.count + $1.name.utf8.count + $1.functions.count * 64 } }
    }
}
