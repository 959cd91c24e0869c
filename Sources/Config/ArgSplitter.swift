// Splits a redis.conf line into arguments with Redis's quoting rules (Support.QuotedSplitter,
// the same rules inline commands use).
import Support

public enum ArgSplitter {
    /// The arguments of `line`, or nil when its quotes are unbalanced.
    public static func split(_ line: String) -> [String]? {
        var arguments: [String] = []
        var current: [UInt8] = []
        let balanced = Array(line.utf8).withUnsafeBytes { raw in
            QuotedSplitter.split(raw, byte: { current.append($0) }, endOfArgument: {
                arguments.append(String(decoding: current, as: UTF8.self))
                current.removeAll(keepingCapacity: true)
            })
        }
        return balanced ? arguments : nil
    }
}
