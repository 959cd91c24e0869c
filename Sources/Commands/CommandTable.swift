// The one command table: every family's specs, looked up by case-insensitive name with no
// allocation (an open-addressed index over lowercase name hashes). It is the only source for
// dispatch, arity errors, COMMAND's replies and per-command statistics.
import Support

public final class CommandTable {
    public static let standard = CommandTable(specs:
        ConnectionFamily.specs + ServerFamily.specs + GenericFamily.specs + StringFamily.specs)

    /// Top-level commands, in declaration order.
    public let commands: [CommandSpec]
    /// Every command and subcommand; a spec's `statsIndex` is its position here.
    public let all: [CommandSpec]
    private let index: [Int]
    private let indexMask: Int

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
        index = slots
    }

    @inline(__always)
    static func hash(_ name: UnsafeRawBufferPointer) -> Int {
        var h: UInt32 = 2_166_136_261
        for byte in name { h = (h ^ UInt32(ASCII.lowercase(byte))) &* 16_777_619 }
        return Int(h)
    }

    /// The top-level command named `name` (any case).
    public func lookup(_ name: UnsafeRawBufferPointer) -> CommandSpec? {
        var slot = CommandTable.hash(name) & indexMask
        while true {
            let position = index[slot]
            if position < 0 { return nil }
            let spec = commands[position]
            let matches = spec.name.utf8.withContiguousStorageIfAvailable {
                ASCII.equalsIgnoringCase(UnsafeRawBufferPointer($0), name)
            } ?? false
            if matches { return spec }
            slot = (slot + 1) & indexMask
        }
    }

    public func lookup(_ name: String) -> CommandSpec? {
        Array(name.utf8).withUnsafeBytes { lookup($0) }
    }
}
