// COMMAND and its subcommands, rendered from the command table in Redis 7.0.15's reply
// shapes: INFO's 10-element arrays with key specs, DOCS maps with argument trees, LIST with
// filters and GETKEYS driven by the key specs.
import RESP
import Support

enum CommandIntrospection {
    // DIVERGENCE: our own wording, in Redis's help layout.
    static let help = [
        "(no subcommand)",
        "    Describe every command (same as INFO with no names).",
        "COUNT",
        "    Report how many commands the server knows.",
        "GETKEYS <full-command>",
        "    Report which arguments of <full-command> are keys.",
        "GETKEYSANDFLAGS <full-command>",
        "    Report which arguments of <full-command> are keys, and how it uses each.",
        "INFO [<command-name> ...]",
        "    Describe the named commands, or all of them.",
        "DOCS [<command-name> ...]",
        "    Document the named commands, or all of them.",
        "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
        "    Name every command, optionally filtered.",
    ]

    static func all(_ c: CommandContext) {
        c.reply.arrayHeader(c.server.table.commands.count)
        for spec in c.server.table.commands { replyInfo(c, spec) }
    }

    /// Resolves "name" or "container|sub" to a spec.
    static func resolve(_ c: CommandContext, _ name: String) -> CommandSpec? {
        let parts = name.split(separator: "|", omittingEmptySubsequences: false)
        guard let top = c.server.table.lookup(String(parts[0])) else { return nil }
        if parts.count == 1 { return top }
        guard parts.count == 2 else { return nil }
        return Array(parts[1].utf8).withUnsafeBytes { top.subcommand(named: $0) }
    }

    static func info(_ c: CommandContext) {
        if c.args.count == 2 { return all(c) }
        c.reply.arrayHeader(c.args.count - 2)
        for index in 2..<c.args.count {
            if let spec = resolve(c, c.string(index)) { replyInfo(c, spec) } else { c.reply.nullBulk() }
        }
    }

    static func replyInfo(_ c: CommandContext, _ spec: CommandSpec) {
        c.reply.arrayHeader(10)
        c.reply.bulk(spec.fullName)
        c.reply.integer(spec.arity)
        statusSet(c, spec.flags.names)
        c.reply.integer(spec.legacyRange.first)
        c.reply.integer(spec.legacyRange.last)
        c.reply.integer(spec.legacyRange.step)
        statusSet(c, spec.aclCategories.names)
        c.reply.setHeader(spec.tips.count)
        for tip in spec.tips { c.reply.bulk(tip) }
        c.reply.setHeader(spec.keySpecs.count)
        for keySpec in spec.keySpecs { replyKeySpec(c, keySpec) }
        // Redis replies an empty set, not an empty array, when there are no subcommands.
        if spec.subcommands.isEmpty { c.reply.setHeader(0) } else { c.reply.arrayHeader(spec.subcommands.count) }
        for sub in spec.subcommands { replyInfo(c, sub) }
    }

    private static func statusSet(_ c: CommandContext, _ names: [String]) {
        c.reply.setHeader(names.count)
        for name in names { c.reply.simple(name) }
    }

    private static func replyKeySpec(_ c: CommandContext, _ spec: KeySpec) {
        c.reply.mapHeader(spec.notes == nil ? 3 : 4)
        if let notes = spec.notes { c.reply.bulk("notes"); c.reply.bulk(notes) }
        c.reply.bulk("flags")
        statusSet(c, spec.flags.names)
        c.reply.bulk("begin_search")
        c.reply.mapHeader(2)
        c.reply.bulk("type")
        switch spec.begin {
        case .index(let position):
            c.reply.bulk("index"); c.reply.bulk("spec"); c.reply.mapHeader(1)
            c.reply.bulk("index"); c.reply.integer(position)
        case .keyword(let keyword, let startFrom):
            c.reply.bulk("keyword"); c.reply.bulk("spec"); c.reply.mapHeader(2)
            c.reply.bulk("keyword"); c.reply.bulk(keyword)
            c.reply.bulk("startfrom"); c.reply.integer(startFrom)
        case .unknown:
            c.reply.bulk("unknown"); c.reply.bulk("spec"); c.reply.mapHeader(0)
        }
        c.reply.bulk("find_keys")
        c.reply.mapHeader(2)
        c.reply.bulk("type")
        switch spec.find {
        case .range(let lastKey, let step, let limit):
            c.reply.bulk("range"); c.reply.bulk("spec"); c.reply.mapHeader(3)
            c.reply.bulk("lastkey"); c.reply.integer(lastKey)
            c.reply.bulk("keystep"); c.reply.integer(step)
            c.reply.bulk("limit"); c.reply.integer(limit)
        case .keyNum(let index, let firstKey, let step):
            c.reply.bulk("keynum"); c.reply.bulk("spec"); c.reply.mapHeader(3)
            c.reply.bulk("keynumidx"); c.reply.integer(index)
            c.reply.bulk("firstkey"); c.reply.integer(firstKey)
            c.reply.bulk("keystep"); c.reply.integer(step)
        case .unknown:
            c.reply.bulk("unknown"); c.reply.bulk("spec"); c.reply.mapHeader(0)
        }
    }

