// Incremental parser for client requests: RESP multibulk arrays and inline commands.
// Arguments are (offset, length) slices into the connection's input buffer, so parsing
// allocates nothing; inline commands, which need unquoting (Redis's sdssplitargs rules, see
// Support.QuotedSplitter), are copied to a side buffer.
// Protocol errors carry Redis 7.0.15's exact texts.

#if canImport(Glibc)
import Glibc
#endif
import Support

public struct ArgSlice {
    public var offset: Int
    public var length: Int

    public init(offset: Int, length: Int) {
        self.offset = offset
        self.length = length
    }
}

/// The parsed arguments of one command, valid until the input buffer is next modified.
public struct CommandArgs {
    public let base: UnsafeRawPointer
    public let slices: UnsafePointer<ArgSlice>
    public let count: Int

    public init(base: UnsafeRawPointer, slices: UnsafePointer<ArgSlice>, count: Int) {
        self.base = base
        self.slices = slices
        self.count = count
    }

    @inlinable
    public subscript(index: Int) -> UnsafeRawBufferPointer {
        let slice = slices[index]
        return UnsafeRawBufferPointer(start: base + slice.offset, count: slice.length)
    }

    public func bytes(_ index: Int) -> [UInt8] { Array(self[index]) }
    public func string(_ index: Int) -> String { String(decoding: self[index], as: UTF8.self) }

    /// Case-insensitive comparison of argument `index` with a lowercase ASCII keyword.
    @inlinable
    public func equals(_ index: Int, _ lowercaseKeyword: StaticString) -> Bool {
        ASCII.equalsIgnoringCase(self[index], keyword: lowercaseKeyword)
    }
}

public enum ParseOutcome: Equatable {
    /// A complete command of `argCount` args ending `consumed` bytes after the parse start.
    case command
    /// The buffer holds an incomplete command; read more and call again.
    case needMore
    /// An empty line or `*0`/`*-1`: skip `consumed` bytes, nothing to run.
    case empty
    case protocolError(String)
}

public struct CommandParser {
    public static let inlineMaxSize = 64 * 1024

    public var maxBulkLength: Int
    /// Set while the client still has to AUTH: requests stay small (Redis's limits for
    /// unauthenticated clients: at most 10 arguments of at most 16 KiB).
    public var unauthenticated = false
    /// Bytes of the current command consumed so far (relative to its start).
    public private(set) var consumed = 0
    public private(set) var argCount = 0
    public private(set) var slices: UnsafeMutablePointer<ArgSlice>
    private var sliceCapacity: Int
    private var expectedArgs = -1
    private var pendingBulkLength = -1
    private var scanPosition = 0
    /// Unquoted inline arguments live here rather than in the input buffer.
    public private(set) var inlineStorage = ByteBuffer(capacity: 256)
    public private(set) var isInline = false

    public init(maxBulkLength: Int = 512 * 1024 * 1024) {
        self.maxBulkLength = maxBulkLength
        sliceCapacity = 16
        slices = .allocate(capacity: sliceCapacity)
    }

    public func deallocate() {
        slices.deallocate()
        inlineStorage.deallocate()
    }

    /// Whether no command is part-way parsed (the next parse starts a new one).
    public var isFresh: Bool { expectedArgs < 0 && !isInline && argCount == 0 }

    /// Forgets the parsed command; the next parse starts a new one.
    public mutating func reset() {
        consumed = 0
        argCount = 0
        expectedArgs = -1
        pendingBulkLength = -1
        scanPosition = 0
        isInline = false
    }

    /// Arguments of the command just parsed, over `buffer` (the input buffer from the parse start).
    public func args(over buffer: UnsafeRawPointer) -> CommandArgs {
        CommandArgs(base: isInline ? UnsafeRawPointer(inlineStorage.base) : buffer,
                    slices: UnsafePointer(slices), count: argCount)
    }

    /// Bytes from the command start that the caller must keep (everything after is unparsed).
    public var bufferedBulkHint: Int { pendingBulkLength > 0 ? pendingBulkLength + 2 : 0 }

    private mutating func push(offset: Int, length: Int) {
        if argCount == sliceCapacity {
            let bigger = UnsafeMutablePointer<ArgSlice>.allocate(capacity: sliceCapacity * 2)
            bigger.moveInitialize(from: slices, count: argCount)
            slices.deallocate()
            slices = bigger
            sliceCapacity *= 2
        }
        slices[argCount] = ArgSlice(offset: offset, length: length)
        argCount += 1
    }

