// zlib compression of large string values (the `value-compression` setting). A value is kept
// compressed only when that saves at least an eighth of its size: deflate writes into a buffer
// that small, so incompressible data (random tokens, JPEGs, already-gzipped bodies) fails fast
// and stays plain. Compressed entries store the original length in front of the zlib stream
// (see `Entry`), which keeps STRLEN O(1) and sizes the buffer that decompression fills.
#if canImport(Glibc)
import Glibc
#endif
import CZlib

public enum ValueCompression {
    /// zlib's fastest level: large values are mostly text, JSON or HTML, where level 1 already
    /// saves most of what level 6 would, at a fraction of its CPU time.
    static let level: Int32 = 1

    /// The compressed form of `value` in a malloc'd buffer that the caller frees, or nil when
    /// it would not save at least an eighth of the value's size (counting the stored length).
    public static func compress(_ value: UnsafeRawBufferPointer) -> UnsafeMutableRawBufferPointer? {
        guard value.count >= 16, value.count <= Int(UInt32.max) else { return nil }
        let budget = value.count - value.count / 8 - Entry.compressedLengthSize
        let output = malloc(budget)!
        var outputLength = uLongf(budget)
        let status = compress2(output.assumingMemoryBound(to: Bytef.self), &outputLength,
                               value.baseAddress!.assumingMemoryBound(to: Bytef.self), uLong(value.count), level)
        guard status == Z_OK else {
            free(output)
            return nil
        }
        return UnsafeMutableRawBufferPointer(start: output, count: Int(outputLength))
    }

    /// Inflates `compressed` into `destination`, which must hold exactly `length` bytes (the
    /// length recorded when the value was compressed).
    public static func decompress(_ compressed: UnsafeRawBufferPointer, into destination: UnsafeMutableRawPointer,
                                  length: Int) {
        var outputLength = uLongf(length)
        let status = uncompress(destination.assumingMemoryBound(to: Bytef.self), &outputLength,
                                compressed.baseAddress!.assumingMemoryBound(to: Bytef.self), uLong(compressed.count))
        precondition(status == Z_OK && Int(outputLength) == length, "corrupt compressed value (zlib status \(status))")
    }
}
