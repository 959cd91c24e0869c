// Writes replies in RESP2 or RESP3 shape into a connection's output buffer. Commands call
// one method per reply element and never see the protocol version: maps, sets, doubles,
// booleans and nulls are downgraded to their RESP2 forms exactly as Redis 7.0.15 does.
import Support

public struct ReplyWriter {
    public var buffer: ByteBuffer
    public var resp3 = false

    public init(capacity: Int = 16 * 1024) {
        buffer = ByteBuffer(capacity: capacity)
    }

    /// A writer into `buffer` (a connection's page-slot buffer).
    public init(buffer: ByteBuffer) {
        self.buffer = buffer
    }

    public func deallocate() { buffer.deallocate() }

    @inline(__always)
    private mutating func header(_ prefix: UInt8, _ value: Int) {
        buffer.reserve(24)
        buffer.base.storeBytes(of: prefix, toByteOffset: buffer.count, as: UInt8.self)
        let length = Numbers.formatInt64(Int64(value), into: buffer.base + buffer.count + 1)
        buffer.count += 1 + length
        buffer.append(crlf: ())
    }

    @inline(__always)
    private mutating func append(_ text: StaticString) {
        buffer.append(text.utf8Start, text.utf8CodeUnitCount)
    }

    public mutating func ok() { append("+OK\r\n") }

    public mutating func simple(_ text: StaticString) {
        buffer.append(byte: 43)
        buffer.append(text.utf8Start, text.utf8CodeUnitCount)
        buffer.append(crlf: ())
    }

    public mutating func simple(_ text: String) {
        buffer.append(byte: 43)
        buffer.append(Array(text.utf8))
        buffer.append(crlf: ())
    }

    /// An error reply; `message` starts with its code (e.g. "ERR syntax error"). Newlines in
    /// the message are replaced by spaces as Redis does, so the reply stays one line.
    public mutating func error(_ message: String) {
        buffer.append(byte: 45)
        for byte in message.utf8 { buffer.append(byte: byte == 13 || byte == 10 ? 32 : byte) }
        buffer.append(crlf: ())
    }

    /// An error reply from raw bytes (messages that echo binary client input).
    public mutating func error(bytes message: [UInt8]) {
        buffer.append(byte: 45)
        for byte in message { buffer.append(byte: byte == 13 || byte == 10 ? 32 : byte) }
        buffer.append(crlf: ())
    }

    public mutating func integer(_ value: Int64) { header(58, Int(value)) }
    public mutating func integer(_ value: Int) { header(58, value) }

    /// Writes `$<length>\r\n` after reserving room for the header, the body and its CRLF.
    @inlinable
    mutating func bulkHeader(_ length: Int) {
        buffer.reserve(length + 24)
        buffer.base.storeBytes(of: 36, toByteOffset: buffer.count, as: UInt8.self)
        let digits = Numbers.formatInt64(Int64(length), into: buffer.base + buffer.count + 1)
        buffer.count += 1 + digits
        buffer.append(crlf: ())
    }

    @inlinable
    public mutating func bulk(_ pointer: UnsafeRawPointer, _ length: Int) {
        bulkHeader(length)
        buffer.append(pointer, length)
        buffer.append(crlf: ())
    }

    /// A bulk string of `count` bytes that `fill` writes in place (no intermediate copy).
    public mutating func bulk(count: Int, fill: (UnsafeMutableRawPointer) -> Void) {
        bulkHeader(count)
        fill(buffer.end)
        buffer.count += count
        buffer.append(crlf: ())
    }

    @inlinable
    public mutating func bulk(_ bytes: UnsafeRawBufferPointer) {
        bulk(bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, bytes.count)
    }

    public mutating func bulk(_ bytes: [UInt8]) { bytes.withUnsafeBytes { bulk($0) } }
    public mutating func bulk(_ text: String) { bulk(Array(text.utf8)) }

    /// The decimal form of `value` as a bulk string (GET of an int-encoded string).
    public mutating func bulk(decimal value: Int64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { raw in
            let length = Numbers.formatInt64(value, into: raw.baseAddress!)
            bulk(raw.baseAddress!, length)
        }
    }

