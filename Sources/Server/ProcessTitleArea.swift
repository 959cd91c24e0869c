// Rewrites what `ps` and /proc/PID/cmdline show for this process, as Redis's setproctitle
// does: the kernel reports the memory that held the command-line arguments, followed by the
// environment strings. The environment is first copied elsewhere, so the title may use that
// whole block; the rest of it is zeroed.
#if canImport(Glibc)
import Glibc
#endif
import CSystem

final class ProcessTitleArea {
    static let shared = ProcessTitleArea()

    private let start: UnsafeMutablePointer<CChar>?
    private let length: Int
    private var mutex = pthread_mutex_t()

    private init() {
        pthread_mutex_init(&mutex, nil)
        let argc = Int(CommandLine.argc)
        guard argc > 0, let first = CommandLine.unsafeArgv[0] else {
            start = nil
            length = 0
            return
        }
        // The block runs on while the next string starts where the previous one ended.
        var end = first + strlen(first) + 1
        for index in 1..<argc where CommandLine.unsafeArgv[index] == end { end += strlen(end) + 1 }
        var count = 0
        while let variable = environ[count] {
            if variable == end { end += strlen(end) + 1 }
            count += 1
        }
        let copy = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: count + 1)
        for index in 0..<count { copy[index] = strdup(environ[index]!) }
        copy[count] = nil
        swiftlet_set_environ(copy)
        start = first
        length = end - first
    }

    /// Shows `title` (cut to the space there is).
    func set(_ title: String) {
        guard let start, length > 1 else { return }
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let bytes = Array(title.utf8.prefix(length - 1))
        start.initialize(repeating: 0, count: length)
        bytes.withUnsafeBytes { UnsafeMutableRawPointer(start).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }
}
