// Every error text Swiftlet replies with, worded byte-for-byte as Redis 7.0.15 words it.
// Keeping them in one place keeps the wording consistent across families.
import RESP

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
    public static let noProto = "NOPROTO unsupported protocol version"
    /// A count beyond ±LONG_MAX (HRANDFIELD, SRANDMEMBER).
    public static let countOutOfRange =
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    public static let notPositive = "ERR value is out of range, must be positive"

    /// Built on bytes: the name and arguments are echoed back exactly, binary or not. Each
    /// argument is cut so the quoted list stays near 128 bytes, as Redis does.
    public static func unknownCommand(_ args: CommandArgs) -> [UInt8] {
        var quoted: [UInt8] = []
        var index = 1
        while index < args.count && quoted.count < 128 {
            quoted.append(39)
            quoted += args[index].prefix(128 - quoted.count)
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

    public static func wrongArity(_ fullName: String) -> String {
        "ERR wrong number of arguments for '\(fullName)' command"
    }

    public static func invalidExpireTime(_ command: String) -> String {
        "ERR invalid expire time in '\(command)' command"
    }
}
