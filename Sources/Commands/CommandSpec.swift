// The description of one command: everything COMMAND INFO/DOCS report, how the dispatcher
// checks arity, and the handler. Families declare a spec beside each handler; derived facts
// (implicit ACL categories, movablekeys, the legacy first/last/step range) are computed here
// with Redis's rules so the table stays the single source.
import Support

public struct CommandFlags: OptionSet, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    // Declared in the order COMMAND INFO lists them.
    public static let write = CommandFlags(rawValue: 1 << 0)
    public static let readonly = CommandFlags(rawValue: 1 << 1)
    public static let denyoom = CommandFlags(rawValue: 1 << 2)
    public static let admin = CommandFlags(rawValue: 1 << 4)
    public static let pubsub = CommandFlags(rawValue: 1 << 5)
    public static let noscript = CommandFlags(rawValue: 1 << 6)
    public static let blocking = CommandFlags(rawValue: 1 << 7)
    public static let loading = CommandFlags(rawValue: 1 << 8)
    public static let stale = CommandFlags(rawValue: 1 << 9)
    public static let skipMonitor = CommandFlags(rawValue: 1 << 10)
    public static let skipSlowlog = CommandFlags(rawValue: 1 << 11)
    public static let asking = CommandFlags(rawValue: 1 << 12)
    public static let fast = CommandFlags(rawValue: 1 << 13)
    public static let noAuth = CommandFlags(rawValue: 1 << 14)
    public static let mayReplicate = CommandFlags(rawValue: 1 << 15)
    public static let sentinel = CommandFlags(rawValue: 1 << 16)
    public static let onlySentinel = CommandFlags(rawValue: 1 << 17)
    public static let noMandatoryKeys = CommandFlags(rawValue: 1 << 18)
    public static let noAsyncLoading = CommandFlags(rawValue: 1 << 19)
    public static let noMulti = CommandFlags(rawValue: 1 << 20)
    public static let movableKeys = CommandFlags(rawValue: 1 << 21)
    public static let allowBusy = CommandFlags(rawValue: 1 << 22)

    static let names: [(CommandFlags, String)] = [
        (.write, "write"), (.readonly, "readonly"), (.denyoom, "denyoom"), (.admin, "admin"),
        (.pubsub, "pubsub"), (.noscript, "noscript"), (.blocking, "blocking"), (.loading, "loading"),
        (.stale, "stale"), (.skipMonitor, "skip_monitor"), (.skipSlowlog, "skip_slowlog"),
        // may_replicate, sentinel and only_sentinel are hidden from COMMAND INFO, as in Redis.
        (.asking, "asking"), (.fast, "fast"), (.noAuth, "no_auth"), (.noMandatoryKeys, "no_mandatory_keys"),
        (.noAsyncLoading, "no_async_loading"), (.noMulti, "no_multi"), (.movableKeys, "movablekeys"),
        (.allowBusy, "allow_busy"),
    ]

    public var names: [String] { CommandFlags.names.filter { contains($0.0) }.map(\.1) }
}

public struct ACLCategories: OptionSet, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let keyspace = ACLCategories(rawValue: 1 << 0)
    public static let read = ACLCategories(rawValue: 1 << 1)
    public static let write = ACLCategories(rawValue: 1 << 2)
    public static let set = ACLCategories(rawValue: 1 << 3)
    public static let sortedset = ACLCategories(rawValue: 1 << 4)
    public static let list = ACLCategories(rawValue: 1 << 5)
    public static let hash = ACLCategories(rawValue: 1 << 6)
    public static let string = ACLCategories(rawValue: 1 << 7)
    public static let bitmap = ACLCategories(rawValue: 1 << 8)
    public static let hyperloglog = ACLCategories(rawValue: 1 << 9)
    public static let geo = ACLCategories(rawValue: 1 << 10)
    public static let stream = ACLCategories(rawValue: 1 << 11)
    public static let pubsub = ACLCategories(rawValue: 1 << 12)
    public static let admin = ACLCategories(rawValue: 1 << 13)
    public static let fast = ACLCategories(rawValue: 1 << 14)
    public static let slow = ACLCategories(rawValue: 1 << 15)
    public static let blocking = ACLCategories(rawValue: 1 << 16)
    public static let dangerous = ACLCategories(rawValue: 1 << 17)
    public static let connection = ACLCategories(rawValue: 1 << 18)
    public static let transaction = ACLCategories(rawValue: 1 << 19)
    public static let scripting = ACLCategories(rawValue: 1 << 20)

    static let names = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
                        "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
                        "blocking", "dangerous", "connection", "transaction", "scripting"]

    public var names: [String] {
        ACLCategories.names.enumerated().filter { rawValue & (1 << UInt32($0.offset)) != 0 }.map { "@" + $0.element }
    }
}

