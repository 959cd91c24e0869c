// HyperLogLog sketches in Redis's own byte format. A sketch is an ordinary string value that
// clients can GET, DUMP and SET back, so its bytes must be Redis's: a 16-byte header ("HYLL",
// the encoding, three unused bytes, the cached cardinality as 8 little-endian bytes whose top
// bit marks it stale) and 16384 registers of 6 bits, either dense (12288 bytes, register i at
// bit 6i, low bits first) or sparse (run-length opcodes: ZERO 00xxxxxx for 1-64 zero
// registers, XZERO 01xxxxxx yyyyyyyy for up to 16384, VAL 1vvvvvxx for 1-4 registers of value
// 1-32). An element hashes with MurmurHash64A (seed 0xadc83b19): the low 14 bits pick its
// register and the run of zero bits above them, plus one, is the value it offers. The
// cardinality is Ertl's estimator over the register histogram ("New cardinality estimation
// algorithms for HyperLogLog sketches", arXiv:1702.01284), computed as Redis 7 computes it.
// A sparse update takes Redis's steps exactly (split the opcode covering the register, merge
// equal VALs among the five opcodes from the one before it, turn dense past
// `hll-sparse-max-bytes` or a value over 32), so the same adds leave the same bytes.
#if canImport(Glibc)
import Glibc
#endif

public enum HyperLogLog {
    public static let registerCount = 1 << indexBits
    static let indexBits = 14
    /// Hash bits above the register index: the longest run a hash can offer is this plus one.
    static let runBits = 64 - indexBits
    public static let headerSize = 16
    public static let denseSize = headerSize + registerCount * 6 / 8
    static let registerMax: UInt8 = 63
    static let denseEncoding: UInt8 = 0, sparseEncoding: UInt8 = 1
    static let encodingOffset = 4, cardinalityOffset = 8
    static let sparseValueMax = 32, sparseValueRunMax = 4, zeroRunMax = 64, longZeroRunMax = 16384

    /// What a change to a sketch did.
    public enum Update: Equatable {
        case unchanged, changed
        /// The sparse opcodes do not cover exactly the registers (a corrupted value).
        case corrupt
    }

    // MARK: Header

    /// Whether a string value of `length` bytes starting with `header` is a sketch Redis would
    /// accept: the magic, a known encoding, and for a dense one the exact size.
    public static func isSketch(header: UnsafeRawBufferPointer, length: Int) -> Bool {
        guard length >= headerSize, header.count > encodingOffset,
              header[0] == UInt8(ascii: "H"), header[1] == UInt8(ascii: "Y"),
              header[2] == UInt8(ascii: "L"), header[3] == UInt8(ascii: "L") else { return false }
        let encoding = header[encodingOffset]
        return encoding == sparseEncoding || (encoding == denseEncoding && length == denseSize)
    }

    public static func isDense(_ sketch: UnsafeRawBufferPointer) -> Bool { sketch[encodingOffset] == denseEncoding }

    /// The cached cardinality, or nil when it is marked stale.
    public static func cachedCardinality(_ header: UnsafeRawBufferPointer) -> UInt64? {
        guard header[cardinalityOffset + 7] & 0x80 == 0 else { return nil }
        return (0..<8).reduce(0) { $0 | UInt64(header[cardinalityOffset + $1]) << (8 * UInt64($1)) }
    }

    public static func cacheCardinality(_ cardinality: UInt64, in header: UnsafeMutableRawBufferPointer) {
        for byte in 0..<8 { header[cardinalityOffset + byte] = UInt8(truncatingIfNeeded: cardinality >> (8 * UInt64(byte))) }
    }

    public static func invalidateCache(_ header: UnsafeMutableRawBufferPointer) { header[cardinalityOffset + 7] |= 0x80 }

    /// An empty sketch, as PFADD creates one: sparse, XZERO runs over every register, cache 0.
    public static func emptySketch() -> [UInt8] {
        var sketch = Array("HYLL".utf8) + [sparseEncoding] + [UInt8](repeating: 0, count: headerSize - 5)
        var remaining = registerCount
        while remaining > 0 {
            let run = min(remaining, longZeroRunMax)
            appendZeroRun(run, to: &sketch)
            remaining -= run
        }
        return sketch
    }

    // MARK: Hashing

