// The bitmap command group of Redis 7.0: single bits (SETBIT, GETBIT), counting and searching
// over byte or bit ranges (BITCOUNT, BITPOS), bitwise operations between keys (BITOP) and
// integer fields at arbitrary bit offsets (BITFIELD, BITFIELD_RO). Bitmaps are string values;
// writes go through `editString`, which edits raw strings in place and rebuilds others.
import RESP
import Storage
import Support

public enum BitmapFamily {
    static let keyRO = KeySpec.single([.RO, .access])
    static let unitArgument = CommandArgument("index_unit", .oneof, flags: .optional, since: "7.0.0",
                                              [.token("BYTE"), .token("BIT")])
    static let unitHistory = [("7.0.0", "The BYTE and BIT units.")]

    public static let specs: [CommandSpec] = [
        CommandSpec("setbit", arity: 4, flags: [.write, .denyoom], acl: [.bitmap],
                    keys: [KeySpec.single([.RW, .access, .update])], group: .bitmap, since: "2.2.0",
                    summary: "Set or clear one bit of a string value, growing it as needed; replies with the bit's old value.",
                    complexity: "O(1)",
                    arguments: [.key(), CommandArgument("offset", .integer), CommandArgument("value", .integer)],
                    handler: setbit),
        CommandSpec("getbit", arity: 3, flags: [.readonly, .fast], acl: [.bitmap], keys: [keyRO],
                    group: .bitmap, since: "2.2.0", summary: "Read one bit of a string value.",
                    complexity: "O(1)", arguments: [.key(), CommandArgument("offset", .integer)], handler: getbit),
        CommandSpec("bitcount", arity: -2, flags: [.readonly], acl: [.bitmap], keys: [keyRO],
                    group: .bitmap, since: "2.6.0",
                    summary: "Count the set bits of a string value, optionally within a byte or bit range.",
                    complexity: "O(N) for N bytes in the range", history: unitHistory,
                    arguments: [.key(), CommandArgument("index", .block, flags: .optional, [
                        CommandArgument("start", .integer), CommandArgument("end", .integer), unitArgument])],
                    handler: bitcount),
        CommandSpec("bitpos", arity: -3, flags: [.readonly], acl: [.bitmap], keys: [keyRO],
                    group: .bitmap, since: "2.8.7",
                    summary: "Position of the first set or clear bit of a string value, optionally within a range.",
                    complexity: "O(N) for N bytes in the range", history: unitHistory,
                    arguments: [.key(), CommandArgument("bit", .integer),
                                CommandArgument("index", .block, flags: .optional, [
                                    CommandArgument("start", .integer),
                                    CommandArgument("end_index", .block, flags: .optional, [
                                        CommandArgument("end", .integer), unitArgument])])],
                    handler: bitpos),
        CommandSpec("bitop", arity: -4, flags: [.write, .denyoom], acl: [.bitmap],
                    keys: [KeySpec.single([.OW, .update], at: 2), KeySpec.rest([.RO, .access], from: 3)],
                    group: .bitmap, since: "2.6.0",
                    summary: "Store the bitwise AND, OR, XOR or NOT of string values at a destination key.",
                    complexity: "O(N) for N bytes in the longest source",
                    arguments: [CommandArgument("operation", .string), .key("destkey", spec: 0),
                                .key(spec: 1, flags: .multiple)],
                    handler: bitop),
        CommandSpec("bitfield", arity: -2, flags: [.write, .denyoom], acl: [.bitmap],
                    keys: [KeySpec([.RW, .update, .access, .variableFlags], .index(1),
                                   .range(lastKey: 0, step: 1, limit: 0),
                                   notes: "This command allows both access and modification of the key")],
                    group: .bitmap, since: "3.2.0",
                    summary: "Read, write and increment integer fields of any width at any bit offset of a string value.",
                    complexity: "O(1) per operation",
                    arguments: [.key(), CommandArgument("operation", .oneof, flags: [.optional, .multiple], [
                        CommandArgument("encoding_offset", .block, token: "GET", fieldArguments),
                        CommandArgument("write", .block, [
                            CommandArgument("wrap_sat_fail", .oneof, token: "OVERFLOW", flags: .optional,
                                            [.token("WRAP"), .token("SAT"), .token("FAIL")]),
                            CommandArgument("write_operation", .oneof, [
                                CommandArgument("encoding_offset_value", .block, token: "SET",
                                                fieldArguments + [CommandArgument("value", .integer)]),
                                CommandArgument("encoding_offset_increment", .block, token: "INCRBY",
                                                fieldArguments + [CommandArgument("increment", .integer)])])])])],
                    handler: { bitfield($0, readOnly: false) }).withKeyFlags(bitfieldKeyFlags),
        CommandSpec("bitfield_ro", arity: -2, flags: [.readonly, .fast], acl: [.bitmap], keys: [keyRO],
                    group: .bitmap, since: "6.0.0", summary: "Read integer fields of a string value (BITFIELD's GET only).",
                    complexity: "O(1) per field",
                    arguments: [.key(), CommandArgument("encoding_offset", .block, token: "GET",
                                                        flags: [.optional, .multiple, .multipleToken], fieldArguments)],
                    handler: { bitfield($0, readOnly: true) }),
    ]