public struct KeySpec {
    public struct Flags: OptionSet {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let RO = Flags(rawValue: 1 << 0)
        public static let RW = Flags(rawValue: 1 << 1)
        public static let OW = Flags(rawValue: 1 << 2)
        public static let RM = Flags(rawValue: 1 << 3)
        public static let access = Flags(rawValue: 1 << 4)
        public static let update = Flags(rawValue: 1 << 5)
        public static let insert = Flags(rawValue: 1 << 6)
        public static let delete = Flags(rawValue: 1 << 7)
        public static let notKey = Flags(rawValue: 1 << 8)
        public static let incomplete = Flags(rawValue: 1 << 9)
        public static let variableFlags = Flags(rawValue: 1 << 10)

        static let names = ["RO", "RW", "OW", "RM", "access", "update", "insert", "delete",
                            "not_key", "incomplete", "variable_flags"]
        public var names: [String] {
            Flags.names.enumerated().filter { rawValue & (1 << UInt16($0.offset)) != 0 }.map(\.element)
        }
    }

    public enum BeginSearch {
        case index(Int)
        case keyword(String, startFrom: Int)
        case unknown
    }

    public enum FindKeys {
        case range(lastKey: Int, step: Int, limit: Int)
        case keyNum(index: Int, firstKey: Int, step: Int)
        case unknown
    }

    public var notes: String?
    public var flags: Flags
    public var begin: BeginSearch
    public var find: FindKeys

    public init(_ flags: Flags, _ begin: BeginSearch, _ find: FindKeys, notes: String? = nil) {
        self.flags = flags
        self.begin = begin
        self.find = find
        self.notes = notes
    }

    /// The common case: a single key at `index`.
    public static func single(_ flags: Flags, at index: Int = 1) -> KeySpec {
        KeySpec(flags, .index(index), .range(lastKey: 0, step: 1, limit: 0))
    }

    /// Keys from `index` to the last argument, every `step`th argument (DEL, MGET, MSET).
    public static func rest(_ flags: Flags, from index: Int = 1, step: Int = 1) -> KeySpec {
        KeySpec(flags, .index(index), .range(lastKey: -1, step: step, limit: 0))
    }
}

/// An argument as COMMAND DOCS describes it (also what redis-cli turns into hints).
public struct CommandArgument {
    public enum Kind: String {
        case string, integer, double, key, pattern
        case unixTime = "unix-time"
        case pureToken = "pure-token"
        case oneof, block
    }

    public struct Flags: OptionSet {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let optional = Flags(rawValue: 1)
        public static let multiple = Flags(rawValue: 2)
        public static let multipleToken = Flags(rawValue: 4)
    }

    public var name: String
    public var kind: Kind
    public var keySpecIndex: Int?
    public var token: String?
    public var flags: Flags
    public var since: String?
    public var deprecatedSince: String?
    public var children: [CommandArgument]

    public init(_ name: String, _ kind: Kind, token: String? = nil, keySpec: Int? = nil,
                flags: Flags = [], since: String? = nil, deprecatedSince: String? = nil,
                _ children: [CommandArgument] = []) {
        self.name = name
        self.kind = kind
        self.token = token
        self.keySpecIndex = keySpec
        self.flags = flags
        self.since = since
        self.deprecatedSince = deprecatedSince
        self.children = children
    }

    public static func key(_ name: String = "key", spec: Int = 0, flags: Flags = []) -> CommandArgument {
        CommandArgument(name, .key, keySpec: spec, flags: flags)
    }

    public static func token(_ word: String, flags: Flags = [], since: String? = nil) -> CommandArgument {
        CommandArgument(word.lowercased(), .pureToken, token: word, flags: flags, since: since)
    }
}

public enum CommandGroup: String {
    case generic, string, list, set, hash, bitmap, hyperloglog, geo, stream, pubsub
    case sortedSet = "sorted-set"
    case server, connection, transactions, scripting, cluster, sentinel
}

public typealias CommandHandler = (CommandContext) -> Void
/// A key of a command line: its argument index and how the command uses it.
public typealias KeyReference = (position: Int, flags: KeySpec.Flags)

/// Finds the keys of a command whose keys key specs cannot describe (Redis's getkeys_proc):
/// given the argument count and an accessor, returns each key's index and flags.
public typealias KeyFinder = (_ count: Int, _ argument: (Int) -> UnsafeRawBufferPointer) -> [KeyReference]

/// The flags of the one key of a command whose key spec says `variable_flags` (SET with or
/// without GET, BITFIELD with or without writes), for COMMAND GETKEYSANDFLAGS.
public typealias KeyFlagsFinder = (_ count: Int, _ argument: (Int) -> UnsafeRawBufferPointer) -> KeySpec.Flags

