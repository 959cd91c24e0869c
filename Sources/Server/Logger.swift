// Redis's log line format, `<pid>:<role> <DD Mon YYYY HH:MM:SS.mmm> <level> <message>`,
// written to the configured logfile or stdout, filtered by `loglevel`. Thread-safe: workers
// and the signal path all log through one lock.
#if canImport(Glibc)
import Glibc
#endif
import CLibevent

public enum LogLevel: Int, Comparable {
    case debug = 0, verbose, notice, warning

    public init(configValue: String) {
        switch configValue.lowercased() {
        case "debug": self = .debug
        case "verbose": self = .verbose
        case "warning": self = .warning
        default: self = .notice
        }
    }

    var marker: Character {
        switch self {
        case .debug: return "."
        case .verbose: return "-"
        case .notice: return "*"
        case .warning: return "#"
        }
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

public final class Logger {
    public static let shared = Logger()
    private var lock = pthread_mutex_t()
    private var file: UnsafeMutablePointer<FILE>?
    public var level = LogLevel.notice
    /// `M` for a master, `S` for a replica, `C` before the server is set up.
    public var role: Character = "C"

    init() { pthread_mutex_init(&lock, nil) }

    /// Sends output to `path`, or stdout when empty. Returns false if the file can't be opened.
    public func open(path: String) -> Bool {
        if path.isEmpty { file = nil; return true }
        guard let handle = fopen(path, "a") else { return false }
        file = handle
        return true
    }

    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Writes `text` as it is, without the line prefix (the start-up banner).
    public func logRaw(_ level: LogLevel, _ text: String) {
        guard level >= self.level else { return }
        write(text)
    }

    public func log(_ level: LogLevel, _ message: String) {
        guard level >= self.level else { return }
        var tv = timeval()
        gettimeofday(&tv, nil)
        var seconds = tv.tv_sec
        var parts = tm()
        localtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let millis = Int(tv.tv_usec / 1000)
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        let stamp = "\(two(parts.tm_mday)) \(Logger.months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)"
        write("\(getpid()):\(role) \(stamp) \(level.marker) \(message)\n")
    }

    private func write(_ line: String) {
        pthread_mutex_lock(&lock)
        fputs(line, file ?? stdout)
        fflush(file ?? stdout)
        pthread_mutex_unlock(&lock)
    }
}
