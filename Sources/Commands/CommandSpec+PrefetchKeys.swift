// Which arguments of a call to prefetch as keys, decided once per command from its key
// specs. A connection parses a pipelined batch before running it and starts loading the
// keyspace memory of these arguments for all of its commands together. Only a hint: a wrong
// guess costs a useless prefetch, never a wrong result.
import RESP
import Support

extension CommandSpec {
    public enum PrefetchKeys {
        case none
        /// Arguments `first`, `first + step`, ... through `last` (negative: from the end).
        case range(first: Int, last: Int, step: Int)
        /// Argument `countAt` holds how many keys follow it (EVAL, FCALL...).
        case counted(countAt: Int)
    }

    /// The rule for a command with these key specs and legacy key range.
    static func prefetchKeys(legacyRange: (first: Int, last: Int, step: Int), keySpecs: [KeySpec]) -> PrefetchKeys {
        if legacyRange.first > 0 {
            return .range(first: legacyRange.first, last: legacyRange.last, step: max(legacyRange.step, 1))
        }
        if let spec = keySpecs.first, case .index(let position) = spec.begin,
           case .keyNum(index: 0, firstKey: 1, step: 1) = spec.find {
            return .counted(countAt: position)
        }
        return .none
    }

    /// Calls `body` with the index of each argument of `args` the rule names, in order,
    /// until `body` returns false.
    @inline(__always)
    public func forEachPrefetchKey(in args: CommandArgs, _ body: (Int) -> Bool) {
        switch prefetchKeys {
        case .none:
            return
        case .range(let first, let last, let step):
            let end = min(last >= 0 ? last : args.count + last, args.count - 1)
            var index = first
            while index <= end && body(index) { index += step }
        case .counted(let countAt):
            guard countAt < args.count, let keys = Numbers.parseInt64(args[countAt]), keys > 0 else { return }
            let end = min(countAt + Int(min(keys, Int64(args.count))), args.count - 1)
            var index = countAt + 1
            while index <= end && body(index) { index += 1 }
        }
    }
}
