// A small blocking RESP client for tests: sends commands (binary-safe) or raw bytes, reads
// exactly one reply of any RESP2/RESP3 type, and keeps that reply's raw bytes so
// differential tests can compare servers byte for byte. Reads time out instead of hanging.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public indirect enum RespValue: Equatable, CustomStringConvertible {
    case simple(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8]?)
    case array([RespValue]?)
    case other(Character, [RespValue], String)

    public var description: String {
        switch self {
        case .simple(let s): return "+\(s)"
        case .error(let s): return "-\(s)"
        case .integer(let i): return ":\(i)"
        case .bulk(let b): return b.map { "\"\(String(decoding: $0, as: UTF8.self))\"" } ?? "(nil)"
        case .array(let a): return a.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "(nil array)"
        case .other(let type, let items, let text): return "\(type)\(text)\(items)"
        }
    }

    public var text: String? {
        switch self {
        case .simple(let s), .error(let s): return s
        case .bulk(let b): return b.map { String(decoding: $0, as: UTF8.self) }
        case .other(_, _, let text): return text
        default: return nil
        }
    }
}

public final class RespClient {
    public private(set) var fd: Int32
    private var buffer: [UInt8] = []
    private var position = 0

    public struct ClosedError: Error {}
    public struct TimeoutError: Error {}

    public init(port: Int, timeoutSeconds: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        var connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 && errno == EINTR {
            // Interrupted by a signal, the connection goes on: wait for it and take its outcome.
            var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var failure: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if poll(&descriptor, 1, Int32(timeoutSeconds * 1000)) == 1,
               getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length) == 0, failure == 0 {
                connected = 0
            }
        }
        guard connected == 0 else {
            // Marked closed: deinit runs for this instance too, and a second close could shut
            // a descriptor another thread has opened since (a child's output pipe, whose
            // server then dies of SIGPIPE, or another client's socket).
            close(fd)
            fd = -1
            throw ClosedError()
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { if fd >= 0 { close(fd) } }

    public static func encode(_ args: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(args.count)\r\n".utf8)
        for arg in args { out += Array("$\(arg.count)\r\n".utf8) + arg + [13, 10] }
        return out
    }

    public func send(raw bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a server that closed the connection must not kill the test with SIGPIPE.
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 && errno == EINTR { continue }
            if sent <= 0 { throw ClosedError() }
            offset += sent
        }
    }

    public func send(_ args: [String]) throws { try send(raw: RespClient.encode(args.map { Array($0.utf8) })) }
    public func send(bytes args: [[UInt8]]) throws { try send(raw: RespClient.encode(args)) }

    @discardableResult
    public func call(_ args: String...) throws -> RespValue { try send(args); return try readReply().value }

    public func call(_ args: [String]) throws -> RespValue { try send(args); return try readReply().value }

    /// Raw bytes of the reply to `args`.
    public func rawCall(_ args: [String]) throws -> [UInt8] { try send(args); return try readReply().raw }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        var count = read(fd, &chunk, chunk.count)
        // A signal (a child process exiting) must not read as a closed connection.
        while count < 0 && errno == EINTR { count = read(fd, &chunk, chunk.count) }
        if count == 0 { throw ClosedError() }
        if count < 0 { throw errno == EAGAIN || errno == EWOULDBLOCK ? TimeoutError() as Error : ClosedError() }
        buffer += chunk.prefix(count)
    }

    private func line() throws -> [UInt8] {
        while true {
            if let end = buffer[position...].firstIndex(of: 10), end > position, buffer[end - 1] == 13 {
                let text = Array(buffer[position..<(end - 1)])
                position = end + 1
                return text
            }
            try fill()
        }
    }

    private func exactly(_ count: Int) throws -> [UInt8] {
        while buffer.count - position < count + 2 { try fill() }
        let bytes = Array(buffer[position..<(position + count)])
        position += count + 2
        return bytes
    }

    /// Reads one reply; `raw` holds its exact bytes.
    public func readReply() throws -> (value: RespValue, raw: [UInt8]) {
        if position > 0 {
            buffer.removeFirst(position)
            position = 0
        }
        let value = try parse()
        return (value, Array(buffer[0..<position]))
    }

    private func parse() throws -> RespValue {
        let header = try line()
        guard let type = header.first else { throw ClosedError() }
        let rest = String(decoding: header.dropFirst(), as: UTF8.self)
        switch type {
        case 43: return .simple(rest)
        case 45: return .error(rest)
        case 58: return .integer(Int64(rest) ?? 0)
        case 36:
            let length = Int(rest) ?? -1
            return .bulk(length < 0 ? nil : try exactly(length))
        case 42, 126, 62:
            let count = Int(rest) ?? -1
            if count < 0 { return .array(nil) }
            var items: [RespValue] = []
            for _ in 0..<count { items.append(try parse()) }
            return type == 42 ? .array(items) : .other(Character(Unicode.Scalar(type)), items, "")
        case 37, 124:
            let count = Int(rest) ?? 0
            var items: [RespValue] = []
            for _ in 0..<(count * 2) { items.append(try parse()) }
            if type == 124 { items.append(try parse()) }
            return .other(Character(Unicode.Scalar(type)), items, "")
        case 61, 33:
            let length = Int(rest) ?? 0
            return .other(Character(Unicode.Scalar(type)), [], String(decoding: try exactly(length), as: UTF8.self))
        default:
            return .other(Character(Unicode.Scalar(type)), [], rest)
        }
    }

    /// True when the server has closed this connection (reads return end-of-file).
    public func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while true {
            let count = read(fd, &byte, 1)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }
}