public final class CommandSpec {
    public let name: String
    /// Positive: exact argument count including the name; negative: at least -arity.
    public let arity: Int
    public private(set) var flags: CommandFlags
    public let aclCategories: ACLCategories
    public let keySpecs: [KeySpec]
    public let tips: [String]
    public let group: CommandGroup
    public let since: String
    public let summary: String
    public let complexity: String?
    public let docFlags: [String]
    public let deprecatedSince: String?
    public let replacedBy: String?
    public let history: [(String, String)]
    public let arguments: [CommandArgument]
    public let subcommands: [CommandSpec]
    public let handler: CommandHandler?
    /// "container|sub" for subcommands, as INFO commandstats and errors name them.
    public private(set) var fullName: String
    /// Position in the table's flat list, used to index per-command statistics.
    public internal(set) var statsIndex = 0
    /// For COMMAND GETKEYS where the key specs say "unknown" (SORT's STORE).
    public var keyFinder: KeyFinder?
    /// For COMMAND GETKEYSANDFLAGS where the key spec says `variable_flags`.
    public private(set) var keyFlagsFinder: KeyFlagsFinder?

    /// This spec, its key's flags found by `finder`.
    public func withKeyFlags(_ finder: @escaping KeyFlagsFinder) -> CommandSpec {
        keyFlagsFinder = finder
        return self
    }
    /// Legacy (first, last, step) key range, derived from key specs.
    public private(set) var legacyRange = (first: 0, last: 0, step: 0)
    /// May run while a RESP2 client is subscribed (processCommand's pub/sub context check).
    public private(set) var allowedInSubscribedMode = false
    /// The arguments a pipelined batch prefetches as keys (CommandSpec+PrefetchKeys.swift).
    public private(set) var prefetchKeys = PrefetchKeys.none

    public init(_ name: String, arity: Int, flags: CommandFlags, acl: ACLCategories = [],
                keys: [KeySpec] = [], tips: [String] = [], group: CommandGroup, since: String,
                summary: String, complexity: String? = nil, docFlags: [String] = [],
                deprecatedSince: String? = nil, replacedBy: String? = nil,
                history: [(String, String)] = [], arguments: [CommandArgument] = [],
                subcommands: [CommandSpec] = [], handler: CommandHandler?) {
        self.name = name
        self.arity = arity
        self.flags = flags
        var categories = acl
        if flags.contains(.write) { categories.insert(.write) }
        if flags.contains(.readonly) && !categories.contains(.scripting) { categories.insert(.read) }
        if flags.contains(.admin) { categories.formUnion([.admin, .dangerous]) }
        if flags.contains(.pubsub) { categories.insert(.pubsub) }
        if flags.contains(.fast) { categories.insert(.fast) }
        if flags.contains(.blocking) { categories.insert(.blocking) }
        if !categories.contains(.fast) { categories.insert(.slow) }
        self.aclCategories = categories
        self.keySpecs = keys
        self.tips = tips
        self.group = group
        self.since = since
        self.summary = summary
        self.complexity = complexity
        self.docFlags = docFlags
        self.deprecatedSince = deprecatedSince
        self.replacedBy = replacedBy
        self.history = history
        self.arguments = arguments
        self.subcommands = subcommands
        self.handler = handler
        self.fullName = name
        allowedInSubscribedMode = ["ping", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe",
                                   "sunsubscribe", "quit", "reset"].contains(name)
        deriveLegacyRange()
        prefetchKeys = CommandSpec.prefetchKeys(legacyRange: legacyRange, keySpecs: keySpecs)
        for sub in subcommands { sub.fullName = name + "|" + sub.name }
    }

    public func accepts(argumentCount count: Int) -> Bool {
        arity >= 0 ? count == arity : count >= -arity
    }

    public func subcommand(named bytes: UnsafeRawBufferPointer) -> CommandSpec? {
        subcommands.first { sub in
            sub.name.utf8.count == bytes.count && sub.name.utf8.withContiguousStorageIfAvailable {
                ASCII.equalsIgnoringCase(UnsafeRawBufferPointer($0), bytes)
            } ?? false
        }
    }

    /// Mirrors how Redis turns key specs into the legacy range and the movablekeys flag.
    private func deriveLegacyRange() {
        guard !keySpecs.isEmpty else { return }
        if keySpecs.count == 1, case .index(let position) = keySpecs[0].begin,
           case .range(let last, let step, _) = keySpecs[0].find {
            legacyRange = (position, last >= 0 ? position + last : last, step)
            if keySpecs[0].flags.contains(.incomplete) { flags.insert(.movableKeys) }
            return
        }
        var first = Int.max
        var last: UInt = 0
        var previousLast: UInt = 0
        for spec in keySpecs {
            guard case .index(let position) = spec.begin, case .range(let lastKey, let step, _) = spec.find else {
                flags.insert(.movableKeys)
                continue
            }
            if step != 1 || (previousLast != 0 && previousLast != UInt(position - 1)) {
                flags.insert(.movableKeys)
                continue
            }
            if spec.flags.contains(.incomplete) { flags.insert(.movableKeys) }
            first = min(first, position)
            let absoluteLast = lastKey >= 0 ? lastKey + position : lastKey
            last = max(last, UInt(bitPattern: absoluteLast))
            previousLast = last
        }
        if first == Int.max {
            flags.insert(.movableKeys)
            return
        }
        legacyRange = (first, Int(bitPattern: last), 1)
    }
}

