// Listening sockets and socket-address formatting. Bind addresses follow redis.conf: "*" is
// every IPv4 address, "::*" every IPv6 address, anything else a literal address.
#if canImport(Glibc)
import Glibc
#endif
import CLibevent

struct ListenError: Error {
    let code: Int32
    let message: String
}

enum Listener {
    /// Opens a non-blocking listening socket; returns it with the port actually bound
    /// (useful when `port` is 0).
    static func open(address: String, port: Int, backlog: Int) -> Result<(Int32, Int), ListenError> {
        let isIPv6 = address.contains(":")
        let family = isIPv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(ListenError(code: errno, message: "socket: \(String(cString: strerror(errno)))")) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var result: Int32
        if isIPv6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = in_port_t(UInt16(port).bigEndian)
            if address != "::*" && inet_pton(AF_INET6, address, &socketAddress.sin6_addr) != 1 {
                close(fd)
                return .failure(ListenError(code: EINVAL, message: "Invalid argument"))
            }
            result = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
            if address != "*" && inet_pton(AF_INET, address, &socketAddress.sin_addr) != 1 {
                close(fd)
                return .failure(ListenError(code: EINVAL, message: "Invalid argument"))
            }
            result = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        if result != 0 || listen(fd, Int32(backlog)) != 0 {
            let code = errno
            close(fd)
            return .failure(ListenError(code: code, message: "bind: \(String(cString: strerror(code)))"))
        }
        let bound = describe(localOf: fd)
        let boundPort = Int(bound.split(separator: ":").last ?? "") ?? port
        return .success((fd, boundPort))
    }

    static func describe(peerOf fd: Int32) -> String { describe(fd, peer: true) }
    static func describe(localOf fd: Int32) -> String { describe(fd, peer: false) }

    /// "ip:port" as CLIENT LIST shows it.
    private static func describe(_ fd: Int32, peer: Bool) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length)
            }
        }
        guard ok == 0 else { return "?:0" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if Int32(storage.ss_family) == AF_INET6 {
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address -> String in
                    var raw = address.pointee.sin6_addr
                    inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
                    return "\(String(cString: text)):\(UInt16(bigEndian: address.pointee.sin6_port))"
                }
            }
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address -> String in
                var raw = address.pointee.sin_addr
                inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
                return "\(String(cString: text)):\(UInt16(bigEndian: address.pointee.sin_port))"
            }
        }
    }
}
