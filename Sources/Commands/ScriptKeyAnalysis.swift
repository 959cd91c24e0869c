// Decides, once per cached script, whether its body provably touches only the keys EVAL
// declares, so that it may run holding just their shards. The test is deliberately narrow: a
// light Lua tokenizer checks that every `redis` reference is `redis.call(...)`/`redis.pcall(...)`
// or a harmless member, that each such call names a known command in a string literal whose
// key arguments are all `KEYS[...]` (commands with movable keys, and keyless ones that reach
// the keyspace, fail the test), that KEYS is only read by index or length, and that nothing
// reaches the environment indirectly (_G, getfenv, loadstring, rawget...). Anything else
// (aliases such as `local call = redis.call`, computed command names, `unpack` ending a call
// whose key count grows with its arguments) makes the script lock every shard. See
// ScriptingFamily for how the verdict is used.

enum ScriptKeyAnalysis {
    private enum Token: Equatable {
        case name([UInt8])
        case string([UInt8])
        case number
        case symbol(UInt8)
        /// `==`, `~=`, `<=`, `>=`, `..`, `...`: never an assignment.
        case operatorWord
    }

    /// Members of `redis` that reach no key.
    private static let harmlessMembers: Set<String> = [
        "error_reply", "status_reply", "sha1hex", "log", "setresp", "set_repl", "replicate_commands",
        "breakpoint", "debug", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING", "REPL_NONE",
        "REPL_AOF", "REPL_SLAVE", "REPL_REPLICA", "REPL_ALL", "REDIS_VERSION", "REDIS_VERSION_NUM",
    ]
    /// Globals through which a script could reach `redis` or KEYS without naming them.
    private static let indirect: Set<String> = [
        "_G", "getfenv", "setfenv", "loadstring", "load", "rawget", "rawset", "getmetatable", "setmetatable",
    ]

    static func staysOnDeclaredKeys(_ body: ArraySlice<UInt8>, table: CommandTable) -> Bool {
        guard let tokens = tokenize(Array(body)) else { return false }
        var index = 0
        while index < tokens.count {
            guard case .name(let word) = tokens[index] else { index += 1; continue }
            let isMember = index > 0 && (tokens[index - 1] == .symbol(46) || tokens[index - 1] == .symbol(58))
            if isMember { index += 1; continue }
            let text = String(decoding: word, as: UTF8.self)
            if indirect.contains(text) { return false }
            if text == "KEYS" {
                guard let end = keysReadEnd(tokens, index) else { return false }
                index = end
                continue
            }
            if text == "redis" {
                guard index + 2 < tokens.count, tokens[index + 1] == .symbol(46), case .name(let member) = tokens[index + 2] else {
                    return false
                }
                let memberName = String(decoding: member, as: UTF8.self)
                if memberName == "call" || memberName == "pcall" {
                    guard let end = checkedCall(tokens, from: index + 3, table: table) else { return false }
                    index = end
                    continue
                }
                guard harmlessMembers.contains(memberName) else { return false }
                index += 3
                continue
            }
            index += 1
        }
        return true
    }

    /// `#KEYS`, or `KEYS[...]` not assigned to: returns the index after it.
    private static func keysReadEnd(_ tokens: [Token], _ index: Int) -> Int? {
        if index > 0 && tokens[index - 1] == .symbol(35) && (index + 1 >= tokens.count || tokens[index + 1] != .symbol(91)) {
            return index + 1
        }
        guard index + 1 < tokens.count, tokens[index + 1] == .symbol(91),
              let close = matching(tokens, open: index + 1) else { return nil }
        if close + 1 < tokens.count && tokens[close + 1] == .symbol(61) { return nil }
        return close + 1
    }

    /// Checks the argument list of a redis.call starting at `open` (its "(").
    private static func checkedCall(_ tokens: [Token], from open: Int, table: CommandTable) -> Int? {
        guard open < tokens.count, tokens[open] == .symbol(40), let close = matching(tokens, open: open) else { return nil }
        var arguments: [Range<Int>] = []
        var start = open + 1, depth = 0
        for position in (open + 1)..<close {
            switch tokens[position] {
            case .symbol(40), .symbol(91), .symbol(123): depth += 1
            case .symbol(41), .symbol(93), .symbol(125): depth -= 1
            case .symbol(44) where depth == 0:
                arguments.append(start..<position)
                start = position + 1
            default: break
            }
        }
        if start < close { arguments.append(start..<close) }
        guard let first = arguments.first, first.count == 1, case .string(let name) = tokens[first.lowerBound],
              var spec = name.withUnsafeBytes({ table.lookupUnowned($0)?.takeUnretainedValue() }) else { return nil }
        if !spec.subcommands.isEmpty {
            guard arguments.count >= 2, arguments[1].count == 1, case .string(let sub) = tokens[arguments[1].lowerBound],
                  let found = sub.withUnsafeBytes({ spec.subcommand(named: $0) }) else { return nil }
            spec = found
        }
        let literal: [UInt8] = []
        let keyPositions = { (count: Int) in
            CommandIntrospection.keyPositions(of: spec, argumentCount: count) { _ in literal.withUnsafeBytes { $0 } }
        }
        let positions = keyPositions(arguments.count)
        if spec.flags.contains(.movableKeys) || (positions.isEmpty && reachesKeyspace(spec)) { return nil }
        // A call as the last argument may expand to any number of values: fine only when more
        // arguments would not make more keys (SET key value PX math.max(...)), not for DEL.
        if let last = arguments.last, last.count > 1, tokens[last.upperBound - 1] == .symbol(41),
           keyPositions(arguments.count + 64) != positions { return nil }
        for position in positions {
            guard position < arguments.count else { return nil }
            let argument = arguments[position]
            guard argument.count >= 4, tokens[argument.lowerBound] == .name(Array("KEYS".utf8)),
                  matching(tokens, open: argument.lowerBound + 1) == argument.upperBound - 1 else { return nil }
        }
        // KEYS reads inside the arguments are checked like any other.
        for argument in arguments {
            var position = argument.lowerBound
            while position < argument.upperBound {
                if case .name(let word) = tokens[position], word == Array("KEYS".utf8) {
                    guard let end = keysReadEnd(tokens, position) else { return nil }
                    position = end
                } else if case .name(let word) = tokens[position], word == Array("redis".utf8) || indirect.contains(String(decoding: word, as: UTF8.self)) {
                    return nil
                } else {
                    position += 1
                }
            }
        }
        return close + 1
    }