    /// Missing value: `$-1` in RESP2, `_` in RESP3.
    public mutating func nullBulk() { resp3 ? append("_\r\n") : append("$-1\r\n") }
    /// Missing aggregate: `*-1` in RESP2, `_` in RESP3.
    public mutating func nullArray() { resp3 ? append("_\r\n") : append("*-1\r\n") }

    public mutating func arrayHeader(_ count: Int) { header(42, count) }
    public mutating func mapHeader(_ count: Int) { resp3 ? header(37, count) : header(42, count * 2) }
    public mutating func setHeader(_ count: Int) { header(resp3 ? 126 : 42, count) }
    public mutating func pushHeader(_ count: Int) { header(resp3 ? 62 : 42, count) }

    public mutating func double(_ value: Double) { double(formatted: Numbers.formatDouble(value)) }

    /// A double already written as text: RESP3 `,`, RESP2 bulk string.
    public mutating func double(formatted text: [UInt8]) {
        if resp3 {
            buffer.append(byte: 44)
            buffer.append(text)
            buffer.append(crlf: ())
        } else {
            bulk(text)
        }
    }

    /// A big number: RESP3 `(`, RESP2 bulk string.
    public mutating func bigNumber(_ digits: String) {
        if resp3 {
            buffer.append(byte: 40)
            buffer.append(Array(digits.utf8))
            buffer.append(crlf: ())
        } else {
            bulk(digits)
        }
    }

    /// RESP3 attribute map header (callers only send attributes to RESP3 clients).
    public mutating func attributeHeader(_ count: Int) { header(124, count) }

    public mutating func bool(_ value: Bool) {
        if resp3 { value ? append("#t\r\n") : append("#f\r\n") } else { integer(value ? 1 : 0) }
    }

    /// Free text (INFO, CLIENT LIST): RESP3 verbatim string of format `txt`, RESP2 bulk.
    public mutating func verbatim(_ text: String) {
        let bytes = Array(text.utf8)
        if resp3 {
            header(61, bytes.count + 4)
            buffer.append(Array("txt:".utf8))
            buffer.append(bytes)
            buffer.append(crlf: ())
        } else {
            bulk(bytes)
        }
    }

    /// Free text with a three-letter format (a script's verbatim_string reply).
    public mutating func verbatim(_ bytes: UnsafeRawBufferPointer, format: String) {
        if resp3 {
            header(61, bytes.count + 4)
            buffer.append(Array(format.utf8.prefix(3)))
            buffer.append(byte: 58)
            buffer.append(bytes)
            buffer.append(crlf: ())
        } else {
            bulk(bytes)
        }
    }

    /// Starts an aggregate whose length is known only after its elements are written.
    public func deferredStart() -> Int { buffer.count }

    /// Inserts the header of an aggregate started at `position` now that `count` is known.
    public mutating func deferredArray(at position: Int, count: Int) {
        insertHeader(at: position, prefix: 42, count: count)
    }

    /// Inserts the header of a map (a flat array in RESP2) started at `position`.
    public mutating func deferredMap(at position: Int, count: Int) {
        insertHeader(at: position, prefix: resp3 ? 37 : 42, count: resp3 ? count : count * 2)
    }

    /// Inserts the header of a set (an array in RESP2) started at `position`.
    public mutating func deferredSet(at position: Int, count: Int) {
        insertHeader(at: position, prefix: resp3 ? 126 : 42, count: count)
    }

    private mutating func insertHeader(at position: Int, prefix: UInt8, count: Int) {
        var scratch: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &scratch) { raw in
            raw[0] = prefix
            var length = 1 + Numbers.formatInt64(Int64(count), into: raw.baseAddress! + 1)
            raw[length] = 13; raw[length + 1] = 10
            length += 2
            buffer.reserve(length)
            let body = buffer.count - position
            (buffer.base + position + length).copyMemory(from: buffer.base + position, byteCount: body)
            (buffer.base + position).copyMemory(from: raw.baseAddress!, byteCount: length)
            buffer.count += length
        }
    }
}
