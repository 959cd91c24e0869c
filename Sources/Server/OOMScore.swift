// oom-score-adj: tells the kernel's out-of-memory killer how much to prefer this process, by
// writing /proc/self/oom_score_adj as Redis does. `yes` (or `relative`) adds the master's
// value of oom-score-adj-values to the score the process had before the first change,
// `absolute` writes it as it is (either clamped to -1000...1000), and `no` after a change
// puts the original score back. Swiftlet is always a master and has no background child, so
// only the first of the three values applies.
import Config
#if canImport(Glibc)
import Glibc
#endif

final class OOMScoreAdjuster {
    private static let path = "/proc/self/oom_score_adj"

    /// The score before Swiftlet first changed it; nil while it has not.
    private var originalScore: Int?
    /// CONFIG SETs on two workers may apply at once.
    private var lock = pthread_mutex_t()

    init() { pthread_mutex_init(&lock, nil) }

    /// Applies `config`; false (with a warning logged) when the score could not be read or
    /// written, an unprivileged process lowering it for instance.
    func apply(_ config: ServerConfig, log: (LogLevel, String) -> Void) -> Bool {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let score: Int
        if config.oomScoreAdj != "no" {
            if originalScore == nil {
                guard let current = readScore() else {
                    log(.warning, "Unable to read oom_score_adj: \(String(cString: strerror(errno)))")
                    return false
                }
                originalScore = current
            }
            let value = config.oomScoreAdjValues[0] + (config.oomScoreAdj == "absolute" ? 0 : originalScore!)
            score = min(max(value, -1000), 1000)
        } else if let original = originalScore {
            originalScore = nil
            score = original
        } else {
            return true
        }
        let text = Array("\(score)\n".utf8)
        let fd = open(OOMScoreAdjuster.path, O_WRONLY)
        defer { if fd >= 0 { close(fd) } }
        guard fd >= 0, write(fd, text, text.count) == text.count else {
            log(.warning, "Unable to write oom_score_adj: \(String(cString: strerror(errno)))")
            return false
        }
        return true
    }

    private func readScore() -> Int? {
        let fd = open(OOMScoreAdjuster.path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return nil }
        return Int(String(decoding: buffer.prefix(count).prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self))
    }
}