    /// Keyless commands that still read or write keys (DBSIZE, FLUSHALL, SCAN, RANDOMKEY...).
    static func reachesKeyspace(_ spec: CommandSpec) -> Bool {
        !spec.flags.isDisjoint(with: [.write, .readonly])
    }

    private static func matching(_ tokens: [Token], open: Int) -> Int? {
        guard open < tokens.count, case .symbol(let opener) = tokens[open] else { return nil }
        let closer: UInt8 = opener == 40 ? 41 : opener == 91 ? 93 : 125
        var depth = 0
        for position in open..<tokens.count {
            if tokens[position] == .symbol(opener) { depth += 1 }
            if tokens[position] == .symbol(closer) {
                depth -= 1
                if depth == 0 { return position }
            }
        }
        return nil
    }

    // MARK: tokenizer

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 32 >= 97 && byte | 32 <= 122) || byte == 95
    }

    /// Long bracket level at `index` (`[[` is 0, `[==[` is 2), or nil.
    private static func longBracket(_ bytes: [UInt8], _ index: Int) -> Int? {
        guard index < bytes.count, bytes[index] == 91 else { return nil }
        var position = index + 1, level = 0
        while position < bytes.count && bytes[position] == 61 { level += 1; position += 1 }
        return position < bytes.count && bytes[position] == 91 ? level : nil
    }

    /// The index after the long bracket closing `level`, from `index`.
    private static func skipLong(_ bytes: [UInt8], from index: Int, level: Int) -> Int? {
        var position = index
        while position < bytes.count {
            if bytes[position] == 93 {
                var scan = position + 1, equals = 0
                while scan < bytes.count && bytes[scan] == 61 { equals += 1; scan += 1 }
                if equals == level && scan < bytes.count && bytes[scan] == 93 { return scan + 1 }
            }
            position += 1
        }
        return nil
    }

    private static func tokenize(_ bytes: [UInt8]) -> [Token]? {
        var tokens: [Token] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte <= 32 { index += 1; continue }
            if byte == 45 && index + 1 < bytes.count && bytes[index + 1] == 45 {
                if let level = longBracket(bytes, index + 2) {
                    guard let end = skipLong(bytes, from: index + 4 + level, level: level) else { return nil }
                    index = end
                } else {
                    while index < bytes.count && bytes[index] != 10 { index += 1 }
                }
                continue
            }
            if let level = longBracket(bytes, index) {
                let start = index + 2 + level
                guard let end = skipLong(bytes, from: start, level: level) else { return nil }
                tokens.append(.string(Array(bytes[start..<(end - 2 - level)])))
                index = end
                continue
            }
            if byte == 34 || byte == 39 {
                var text: [UInt8] = []
                var position = index + 1
                while position < bytes.count && bytes[position] != byte {
                    if bytes[position] == 92 { position += 1; text.append(0) } else { text.append(bytes[position]) }
                    position += 1
                }
                guard position < bytes.count else { return nil }
                // Escapes make the literal's value uncertain: it then names no command we know.
                tokens.append(.string(text))
                index = position + 1
                continue
            }
            if isNameByte(byte) {
                var position = index
                while position < bytes.count && (isNameByte(bytes[position]) || (isDigit(byte) && bytes[position] == 46)) {
                    position += 1
                }
                tokens.append(isDigit(byte) ? .number : .name(Array(bytes[index..<position])))
                index = position
                continue
            }
            let next = index + 1 < bytes.count ? bytes[index + 1] : 0
            if (byte == 61 || byte == 126 || byte == 60 || byte == 62) && next == 61 {
                tokens.append(.operatorWord)
                index += 2
            } else if byte == 46 && next == 46 {
                tokens.append(.operatorWord)
                index += index + 2 < bytes.count && bytes[index + 2] == 46 ? 3 : 2
            } else {
                tokens.append(.symbol(byte))
                index += 1
            }
        }
        return tokens
    }
}
