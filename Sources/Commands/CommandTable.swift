// The one command table: every family's specs, looked up by case-insensitive name with no
// allocation (an open-addressed index over lowercase name hashes). It is the only source for
// dispatch, arity errors, COMMAND's replies and per-command statistics.
import Support

public final class CommandTable {
    public static let standard = CommandTable(specs:
        ConnectionFamily.specs + ServerFamily.specs + GenericFamily.specs + StringFamily.specs
        + ListFamily.specs + ZSetFamily.specs + HashFamily.specs + SetFamily.specs + BitmapFamily.specs + CacheFamily.specs + MemoryFamily.specs
        + TagFamily.specs + TransactionFamily.specs + RateLimitFamily.specs + PubSubFamily.specs
        + PersistenceFamily.specs + ScriptingFamily.specs + FunctionFamily.specs + GeoFamily.specs)

    /// Top-level commands, in declaration order.
    public let commands: [CommandSpec]
    /// Every command and subcommand; a spec's `statsIndex` is its position here.
    public let all: [CommandSpec]
    private let indexMask: Int
    /// Lower-case names packed into one buffer, and unretained spec references, so a lookup
    /// on the request path touches no reference counts.
    private let nameBytes: UnsafeMutablePointer<UInt8>
    private let nameRanges: UnsafeMutablePointer<(offset: Int, length: Int)>
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
        var slots = [Int](repeating: -1, count: size)
        for (position, spec) in specs.enumerated() {
            var slot = Array(spec.name.utf8).withUnsafeBytes { CommandTable.hash($0) } & (size - 1)
            while slots[slot] >= 0 { slot = (slot + 1) & (size - 1) }
            slots[slot] = position
        }
        self.slots = .allocate(capacity: size)
        self.slots.initialize(from: slots, count: size)
        let names = specs.map { Array($0.name.lowercased().utf8) }
        nameBytes = .allocate(capacity: max(1, names.reduce(0) { $0 + $1.count }))
        nameRanges = .allocate(capacity: specs.count)
        unownedCommands = .allocate(capacity: specs.count)
        var offset = 0
        for (position, name) in names.enumerated() {
            (nameBytes + offset).initialize(from: name, count: name.count)
            nameRanges[position] = (offset, name.count)
            unownedCommands[position] = .passUnretained(specs[position])
            offset += name.count
        }
    }

    @inline(__always)
    static func hash(_ name: UnsafeRawBufferPointer) -> Int {
        var h: UInt32 = 2_166_136_261
        for byte in name { h = (h ^ UInt32(ASCII.lowercase(byte))) &* 16_777_619 }
        return Int(h)
    }

    /// The top-level command named `name` (any case), unretained: specs live as long as
    /// the table, which lives as long as the process.
    @inline(__always)
    public func lookupUnowned(_ name: UnsafeRawBufferPointer) -> Unmanaged<CommandSpec>? {
        var slot = CommandTable.hash(name) & indexMask
        while true {
            let position = slots[slot]
            if position < 0 { return nil }
            let range = nameRanges[position]
            if range.length == name.count
                && ASCII.equalsIgnoringCase(UnsafeRawBufferPointer(start: nameBytes + range.offset, count: range.length), name) {
                return unownedCommands[position]
            }
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
