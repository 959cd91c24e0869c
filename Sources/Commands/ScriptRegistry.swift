// The script cache every worker shares: SHA1 digest → body and shebang flags, as SCRIPT LOAD
// and EVAL fill it and SCRIPT FLUSH empties it. Each worker thread compiles the bodies into
// its own Lua state when it first runs them (ScriptEngine); a flush bumps `generation`, and a
// worker that sees a generation other than its own starts from a fresh state. The registry
// also holds the state of the script running past busy-reply-threshold (at most one worker
// reports one at a time, like Redis's single timed-out script), which the dispatcher reads to
// answer BUSY and SCRIPT KILL sets to stop it.
#if canImport(Glibc)
import Glibc
#endif
import Persistence
import Support

/// The 40 characters naming a digest, as a client sent them (unparsed, case as given):
/// comparing them with the last ones sent costs five loads instead of parsing 40 hex digits.
struct DigestText: Equatable {
    let words: (UInt64, UInt64, UInt64, UInt64, UInt64)

    init?(_ text: UnsafeRawBufferPointer) {
        guard text.count == 40 else { return nil }
        func word(_ index: Int) -> UInt64 { text.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) }
        words = (word(0), word(1), word(2), word(3), word(4))
    }

    static func == (a: DigestText, b: DigestText) -> Bool { a.words == b.words }
}

/// A SHA1 digest as three words: hashable and comparable with no allocation.
public struct ScriptDigest: Hashable {
    let high: UInt64
    let middle: UInt64
    let low: UInt32

    init(sha1 bytes: [UInt8]) {
        func word(_ range: Range<Int>) -> UInt64 { range.reduce(0) { $0 << 8 | UInt64(bytes[$1]) } }
        high = word(0..<8)
        middle = word(8..<16)
        low = UInt32(word(16..<20))
    }

    /// The digest of `body`.
    init(of body: UnsafeRawBufferPointer) { self.init(sha1: SHA1.hash(body)) }

    /// Parses 40 hex digits in either case; nil for anything else.
    init?(hex: UnsafeRawBufferPointer) {
        guard hex.count == 40,
              let high = ScriptDigest.word(hex, 0..<16),
              let middle = ScriptDigest.word(hex, 16..<32),
              let low = ScriptDigest.word(hex, 32..<40) else { return nil }
        self.high = high
        self.middle = middle
        self.low = UInt32(low)
    }

    /// The hex digits at `range` as a number; nil when one is not a hex digit.
    @inline(__always)
    private static func word(_ hex: UnsafeRawBufferPointer, _ range: Range<Int>) -> UInt64? {
        var word: UInt64 = 0
        for index in range {
            let byte = hex[index]
            let lowered = byte | 0x20
            let nibble: UInt8
            if byte &- 48 < 10 {
                nibble = byte &- 48
            } else if lowered &- 97 < 6 {
                nibble = lowered &- 87
            } else {
                return nil
            }
            word = word << 4 | UInt64(nibble)
        }
        return word
    }