    // MARK: DOCS

    static func docs(_ c: CommandContext) {
        if c.args.count == 2 {
            c.reply.mapHeader(c.server.table.commands.count)
            for spec in c.server.table.commands {
                c.reply.bulk(spec.fullName)
                replyDocs(c, spec)
            }
            return
        }
        let found = (2..<c.args.count).compactMap { resolve(c, c.string($0)) }
        c.reply.mapHeader(found.count)
        for spec in found {
            c.reply.bulk(spec.fullName)
            replyDocs(c, spec)
        }
    }

    static func replyDocs(_ c: CommandContext, _ spec: CommandSpec) {
        var fields = 3
        if spec.complexity != nil { fields += 1 }
        if !spec.docFlags.isEmpty { fields += 1 }
        if spec.deprecatedSince != nil { fields += 1 }
        if spec.replacedBy != nil { fields += 1 }
        if !spec.history.isEmpty { fields += 1 }
        if !spec.arguments.isEmpty { fields += 1 }
        if !spec.subcommands.isEmpty { fields += 1 }
        c.reply.mapHeader(fields)
        c.reply.bulk("summary"); c.reply.bulk(spec.summary)
        c.reply.bulk("since"); c.reply.bulk(spec.since)
        c.reply.bulk("group"); c.reply.bulk(spec.group.rawValue)
        if let complexity = spec.complexity { c.reply.bulk("complexity"); c.reply.bulk(complexity) }
        if !spec.docFlags.isEmpty { c.reply.bulk("doc_flags"); statusSet(c, spec.docFlags) }
        if let since = spec.deprecatedSince { c.reply.bulk("deprecated_since"); c.reply.bulk(since) }
        if let replacement = spec.replacedBy { c.reply.bulk("replaced_by"); c.reply.bulk(replacement) }
        if !spec.history.isEmpty {
            c.reply.bulk("history")
            c.reply.setHeader(spec.history.count)
            for (version, change) in spec.history {
                c.reply.arrayHeader(2)
                c.reply.bulk(version)
                c.reply.bulk(change)
            }
        }
        if !spec.arguments.isEmpty { c.reply.bulk("arguments"); replyArguments(c, spec.arguments) }
        if !spec.subcommands.isEmpty {
            c.reply.bulk("subcommands")
            c.reply.mapHeader(spec.subcommands.count)
            for sub in spec.subcommands {
                c.reply.bulk(sub.fullName)
                replyDocs(c, sub)
            }
        }
    }

    private static func replyArguments(_ c: CommandContext, _ arguments: [CommandArgument]) {
        c.reply.arrayHeader(arguments.count)
        for argument in arguments {
            let nested = argument.kind == .oneof || argument.kind == .block
            var fields = 2
            if argument.keySpecIndex != nil { fields += 1 }
            if argument.token != nil { fields += 1 }
            if argument.since != nil { fields += 1 }
            if argument.deprecatedSince != nil { fields += 1 }
            if !argument.flags.isEmpty { fields += 1 }
            if nested { fields += 1 }
            c.reply.mapHeader(fields)
            c.reply.bulk("name"); c.reply.bulk(argument.name)
            c.reply.bulk("type"); c.reply.bulk(argument.kind.rawValue)
            if let index = argument.keySpecIndex { c.reply.bulk("key_spec_index"); c.reply.integer(index) }
            if let token = argument.token { c.reply.bulk("token"); c.reply.bulk(token) }
            if let since = argument.since { c.reply.bulk("since"); c.reply.bulk(since) }
            if let since = argument.deprecatedSince { c.reply.bulk("deprecated_since"); c.reply.bulk(since) }
            if !argument.flags.isEmpty {
                var names: [String] = []
                if argument.flags.contains(.optional) { names.append("optional") }
                if argument.flags.contains(.multiple) { names.append("multiple") }
                if argument.flags.contains(.multipleToken) { names.append("multiple_token") }
                c.reply.bulk("flags")
                statusSet(c, names)
            }
            if nested { c.reply.bulk("arguments"); replyArguments(c, argument.children) }
        }
    }

    // MARK: LIST and GETKEYS

    static func list(_ c: CommandContext) {
        var names = c.server.table.all.map(\.fullName)
        if c.args.count > 2 {
            guard c.args.count == 5, c.args.equals(2, "filterby") else { return c.error(RedisError.syntax) }
            let value = c.string(4)
            if c.args.equals(3, "module") {
                names = []
            } else if c.args.equals(3, "aclcat") {
                let category = "@" + value.lowercased()
                names = c.server.table.all.filter { $0.aclCategories.names.contains(category) }.map(\.fullName)
            } else if c.args.equals(3, "pattern") {
                names = names.filter { Glob.matches(pattern: Array(value.utf8), string: Array($0.utf8), caseInsensitive: true) }
            } else {
                return c.error(RedisError.syntax)
            }
        }
        c.reply.arrayHeader(names.count)
        for name in names { c.reply.bulk(name) }
    }

