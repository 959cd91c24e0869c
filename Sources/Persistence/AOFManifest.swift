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

    public enum ParseError: Error, Equatable { case invalid(String) }

    public static func parse(_ text: String) throws -> AOFManifest {
        var manifest = AOFManifest()
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = rawLine.hasSuffix("\r") ? String(rawLine.dropLast()) : String(rawLine)
            if line.hasPrefix("#") || line.allSatisfy({ $0 == " " }) { continue }
            var words: [String] = []
            var current: [UInt8] = []
            let split = Array(line.utf8).withUnsafeBytes { raw in
                QuotedSplitter.split(raw, byte: { current.append($0) }, endOfArgument: {
                    words.append(String(decoding: current, as: UTF8.self))
                    current.removeAll()
                })
            }
            guard split, words.count % 2 == 0, !words.isEmpty else { throw ParseError.invalid("Invalid AOF manifest file format") }
            var name: String?, seq: Int?, type: FileType?
            for pair in stride(from: 0, to: words.count, by: 2) {
                switch words[pair] {
                case "file": name = words[pair + 1]
                case "seq": seq = Int(words[pair + 1])
                case "type": type = words[pair + 1].count == 1 ? FileType(rawValue: words[pair + 1].first!) : nil
                default: break
                }
            }
            guard let name, let seq, let type else { throw ParseError.invalid("Invalid AOF manifest file format") }
            let entry = Entry(name: name, seq: seq, type: type)
            switch type {
            case .base:
                guard manifest.base == nil else { throw ParseError.invalid("Found duplicate base file information") }
                manifest.base = entry
            case .history: manifest.history.append(entry)
            case .incremental:
                guard seq > manifest.lastIncrementalSeq else { throw ParseError.invalid("Found a non-monotonic sequence number") }
                manifest.incremental.append(entry)
            }
        }
        guard manifest.base != nil || !manifest.incremental.isEmpty else {
            throw ParseError.invalid("Found an empty AOF manifest")
        }
        return manifest
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
