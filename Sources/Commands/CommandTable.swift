// The one command table: every family's specs, looked up by case-insensitive name with no
// allocation (an open-addressed index over lowercase name hashes). It is the only source for
// dispatch, arity errors, COMMAND's replies and per-command statistics.
import Support

public final class CommandTable {
    public static let standard = CommandTable(specs:
        ConnectionFamily.specs + ServerFamily.specs + GenericFamily.specs + StringFamily.specs
        + ListFamily.specs + ZSetFamily.specs + HashFamily.specs + SetFamily.specs + BitmapFamily.specs + CacheFamily.specs + MemoryFamily.specs
        + TagFamily.specs + TransactionFamily.specs + RateLimitFamily.specs + PubSubFamily.specs
        + PersistenceFamily.specs + ScriptingFamily.specs + FunctionFamily.specs + GeoFamily.specs + HyperLogLogFamily.specs + ClusterFamily.specs)

    /// Top-level commands, in declaration order.
    public let commands: [CommandSpec]
    /// Every command and subcommand; a spec's `statsIndex` is its position here.
    public let all: [CommandSpec]
    private let indexMask: Int
    /// Each command's name as `NameKey`s, and unretained spec references, so a lookup on the
    /// request path touches no reference counts and compares two words, not bytes.
    private let names: UnsafeMutablePointer<NameKey>
    private let unownedCommands: UnsafeMutablePointer<Unmanaged<CommandSpec>>
    private let slots: UnsafeMutablePointer<Int>

    public init(specs: [CommandSpec]) {
        commands = specs
        var flat: [CommandSpec] = []
        for spec in specs {
            flat.append(spec)
            flat.append(contentsOf: spec.subcommands)
        }
        for (position, spec) in flat.enumerated() { spec.statsIndex = position }
        all = flat
        var size = 16
        while size < specs.count * 4 { size *= 2 }
        indexMask = size - 1
        names = .allocate(capacity: specs.count)
        unownedCommands = .allocate(capacity: specs.count)
        slots = .allocate(capacity: size)
        slots.initialize(repeating: -1, count: size)
        for (position, spec) in specs.enumerated() {
            let key = Array(spec.name.lowercased().utf8).withUnsafeBytes { NameKey(lowercaseName: $0) }
            (names + position).initialize(to: key)
            unownedCommands[position] = .passUnretained(spec)
            var slot = key.hash & indexMask
            while slots[slot] >= 0 { slot = (slot + 1) & indexMask }
            slots[slot] = position
        }
    }

    /// The top-level command named `name` (any case), unretained: specs live as long as
    /// the table, which lives as long as the process.
    @inline(__always)
    public func lookupUnowned(_ name: UnsafeRawBufferPointer) -> Unmanaged<CommandSpec>? {
        let key = NameKey.Words(name)
        var slot = key.hash & indexMask
        while true {
            let position = slots[slot]
            if position < 0 { return nil }
            if names[position].matches(key, name) { return unownedCommands[position] }
            slot = (slot + 1) & indexMask
        }
    }

    /// The top-level command named `name` (any case).
    public func lookup(_ name: UnsafeRawBufferPointer) -> CommandSpec? {
        lookupUnowned(name)?.takeUnretainedValue()
    }

    public func lookup(_ name: String) -> CommandSpec? {
        Array(name.utf8).withUnsafeBytes { lookup($0) }
    }
}

/// A command name folded into two 64-bit words for the table's index: bytes 0..<8 and the
/// last eight (overlapping for names of 9 to 15 bytes; names under 8 bytes are gathered from
/// a few overlapping loads). Every byte of the name lands in a fixed position of the words,
/// so comparing words compares all bytes; longer names compare their middle bytes too.
/// Case folding is exact: OR-ing 0x20 into exactly the positions where the stored (lowercase)
/// name has a letter maps only 'A'...'Z' and 'a'...'z' onto that letter.
struct NameKey {
    struct Words {
        let first: UInt64
        let last: UInt64
        let count: Int

        @inline(__always)
        init(_ name: UnsafeRawBufferPointer) {
            count = name.count
            guard let base = name.baseAddress, count > 0 else {
                first = 0
                last = 0
                return
            }
            if count >= 8 {
                first = base.loadUnaligned(as: UInt64.self)
                last = base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
            } else if count >= 4 {
                first = UInt64(base.loadUnaligned(as: UInt32.self))
                    | UInt64(base.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)) << 32
                last = 0
            } else {
                first = UInt64(base.load(as: UInt8.self))
                    | UInt64(base.load(fromByteOffset: count / 2, as: UInt8.self)) << 8
                    | UInt64(base.load(fromByteOffset: count - 1, as: UInt8.self)) << 16
                last = 0
            }
        }

        /// Equal for names equal but for ASCII case (OR-ing 0x20 everywhere may also fold
        /// other bytes together, which only costs a failed comparison).
        @inline(__always)
        var hash: Int {
            let folded = (first | 0x2020_2020_2020_2020) &* 0x9E37_79B9_7F4A_7C15
                ^ (last | 0x2020_2020_2020_2020) &* 0xC2B2_AE3D_27D4_EB4F ^ UInt64(count)
            return Int(truncatingIfNeeded: folded ^ folded >> 29)
        }
    }

    private let lowercase: Words
    private let letterFirst: UInt64
    private let letterLast: UInt64
    /// The whole name, for the middle bytes of names over 16 bytes.
    private let bytes: [UInt8]

    init(lowercaseName name: UnsafeRawBufferPointer) {
        lowercase = Words(name)
        let letters = name.map { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") ? UInt8(0x20) : 0 }
        let letterWords = letters.withUnsafeBytes { Words($0) }
        letterFirst = letterWords.first
        letterLast = letterWords.last
        bytes = Array(name)
    }

    var hash: Int { lowercase.hash }

    @inline(__always)
    func matches(_ key: Words, _ name: UnsafeRawBufferPointer) -> Bool {
        guard key.count == lowercase.count, key.first | letterFirst == lowercase.first,
              key.last | letterLast == lowercase.last else { return false }
        return key.count <= 16 || bytes.withUnsafeBytes { ASCII.equalsIgnoringCase($0, name) }
    }
}
