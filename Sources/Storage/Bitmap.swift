// Bit-level helpers over string bytes for the bitmap commands. Bits are numbered as Redis
// numbers them: bit 0 is the most significant bit of the first byte. Counting and searching
// work on 8-byte words (one popcount or leading-zero count per word); bit fields of up to 64
// bits are read and written through a 128-bit window over the 9 bytes they can span.
public enum Bitmap {
    /// Number of set bits in `bytes`.
    public static func popcount(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        var total = 0
        var index = 0
        while index + 8 <= bytes.count {
            total += base.loadUnaligned(fromByteOffset: index, as: UInt64.self).nonzeroBitCount
            index += 8
        }
        while index < bytes.count {
            total += bytes[index].nonzeroBitCount
            index += 1
        }
        return total
    }

    /// Number of set bits among bits `first...last` of `bytes` (both within the bytes).
    public static func popcount(_ bytes: UnsafeRawBufferPointer, bits first: Int, through last: Int) -> Int {
        let firstByte = first >> 3, lastByte = last >> 3
        let whole = popcount(UnsafeRawBufferPointer(rebasing: bytes[firstByte...lastByte]))
        let before = bytes[firstByte] & ~(0xFF >> UInt8(first & 7))
        let after = bytes[lastByte] & ~(0xFF << UInt8(7 - last & 7))
        return whole - before.nonzeroBitCount - after.nonzeroBitCount
    }

    /// Position of the first bit equal to `bit` among bits `first...last` of `bytes` (both
    /// within the bytes), or nil when there is none.
    public static func firstBit(_ bit: Bool, in bytes: UnsafeRawBufferPointer, from first: Int, through last: Int) -> Int? {
        // Searching for a zero is searching for a one in the complemented bytes.
        let flip: UInt8 = bit ? 0 : 0xFF
        let firstByte = first >> 3, lastByte = last >> 3
        let headMask: UInt8 = 0xFF >> UInt8(first & 7)
        let tailMask: UInt8 = 0xFF << UInt8(7 - last & 7)
        if firstByte == lastByte {
            return firstSet((bytes[firstByte] ^ flip) & headMask & tailMask, at: firstByte)
        }
        if let found = firstSet((bytes[firstByte] ^ flip) & headMask, at: firstByte) { return found }
        var index = firstByte + 1
        let base = bytes.baseAddress!
        // Words that are all zeros (or all ones when seeking a zero) are skipped four at a time.
        let skip: UInt64 = bit ? 0 : ~0
        while index + 32 <= lastByte {
            let words = (0..<4).reduce(0 as UInt64) { found, word in
                found | (base.loadUnaligned(fromByteOffset: index + word * 8, as: UInt64.self) ^ skip)
            }
            if words != 0 { break }
            index += 32
        }
        while index + 8 <= lastByte {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if word != skip { return index * 8 + (UInt64(bigEndian: word) ^ skip).leadingZeroBitCount }
            index += 8
        }
        while index < lastByte {
            if let found = firstSet(bytes[index] ^ flip, at: index) { return found }
            index += 1
        }
        return firstSet((bytes[lastByte] ^ flip) & tailMask, at: lastByte)
    }

    @inline(__always)
    private static func firstSet(_ byte: UInt8, at index: Int) -> Int? {
        byte == 0 ? nil : index * 8 + byte.leadingZeroBitCount
    }

    // MARK: Bitwise operations between values

    public enum Operation {
        case and, or, xor, not
    }

