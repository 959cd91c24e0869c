// Pipelined batches: before running the commands already buffered, parse the complete ones
// (ParsedBatch), note the shard and hash of their keys for the commands that will run on them
// (KeyLocations), and prefetch the keyspace memory their lookups will touch, in stages over
// the whole batch. With -P 16 much of a command's time is cache misses in the keyspace;
// issuing them together lets them overlap. Nothing here changes what runs.
import Commands
import RESP

extension Connection {
    /// Commands parsed ahead, keys noted (hashed once for their commands) and keys prefetched.
    static let batchLimit = 64
    static let notedKeyLimit = 1024
    static let prefetchLimit = 64

    /// Parses up to `batchLimit` complete multibulk commands from `readOffset`; when there are
    /// several, notes the shard and hash of up to `notedKeyLimit` of their keys and prefetches
    /// for the first `prefetchLimit`. Stops at the first inline command, incomplete
    /// command or protocol error, which the run loop's own parse then handles: the parser
    /// keeps an incomplete command's progress, as the run loop would resume it from there.
    func parseAhead() {
        batch.clear()
        context.keyLocations.clear()
        guard parser.isFresh else { return }
        let base = UnsafeRawPointer(input.base)
        var position = readOffset
        while batch.count < Connection.batchLimit && position < input.count {
            let start = base + position
            guard start.load(as: UInt8.self) == UInt8(ascii: "*") else { break }
            let outcome = parser.parse(start, available: input.count - position)
            if case .needMore = outcome { break }
            guard case .command = outcome else {
                parser.reset()
                break
            }
            let args = parser.args(over: start)
            batch.append(offset: position, length: parser.consumed, args: args, spec: context.lookUpCommand(args[0]))
            position += parser.consumed
            parser.reset()
        }
        // A lone command (no pipelining) has nothing to overlap its lookups with: noting its
        // keys would only add to its own work.
        guard batch.count > 1 else { return }
        noteKeys: for position in 0..<batch.count {
            let command = batch.commands[position]
            guard let spec = command.spec else { continue }
            let args = batch.arguments(of: command, base: base)
            var full = false
            spec._withUnsafeGuaranteedRef { spec in
                spec.forEachPrefetchKey(in: args) { index in
                    context.noteBatchKey(args[index])
                    full = context.keyLocations.entries.count >= Connection.notedKeyLimit
                    return !full
                }
            }
            if full { break noteKeys }
        }
        context.prefetchNotedKeys(db: session.db, limit: Connection.prefetchLimit)
    }
}
