// Every error text Swiftlet replies with, worded byte-for-byte as Redis 7.0.15 words it.
// Keeping them in one place keeps the wording consistent across families.
import RESP
import Support

public enum RedisError {
    public static let syntax = "ERR syntax error"
    public static let notInteger = "ERR value is not an integer or out of range"
    public static let notFloat = "ERR value is not a valid float"
    public static let wrongType = "WRONGTYPE Operation against a key holding the wrong kind of value"
    public static let noSuchKey = "ERR no such key"
    public static let overflow = "ERR increment or decrement would overflow"
    public static let nanOrInfinity = "ERR increment would produce NaN or Infinity"
    public static let dbIndexOutOfRange = "ERR DB index is out of range"
    public static let stringTooLong = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    public static let offsetOutOfRange = "ERR offset is out of range"
    public static let sameObject = "ERR source and destination objects are the same"
    public static let bitOffsetOutOfRange = "ERR bit offset is not an integer or out of range"
    public static let bitNotInteger = "ERR bit is not an integer or out of range"
    public static let bitArgument = "ERR The bit argument must be 1 or 0."
    public static let bitopNotArity = "ERR BITOP NOT must be called with a single source key."
    public static let bitfieldType =
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
    public static let bitfieldOverflowType = "ERR Invalid OVERFLOW type specified"
    public static let bitfieldReadOnly = "ERR BITFIELD_RO only supports the GET subcommand"
    public static let noProto = "NOPROTO unsupported protocol version"
    public static let backgroundSaveFailed = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error."
    public static let outOfMemory = "OOM command not allowed when used memory > 'maxmemory'."
    public static let noScript = "NOSCRIPT No matching script. Please use EVAL."
    public static let busyScript = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    public static let busyFunction = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    public static let indexOutOfRange = "ERR index out of range"
    public static let rankZero = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
    public static let timeoutNotFloat = "ERR timeout is not a float or out of range"
    public static let timeoutNegative = "ERR timeout is negative"
    public static let unblocked = "UNBLOCKED client unblocked via CLIENT UNBLOCK"
    public static let outOfRange = "ERR value is out of range"
    public static let mustBePositive = "ERR value is out of range, must be positive"
    public static let invalidCursor = "ERR invalid cursor"
    public static let numkeysPositive = "ERR numkeys should be greater than 0"
    public static let countPositive = "ERR count should be greater than 0"
    // Sorted sets.
    public static let scoreNaN = "ERR resulting score is not a number (NaN)"
    public static let zaddIncrSinglePair = "ERR INCR option supports a single increment-element pair"
    public static let zaddXXAndNX = "ERR XX and NX options at the same time are not compatible"
    public static let zaddGTLTNX = "ERR GT, LT, and/or NX options at the same time are not compatible"
    public static let minMaxNotFloat = "ERR min or max is not a float"
    public static let minMaxNotLex = "ERR min or max not valid string range item"
    public static let weightNotFloat = "ERR weight value is not a float"
    public static let limitNegative = "ERR LIMIT can't be negative"
    public static let limitNeedsByScoreOrLex = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    public static let withScoresWithByLex = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"

    // GEO
    public static let geoUnknownUnit = "ERR unsupported unit provided. please use M, KM, FT, MI"
    public static let geoRadiusNotNumeric = "ERR need numeric radius"
    public static let geoRadiusNegative = "ERR radius cannot be negative"
    public static let geoWidthNotNumeric = "ERR need numeric width"
    public static let geoHeightNotNumeric = "ERR need numeric height"
    public static let geoBoxNegative = "ERR height or width cannot be negative"
    public static let geoMemberNotDecodable = "ERR could not decode requested zset member"
    public static let geoCountNotPositive = "ERR COUNT must be > 0"
    public static let geoAnyNeedsCount = "ERR the ANY argument requires COUNT argument"

    public static func geoInvalidPair(_ longitude: Double, _ latitude: Double) -> String {
        "ERR invalid longitude,latitude pair \(Numbers.sixDecimals(longitude)),\(Numbers.sixDecimals(latitude))"
    }

    public static func geoStoreWithReplyOptions(_ option: String) -> String {
        "ERR \(option) is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
    }

    public static func geoNeedsOneCentre(_ command: String) -> String {
        "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for \(command)"
    }

    public static func geoNeedsOneShape(_ command: String) -> String {
        "ERR exactly one of BYRADIUS and BYBOX can be specified for \(command)"
    }

    // CACHE.* (Swiftlet's own commands, worded in Redis's style).
    public static let betaNotNonNegative = "ERR beta is not a non-negative float"
    public static let deltaNegative = "ERR delta is negative"
    public static let deltaNeedsExpire = "ERR DELTA needs an expire time (EX or PX)"

    public static func needsInputKey(_ command: String) -> String {
        "ERR at least 1 input key is needed for '\(command)' command"
    }

    /// Built on bytes: the name and arguments are echoed back exactly, binary or not. Each
    /// argument is cut so the quoted list stays near 128 bytes, as Redis does.
    public static func unknownCommand(_ args: CommandArgs) -> [UInt8] {
        var quoted: [UInt8] = []
        var index = 1
        while index < args.count && quoted.count < 128 {
            // The room left is measured before the opening quote, as Redis's format does.
            let room = 128 - quoted.count
            quoted.append(39)
            quoted += args[index].prefix(room)
            quoted += [39, 32]
            index += 1
        }
        return Array("ERR unknown command '".utf8) + args[0].prefix(128)
            + Array("', with args beginning with: ".utf8) + quoted
    }

    public static func unknownSubcommand(_ args: CommandArgs) -> [UInt8] {
        Array("ERR unknown subcommand '".utf8) + args[1].prefix(128) + Array("'. Try ".utf8)
            + args[0].map { $0 &- 97 < 26 ? $0 - 32 : $0 } + Array(" HELP.".utf8)
    }

    /// Redis's addReplySubcommandSyntaxError: a known subcommand with the wrong arguments.
    public static func subcommandSyntax(_ args: CommandArgs) -> [UInt8] {
        Array("ERR unknown subcommand or wrong number of arguments for '".utf8) + args[1].prefix(128)
            + Array("'. Try ".utf8) + args[0].map { $0 &- 97 < 26 ? $0 - 32 : $0 } + Array(" HELP.".utf8)
    }

    public static func wrongArity(_ fullName: String) -> String {
        "ERR wrong number of arguments for '\(fullName)' command"
    }

    public static func invalidExpireTime(_ command: String) -> String {
        "ERR invalid expire time in '\(command)' command"
    }
}