    /// The 40 lowercase hex digits, as replies and error messages show them.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(40)
        for (word, nibbles) in [(high, 16), (middle, 16), (UInt64(low), 8)] {
            for shift in stride(from: (nibbles - 1) * 4, through: 0, by: -4) {
                text.append(digits[Int((word >> UInt64(shift)) & 15)])
            }
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// The flags a `#!lua flags=...` shebang declares (Redis's SCRIPT_FLAG_*).
public struct ScriptFlags: OptionSet {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// No shebang: the pre-7.0 rules (flags of the commands inside decide).
    public static let evalCompatible = ScriptFlags(rawValue: 1 << 0)
    public static let noWrites = ScriptFlags(rawValue: 1 << 1)
    public static let allowOOM = ScriptFlags(rawValue: 1 << 2)
    public static let allowStale = ScriptFlags(rawValue: 1 << 3)
    public static let noCluster = ScriptFlags(rawValue: 1 << 4)
    public static let allowCrossSlot = ScriptFlags(rawValue: 1 << 5)

    static let names: [(String, ScriptFlags)] = [
        ("no-writes", .noWrites), ("allow-oom", .allowOOM), ("allow-stale", .allowStale),
        ("no-cluster", .noCluster), ("allow-cross-slot-keys", .allowCrossSlot),
    ]

    /// Parses a comma-separated flag list; the unknown flag on failure.
    static func parse(_ list: String) -> Result<ScriptFlags, ScriptError> {
        var flags: ScriptFlags = []
        guard !list.isEmpty else { return .success(flags) }
        for name in list.split(separator: ",", omittingEmptySubsequences: false) {
            guard let flag = names.first(where: { $0.0 == name })?.1 else {
                return .failure(ScriptError("ERR Unexpected flag in script shebang: " + name))
            }
            flags.insert(flag)
        }
        return .success(flags)
    }
}

/// An error reply a scripting step produced (the full text, code first).
public struct ScriptError: Error {
    public let message: String
    public init(_ message: String) { self.message = message }
}

/// One cached script body and what was learned from it.
public final class ScriptSource {
    public let digest: ScriptDigest
    public let body: [UInt8]
    public let flags: ScriptFlags
    /// Bytes of the shebang line (kept out of the compiled chunk, its newline kept in).
    let shebangLength: Int
    /// Whether the body provably touches only the keys it is given (ScriptKeyAnalysis).
    let staysOnDeclaredKeys: Bool
    /// Set when a run reached an undeclared key anyway: later runs lock every shard.
    var needsAllShards = false

    init(body: [UInt8], digest: ScriptDigest, flags: ScriptFlags, shebangLength: Int, table: CommandTable) {
        self.body = body
        self.digest = digest
        self.flags = flags
        self.shebangLength = shebangLength
        staysOnDeclaredKeys = ScriptKeyAnalysis.staysOnDeclaredKeys(body[shebangLength...], table: table)
    }

    /// Parses the shebang of `body` (Redis's evalExtractShebangFlags), returning the flags
    /// and the shebang's length.
    static func shebang(of body: [UInt8]) -> Result<(ScriptFlags, Int), ScriptError> {
        guard body.count >= 2, body[0] == 35, body[1] == 33 else { return .success((.evalCompatible, 0)) }
        guard let newline = body.firstIndex(of: 10) else { return .failure(ScriptError("ERR Invalid script shebang")) }
        var parts: [[UInt8]] = [], current: [UInt8] = []
        let balanced = Array(body[..<newline]).withUnsafeBytes { line in
            QuotedSplitter.split(line, byte: { current.append($0) }, endOfArgument: {
                parts.append(current)
                current = []
            })
        }
        guard balanced, let engine = parts.first else {
            return .failure(ScriptError("ERR Invalid engine in script shebang"))
        }
        guard engine == Array("#!lua".utf8) else {
            return .failure(ScriptError("ERR Unexpected engine in script shebang: " + String(decoding: engine, as: UTF8.self)))
        }
        var flags: ScriptFlags = []
        for part in parts.dropFirst() {
            let text = String(decoding: part, as: UTF8.self)
            guard text.hasPrefix("flags=") else { return .failure(ScriptError("ERR Unknown lua shebang option: " + text)) }
            switch ScriptFlags.parse(String(text.dropFirst(6))) {
            case .success(let parsed): flags.formUnion(parsed)
            case .failure(let error): return .failure(error)
            }
        }
        return .success((flags, newline))
    }
}

public final class ScriptRegistry {
    private var lock = pthread_mutex_t()
    private var scripts: [ScriptDigest: ScriptSource] = [:]
    private var bodyBytes = 0
    /// Bumped by SCRIPT FLUSH; workers compare it with their state's before each run.
    public private(set) var generation = 0
    /// Where redis.log lines go (the server's logger, which filters by level), with Redis's
    /// level number: 0 debug, 1 verbose, 2 notice, 3 warning.
    public var log: (_ level: Int, _ message: String) -> Void = { _, _ in }
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call commands flagged noscript (Redis's
    /// tests use it to reach DEBUG PROTOCOL and CLIENT LIST from a script).
    var denyScriptsDisabled = false

    // The script past busy-reply-threshold, if any (plain words: read without the lock on
    // the request path, written by the one worker running it and by SCRIPT KILL).
    private let busyState = UnsafeMutablePointer<Int>.allocate(capacity: 4)
    private static let busySlot = 0, killSlot = 1, dirtySlot = 2, evalSlot = 3

    public init() {
        pthread_mutex_init(&lock, nil)
        busyState.initialize(repeating: 0, count: 4)
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return body()
    }

    public func lookup(_ digest: ScriptDigest) -> ScriptSource? { locked { scripts[digest] } }

    public var count: Int { locked { scripts.count } }

    /// Bytes the cached bodies take, with the per-entry overhead Redis counts in
    /// used_memory_scripts_eval.
    public var memory: Int { locked { bodyBytes + scripts.count * 64 } }

    /// Adds `body` (compiled by the caller's engine to check it first); returns the source.
    func add(_ source: ScriptSource) -> ScriptSource {
        locked {
            if let existing = scripts[source.digest] { return existing }
            scripts[source.digest] = source
            bodyBytes += source.body.count + 40
            return source
        }
    }

    /// Each worker state's Lua heap, as its thread last published it (after every run).
    private var luaHeaps: [UnsafeMutablePointer<Int>] = []

    /// A slot where a new worker state publishes its Lua heap size.
    func luaHeapSlot() -> UnsafeMutablePointer<Int> {
        let slot = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        slot.initialize(to: 0)
        locked { luaHeaps.append(slot) }
        return slot
    }

    /// used_memory_lua: the Lua heaps of all workers' states.
    public var luaMemory: Int { locked { luaHeaps.reduce(0) { $0 + $1.pointee } } }

    /// SCRIPT FLUSH: forgets every script; each worker's Lua state starts over.
    public func flush() {
        locked {
            scripts = [:]
            bodyBytes = 0
            generation += 1
        }
    }

    // MARK: math.random

    /// The 48-bit generator behind math.random, shared by all workers so that the sequence
    /// is the one a single Redis process gives: state X, X = X * 0x5DEECE66D + 11 mod 2^48.
    private var random48: UInt64 = 0x1234_ABCD_330E

    /// The next 31-bit value (lrand48's output).
    func nextRandom() -> Int32 {
        locked {
            random48 = (random48 &* 0x5_DEEC_E66D &+ 11) & 0xFFFF_FFFF_FFFF
            return Int32(truncatingIfNeeded: random48 >> 17)
        }
    }

    /// math.randomseed: the seed's 32 bits above the fixed low word.
    func seedRandom(_ seed: Int32) {
        locked { random48 = UInt64(UInt32(bitPattern: seed)) << 16 | 0x330E }
    }

    // MARK: the busy script

    /// Whether a script has run past busy-reply-threshold (others get BUSY).
    @inline(__always)
    public var busy: Bool { busyState[ScriptRegistry.busySlot] != 0 }
    /// Whether the busy script is an EVAL (SCRIPT KILL) rather than a function (FUNCTION KILL).
    public var busyIsEval: Bool { busyState[ScriptRegistry.evalSlot] != 0 }
    var killRequested: Bool { busyState[ScriptRegistry.killSlot] != 0 }

    /// The busy function for FUNCTION STATS: its name, the FCALL that runs it, when it started.
    public struct BusyFunction {
        public let name: String
        public let command: [[UInt8]]
        public let startTicks: UInt64
    }

    private var busyFunctionRecord: BusyFunction?

    public var busyFunction: BusyFunction? { locked { busy ? busyFunctionRecord : nil } }

    /// Marks a script busy; `function` describes a busy FCALL (nil for EVAL).
    func enterBusy(isEval: Bool, writeDirty: Bool, function: BusyFunction? = nil) {
        locked { busyFunctionRecord = function }
        busyState[ScriptRegistry.evalSlot] = isEval ? 1 : 0
        busyState[ScriptRegistry.dirtySlot] = writeDirty ? 1 : 0
        busyState[ScriptRegistry.killSlot] = 0
        busyState[ScriptRegistry.busySlot] = 1
    }

    func noteWrite() { busyState[ScriptRegistry.dirtySlot] = 1 }

    func leaveBusy() {
        busyState[ScriptRegistry.busySlot] = 0
        busyState[ScriptRegistry.killSlot] = 0
    }

    /// SCRIPT KILL / FUNCTION KILL: nil when the busy script was asked to stop, else the error.
    public func kill(eval: Bool) -> String? {
        guard busy else { return "NOTBUSY No scripts in execution right now." }
        if busyState[ScriptRegistry.dirtySlot] != 0 {
            return "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
        }
        if eval && !busyIsEval { return RedisError.busyFunction }
        if !eval && busyIsEval { return RedisError.busyScript }
        busyState[ScriptRegistry.killSlot] = 1
        return nil
    }
}
