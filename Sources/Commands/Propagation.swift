// The write-propagation layer: every write that changed something appends its effect, as
// Redis 7.0 propagates it (relative expires made absolute, random pops as the SREMs they did,
// blocking pops as their plain form...), to every attached stream (the AOF today, replicas
// later) in RESP, with SELECT injected whenever the database changes. Effects are appended
// while the key's shard lock is still held, so the streams hold one total order consistent
// with every key's history across worker threads.
//
// A command's effects are collected in its context as one atomic group; a group of more than
// one effect is wrapped in MULTI/EXEC, as Redis's propagatePendingCommands does. EXEC (and
// scripts: `beginAtomicGroup`/`endAtomicGroup`) open an outer group, so everything they ran
// reaches the streams as one transaction. With no stream attached `isActive` is false and the
// only cost on the request path is reading that flag.
#if canImport(Glibc)
import Glibc
#endif
import RESP
import Support

/// One command's arguments encoded as a RESP array, built only while propagation is active.
public struct PropagatedCommand {
    var body: [UInt8] = []
    var count = 0

    public init() {}

    public mutating func add(_ argument: UnsafeRawBufferPointer) {
        count += 1
        body.append(UInt8(ascii: "$"))
        body.append(contentsOf: String(argument.count).utf8)
        body.append(contentsOf: [13, 10])
        body.append(contentsOf: argument)
        body.append(contentsOf: [13, 10])
    }

    public mutating func add(_ argument: StaticString) {
        add(UnsafeRawBufferPointer(start: argument.utf8Start, count: argument.utf8CodeUnitCount))
    }

    public mutating func add(_ number: Int64) {
        Array(String(number).utf8).withUnsafeBytes { add($0) }
    }

    public mutating func add(_ bytes: [UInt8]) { bytes.withUnsafeBytes { add($0) } }

    public mutating func add(_ text: String) { add(Array(text.utf8)) }

    /// All arguments of a parsed command as they are.
    public init(_ args: CommandArgs, from first: Int = 0) {
        for index in first..<args.count { add(args[index]) }
    }

    /// The encoded array.
    func append(to output: inout [UInt8]) {
        output.append(UInt8(ascii: "*"))
        output.append(contentsOf: String(count).utf8)
        output.append(contentsOf: [13, 10])
        output.append(contentsOf: body)
    }
}

/// One consumer's copy of the stream: the bytes not taken yet, and the database the stream's
/// last command ran in (-1: the next command is preceded by SELECT).
public final class PropagationStream {
    public internal(set) var pending: [UInt8] = []
    public internal(set) var selectedDB = -1
    /// Bytes appended since the stream was attached.
    public internal(set) var appendedBytes = 0

    public init() {}

    fileprivate func append(_ command: PropagatedCommand, db: Int) {
        let before = pending.count
        if db != selectedDB {
            var select = PropagatedCommand()
            select.add("SELECT")
            select.add(Int64(db))
            select.append(to: &pending)
            selectedDB = db
        }
        command.append(to: &pending)
        appendedBytes += pending.count - before
    }
}

public final class Propagation {
    /// Whether any stream is attached. Read without the lock on every write: a single word,
    /// changed only with every shard locked (attach/detach), so a writer holding its shard sees
    /// the value that matches the stream's point in time.
    public private(set) var isActive = false
    private var mutex = pthread_mutex_t()
    private var streams: [PropagationStream] = []

    init() { pthread_mutex_init(&mutex, nil) }

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }

    /// Adds `stream` (call with every shard locked: it sees exactly the writes after now).
    public func attach(_ stream: PropagationStream) {
        withLock {
            streams.append(stream)
            isActive = true
        }
    }

    public func detach(_ stream: PropagationStream) {
        withLock {
            streams.removeAll { $0 === stream }
            isActive = !streams.isEmpty
        }
    }

    /// Appends a group of effects `(db, command)`, wrapped in MULTI/EXEC when there are more
    /// than one (the MULTI goes to the first effect's database, the EXEC to the last's).
    func append(_ group: [(db: Int, command: PropagatedCommand)]) {
        guard let first = group.first else { return }
        withLock {
            for stream in streams {
                if group.count > 1 { stream.append(Propagation.multi, db: first.db) }
                for effect in group { stream.append(effect.command, db: effect.db) }
                if group.count > 1 { stream.append(Propagation.exec, db: group[group.count - 1].db) }
            }
        }
    }

    /// A deletion the server made itself (expiry, eviction): `DEL key`, on its own.
    public func deleted(_ key: UnsafeRawBufferPointer, db: Int) {
        guard isActive else { return }
        var command = PropagatedCommand()
        command.add("DEL")
        command.add(key)
        append([(db, command)])
    }

    private static let multi: PropagatedCommand = { var c = PropagatedCommand(); c.add("MULTI"); return c }()
    private static let exec: PropagatedCommand = { var c = PropagatedCommand(); c.add("EXEC"); return c }()
}