    /// Parses one command from `start` (the first unconsumed byte) over `available` bytes.
    /// Resumable: on `.needMore` call again with the same start and more bytes.
    public mutating func parse(_ start: UnsafeRawPointer, available: Int) -> ParseOutcome {
        if expectedArgs < 0 && !isInline {
            if available == 0 { return .needMore }
            if start.load(as: UInt8.self) != UInt8(ascii: "*") { return parseInline(start, available) }
            var count: Int
            if let header = plainHeader(start, from: 1, available: available) {
                (count, scanPosition) = header
            } else {
                guard let lineEnd = findCR(start, from: 1, to: available) else {
                    return available > CommandParser.inlineMaxSize
                        ? .protocolError("Protocol error: too big mbulk count string") : .needMore
                }
                if lineEnd + 1 >= available { return .needMore }
                guard let value = parseDecimal(start + 1, lineEnd - 1) else {
                    return .protocolError("Protocol error: invalid multibulk length")
                }
                count = value
                scanPosition = lineEnd + 2
            }
            guard count <= Int(Int32.max) else { return .protocolError("Protocol error: invalid multibulk length") }
            if count > 10 && unauthenticated { return .protocolError("Protocol error: unauthenticated multibulk length") }
            if count <= 0 { consumed = scanPosition; return .empty }
            expectedArgs = count
            argCount = 0
        } else if isInline {
            return parseInline(start, available)
        }
        while argCount < expectedArgs {
            if pendingBulkLength < 0 {
                if scanPosition >= available { return .needMore }
                var length: Int
                var next: Int
                if (start + scanPosition).load(as: UInt8.self) == UInt8(ascii: "$"),
                   let header = plainHeader(start, from: scanPosition + 1, available: available) {
                    (length, next) = header
                } else {
                    guard let lineEnd = findCR(start, from: scanPosition, to: available) else {
                        return available - scanPosition > CommandParser.inlineMaxSize
                            ? .protocolError("Protocol error: too big bulk count string") : .needMore
                    }
                    if lineEnd + 1 >= available { return .needMore }
                    let marker = (start + scanPosition).load(as: UInt8.self)
                    guard marker == UInt8(ascii: "$") else {
                        return .protocolError("Protocol error: expected '$', got '\(Character(Unicode.Scalar(marker)))'")
                    }
                    guard let value = parseDecimal(start + scanPosition + 1, lineEnd - scanPosition - 1) else {
                        return .protocolError("Protocol error: invalid bulk length")
                    }
                    length = value
                    next = lineEnd + 2
                }
                guard length >= 0, length <= maxBulkLength else { return .protocolError("Protocol error: invalid bulk length") }
                if length > 16384 && unauthenticated { return .protocolError("Protocol error: unauthenticated bulk length") }
                pendingBulkLength = length
                scanPosition = next
            }
            if available - scanPosition < pendingBulkLength + 2 { return .needMore }
            push(offset: scanPosition, length: pendingBulkLength)
            scanPosition += pendingBulkLength + 2
            pendingBulkLength = -1
        }
        consumed = scanPosition
        expectedArgs = -1
        return .command
    }

    private mutating func parseInline(_ start: UnsafeRawPointer, _ available: Int) -> ParseOutcome {
        guard let newline = findByte(start, UInt8(ascii: "\n"), from: 0, to: available) else {
            return available > CommandParser.inlineMaxSize
                ? .protocolError("Protocol error: too big inline request") : .needMore
        }
        var lineLength = newline
        if lineLength > 0 && (start + lineLength - 1).load(as: UInt8.self) == 13 { lineLength -= 1 }
        consumed = newline + 1
        var storage = inlineStorage
        storage.count = 0
        argCount = 0
        var argumentStart = 0
        let line = UnsafeRawBufferPointer(start: start, count: lineLength)
        let balanced = QuotedSplitter.split(line, byte: { storage.append(byte: $0) }, endOfArgument: {
            push(offset: argumentStart, length: storage.count - argumentStart)
            argumentStart = storage.count
        })
        inlineStorage = storage
        guard balanced else { return .protocolError("Protocol error: unbalanced quotes in request") }
        if argCount == 0 { return .empty }
        isInline = true
        return .command
    }

    @inline(__always)
    private func findCR(_ start: UnsafeRawPointer, from: Int, to: Int) -> Int? {
        findByte(start, 13, from: from, to: to)
    }

    @inline(__always)
    private func findByte(_ start: UnsafeRawPointer, _ byte: UInt8, from: Int, to: Int) -> Int? {
        guard from < to, let hit = memchr(start + from, Int32(byte), to - from) else { return nil }
        return UnsafeRawPointer(hit) - start
    }

    /// The header number at `from` when it is what clients send: 1 to 18 digits without a
    /// leading zero, then CR and one more byte (its LF); returns it and where the next line
    /// starts. Anything else (a sign, a stray byte, the line not complete yet) gives nil and
    /// takes the general path, which reads such a header exactly as before.
    @inline(__always)
    private func plainHeader(_ start: UnsafeRawPointer, from: Int, available: Int) -> (Int, next: Int)? {
        var position = from
        var value = 0
        while position < available {
            let digit = start.load(fromByteOffset: position, as: UInt8.self) &- 48
            guard digit < 10 else { break }
            value = value &* 10 &+ Int(digit)
            position += 1
        }
        let digits = position - from
        guard digits > 0, digits <= 18, position + 1 < available,
              start.load(fromByteOffset: position, as: UInt8.self) == 13,
              digits == 1 || start.load(fromByteOffset: from, as: UInt8.self) != UInt8(ascii: "0") else { return nil }
        return (value, position + 2)
    }

    /// Parses an optionally negative decimal header number (Redis's string2ll on the header).
    private func parseDecimal(_ pointer: UnsafeRawPointer, _ length: Int) -> Int? {
        guard length > 0, let value = Numbers.parseInt64(UnsafeRawBufferPointer(start: pointer, count: length))
        else { return nil }
        return Int(value)
    }
}

