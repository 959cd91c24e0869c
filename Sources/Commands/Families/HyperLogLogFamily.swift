// The HyperLogLog command group of Redis 7.0: PFADD, PFCOUNT (one key, answered from the
// sketch's cached cardinality when it is fresh, or the union of several), PFMERGE, and the
// internal PFDEBUG and PFSELFTEST that Redis's own tests call. Sketches are string values in
// Redis's byte format (Storage's HyperLogLog). A dense sketch is edited in place through
// `editString`; a sparse one, a few hundred bytes that change length as registers rise, is
// rebuilt and stored back. Writes keep the key's TTL, as Redis edits the value it holds.
import RESP
import Storage
import Support

public enum HyperLogLogFamily {
    static let notSketch = "WRONGTYPE Key is not a valid HyperLogLog string value."
    static let corrupt = "INVALIDOBJ Corrupted HLL object detected"

    public static let specs: [CommandSpec] = [
        CommandSpec("pfadd", arity: -2, flags: [.write, .denyoom, .fast], acl: [.hyperloglog],
                    keys: [KeySpec.single([.RW, .insert])], group: .hyperloglog, since: "2.8.9",
                    summary: "Add elements to a HyperLogLog sketch, creating it when absent.",
                    complexity: "O(1) per element",
                    arguments: [.key(), CommandArgument("element", .string, flags: [.optional, .multiple])],
                    handler: pfadd),
        CommandSpec("pfcount", arity: -2, flags: [.readonly, .mayReplicate], acl: [.hyperloglog],
                    keys: [KeySpec([.RW, .access], .index(1), .range(lastKey: -1, step: 1, limit: 0),
                                   notes: "RW because it may change the internal representation of the key, and propagate to replicas")],
                    group: .hyperloglog, since: "2.8.9",
                    summary: "Estimated number of distinct elements added to one sketch, or to the union of several.",
                    complexity: "O(1) for one key with a fresh cached count, O(N) for N keys",
                    arguments: [CommandArgument("key", .key, keySpec: 0, flags: .multiple)], handler: pfcount),
        CommandSpec("pfmerge", arity: -2, flags: [.write, .denyoom], acl: [.hyperloglog],
                    keys: [KeySpec.single([.RW, .access, .insert]), KeySpec.rest([.RO, .access], from: 2)],
                    group: .hyperloglog, since: "2.8.9",
                    summary: "Store the union of HyperLogLog sketches in the destination sketch.",
                    complexity: "O(N) for N sketches",
                    arguments: [.key("destkey"), CommandArgument("sourcekey", .key, keySpec: 1, flags: .multiple)],
                    handler: pfmerge),
        CommandSpec("pfdebug", arity: 3, flags: [.write, .denyoom, .admin], acl: [.hyperloglog],
                    keys: [KeySpec.single([.RW, .access], at: 2)], group: .hyperloglog, since: "2.8.9",
                    summary: "Inspect a HyperLogLog sketch's registers and encoding (internal).",
                    complexity: "N/A", docFlags: ["syscmd"],
                    arguments: [CommandArgument("subcommand", .string), .key()], handler: pfdebug),
        CommandSpec("pfselftest", arity: 1, flags: [.admin], acl: [.hyperloglog], group: .hyperloglog,
                    since: "2.8.9", summary: "Check the HyperLogLog implementation against itself (internal).",
                    complexity: "N/A", docFlags: ["syscmd"], handler: pfselftest),
    ]

    /// Whether `entry` holds a sketch; replies WRONGTYPE when it does not.
    private static func holdsSketch(_ c: CommandContext, _ entry: Entry) -> Bool {
        if c.rejectNonString(entry) { return false }
        let valid = entry.kind != .integer && c.withValueBytes(entry, prefix: HyperLogLog.headerSize) {
            HyperLogLog.isSketch(header: $0, length: c.valueLength(entry))
        }
        if !valid { c.error(notSketch) }
        return valid
    }

    /// The sketch's bytes, copied out of `entry`.
    private static func sketchBytes(_ c: CommandContext, _ entry: Entry) -> [UInt8] {
        c.withValueBytes(entry) { Array($0) }
    }

    /// Stores `sketch` as the value of `key` (the entry at `link`, if any), keeping its TTL.
    /// Counts `writes` changes instead of the one write a store counts.
    private static func store(_ c: CommandContext, _ shard: Shard, _ key: UnsafeRawBufferPointer, _ hash: UInt64,
                              replacing link: EntryLink?, _ sketch: [UInt8], writes: Int) {
        let writesBefore = shard.stats.dirty
        sketch.withUnsafeBytes { bytes in
            c.storeString(shard, key: key, hash: hash, replacing: link, value: bytes, encoding: .raw,
                          expireAt: link.flatMap { Entry($0.pointee!).expireAt }, isEdit: true)
        }
        shard.stats.dirty = writesBefore + writes
    }

