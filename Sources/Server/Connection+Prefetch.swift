// Pipelined batches: before running the commands already buffered, find the first key of
// each (cheaply, without the full parser), note its shard and hash for the command that will
// run on it (KeyLocations), and prefetch the hash-table memory its lookup will touch. With
// -P 16 most of a command's time is cache misses in the keyspace; issuing them together lets
// them overlap. Nothing here changes what runs.
import Commands
import RESP
import Storage
import Support

extension Connection {
    static let prefetchBatch = 64

    /// Prefetches for up to `prefetchBatch` complete multibulk commands in the buffer.
    func prefetchPipelinedKeys() {
        let base = UnsafeRawPointer(input.base)
        var keys: [(Int, Int)] = prefetchScratch
        keys.removeAll(keepingCapacity: true)
        var position = readOffset
        let end = input.count
        while keys.count < Connection.prefetchBatch, let next = Connection.scanCommand(base, position, end, into: &keys) {
            position = next
        }
        prefetchScratch = keys
        let keyspace = context.keyspace
        context.keyLocations.clear()
        for (offset, length) in keys {
            let key = UnsafeRawBufferPointer(start: base + offset, count: length)
            context.keyLocations.append(key, shardIndex: keyspace.shardIndex(for: key), hash: KeyHash.hash(key))
        }
        guard keys.count > 1 else { return }
        let db = session.db
        for pass in 0..<2 {
            for location in context.keyLocations.entries {
                keyspace.prefetch(db: db, shardIndex: location.shardIndex, hash: location.hash, entry: pass == 1)
            }
        }
    }

    /// Skims one complete `*N $len arg ...` command from `position`, appending the positions
    /// of its likely keys (every other argument for MSET/MSETNX, every argument for the
    /// multi-key readers and DEL, the declared keys of EVAL/EVALSHA/FCALL, else the second
    /// argument) and returning where the next command starts; nil if the command is not
    /// complete yet.
    static func scanCommand(_ base: UnsafeRawPointer, _ start: Int, _ end: Int, into keys: inout [(Int, Int)]) -> Int? {
        var position = start
        func number(_ prefix: UInt8) -> Int? {
            guard position < end, base.load(fromByteOffset: position, as: UInt8.self) == prefix else { return nil }
            position += 1
            var value = 0
            while position < end {
                let byte = base.load(fromByteOffset: position, as: UInt8.self)
                if byte == 13 { position += 2; return position <= end ? value : nil }
                guard byte >= 48 && byte <= 57, value < 1 << 40 else { return nil }
                value = value * 10 + Int(byte - 48)
                position += 1
            }
            return nil
        }
        guard let count = number(42), count >= 1 else { return nil }
        let firstKey = keys.count
        var step = 0
        var declaredKeys = 0
        for index in 0..<count {
            guard let length = number(36), position + length + 2 <= end else {
                keys.removeSubrange(firstKey...)
                return nil
            }
            let argument = UnsafeRawBufferPointer(start: base + position, count: length)
            if index == 0 {
                step = keyStep(forCommand: argument)
            } else if step == evalKeys {
                if index == 2 {
                    declaredKeys = Int(min(max(Numbers.parseInt64(argument) ?? 0, 0), Int64(count)))
                } else if index >= 3 && index < 3 + declaredKeys && keys.count < prefetchBatch {
                    keys.append((position, length))
                }
            } else if step > 0 && (index - 1) % step == 0 && (step != 99 || index == 1) && keys.count < prefetchBatch {
                keys.append((position, length))
            }
            position += length + 2
        }
        return position
    }

    /// keyStep's code for commands whose argument 2 counts the keys that follow it.
    private static let evalKeys = -1

    /// 1: every argument is a key; 2: every other one; 99: only the first; evalKeys.
    private static func keyStep(forCommand name: UnsafeRawBufferPointer) -> Int {
        func named(_ word: StaticString) -> Bool {
            ASCII.equalsIgnoringCase(UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount), name)
        }
        if named("mset") || named("msetnx") { return 2 }
        if named("mget") || named("del") || named("unlink") || named("exists") || named("touch") { return 1 }
        if named("evalsha") || named("eval") || named("fcall") || named("evalsha_ro") || named("eval_ro")
            || named("fcall_ro") { return evalKeys }
        return 99
    }
}