    static func getkeys(_ c: CommandContext) { replyKeys(c, withFlags: false) }
    static func getkeysandflags(_ c: CommandContext) { replyKeys(c, withFlags: true) }

    /// The keys of the command line after GETKEYS or GETKEYSANDFLAGS, each with its flags
    /// for the latter.
    private static func replyKeys(_ c: CommandContext, withFlags: Bool) {
        guard var spec = c.server.table.lookup(c.args[2]) else { return c.error("ERR Invalid command specified") }
        if !spec.subcommands.isEmpty && c.args.count > 3 {
            guard let sub = spec.subcommand(named: c.args[3]) else { return c.error("ERR Invalid command specified") }
            spec = sub
        }
        // Shard channels (SPUBLISH's) have key specs marked not_key: those are no keys.
        guard spec.keyFinder != nil || spec.keySpecs.contains(where: { !$0.flags.contains(.notKey) }) else {
            return c.error("ERR The command has no key arguments")
        }
        let count = c.args.count - 2
        guard spec.accepts(argumentCount: count) else {
            return c.error("ERR Invalid number of arguments specified for command")
        }
        let keys = keyReferences(of: spec, argumentCount: count) { c.args[$0 + 2] }
        guard !keys.isEmpty || spec.flags.contains(.noMandatoryKeys) else {
            return c.error("ERR Invalid arguments specified for command")
        }
        c.reply.arrayHeader(keys.count)
        for key in keys {
            guard withFlags else {
                c.reply.bulk(c.args[key.position + 2])
                continue
            }
            c.reply.arrayHeader(2)
            c.reply.bulk(c.args[key.position + 2])
            statusSet(c, key.flags.names)
        }
    }

    /// Argument positions (relative to the command name) of the keys of a call of `spec`.
    static func keyPositions(of spec: CommandSpec, argumentCount count: Int,
                             argument: (Int) -> UnsafeRawBufferPointer) -> [Int] {
        keyReferences(of: spec, argumentCount: count, argument: argument).map(\.position)
    }

    /// The keys of a call of `spec` with the flags that describe each, as Redis's
    /// getKeysFromCommandWithSpecs finds them.
    static func keyReferences(of spec: CommandSpec, argumentCount count: Int,
                              argument: (Int) -> UnsafeRawBufferPointer) -> [KeyReference] {
        if let finder = spec.keyFinder { return finder(count, argument) }
        let variableFlags = spec.keyFlagsFinder.map { $0(count, argument) }
        var references: [KeyReference] = []
        for keySpec in spec.keySpecs where !keySpec.flags.contains(.notKey) {
            // An invalid key count leaves the whole call without keys, as Redis's fallback key
            // finders (genericGetKeys) have it: ZUNIONSTORE's destination is not a key then.
            guard let positions = keyPositions(keySpec, argumentCount: count, argument: argument) else { return [] }
            references += positions.map { ($0, variableFlags ?? keySpec.flags) }
        }
        return references
    }

    /// Argument positions (relative to the command name) that `spec` designates as keys; nil
    /// when its key count is not a number of keys the arguments hold.
    static func keyPositions(_ spec: KeySpec, argumentCount count: Int,
                             argument: (Int) -> UnsafeRawBufferPointer) -> [Int]? {
        var start: Int
        switch spec.begin {
        case .index(let position):
            start = position
        case .keyword(let keyword, let startFrom):
            let word = Array(keyword.utf8)
            let indexes = startFrom >= 0 ? Array(startFrom..<count) : Array(stride(from: count + startFrom, through: 1, by: -1))
            guard let hit = indexes.first(where: { index in
                word.withUnsafeBytes { ASCII.equalsIgnoringCase($0, argument(index)) }
            }) else { return [] }
            start = hit + 1
        case .unknown:
            return []
        }
        switch spec.find {
        case .range(let lastKey, let step, let limit):
            var last: Int
            if lastKey >= 0 {
                last = start + lastKey
            } else if limit <= 1 {
                last = count + lastKey
            } else {
                last = start + (count - 1 - start) / limit
            }
            last = min(last, count - 1)
            guard start <= last else { return [] }
            return Array(stride(from: start, through: last, by: max(step, 1)))
        case .keyNum(let index, let firstKey, let step):
            // A count beyond the arguments (up to Int64.max) is compared before any arithmetic.
            guard start + index < count, let keys = Numbers.parseInt64(argument(start + index)),
                  keys > 0, keys <= Int64(count) else { return nil }
            let first = start + firstKey
            let last = first + (Int(keys) - 1) * step
            guard last < count else { return nil }
            return Array(stride(from: first, through: last, by: step))
        case .unknown:
            return []
        }
    }
}