/// The effects one command (or one atomic group) has produced so far.
final class PendingEffects {
    var effects: [(db: Int, command: PropagatedCommand)] = []
    /// Index in `effects` of the running command's own effect (its arguments, or what a
    /// rewrite replaced them with); nil before it has one.
    var commandEffect: Int?
    /// The running command decided its effect itself (a rewrite, or none at all).
    var commandDecided = false
    /// Open atomic groups (EXEC, scripts): effects wait for the outermost to close.
    var groupDepth = 0
}

extension CommandContext {
    /// Called as a command starts: it has no effect yet.
    @inline(__always)
    func resetCommandEffect() {
        guard server.propagation.isActive else { return }
        pendingEffects.commandEffect = nil
        pendingEffects.commandDecided = false
    }

    /// The running command changed something: its arguments become its effect unless it chose
    /// another (called from signalModifiedKey and the flush signals).
    @inline(__always)
    func noteCommandChanged() {
        guard server.propagation.isActive, !pendingEffects.commandDecided else { return }
        recordCommandEffect(PropagatedCommand(args))
    }

    private func recordCommandEffect(_ command: PropagatedCommand) {
        let pending = pendingEffects
        pending.commandDecided = true
        if let index = pending.commandEffect {
            pending.effects[index] = (session.db, command)
        } else {
            pending.commandEffect = pending.effects.count
            pending.effects.append((session.db, command))
        }
    }

    /// Redis's rewriteClientCommandVector: the running command propagates as the command
    /// `build` makes instead of its own arguments. `build` runs only while propagating.
    public func rewritePropagated(_ build: (inout PropagatedCommand) -> Void) {
        guard server.propagation.isActive else { return }
        var command = PropagatedCommand()
        build(&command)
        recordCommandEffect(command)
    }

    /// Redis's alsoPropagate: one more effect after what the command propagated so far.
    public func alsoPropagate(db: Int? = nil, _ build: (inout PropagatedCommand) -> Void) {
        guard server.propagation.isActive else { return }
        var command = PropagatedCommand()
        build(&command)
        pendingEffects.effects.append((db ?? session.db, command))
    }

    /// Redis's preventCommandPropagation: the command's own arguments are not propagated
    /// (its effects went out through `alsoPropagate`).
    public func preventCommandPropagation() {
        guard server.propagation.isActive else { return }
        let pending = pendingEffects
        if let index = pending.commandEffect {
            pending.effects.remove(at: index)
            pending.commandEffect = nil
        }
        pending.commandDecided = true
    }

    /// Drops the effects recorded after the first `count` (a script's write under
    /// redis.set_repl without REPL_AOF).
    func discardEffects(beyond count: Int) {
        let pending = pendingEffects
        guard pending.effects.count > count else { return }
        pending.effects.removeSubrange(count...)
        pending.commandEffect = nil
    }

    /// Opens an atomic group (EXEC, a script): effects until the matching `endAtomicGroup`
    /// reach the streams together, wrapped in MULTI/EXEC when there are several.
    public func beginAtomicGroup() { pendingEffects.groupDepth += 1 }

    /// Closes an atomic group; the outermost one hands its effects over. Call it while the
    /// shards of the group's keys are still locked.
    public func endAtomicGroup() {
        pendingEffects.groupDepth -= 1
        commitEffects()
    }

    /// Hands the collected effects to the streams unless a group is open (called while the
    /// command's shards are still locked, and once more after the command as a fallback).
    @inline(__always)
    func commitEffects() {
        let pending = pendingEffects
        guard !pending.effects.isEmpty, pending.groupDepth == 0 else { return }
        server.propagation.append(pending.effects)
        pending.effects.removeAll(keepingCapacity: true)
        pending.commandEffect = nil
    }
}
