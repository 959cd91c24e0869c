// LZF, the string codec of Redis's RDB files, written from the format: a stream of chunks,
// each a control byte followed either by a literal run (control 0...31: that many plus one
// raw bytes) or a back-reference (top three bits: match length minus two, 7 meaning one
// more length byte follows; low five bits and the next byte: distance minus one, up to
// 8 KB back). Compression finds repeats through a hash table of 3-byte prefixes.
// DIVERGENCE: the compressed bytes can differ from liblzf's (which Redis uses) for the same
// input, so DUMP payloads and RDB files of compressible strings are not byte-identical to
// Redis's; each decodes to the same value in either server and in Redis's tools.

public enum LZF {
    private static let maxLiteral = 32
    private static let maxDistance = 1 << 13
    private static let maxMatch = 7 + 255 + 2
    /// Bounds of the hash table's size (as a power of two): small inputs get a small table,
    /// so compressing millions of short strings (a snapshot) does not clear 16K slots each.
    private static let hashBitsRange = 8...14

    /// The compressed form of `input`, or nil when it would not fit in `limit` bytes.
    public static func compress(_ input: UnsafeRawBufferPointer, limit: Int) -> [UInt8]? {
        let count = input.count
        guard count > 0, limit > 0, count <= Int(Int32.max) else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(min(limit, count + count / 32 + 1))
        let hashBits = min(max(Int.bitWidth - count.leadingZeroBitCount, hashBitsRange.lowerBound), hashBitsRange.upperBound)
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 1 << hashBits) { table in
            table.initialize(repeating: -1)
            return compress(input, limit: limit, table: table, hashBits: hashBits, into: &output)
        }
    }

    private static func compress(_ input: UnsafeRawBufferPointer, limit: Int, table: UnsafeMutableBufferPointer<Int32>,
                                 hashBits: Int, into output: inout [UInt8]) -> [UInt8]? {
        let count = input.count
        var literalStart = 0
        var position = 0

        func hash(_ at: Int) -> Int {
            let value = UInt32(input[at]) << 16 | UInt32(input[at + 1]) << 8 | UInt32(input[at + 2])
            return Int((value &* 2_654_435_761) >> (32 - UInt32(hashBits)))
        }
        func flushLiterals(upTo end: Int) {
            var start = literalStart
            while start < end {
                let run = min(maxLiteral, end - start)
                output.append(UInt8(run - 1))
                output.append(contentsOf: input[start..<start + run])
                start += run
            }
        }

        while position + 2 < count {
            let slot = hash(position)
            let candidate = Int(table[slot])
            table[slot] = Int32(position)
            if candidate >= 0, position - candidate <= maxDistance,
               input[candidate] == input[position], input[candidate + 1] == input[position + 1],
               input[candidate + 2] == input[position + 2] {
                var length = 3
                let longest = min(maxMatch, count - position)
                while length < longest && input[candidate + length] == input[position + length] { length += 1 }
                flushLiterals(upTo: position)
                let distance = position - candidate - 1
                let encodedLength = length - 2
                if encodedLength < 7 {
                    output.append(UInt8(encodedLength << 5 | distance >> 8))
                } else {
                    output.append(UInt8(7 << 5 | distance >> 8))
                    output.append(UInt8(encodedLength - 7))
                }
                output.append(UInt8(distance & 0xFF))
                position += length
                literalStart = position
                if output.count > limit { return nil }
                continue
            }
            position += 1
        }
        flushLiterals(upTo: count)
        return output.count <= limit ? output : nil
    }

    /// `input` decompressed, which must give exactly `length` bytes; nil when it is corrupt.
    public static func decompress(_ input: UnsafeRawBufferPointer, length: Int) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: length)
        var written = 0
        var position = 0
        let ok = output.withUnsafeMutableBytes { out -> Bool in
            while position < input.count {
                let control = Int(input[position])
                position += 1
                if control < 32 {
                    let run = control + 1
                    guard position + run <= input.count, written + run <= length else { return false }
                    out.baseAddress!.advanced(by: written).copyMemory(from: input.baseAddress! + position, byteCount: run)
                    position += run
                    written += run
                    continue
                }
                var matchLength = control >> 5
                if matchLength == 7 {
                    guard position < input.count else { return false }
                    matchLength += Int(input[position])
                    position += 1
                }
                matchLength += 2
                guard position < input.count else { return false }
                let distance = ((control & 0x1F) << 8 | Int(input[position])) + 1
                position += 1
                guard distance <= written, written + matchLength <= length else { return false }
                // Byte by byte: a reference may overlap the bytes it produces.
                for _ in 0..<matchLength {
                    out[written] = out[written - distance]
                    written += 1
                }
            }
            return written == length
        }
        return ok ? output : nil
    }
}