    /// Folds `source`, zero-padded to the output's length, into `output`: AND, OR or XOR
    /// with it, or (NOT) replace the output with its complement.
    public static func combine(_ operation: Operation, into output: UnsafeMutableRawBufferPointer,
                               _ source: UnsafeRawBufferPointer) {
        let shared = min(source.count, output.count)
        var index = 0
        while index + 8 <= shared {
            let word = source.baseAddress!.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            let current = output.baseAddress!.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            output.baseAddress!.storeBytes(of: apply(operation, current, word), toByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < shared {
            output[index] = UInt8(truncatingIfNeeded: apply(operation, UInt64(output[index]), UInt64(source[index])))
            index += 1
        }
        // Past the source its padding is zero: AND clears, NOT sets, OR and XOR keep.
        switch operation {
        case .and: if shared < output.count { UnsafeMutableRawBufferPointer(rebasing: output[shared...]).initializeMemory(as: UInt8.self, repeating: 0) }
        case .not: if shared < output.count { UnsafeMutableRawBufferPointer(rebasing: output[shared...]).initializeMemory(as: UInt8.self, repeating: 0xFF) }
        case .or, .xor: break
        }
    }

    @inline(__always)
    private static func apply(_ operation: Operation, _ current: UInt64, _ source: UInt64) -> UInt64 {
        switch operation {
        case .and: return current & source
        case .or: return current | source
        case .xor: return current ^ source
        case .not: return ~source
        }
    }

    // MARK: Bit fields

    /// The unsigned integer of `width` bits (1...64) at bit `offset`; bits past the end of
    /// `bytes` read as zero.
    public static func unsignedField(_ bytes: UnsafeRawBufferPointer, offset: Int, width: Int) -> UInt64 {
        let window = load(bytes, fromByte: offset >> 3)
        return UInt64(truncatingIfNeeded: (window << (offset & 7)) >> (128 - width))
    }

    /// The two's complement signed integer of `width` bits (1...64) at bit `offset`.
    public static func signedField(_ bytes: UnsafeRawBufferPointer, offset: Int, width: Int) -> Int64 {
        let raw = unsignedField(bytes, offset: offset, width: width)
        let spare = UInt64(64 - width)
        return Int64(bitPattern: raw << spare) >> spare
    }

    /// Writes the low `width` bits of `value` at bit `offset`; the bytes must cover the field.
    public static func setField(_ bytes: UnsafeMutableRawBufferPointer, offset: Int, width: Int, value: UInt64) {
        let firstByte = offset >> 3
        let shift = 128 - (offset & 7) - width
        let mask = (UInt128(1) << width &- 1) << shift
        var window = load(UnsafeRawBufferPointer(bytes), fromByte: firstByte)
        window = window & ~mask | (UInt128(value) << shift) & mask
        let touched = ((offset & 7) + width + 7) >> 3
        for index in 0..<touched {
            bytes[firstByte + index] = UInt8(truncatingIfNeeded: window >> (120 - 8 * index))
        }
    }

    /// Up to 9 bytes from `start` in the top bits of a 128-bit value, zero past the end.
    private static func load(_ bytes: UnsafeRawBufferPointer, fromByte start: Int) -> UInt128 {
        var window: UInt128 = 0
        for index in 0..<9 {
            let position = start + index
            let byte = position < bytes.count ? bytes[position] : 0
            window |= UInt128(byte) << (120 - 8 * index)
        }
        return window
    }

    // MARK: Overflow rules of BITFIELD

    public enum Overflow {
        case wrap, saturate, fail
    }

    /// The value a signed field of `width` bits takes for the exact result `value` under
    /// `overflow`, and whether it overflowed; nil when it overflowed under `.fail`.
    public static func fitSigned(_ value: Int128, width: Int, overflow: Overflow) -> (value: Int64, overflowed: Bool)? {
        let maximum = (Int128(1) << (width - 1)) - 1
        let minimum = -maximum - 1
        if value >= minimum && value <= maximum { return (Int64(value), false) }
        switch overflow {
        case .fail: return nil
        case .saturate: return (Int64(value > maximum ? maximum : minimum), true)
        case .wrap:
            let spare = UInt64(64 - width)
            return ((Int64(truncatingIfNeeded: value) << spare) >> spare, true)
        }
    }

    /// The value an unsigned field of `width` bits (at most 63) takes for the exact result
    /// `value` under `overflow`; nil when it overflowed under `.fail`.
    public static func fitUnsigned(_ value: Int128, width: Int, overflow: Overflow) -> (value: UInt64, overflowed: Bool)? {
        let maximum = (Int128(1) << width) - 1
        if value >= 0 && value <= maximum { return (UInt64(value), false) }
        switch overflow {
        case .fail: return nil
        case .saturate: return (value > maximum ? UInt64(maximum) : 0, true)
        case .wrap: return (UInt64(truncatingIfNeeded: value) & UInt64(maximum), true)
        }
    }
}