    private static let fieldArguments = [CommandArgument("encoding", .string), CommandArgument("offset", .integer)]

    // MARK: Argument parsing

    /// A bit offset argument; with `fieldWidth`, "#N" means N fields of that width. Offsets
    /// must address a byte below proto-max-bulk-len.
    static func bitOffset(_ c: CommandContext, _ index: Int, fieldWidth: Int? = nil) -> Int? {
        var digits = c.args[index]
        var multiplier: Int64 = 1
        if let fieldWidth, digits.first == UInt8(ascii: "#") {
            digits = UnsafeRawBufferPointer(rebasing: digits.dropFirst())
            multiplier = Int64(fieldWidth)
        }
        // The multiplication wraps like Redis's, so a huge "#N" can land back in range.
        guard let parsed = Numbers.parseInt64(digits).map({ $0 &* multiplier }), parsed >= 0,
              parsed >> 3 < Int64(c.server.config.protoMaxBulkLen) else {
            c.error(RedisError.bitOffsetOutOfRange)
            return nil
        }
        return Int(parsed)
    }

    /// The optional BYTE|BIT argument at `index`: true for BIT, nil after a syntax error.
    private static func unitIsBit(_ c: CommandContext, _ index: Int) -> Bool? {
        if index >= c.args.count || c.args.equals(index, "byte") { return false }
        if c.args.equals(index, "bit") { return true }
        c.error(RedisError.syntax)
        return nil
    }

    /// Resolves start/end (negative counting from the end, clamped) over a value of `length`
    /// bytes into a range of bit positions; nil when it is empty.
    static func bitRange(start: Int64, end: Int64, length: Int, unitIsBit: Bool) -> ClosedRange<Int>? {
        let total = Int64(length) * (unitIsBit ? 8 : 1)
        let first = max(start < 0 ? total + start : start, 0)
        let last = min(max(end < 0 ? total + end : end, 0), total - 1)
        guard first <= last else { return nil }
        return unitIsBit ? Int(first)...Int(last) : Int(first) * 8...Int(last) * 8 + 7
    }

    // MARK: Single bits

    static func getbit(_ c: CommandContext) {
        guard let offset = bitOffset(c, 2) else { return }
        c.withKey(1) { shard, key, hash in
            guard let entry = c.lookupRead(shard, key, hash) else { return c.reply.integer(0) }
            if c.rejectNonString(entry) { return }
            let bit = c.withValueBytes(entry, prefix: offset >> 3 + 1) { value in
                offset >> 3 < value.count ? value[offset >> 3] >> (7 - UInt8(offset & 7)) & 1 : 0
            }
            c.reply.integer(Int(bit))
        }
    }

