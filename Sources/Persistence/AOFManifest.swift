// The manifest of Redis 7's multi-part AOF (`<appendfilename>.manifest` in `appenddirname`):
// one line per file, `file <name> seq <n> type b|h|i`, the base first, then history, then the
// incremental files in the order they are replayed. Parsing accepts the keys in any order and
// quoted names as Redis's sdssplitargs does; formatting writes Redis's exact layout.
import Support

public struct AOFManifest: Equatable {
    public enum FileType: Character {
        case base = "b", history = "h", incremental = "i"
    }

    public struct Entry: Equatable {
        public var name: String
        public var seq: Int
        public var type: FileType

        public init(name: String, seq: Int, type: FileType) {
            self.name = name
            self.seq = seq
            self.type = type
        }
    }

    public var base: Entry?
    public var history: [Entry] = []
    public var incremental: [Entry] = []

    public init() {}

    /// Files of the current dataset, in replay order.
    public var replayOrder: [Entry] { (base.map { [$0] } ?? []) + incremental }

    public var lastIncrementalSeq: Int { incremental.last?.seq ?? 0 }

    /// Why a manifest was refused: Redis's message, and the line it was read from (1-based).
    public struct ParseError: Error, Equatable {
        public let message: String
        public let lineNumber: Int
        public let line: String?
    }

    /// Redis's longest manifest line.
    static let maxLineLength = 1024

    /// Reads the manifest as Redis's aofLoadManifestFromFile does: '#' lines are comments, a
    /// blank or overlong line is an error, each line needs file, seq and type.
    public static func parse(_ text: String) throws -> AOFManifest {
        var manifest = AOFManifest()
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let unterminated = lines.removeLast()
        guard !lines.isEmpty || !unterminated.isEmpty else {
            throw ParseError(message: "Found an empty AOF manifest", lineNumber: 0, line: nil)
        }
        if !unterminated.isEmpty { lines.append(unterminated) }
        for (index, rawLine) in lines.enumerated() {
            let number = index + 1
            if rawLine.hasPrefix("#") { continue }
            let trimmed = trimmedLine(rawLine)
            func failure(_ message: String) -> ParseError { ParseError(message: message, lineNumber: number, line: trimmed) }
            if rawLine.utf8.count + 1 > maxLineLength || (index == lines.count - 1 && !unterminated.isEmpty) {
                throw failure("The AOF manifest file contains too long line")
            }
            guard !trimmed.isEmpty else { throw failure("Invalid AOF manifest file format") }
            var words: [String] = []
            var current: [UInt8] = []
            let split = Array(trimmed.utf8).withUnsafeBytes { raw in
                QuotedSplitter.split(raw, byte: { current.append($0) }, endOfArgument: {
                    words.append(String(decoding: current, as: UTF8.self))
                    current.removeAll()
                })
            }
            guard split, words.count >= 6, words.count % 2 == 0 else { throw failure("Invalid AOF manifest file format") }
            var name: String?, seq = 0, typeCode: UInt8 = 0
            for pair in stride(from: 0, to: words.count, by: 2) {
                switch words[pair].lowercased() {
                case "file":
                    guard !words[pair + 1].contains("/") else { throw failure("File can't be a path, just a filename") }
                    name = words[pair + 1]
                case "seq": seq = Int(words[pair + 1]) ?? 0
                case "type": typeCode = words[pair + 1].utf8.first ?? 0
                default: break
                }
            }
            guard let name, seq != 0, typeCode != 0 else { throw failure("Invalid AOF manifest file format") }
            guard let type = FileType(rawValue: Character(Unicode.Scalar(typeCode))) else { throw failure("Unknown AOF file type") }
            let entry = Entry(name: name, seq: seq, type: type)
            switch type {
            case .base:
                guard manifest.base == nil else { throw failure("Found duplicate base file information") }
                manifest.base = entry
            case .history: manifest.history.append(entry)
            case .incremental:
                guard seq > manifest.lastIncrementalSeq else { throw failure("Found a non-monotonic sequence number") }
                manifest.incremental.append(entry)
            }
        }
        return manifest
    }

    /// `line` without the spaces, tabs and carriage returns around it (Redis's sdstrim).
    private static func trimmedLine(_ line: String) -> String {
        let blank: (UInt8) -> Bool = { $0 == 32 || $0 == 9 || $0 == 13 }
        let bytes = Array(line.utf8)
        guard let first = bytes.firstIndex(where: { !blank($0) }), let last = bytes.lastIndex(where: { !blank($0) }) else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }

    /// The manifest text as Redis writes it.
    public var text: String {
        let entries = (base.map { [$0] } ?? []) + history + incremental
        return entries.map { "file \(Self.quotedIfNeeded($0.name)) seq \($0.seq) type \($0.type.rawValue)\n" }.joined()
    }

    /// A name with spaces, quotes, backslashes or unprintable bytes is written in Redis's
    /// sdscatrepr form (sdsneedsrepr leaves single quotes plain).
    private static func quotedIfNeeded(_ name: String) -> String {
        let plain = name.utf8.allSatisfy { $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        return plain ? name : QuotedSplitter.quote(name)
    }
}
