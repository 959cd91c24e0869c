// The complete commands at the head of a connection's input, parsed once before the first of
// them runs: prefetching reads their keys from here, and the run loop takes each command's
// arguments and command-table entry from here instead of parsing and looking it up again.
// Valid until the input buffer changes (the end of `processInput`).
import Commands
import RESP
import Support

struct ParsedBatch {
    struct Command {
        /// Where the command starts in the input buffer, and its length in bytes.
        let offset: Int
        let length: Int
        let firstSlice: Int
        let argumentCount: Int
        let spec: Unmanaged<CommandSpec>?
    }

    private(set) var commands = ReusableList<Command>()
    private var slices: UnsafeMutablePointer<ArgSlice>
    private var sliceCapacity = 64
    private var sliceCount = 0
    /// The next command to run.
    private var cursor = 0

    init() {
        slices = .allocate(capacity: sliceCapacity)
    }

    func deallocate() { slices.deallocate() }

    var count: Int { commands.count }

    /// Whether commands parsed ahead are still waiting to run.
    var hasPendingCommands: Bool { cursor < commands.count }

    /// Whether the batch held as many commands as it may and all of them ran.
    var isFullAndDone: Bool { commands.count == Connection.batchLimit && cursor == commands.count }

    mutating func clear() {
        commands.removeAll()
        sliceCount = 0
        cursor = 0
    }

    /// Adds the command parsed at `offset`, whose arguments are `args`.
    mutating func append(offset: Int, length: Int, args: CommandArgs, spec: Unmanaged<CommandSpec>?) {
        if sliceCount + args.count > sliceCapacity {
            let capacity = max(sliceCapacity * 2, sliceCount + args.count)
            let bigger = UnsafeMutablePointer<ArgSlice>.allocate(capacity: capacity)
            bigger.moveInitialize(from: slices, count: sliceCount)
            slices.deallocate()
            slices = bigger
            sliceCapacity = capacity
        }
        (slices + sliceCount).initialize(from: args.slices, count: args.count)
        commands.append(Command(offset: offset, length: length, firstSlice: sliceCount, argumentCount: args.count,
                                spec: spec))
        sliceCount += args.count
    }

    /// The arguments of `command` over the input buffer at `base`.
    func arguments(of command: Command, base: UnsafeRawPointer) -> CommandArgs {
        CommandArgs(base: base + command.offset, slices: UnsafePointer(slices + command.firstSlice),
                    count: command.argumentCount)
    }

    /// The next command to run if it starts at `offset` (else the batch no longer applies).
    @inline(__always)
    mutating func take(at offset: Int) -> Command? {
        guard cursor < commands.count, commands[cursor].offset == offset else { return nil }
        cursor += 1
        return commands[cursor - 1]
    }
}
