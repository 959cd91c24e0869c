// The shards a running script holds. A script starts holding the shards of its declared
// keys (ascending, like every multi-key command) or all of them; a nested command that needs
// a shard the script does not hold takes it on the way: by waiting when it lies above every
// held one (lock order preserved), by a try-lock otherwise. When a try-lock fails before the
// script wrote anything, the run stops and starts over holding every shard (nothing it did
// is visible: it only read). ScriptingFamily explains when each case happens.
#if canImport(Glibc)
import Glibc
#endif
import RESP
import Storage

extension ScriptEngine {
    /// Locks the shards of the declared keys (`keys`: argument positions), or every shard.
    func lockShards(keys: Range<Int>, all: Bool, _ context: CommandContext) {
        if !heldShards.isEmpty { heldShards.removeAll(keepingCapacity: true) }
        declaredKeys.removeAll()
        if all {
            heldShards.append(contentsOf: 0..<context.keyspace.shardCount)
        } else {
            for position in keys {
                let key = context.args[position]
                let (shardIndex, hash) = context.locate(key)
                if let location = KeyLocations.Location(key, shardIndex: shardIndex, hash: hash) {
                    declaredKeys.append(location)
                }
                heldShards.append(shardIndex)
            }
            if heldShards.count > 1 {
                heldShards.sort()
                var previous = -1
                heldShards.removeAll { index in
                    defer { previous = index }
                    return index == previous
                }
            }
        }
        for index in heldShards { context.unmanagedShard(at: index)._withUnsafeGuaranteedRef { $0.lock() } }
    }

    /// Runs `body` holding the shards of the declared keys (every shard when `all`), and once
    /// more holding every shard when it asks to start over (a run that restarts wrote nothing,
    /// so it propagated nothing); true when it started over (the caller marks its script to
    /// hold every shard from then on).
    func runHoldingShards(keys: Range<Int>, all: Bool, _ context: CommandContext, _ body: () -> Bool) -> Bool {
        var everyShard = all
        while true {
            lockShards(keys: keys, all: everyShard, context)
            // The writes the run made reach the AOF as one group, before its shards go.
            context.beginAtomicGroup()
            let restart = body()
            context.endAtomicGroup()
            releaseShards(context)
            guard restart && !everyShard else { return everyShard && !all }
            everyShard = true
        }
    }

    func releaseShards(_ context: CommandContext) {
        for index in heldShards.reversed() { context.unmanagedShard(at: index)._withUnsafeGuaranteedRef { $0.unlock() } }
        heldShards.removeAll(keepingCapacity: true)
        // Their bytes lie in an input buffer that may change once the run is over.
        declaredKeys.removeAll()
    }

    /// Makes sure the shards `spec` touches with `args` are held; false when the run must
    /// restart holding every shard.
    func holdShards(of spec: CommandSpec, _ args: CommandArgs, _ context: CommandContext) -> Bool {
        if let position = singleKeyPosition(spec) {
            guard position < args.count else { return true }
            let key = args[position]
            let (shardIndex, hash) = declaredLocation(of: key) ?? context.locate(key)
            context.nestedKeyLocation = KeyLocations.Location(key, shardIndex: shardIndex, hash: hash)
            return hold(shardIndex, context)
        }
        let positions = CommandIntrospection.keyPositions(of: spec, argumentCount: args.count) { args[$0] }
        if positions.isEmpty {
            guard ScriptKeyAnalysis.reachesKeyspace(spec) else { return true }
            return holdEveryShard(context)
        }
        for position in positions where !hold(context.locate(args[position]).shardIndex, context) {
            return false
        }
        return true
    }

    /// The shard and hash of a declared key with the bytes of `key`: scripts mostly pass
    /// KEYS[i] to redis.call, and the copy Lua hands back lies elsewhere than the declared
    /// argument, so the context would hash it again.
    private func declaredLocation(of key: UnsafeRawBufferPointer) -> (Int, UInt64)? {
        for index in 0..<declaredKeys.count {
            let declared = declaredKeys[index]
            if declared.length == key.count && (key.isEmpty || memcmp(declared.address, key.baseAddress!, key.count) == 0) {
                return (declared.shardIndex, declared.hash)
            }
        }
        return nil
    }

    /// The key position of a command with exactly one fixed key (GET, SET, INCR, HSET...).
    private func singleKeyPosition(_ spec: CommandSpec) -> Int? {
        guard spec.keySpecs.count == 1, spec.keyFinder == nil, case .index(let position) = spec.keySpecs[0].begin,
              case .range(lastKey: 0, step: _, limit: _) = spec.keySpecs[0].find else { return nil }
        return position
    }

    private func hold(_ index: Int, _ context: CommandContext) -> Bool {
        if heldShards.contains(index) { return true }
        return context.unmanagedShard(at: index)._withUnsafeGuaranteedRef { shard in
            if index > (heldShards.max() ?? -1) {
                shard.lock()
            } else if !shard.tryLock() {
                guard run.writeDirty else { return false }
                // DIVERGENCE: only a script whose first write came before an undeclared key of a
                // busy lower shard gets here; such bodies fail ScriptKeyAnalysis and lock every
                // shard from the start, so this wait is for bodies the analysis misjudged.
                shard.lock()
            }
            heldShards.append(index)
            return true
        }
    }

    private func holdEveryShard(_ context: CommandContext) -> Bool {
        for index in 0..<context.keyspace.shardCount where !hold(index, context) { return false }
        run.holdsAllShards = true
        return true
    }
}
