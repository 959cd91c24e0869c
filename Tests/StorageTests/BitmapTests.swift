// The bit helpers checked against a bit-by-bit model on random bytes: counting and searching
// over arbitrary bit ranges (word-sized middles, partial edge bytes), field reads and writes
// of every width at every alignment, BITOP's folding with zero padding, and the BITFIELD
// overflow rules at their limits.
import Storage
import Testing

struct BitmapTests {
    private func bit(_ bytes: [UInt8], _ position: Int) -> Bool {
        position >> 3 < bytes.count && bytes[position >> 3] & (0x80 >> UInt8(position & 7)) != 0
    }

    private func randomBytes(_ count: Int, density: Int) -> [UInt8] {
        (0..<count).map { _ in
            switch Int.random(in: 0..<density) {
            case 0: return UInt8.random(in: 0...255)
            case 1: return 0xFF
            default: return 0
            }
        }
    }

    @Test func countingAndSearchingMatchModel() {
        for _ in 0..<400 {
            let bytes = randomBytes(Int.random(in: 1...70), density: Int.random(in: 2...40))
            let total = bytes.count * 8
            let first = Int.random(in: 0..<total)
            let last = Int.random(in: first..<total)
            bytes.withUnsafeBytes { raw in
                #expect(Bitmap.popcount(raw) == (0..<total).filter { bit(bytes, $0) }.count)
                #expect(Bitmap.popcount(raw, bits: first, through: last) == (first...last).filter { bit(bytes, $0) }.count)
                for wanted in [false, true] {
                    let expected = (first...last).first { bit(bytes, $0) == wanted }
                    #expect(Bitmap.firstBit(wanted, in: raw, from: first, through: last) == expected)
                }
            }
        }
    }

    /// Long runs of all-zero or all-one bytes with one odd bit somewhere: the word skipping.
    @Test func searchingAcrossLongRuns() {
        for _ in 0..<300 {
            let fill: UInt8 = Bool.random() ? 0xFF : 0
            var bytes = [UInt8](repeating: fill, count: Int.random(in: 1...300))
            let odd = Int.random(in: 0..<bytes.count * 8 + 8)
            if odd < bytes.count * 8 { bytes[odd >> 3] ^= 0x80 >> UInt8(odd & 7) }
            let first = Int.random(in: 0..<bytes.count * 8)
            let last = Int.random(in: first..<bytes.count * 8)
            bytes.withUnsafeBytes { raw in
                let expected = (first...last).first { bit(bytes, $0) == (fill == 0) }
                #expect(Bitmap.firstBit(fill == 0, in: raw, from: first, through: last) == expected)
            }
        }
    }

    @Test func fieldsRoundTripAtEveryAlignment() {
        for width in 1...64 {
            for offset in 0..<17 {
                var bytes = randomBytes(12, density: 2)
                let before = bytes
                let value = UInt64.random(in: 0...UInt64.max) & (width == 64 ? ~0 : (1 << width) - 1)
                bytes.withUnsafeMutableBytes { Bitmap.setField($0, offset: offset, width: width, value: value) }
                for position in 0..<bytes.count * 8 {
                    let inField = position >= offset && position < offset + width
                    let expected = inField ? value >> UInt64(offset + width - 1 - position) & 1 == 1 : bit(before, position)
                    #expect(bit(bytes, position) == expected)
                }
                bytes.withUnsafeBytes { raw in
                    #expect(Bitmap.unsignedField(raw, offset: offset, width: width) == value)
                    let signed = Bitmap.signedField(raw, offset: offset, width: width)
                    #expect(UInt64(bitPattern: signed) & (width == 64 ? ~0 : (1 << width) - 1) == value)
                    #expect((signed < 0) == (value >> UInt64(width - 1) == 1))
                }
            }
        }
    }

    @Test func fieldsReadZeroPastTheEnd() {
        [UInt8]([0xAB]).withUnsafeBytes { raw in
            #expect(Bitmap.unsignedField(raw, offset: 4, width: 8) == 0xB0)
            #expect(Bitmap.unsignedField(raw, offset: 100, width: 64) == 0)
            #expect(Bitmap.signedField(raw, offset: 0, width: 4) == -6)
        }
    }

    @Test func combineMatchesBytewiseModel() {
        for _ in 0..<200 {
            let output = randomBytes(Int.random(in: 1...50), density: 2)
            let source = randomBytes(Int.random(in: 0...50), density: 2)
            for operation in [Bitmap.Operation.and, .or, .xor, .not] {
                var result = output
                result.withUnsafeMutableBytes { out in source.withUnsafeBytes { Bitmap.combine(operation, into: out, $0) } }
                let expected = output.indices.map { index -> UInt8 in
                    let other = index < source.count ? source[index] : 0
                    switch operation {
                    case .and: return output[index] & other
                    case .or: return output[index] | other
                    case .xor: return output[index] ^ other
                    case .not: return ~other
                    }
                }
                #expect(result == expected)
            }
        }
    }

    @Test func overflowRules() {
        #expect(Bitmap.fitSigned(127, width: 8, overflow: .fail)! == (127, false))
        #expect(Bitmap.fitSigned(128, width: 8, overflow: .fail) == nil)
        #expect(Bitmap.fitSigned(128, width: 8, overflow: .saturate)! == (127, true))
        #expect(Bitmap.fitSigned(-129, width: 8, overflow: .saturate)! == (-128, true))
        #expect(Bitmap.fitSigned(128, width: 8, overflow: .wrap)! == (-128, true))
        #expect(Bitmap.fitSigned(-300, width: 8, overflow: .wrap)! == (-44, true))
        #expect(Bitmap.fitSigned(Int128(Int64.max) + 1, width: 64, overflow: .wrap)! == (Int64.min, true))
        #expect(Bitmap.fitSigned(Int128(Int64.min) - 1, width: 64, overflow: .saturate)! == (Int64.min, true))
        #expect(Bitmap.fitSigned(-1, width: 1, overflow: .fail)! == (-1, false))
        #expect(Bitmap.fitSigned(1, width: 1, overflow: .wrap)! == (-1, true))
        #expect(Bitmap.fitUnsigned(256, width: 8, overflow: .wrap)! == (0, true))
        #expect(Bitmap.fitUnsigned(-1, width: 8, overflow: .wrap)! == (255, true))
        #expect(Bitmap.fitUnsigned(-1, width: 8, overflow: .saturate)! == (0, true))
        #expect(Bitmap.fitUnsigned(300, width: 8, overflow: .saturate)! == (255, true))
        #expect(Bitmap.fitUnsigned(300, width: 8, overflow: .fail) == nil)
        #expect(Bitmap.fitUnsigned(Int128(UInt64.max), width: 63, overflow: .wrap)! == (UInt64(Int64.max), true))
    }
}