    /// MurmurHash64A (Austin Appleby's 64-bit MurmurHash2), little-endian.
    static func murmurHash64A(_ data: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let multiplier: UInt64 = 0xc6a4a7935bd1e995, shift: UInt64 = 47
        var hash = seed ^ (UInt64(data.count) &* multiplier)
        let blocks = data.count / 8
        for block in 0..<blocks {
            var k = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: block * 8, as: UInt64.self))
            k &*= multiplier
            k ^= k >> shift
            k &*= multiplier
            hash ^= k
            hash &*= multiplier
        }
        let tail = data.count & 7
        if tail > 0 {
            for byte in 0..<tail { hash ^= UInt64(data[blocks * 8 + byte]) << (8 * UInt64(byte)) }
            hash &*= multiplier
        }
        hash ^= hash >> shift
        hash &*= multiplier
        hash ^= hash >> shift
        return hash
    }

    /// The register `element` falls into and the value it offers that register.
    static func position(of element: UnsafeRawBufferPointer) -> (register: Int, value: UInt8) {
        let hash = murmurHash64A(element, seed: 0xadc83b19)
        let run = (hash >> UInt64(indexBits)) | 1 << UInt64(runBits)
        return (Int(hash & UInt64(registerCount - 1)), UInt8(run.trailingZeroBitCount + 1))
    }

    // MARK: Dense registers (the bytes after the header)

    public static func denseRegister(_ registers: UnsafeRawPointer, _ index: Int) -> UInt8 {
        let byte = index * 6 / 8, shift = UInt32(index * 6 & 7)
        let low = UInt32(registers.load(fromByteOffset: byte, as: UInt8.self))
        let high = UInt32(registers.load(fromByteOffset: byte + 1, as: UInt8.self))
        return UInt8(truncatingIfNeeded: (low >> shift | high << (8 - shift)) & UInt32(registerMax))
    }

    public static func setDenseRegister(_ registers: UnsafeMutableRawPointer, _ index: Int, _ value: UInt8) {
        let byte = index * 6 / 8, shift = UInt32(index * 6 & 7), bits = UInt32(value)
        let mask = UInt32(registerMax)
        let low = UInt32(registers.load(fromByteOffset: byte, as: UInt8.self)) & ~(mask << shift) | bits << shift
        registers.storeBytes(of: UInt8(truncatingIfNeeded: low), toByteOffset: byte, as: UInt8.self)
        let high = UInt32(registers.load(fromByteOffset: byte + 1, as: UInt8.self)) & ~(mask >> (8 - shift))
            | bits >> (8 - shift)
        registers.storeBytes(of: UInt8(truncatingIfNeeded: high), toByteOffset: byte + 1, as: UInt8.self)
    }

    /// Raises register `index` of the dense sketch `sketch` to `value`; true when it rose.
    static func raiseDense(_ sketch: UnsafeMutableRawBufferPointer, _ index: Int, to value: UInt8) -> Bool {
        let registers = sketch.baseAddress! + headerSize
        guard value > denseRegister(registers, index) else { return false }
        setDenseRegister(registers, index, value)
        return true
    }

    /// Adds `element` to the dense sketch `sketch` in place; true when a register rose.
    public static func addDense(_ element: UnsafeRawBufferPointer, to sketch: UnsafeMutableRawBufferPointer) -> Bool {
        let (register, value) = position(of: element)
        return raiseDense(sketch, register, to: value)
    }

    // MARK: Sparse opcodes

    private static func isZero(_ byte: UInt8) -> Bool { byte & 0xc0 == 0 }
    private static func isLongZero(_ byte: UInt8) -> Bool { byte & 0xc0 == 0x40 }
    private static func isValue(_ byte: UInt8) -> Bool { byte & 0x80 != 0 }
    private static func valueOf(_ byte: UInt8) -> Int { Int(byte >> 2 & 0x1f) + 1 }
    private static func valueRun(_ byte: UInt8) -> Int { Int(byte & 0x3) + 1 }
    private static func valueOpcode(_ value: Int, run: Int) -> UInt8 { UInt8((value - 1) << 2 | (run - 1)) | 0x80 }

    /// The opcodes that encode `run` zero registers (one ZERO or one XZERO).
    private static func appendZeroRun(_ run: Int, to opcodes: inout [UInt8]) {
        if run > zeroRunMax {
            opcodes.append(UInt8((run - 1) >> 8) | 0x40)
            opcodes.append(UInt8((run - 1) & 0xff))
        } else {
            opcodes.append(UInt8(run - 1))
        }
    }

    /// Walks the opcodes of a sparse sketch: `body` gets each run's first register, length,
    /// value (0 for zero runs) and the opcode's offset and size. Returns the register count
    /// the opcodes covered. A truncated XZERO reads a zero second byte, as Redis reads its
    /// string's terminator.
    @discardableResult
    private static func forEachRun(_ sketch: UnsafeRawBufferPointer,
                                   _ body: (_ first: Int, _ run: Int, _ value: Int, _ offset: Int, _ size: Int) -> Bool)
        -> Int {
        var offset = headerSize, register = 0
        while offset < sketch.count {
            let byte = sketch[offset]
            let run: Int, value: Int, size: Int
            if isZero(byte) {
                (run, value, size) = (Int(byte & 0x3f) + 1, 0, 1)
            } else if isLongZero(byte) {
                let next = offset + 1 < sketch.count ? Int(sketch[offset + 1]) : 0
                (run, value, size) = ((Int(byte & 0x3f) << 8 | next) + 1, 0, 2)
            } else {
                (run, value, size) = (valueRun(byte), valueOf(byte), 1)
            }
            guard body(register, run, value, offset, size) else { return register }
            register += run
            offset += size
        }
        return register
    }

    /// Calls `body` with each nonzero register of a sparse sketch and its value; false when
    /// the opcodes do not cover exactly the registers (a VAL run past the last register stops
    /// the walk, as in Redis).
    private static func forEachSparseRegister(_ sketch: UnsafeRawBufferPointer, _ body: (Int, UInt8) -> Void) -> Bool {
        var complete = true
        let covered = forEachRun(sketch) { first, run, value, _, _ in
            guard value > 0 else { return true }
            guard first + run <= registerCount else {
                complete = false
                return false
            }
            for register in first..<first + run { body(register, UInt8(value)) }
            return true
        }
        return complete && covered == registerCount
    }

    /// The dense form of `sketch` (itself when dense), or nil when its opcodes are corrupt.
    public static func densified(_ sketch: UnsafeRawBufferPointer) -> [UInt8]? {
        if isDense(sketch) { return Array(sketch) }
        var dense = [UInt8](repeating: 0, count: denseSize)
        dense.replaceSubrange(0..<headerSize, with: sketch[0..<headerSize])
        dense[encodingOffset] = denseEncoding
        let valid = dense.withUnsafeMutableBytes { output in
            forEachSparseRegister(sketch) { setDenseRegister(output.baseAddress! + headerSize, $0, $1) }
        }
        return valid ? dense : nil
    }

    /// Raises register `index` of the sketch in `sketch` (sparse or dense) to `value`. A sparse
    /// sketch turns dense when the value needs more than 5 bits or the update would grow it
    /// past `sparseLimit` bytes.
    public static func raise(_ sketch: inout [UInt8], _ index: Int, to value: UInt8, sparseLimit: Int) -> Update {
        if sketch[encodingOffset] == denseEncoding {
            return sketch.withUnsafeMutableBytes { raiseDense($0, index, to: value) } ? .changed : .unchanged
        }
        if Int(value) > sparseValueMax { return promote(&sketch, index, to: value) }
        // The opcode covering `index`, the one before it, and the registers before it.
        var target = -1, previous = -1, first = 0, run = 0, current = 0, size = 1
        _ = sketch.withUnsafeBytes { bytes in
            forEachRun(bytes) { start, length, runValue, offset, opcodeSize in
                if index <= start + length - 1 {
                    (target, first, run, current, size) = (offset, start, length, runValue, opcodeSize)
                    return false
                }
                previous = offset
                return true
            }
        }
        guard target >= 0, run > 0 else { return .corrupt }
        let isValueRun = isValue(sketch[target])
        if isValueRun && current >= Int(value) { return .unchanged }
        var replacement: [UInt8] = []
        if run == 1 {
            replacement.append(valueOpcode(Int(value), run: 1))
        } else {
            let before = index - first, after = first + run - 1 - index
            if isValueRun {
                if before > 0 { replacement.append(valueOpcode(current, run: before)) }
                replacement.append(valueOpcode(Int(value), run: 1))
                if after > 0 { replacement.append(valueOpcode(current, run: after)) }
            } else {
                if before > 0 { appendZeroRun(before, to: &replacement) }
                replacement.append(valueOpcode(Int(value), run: 1))
                if after > 0 { appendZeroRun(after, to: &replacement) }
            }
        }
        let growth = replacement.count - size
        if growth > 0 && sketch.count + growth > sparseLimit { return promote(&sketch, index, to: value) }
        sketch.replaceSubrange(target..<min(target + size, sketch.count), with: replacement)
        mergeValueRuns(&sketch, from: previous >= 0 ? previous : headerSize)
        sketch.withUnsafeMutableBytes { invalidateCache($0) }
        return .changed
    }

    /// Turns the sparse `sketch` dense and raises register `index` there.
    private static func promote(_ sketch: inout [UInt8], _ index: Int, to value: UInt8) -> Update {
        guard let dense = sketch.withUnsafeBytes(densified) else { return .corrupt }
        sketch = dense
        _ = sketch.withUnsafeMutableBytes { raiseDense($0, index, to: value) }
        return .changed
    }

    /// Joins neighbouring VAL opcodes of equal value whose runs fit one opcode, looking at up
    /// to five opcodes from `start` (the opcode before the one just changed), as Redis does.
    private static func mergeValueRuns(_ sketch: inout [UInt8], from start: Int) {
        var offset = start, looks = 5
        while offset < sketch.count && looks > 0 {
            looks -= 1
            let byte = sketch[offset]
            if isLongZero(byte) {
                offset += 2
                continue
            }
            if isZero(byte) {
                offset += 1
                continue
            }
            if offset + 1 < sketch.count, isValue(sketch[offset + 1]), valueOf(byte) == valueOf(sketch[offset + 1]) {
                let run = valueRun(byte) + valueRun(sketch[offset + 1])
                if run <= sparseValueRunMax {
                    sketch[offset + 1] = valueOpcode(valueOf(byte), run: run)
                    sketch.remove(at: offset)
                    continue
                }
            }
            offset += 1
        }
    }

    /// Adds `element` to the sketch in `sketch`.
    public static func add(_ element: UnsafeRawBufferPointer, to sketch: inout [UInt8], sparseLimit: Int) -> Update {
        let (register, value) = position(of: element)
        return raise(&sketch, register, to: value, sparseLimit: sparseLimit)
    }

    // MARK: Reading

    /// Raises each of `registers` (one byte per register) to the sketch's; false when the
    /// sketch is corrupt.
    public static func merge(_ sketch: UnsafeRawBufferPointer, into registers: inout [UInt8]) -> Bool {
        if isDense(sketch) {
            let base = sketch.baseAddress! + headerSize
            for index in 0..<registerCount { registers[index] = max(registers[index], denseRegister(base, index)) }
            return true
        }
        return forEachSparseRegister(sketch) { registers[$0] = max(registers[$0], $1) }
    }

    /// The estimated cardinality of a sketch, or nil when it is corrupt.
    public static func cardinality(_ sketch: UnsafeRawBufferPointer) -> UInt64? {
        var histogram = [Int](repeating: 0, count: 64)
        if isDense(sketch) {
            let base = sketch.baseAddress! + headerSize
            for index in 0..<registerCount { histogram[Int(denseRegister(base, index))] += 1 }
        } else {
            let covered = forEachRun(sketch) { _, run, value, _, _ in
                histogram[value] += run
                return true
            }
            guard covered == registerCount else { return nil }
        }
        return estimate(histogram)
    }

    /// The estimated cardinality of registers held one per byte (PFCOUNT of several keys).
    public static func cardinality(registers: [UInt8]) -> UInt64 {
        var histogram = [Int](repeating: 0, count: 64)
        for value in registers { histogram[Int(value)] += 1 }
        return estimate(histogram)
    }

    /// Ertl's improved raw estimator from the histogram of register values.
    static func estimate(_ histogram: [Int]) -> UInt64 {
        let m = Double(registerCount)
        var z = m * tau((m - Double(histogram[runBits + 1])) / m)
        for value in stride(from: runBits, through: 1, by: -1) {
            z += Double(histogram[value])
            z *= 0.5
        }
        z += m * sigma(Double(histogram[0]) / m)
        let alphaInfinity = 0.721347520444481703680 // 0.5 / ln 2
        return UInt64((alphaInfinity * m * m / z).rounded())
    }

    private static func sigma(_ start: Double) -> Double {
        if start == 1 { return .infinity }
        var x = start, y = 1.0, z = start, previous = 0.0
        repeat {
            x *= x
            previous = z
            z += x * y
            y += y
        } while previous != z
        return z
    }

    private static func tau(_ start: Double) -> Double {
        if start == 0 || start == 1 { return 0 }
        var x = start, y = 1.0, z = 1 - start, previous = 0.0
        repeat {
            x = x.squareRoot()
            previous = z
            y *= 0.5
            z -= pow(1 - x, 2) * y
        } while previous != z
        return z / 3
    }

    /// The opcodes of a sparse sketch as PFDEBUG DECODE lists them ("z:3 Z:200 v:5,2").
    public static func describeSparse(_ sketch: UnsafeRawBufferPointer) -> String {
        var parts: [String] = []
        forEachRun(sketch) { _, run, value, _, size in
            if value > 0 {
                parts.append("v:\(value),\(run)")
            } else {
                parts.append(size == 2 ? "Z:\(run)" : "z:\(run)")
            }
            return true
        }
        return parts.joined(separator: " ")
    }

    /// The registers of a dense sketch, one per element.
    public static func denseRegisters(_ sketch: UnsafeRawBufferPointer) -> [UInt8] {
        let base = sketch.baseAddress! + headerSize
        return (0..<registerCount).map { denseRegister(base, $0) }
    }
}