    static func pfadd(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            let link = c.lookupWrite(shard, key, hash)
            let existing = link.map { Entry($0.pointee!) }
            if let existing, !holdsSketch(c, existing) { return }
            let elements = 2..<c.args.count
            var updates = 0
            if let existing, c.withValueBytes(existing, prefix: HyperLogLog.headerSize, HyperLogLog.isDense) {
                // Dense: 12 KB edited where it lies.
                c.editString(shard, key: key, hash: hash, link: link, minimumLength: 0) { sketch, _ in
                    for index in elements where HyperLogLog.addDense(c.args[index], to: sketch) { updates += 1 }
                    if updates > 0 { HyperLogLog.invalidateCache(sketch) }
                }
                shard.stats.dirty += updates
            } else {
                var sketch = existing.map { sketchBytes(c, $0) } ?? HyperLogLog.emptySketch()
                if existing == nil { updates = 1 }
                let limit = c.server.config.hllSparseMaxBytes
                var corrupted = false
                for index in elements {
                    switch HyperLogLog.add(c.args[index], to: &sketch, sparseLimit: limit) {
                    case .changed: updates += 1
                    case .unchanged: break
                    case .corrupt: corrupted = true
                    }
                    if corrupted { break }
                }
                if updates > 0 && !corrupted { sketch.withUnsafeMutableBytes { HyperLogLog.invalidateCache($0) } }
                // Registers raised before a corrupt opcode stay raised, as in Redis.
                if updates > 0 { store(c, shard, key, hash, replacing: link, sketch, writes: corrupted ? 0 : updates) }
                if corrupted { return c.error(corrupt) }
            }
            if updates > 0 { c.keyChanged(key, .string, "pfadd") }
            c.reply.integer(updates > 0 ? 1 : 0)
        }
    }

    static func pfcount(_ c: CommandContext) {
        guard c.args.count == 2 else { return countUnion(c) }
        c.withKey(1) { shard, key, hash in
            guard let entry = c.lookupRead(shard, key, hash) else { return c.reply.integer(0) }
            guard holdsSketch(c, entry) else { return }
            if let cached = c.withValueBytes(entry, prefix: HyperLogLog.headerSize, HyperLogLog.cachedCardinality) {
                return c.reply.integer(Int64(bitPattern: cached))
            }
            guard let estimate = c.withValueBytes(entry, HyperLogLog.cardinality) else { return c.error(corrupt) }
            // The count is cached in the value, which makes this read a write (propagated as it is).
            c.editString(shard, key: key, hash: hash, link: c.lookupWrite(shard, key, hash), minimumLength: 0) { sketch, _ in
                HyperLogLog.cacheCardinality(estimate, in: sketch)
            }
            c.signalModifiedKey(key)
            shard.stats.dirty += 1
            c.reply.integer(Int64(bitPattern: estimate))
        }
    }

    /// The registers of the union of the sketches at `positions` (missing keys are empty),
    /// or nil after replying an error. The keys' shards must be locked.
    private static func unionRegisters(_ c: CommandContext, _ positions: Range<Int>,
                                       sawDense: inout Bool) -> [UInt8]? {
        var registers = [UInt8](repeating: 0, count: HyperLogLog.registerCount)
        for position in positions {
            let key = c.args[position]
            guard let entry = c.lookupRead(c.keyspace.shard(for: key), key, KeyHash.hash(key)) else { continue }
            guard holdsSketch(c, entry) else { return nil }
            let merged = c.withValueBytes(entry) { sketch in
                if HyperLogLog.isDense(sketch) { sawDense = true }
                return HyperLogLog.merge(sketch, into: &registers)
            }
            guard merged else {
                c.error(corrupt)
                return nil
            }
        }
        return registers
    }

    private static func countUnion(_ c: CommandContext) {
        c.withKeys(1..<c.args.count) {
            var sawDense = false
            guard let registers = unionRegisters(c, 1..<c.args.count, sawDense: &sawDense) else { return }
            c.reply.integer(Int64(bitPattern: HyperLogLog.cardinality(registers: registers)))
        }
    }

    static func pfmerge(_ c: CommandContext) {
        c.withKeys(1..<c.args.count) {
            // The destination's own registers count too, as in Redis.
            var sawDense = false
            guard let registers = unionRegisters(c, 1..<c.args.count, sawDense: &sawDense) else { return }
            let key = c.args[1]
            let shard = c.keyspace.shard(for: key), hash = KeyHash.hash(key)
            let link = c.lookupWrite(shard, key, hash)
            var sketch = link.map { sketchBytes(c, Entry($0.pointee!)) } ?? HyperLogLog.emptySketch()
            if sawDense {
                guard let dense = sketch.withUnsafeBytes(HyperLogLog.densified) else { return c.error(corrupt) }
                sketch = dense
            }
            let limit = c.server.config.hllSparseMaxBytes
            for (index, value) in registers.enumerated() where value > 0 {
                _ = HyperLogLog.raise(&sketch, index, to: value, sparseLimit: limit)
            }
            sketch.withUnsafeMutableBytes { HyperLogLog.invalidateCache($0) }
            store(c, shard, key, hash, replacing: link, sketch, writes: 1)
            c.keyChanged(key, .string, "pfadd")
            c.reply.ok()
        }
    }

    static func pfdebug(_ c: CommandContext) {
        c.withKey(2) { shard, key, hash in
            guard let link = c.lookupWrite(shard, key, hash) else { return c.error("ERR The specified key does not exist") }
            let entry = Entry(link.pointee!)
            guard holdsSketch(c, entry) else { return }
            let dense = c.withValueBytes(entry, prefix: HyperLogLog.headerSize, HyperLogLog.isDense)
            /// Stores the dense form of the sketch (a change of encoding is a write); false after
            /// replying an error.
            func densify() -> Bool {
                guard let converted = c.withValueBytes(entry, HyperLogLog.densified) else {
                    c.error(corrupt)
                    return false
                }
                store(c, shard, key, hash, replacing: link, converted, writes: 1)
                c.noteCommandChanged()
                return true
            }
            if c.args.equals(1, "getreg") {
                if !dense && !densify() { return }
                let registers = c.withValueBytes(Entry(link.pointee!), HyperLogLog.denseRegisters)
                c.reply.arrayHeader(registers.count)
                for value in registers { c.reply.integer(Int(value)) }
            } else if c.args.equals(1, "decode") {
                guard !dense else { return c.error("ERR HLL encoding is not sparse") }
                c.reply.bulk(c.withValueBytes(entry, HyperLogLog.describeSparse))
            } else if c.args.equals(1, "encoding") {
                c.reply.simple(dense ? "dense" : "sparse")
            } else if c.args.equals(1, "todense") {
                if !dense && !densify() { return }
                c.reply.integer(dense ? 0 : 1)
            } else {
                c.error("ERR Unknown PFDEBUG subcommand '\(String(decoding: c.args[1], as: UTF8.self))'")
            }
        }
    }

    /// Checks dense register access on random values, then adds ten million distinct
    /// elements to a dense and a sparse sketch at once: at each power of ten both must agree
    /// and be within six standard errors of the truth.
    static func pfselftest(_ c: CommandContext) {
        var random = Xorshift64()
        let emptyDense = HyperLogLog.emptySketch().withUnsafeBytes(HyperLogLog.densified)!
        var dense = emptyDense
        var expected = [UInt8](repeating: 0, count: HyperLogLog.registerCount)
        for _ in 0..<1000 {
            let mismatch: String? = dense.withUnsafeMutableBytes { sketch in
                let registers = sketch.baseAddress! + HyperLogLog.headerSize
                for index in 0..<HyperLogLog.registerCount {
                    expected[index] = UInt8(truncatingIfNeeded: random.next()) & 63
                    HyperLogLog.setDenseRegister(registers, index, expected[index])
                }
                for index in 0..<HyperLogLog.registerCount where HyperLogLog.denseRegister(registers, index) != expected[index] {
                    return "ERR TESTFAILED Register \(index) should be \(expected[index]) but is \(HyperLogLog.denseRegister(registers, index))"
                }
                return nil
            }
            if let mismatch { return c.error(mismatch) }
        }
        dense = emptyDense
        var sparse = HyperLogLog.emptySketch()
        let limit = c.server.config.hllSparseMaxBytes
        let relativeError = 1.04 / Double(HyperLogLog.registerCount).squareRoot()
        let seed = random.next()
        var checkpoint = 1
        for added in 1...10_000_000 {
            withUnsafeBytes(of: UInt64(added) ^ seed) { element in
                _ = dense.withUnsafeMutableBytes { HyperLogLog.addDense(element, to: $0) }
                _ = HyperLogLog.add(element, to: &sparse, sparseLimit: limit)
            }
            guard added == checkpoint else { continue }
            if added < limit / 2 && sparse.withUnsafeBytes(HyperLogLog.isDense) {
                return c.error("ERR TESTFAILED sparse encoding not used")
            }
            let estimate = dense.withUnsafeBytes(HyperLogLog.cardinality) ?? 0
            if estimate != sparse.withUnsafeBytes(HyperLogLog.cardinality) { return c.error("ERR TESTFAILED dense/sparse disagree") }
            let allowed = added == 10 ? 1 : Int((relativeError * 6 * Double(added)).rounded(.up))
            let error = abs(added - Int(estimate))
            if error > allowed { return c.error("ERR TESTFAILED Too big error. card:\(added) abserr:\(error)") }
            checkpoint *= 10
        }
        c.reply.ok()
    }
}
