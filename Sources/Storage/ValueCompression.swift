// zlib compression of large string values (the `value-compression` setting). A value is kept
// compressed only when that saves at least an eighth of its size: deflate writes into a buffer
// that small, so incompressible data (random tokens, JPEGs, already-gzipped bodies) fails fast
// and stays plain. Compressed entries store the original length in front of the stream (see
// `Entry`), which keeps STRLEN O(1) and sizes the buffer that decompression fills.
//
// Each thread keeps one deflate and one inflate stream and resets them per value: zlib's
// one-shot compress2/uncompress would allocate and free about 300 KB of state on every call,
// which measured as most of the cost of compressing a 4 KB value. Streams are raw deflate
// (no zlib header or Adler-32 trailer): the values never leave the process in this form.
#if canImport(Glibc)
import Glibc
#endif
import CZlib

public enum ValueCompression {
    /// zlib's fastest level: large values are mostly text, JSON or HTML, where level 1 already
    /// saves most of what level 6 would, at a fraction of its CPU time.
    static let level: Int32 = 1
    /// Raw deflate with a 32 KB window.
    static let windowBits: Int32 = -15

    /// The compressed form of `value` in a malloc'd buffer that the caller frees, or nil when
    /// it would not save at least an eighth of the value's size (counting the stored length).
    public static func compress(_ value: UnsafeRawBufferPointer) -> UnsafeMutableRawBufferPointer? {
        guard value.count <= Int(UInt32.max) else { return nil }
        let budget = value.count - value.count / 8 - Entry.compressedLengthSize
        guard budget > 0 else { return nil }
        let output = malloc(budget)!
        let stream = Streams.current.deflater
        deflateReset(stream)
        aim(stream, from: value, to: output, capacity: budget)
        // Z_STREAM_END only when everything fit in the budget; Z_OK or Z_BUF_ERROR otherwise.
        guard deflate(stream, Z_FINISH) == Z_STREAM_END else {
            free(output)
            return nil
        }
        return UnsafeMutableRawBufferPointer(start: output, count: budget - Int(stream.pointee.avail_out))
    }

    /// Points a reset stream at its input and at `capacity` bytes of output.
    private static func aim(_ stream: UnsafeMutablePointer<z_stream>, from input: UnsafeRawBufferPointer,
                            to output: UnsafeMutableRawPointer, capacity: Int) {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = output.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(capacity)
    }

    /// Inflates the first `count` bytes of `compressed`, a value of `length` bytes (the length
    /// recorded when it was compressed), into `destination`; inflating stops there, so reading
    /// the start of a large value (GETRANGE, GETBIT) costs only what it reads.
    public static func decompress(_ compressed: UnsafeRawBufferPointer, into destination: UnsafeMutableRawPointer,
                                  count: Int, of length: Int) {
        precondition(count <= length)
        if count == 0 { return }
        let stream = Streams.current.inflater
        inflateReset(stream)
        aim(stream, from: compressed, to: destination, capacity: count)
        // Z_FINISH, when the whole value is wanted, spares zlib from keeping a window.
        let whole = count == length
        let status = inflate(stream, whole ? Z_FINISH : Z_NO_FLUSH)
        precondition(stream.pointee.avail_out == 0 && status == (whole ? Z_STREAM_END : Z_OK),
                     "corrupt compressed value (zlib status \(status))")
    }
}

/// The calling thread's deflate and inflate streams, created on first use and ended when the
/// thread exits. zlib keeps a pointer back to each stream, so they live at fixed addresses.
private final class Streams {
    let deflater = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    let inflater = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)

    private init() {
        deflater.initialize(to: z_stream())
        inflater.initialize(to: z_stream())
        precondition(swiftlet_deflate_init(deflater, ValueCompression.level, ValueCompression.windowBits) == Z_OK
                     && swiftlet_inflate_init(inflater, ValueCompression.windowBits) == Z_OK, "zlib stream setup failed")
    }

    deinit {
        deflateEnd(deflater)
        inflateEnd(inflater)
        deflater.deallocate()
        inflater.deallocate()
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key) { streams in
            if let streams { Unmanaged<Streams>.fromOpaque(streams).release() }
        } == 0)
        return key
    }()

    static var current: Streams {
        if let existing = pthread_getspecific(key) { return Unmanaged<Streams>.fromOpaque(existing).takeUnretainedValue() }
        let streams = Streams()
        pthread_setspecific(key, Unmanaged.passRetained(streams).toOpaque())
        return streams
    }
}