    static func setbit(_ c: CommandContext) {
        guard let offset = bitOffset(c, 2) else { return }
        guard let value = c.integer(3, orReply: RedisError.bitNotInteger) else { return }
        guard value & ~1 == 0 else { return c.error(RedisError.bitNotInteger) }
        c.withKey(1) { shard, key, hash in
            let link = c.lookupWrite(shard, key, hash)
            if let link, c.rejectNonString(Entry(link.pointee!)) { return }
            let mask = UInt8(0x80) >> UInt8(offset & 7)
            let byte = offset >> 3
            let (wasSet, changed) = c.editString(shard, key: key, hash: hash, link: link,
                                                 minimumLength: byte + 1) { bytes, grown in
                let wasSet = bytes[byte] & mask != 0
                bytes[byte] = value == 1 ? bytes[byte] | mask : bytes[byte] & ~mask
                return (wasSet, grown || wasSet != (value == 1))
            }
            if changed {
                shard.stats.dirty += 1
                c.keyChanged(key, .string, "setbit")
            }
            c.reply.integer(wasSet ? 1 : 0)
        }
    }

    // MARK: Counting and searching

    static func bitcount(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            guard let entry = c.lookupRead(shard, key, hash) else { return c.reply.integer(0) }
            if c.rejectNonString(entry) { return }
            c.withValueBytes(entry) { value in
                var range: ClosedRange<Int>?
                switch c.args.count {
                case 2:
                    range = value.isEmpty ? nil : 0...value.count * 8 - 1
                case 4, 5:
                    guard let start = c.integer(2), let end = c.integer(3) else { return }
                    if start < 0 && end < 0 && start > end { return c.reply.integer(0) }
                    guard let isBit = unitIsBit(c, 4) else { return }
                    range = bitRange(start: start, end: end, length: value.count, unitIsBit: isBit)
                default:
                    return c.error(RedisError.syntax)
                }
                c.reply.integer(range.map { Bitmap.popcount(value, bits: $0.lowerBound, through: $0.upperBound) } ?? 0)
            }
        }
    }

    static func bitpos(_ c: CommandContext) {
        guard let bitArgument = c.integer(2) else { return }
        guard bitArgument == 0 || bitArgument == 1 else { return c.error(RedisError.bitArgument) }
        let bit = bitArgument == 1
        c.withKey(1) { shard, key, hash in
            // A missing key is an endless run of zero bits.
            guard let entry = c.lookupRead(shard, key, hash) else { return c.reply.integer(bit ? -1 : 0) }
            if c.rejectNonString(entry) { return }
            c.withValueBytes(entry) { value in
                var range: ClosedRange<Int>?
                let endGiven = c.args.count >= 5
                switch c.args.count {
                case 3:
                    range = value.isEmpty ? nil : 0...value.count * 8 - 1
                case 4, 5, 6:
                    guard let start = c.integer(3), let isBit = unitIsBit(c, 5) else { return }
                    var end: Int64 = -1
                    if endGiven {
                        guard let given = c.integer(4) else { return }
                        end = given
                    }
                    range = bitRange(start: start, end: end, length: value.count, unitIsBit: isBit)
                default:
                    return c.error(RedisError.syntax)
                }
                guard let range else { return c.reply.integer(-1) }
                if let found = Bitmap.firstBit(bit, in: value, from: range.lowerBound, through: range.upperBound) {
                    return c.reply.integer(found)
                }
                // Without an explicit end, the zero padding after the value holds the first clear bit.
                c.reply.integer(bit || endGiven ? -1 : range.upperBound + 1)
            }
        }
    }

    // MARK: BITOP

    static func bitop(_ c: CommandContext) {
        let operation: Bitmap.Operation
        if c.args.equals(1, "and") { operation = .and }
        else if c.args.equals(1, "or") { operation = .or }
        else if c.args.equals(1, "xor") { operation = .xor }
        else if c.args.equals(1, "not") { operation = .not }
        else { return c.error(RedisError.syntax) }
        if operation == .not && c.args.count != 4 { return c.error(RedisError.bitopNotArity) }
        c.withKeys(2..<c.args.count) {
            var sources: [Entry?] = []
            sources.reserveCapacity(c.args.count - 3)
            for index in 3..<c.args.count {
                let key = c.args[index]
                let source = c.lookupRead(c.keyspace.shard(for: key), key, KeyHash.hash(key))
                if let source, c.rejectNonString(source) { return }
                sources.append(source)
            }
            let length = sources.reduce(0) { longest, source in max(longest, source.map(c.valueLength) ?? 0) }
            let destination = c.args[2]
            let shard = c.keyspace.shard(for: destination)
            let hash = KeyHash.hash(destination)
            let link = c.lookupWrite(shard, destination, hash)
            guard length > 0 else {
                // An empty result deletes the destination, as Redis does.
                if let link {
                    shard.remove(db: c.session.db, at: link, hash: hash)
                    c.keyChanged(destination, .generic, "del")
                }
                return c.reply.integer(0)
            }
            var result = [UInt8](repeating: 0, count: length)
            result.withUnsafeMutableBytes { output in
                // The zeroed output takes the first source as is (or complemented for NOT).
                let first: Bitmap.Operation = operation == .not ? .not : .or
                for (position, source) in sources.enumerated() {
                    let apply = { (bytes: UnsafeRawBufferPointer) in
                        Bitmap.combine(position == 0 ? first : operation, into: output, bytes)
                    }
                    if let source { c.withValueBytes(source, apply) } else { apply(UnsafeRawBufferPointer(start: nil, count: 0)) }
                }
            }
            result.withUnsafeBytes { bytes in
                c.storeString(shard, key: destination, hash: hash, replacing: link, value: bytes, encoding: .raw, expireAt: nil)
            }
            c.keyChanged(destination, .string, "set")
            c.reply.integer(length)
        }
    }

    // MARK: BITFIELD

    /// One parsed BITFIELD operation.
    struct FieldOperation {
        enum Kind { case get, set, incrby }
        var kind: Kind
        var signed: Bool
        var width: Int
        var offset: Int
        /// SET's value or INCRBY's increment.
        var operand: Int64
        var overflow: Bitmap.Overflow
    }

    /// A field type argument: "i" or "u" and a width (1...64 signed, 1...63 unsigned).
    private static func fieldType(_ c: CommandContext, _ index: Int) -> (signed: Bool, width: Int)? {
        let argument = c.args[index]
        let signed = argument.first == UInt8(ascii: "i")
        if signed || argument.first == UInt8(ascii: "u"),
           let width = Numbers.parseInt64(UnsafeRawBufferPointer(rebasing: argument.dropFirst())),
           width >= 1 && width <= (signed ? 64 : 63) {
            return (signed, Int(width))
        }
        c.error(RedisError.bitfieldType)
        return nil
    }

    /// Parses every operation before anything runs, as Redis does; nil after an error reply.
    private static func fieldOperations(_ c: CommandContext) -> [FieldOperation]? {
        var operations: [FieldOperation] = []
        var overflow = Bitmap.Overflow.wrap
        var index = 2
        while index < c.args.count {
            let remaining = c.args.count - index - 1
            let kind: FieldOperation.Kind
            if c.args.equals(index, "get") && remaining >= 2 { kind = .get }
            else if c.args.equals(index, "set") && remaining >= 3 { kind = .set }
            else if c.args.equals(index, "incrby") && remaining >= 3 { kind = .incrby }
            else if c.args.equals(index, "overflow") && remaining >= 1 {
                if c.args.equals(index + 1, "wrap") { overflow = .wrap }
                else if c.args.equals(index + 1, "sat") { overflow = .saturate }
                else if c.args.equals(index + 1, "fail") { overflow = .fail }
                else { c.error(RedisError.bitfieldOverflowType); return nil }
                index += 2
                continue
            } else {
                c.error(RedisError.syntax)
                return nil
            }
            guard let (signed, width) = fieldType(c, index + 1),
                  let offset = bitOffset(c, index + 2, fieldWidth: width) else { return nil }
            var operand: Int64 = 0
            if kind != .get {
                guard let value = c.integer(index + 3) else { return nil }
                operand = value
            }
            operations.append(FieldOperation(kind: kind, signed: signed, width: width, offset: offset,
                                              operand: operand, overflow: overflow))
            index += kind == .get ? 3 : 4
        }
        return operations
    }

    /// BITFIELD only reads its key when every operation is a GET (Redis's bitfieldGetKeys:
    /// anything it cannot parse counts as a write).
    private static func bitfieldKeyFlags(_ count: Int, _ argument: (Int) -> UnsafeRawBufferPointer) -> KeySpec.Flags {
        var index = 2
        while index < count {
            let remaining = count - index - 1
            if ASCII.equalsIgnoringCase(argument(index), keyword: "get") && remaining >= 2 {
                index += 3
            } else if ASCII.equalsIgnoringCase(argument(index), keyword: "overflow") && remaining >= 1 {
                index += 2
            } else {
                return [.RW, .access, .update]
            }
        }
        return [.RO, .access]
    }

    static func bitfield(_ c: CommandContext, readOnly: Bool) {
        guard let operations = fieldOperations(c) else { return }
        // The string grows to hold the farthest field written, even when every write fails.
        guard let lastBit = operations.lazy.filter({ $0.kind != .get }).map({ $0.offset + $0.width - 1 }).max() else {
            return readFields(c, operations)
        }
        if readOnly { return c.error(RedisError.bitfieldReadOnly) }
        c.withKey(1) { shard, key, hash in
            let link = c.lookupWrite(shard, key, hash)
            if let link, c.rejectNonString(Entry(link.pointee!)) { return }
            let changes = c.editString(shard, key: key, hash: hash, link: link, minimumLength: lastBit >> 3 + 1) { bytes, grown in
                var changes = 0
                c.reply.arrayHeader(operations.count)
                for operation in operations {
                    if operation.kind == .get {
                        replyField(c, operation, UnsafeRawBufferPointer(bytes))
                    } else if writeField(c, operation, bytes, grown: grown) {
                        changes += 1
                    }
                }
                return changes
            }
            shard.stats.dirty += changes
            if changes > 0 { c.keyChanged(key, .string, "setbit") }
        }
    }

    /// BITFIELD with only GETs: a read that leaves a missing key missing.
    private static func readFields(_ c: CommandContext, _ operations: [FieldOperation]) {
        c.withKey(1) { shard, key, hash in
            let entry = c.lookupRead(shard, key, hash)
            if let entry, c.rejectNonString(entry) { return }
            c.reply.arrayHeader(operations.count)
            let replyAll = { (bytes: UnsafeRawBufferPointer) in
                for operation in operations { replyField(c, operation, bytes) }
            }
            if let entry { c.withValueBytes(entry, replyAll) } else { replyAll(UnsafeRawBufferPointer(start: nil, count: 0)) }
        }
    }

    private static func replyField(_ c: CommandContext, _ operation: FieldOperation, _ bytes: UnsafeRawBufferPointer) {
        if operation.signed {
            c.reply.integer(Bitmap.signedField(bytes, offset: operation.offset, width: operation.width))
        } else {
            c.reply.integer(Int64(Bitmap.unsignedField(bytes, offset: operation.offset, width: operation.width)))
        }
    }

    /// Runs a SET or INCRBY and replies (SET: the old value, INCRBY: the new one, nil when it
    /// overflowed under FAIL and wrote nothing); returns whether it counts as a change.
    private static func writeField(_ c: CommandContext, _ operation: FieldOperation,
                                   _ bytes: UnsafeMutableRawBufferPointer, grown: Bool) -> Bool {
        let old: Int64, new: Int64
        if operation.signed {
            old = Bitmap.signedField(UnsafeRawBufferPointer(bytes), offset: operation.offset, width: operation.width)
            let exact = operation.kind == .incrby ? Int128(old) + Int128(operation.operand) : Int128(operation.operand)
            guard let fitted = Bitmap.fitSigned(exact, width: operation.width, overflow: operation.overflow) else {
                c.reply.nullBulk()
                return false
            }
            new = fitted.value
        } else {
            let current = Bitmap.unsignedField(UnsafeRawBufferPointer(bytes), offset: operation.offset, width: operation.width)
            old = Int64(current)
            // SET reads its value as a 64-bit pattern: a negative one is a huge unsigned value.
            let exact = operation.kind == .incrby ? Int128(current) + Int128(operation.operand)
                                                  : Int128(UInt64(bitPattern: operation.operand))
            guard let fitted = Bitmap.fitUnsigned(exact, width: operation.width, overflow: operation.overflow) else {
                c.reply.nullBulk()
                return false
            }
            new = Int64(fitted.value)
        }
        c.reply.integer(operation.kind == .incrby ? new : old)
        Bitmap.setField(bytes, offset: operation.offset, width: operation.width, value: UInt64(bitPattern: new))
        return grown || old != new
    }
}
