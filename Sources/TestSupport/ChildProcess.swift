// Child processes for tests (servers, redis-check-rdb, python), spawned with posix_spawn and
// reaped with waitpid on their own PID. Foundation's Process is not used: on Linux its
// waitUntilExit can hang for good when many processes start and end concurrently (Swift
// Testing runs suites in parallel), leaving the child a zombie nobody reaps.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public final class ChildProcess {
    public let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?
    private var captured = Data()
    private let readerDone = DispatchSemaphore(value: 0)

    public enum Failure: Error, CustomStringConvertible {
        case spawnFailed(String, Int32)
        public var description: String {
            switch self {
            case .spawnFailed(let binary, let code): return "could not start \(binary): \(String(cString: strerror(code)))"
            }
        }
    }

    /// Starts `binary arguments...` with `environment` (nil: this process's), its stdout and
    /// stderr captured together; no stdin.
    public init(_ binary: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw Failure.spawnFailed(binary, errno) }
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        posix_spawn_file_actions_addclose(&actions, readEnd)
        posix_spawn_file_actions_addclose(&actions, writeEnd)
        // The child starts with no signal blocked: the test runner's threads block some
        // (SIGTERM among them), and a server inheriting that mask would ignore `stop()`'s
        // SIGTERM until the SIGKILL five seconds later.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let environmentLines = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var child: pid_t = 0
        let code = withCStrings([binary] + arguments) { argv in
            withCStrings(environmentLines) { envp in posix_spawn(&child, binary, &actions, &attributes, argv, envp) }
        }
        close(writeEnd)
        guard code == 0 else {
            close(readEnd)
            throw Failure.spawnFailed(binary, code)
        }
        pid = child
        let thread = Thread { [self] in readOutput(from: readEnd) }
        thread.start()
    }

    /// Runs `binary arguments...` to completion; its exit status and combined output.
    public static func run(_ binary: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let child = try ChildProcess(binary, arguments)
        let status = child.waitForExit()
        child.readerDone.wait()
        child.readerDone.signal()
        return (status, child.output)
    }

    private func readOutput(from fd: Int32) {
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            lock.lock()
            captured.append(contentsOf: chunk[0..<count])
            lock.unlock()
        }
        close(fd)
        readerDone.signal()
    }

    /// Everything the child printed so far.
    public var output: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: captured, as: UTF8.self)
    }

    /// The exit status (128 + signal when killed by one) if the child has ended; reaps it.
    public var status: Int32? {
        lock.lock()
        defer { lock.unlock() }
        if exitStatus == nil {
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { exitStatus = ChildProcess.decode(raw) }
        }
        return exitStatus
    }

    public var isRunning: Bool { status == nil }

    /// Blocks until the child ends; its exit status.
    @discardableResult
    public func waitForExit() -> Int32 {
        while true {
            if let status { return status }
            usleep(5_000)
        }
    }

    private static func decode(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }
}

/// Calls `body` with a NULL-terminated C array of `strings`.
private func withCStrings<T>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> T) -> T {
    var pointers = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
