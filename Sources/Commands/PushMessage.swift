// Out-of-band messages for a client: pub/sub deliveries and client-tracking invalidations.
// They may be raised on any thread; the client's own worker renders them in the client's
// protocol (a RESP2 array or a RESP3 push frame) and writes them, so no thread touches
// another worker's socket. A message pushed to the client running the current command lands
// before that command's reply, as in Redis.
import RESP

/// A client that receives pushed messages (implemented by the network layer's connection).
public protocol PushTarget: AnyObject {
    /// Queues `message` for this client; callable from any thread.
    func push(_ message: PushMessage)
    /// Queues `message` for every target in `targets` (all of this type), so that the
    /// implementation can hand it over once per receiving thread (PUBLISH's fan-out).
    static func push(_ message: PushMessage, to targets: [PushTarget])
}

extension PushTarget {
    public static func push(_ message: PushMessage, to targets: [PushTarget]) {
        for target in targets { target.push(message) }
    }
}

public enum PushMessage {
    public enum DeliveryKind {
        case message, pmessage, smessage
    }

    /// A pub/sub delivery, framed once for all its receivers.
    case pubsub(PubSubFrame)
    /// A tracking invalidation of `keys`, or of every key (nil) after a flush. RESP2 clients
    /// get it through their redirect connection as a message on `__redis__:invalidate`.
    case invalidate(keys: [[UInt8]]?)
    /// Tells a RESP3 tracking client that its redirect client (this id) went away.
    case trackingRedirectBroken(Int)
    /// A command as MONITOR shows it: a status line, framed once for every monitor.
    case monitorLine([UInt8])

    static let invalidateChannel = Array("__redis__:invalidate".utf8)
}

/// A pub/sub message framed once per PUBLISH in both protocols: each receiver then costs one
/// copy into its output buffer (and one reference count) instead of a formatting pass.
public final class PubSubFrame {
    public let kind: PushMessage.DeliveryKind
    /// Set for `pmessage` only.
    public let pattern: [UInt8]?
    public let channel: [UInt8]
    public let payload: [UInt8]
    /// The whole frame as RESP2 and RESP3 clients receive it.
    public let resp2: [UInt8]
    public let resp3: [UInt8]

    public init(kind: PushMessage.DeliveryKind, pattern: [UInt8]?, channel: [UInt8], payload: [UInt8]) {
        self.kind = kind
        self.pattern = pattern
        self.channel = channel
        self.payload = payload
        func framed(resp3: Bool) -> [UInt8] {
            var writer = ReplyWriter(capacity: channel.count + payload.count + (pattern?.count ?? 0) + 64)
            defer { writer.deallocate() }
            writer.resp3 = resp3
            switch kind {
            case .message:
                writer.pushHeader(3)
                writer.bulk(word: "message")
            case .pmessage:
                writer.pushHeader(4)
                writer.bulk(word: "pmessage")
                writer.bulk(pattern ?? [])
            case .smessage:
                writer.pushHeader(3)
                writer.bulk(word: "smessage")
            }
            writer.bulk(channel)
            writer.bulk(payload)
            return Array(UnsafeRawBufferPointer(start: writer.buffer.base, count: writer.buffer.count))
        }
        resp2 = framed(resp3: false)
        resp3 = framed(resp3: true)
    }
}

extension ReplyWriter {
    /// A constant bulk string, written without building an array (one per delivered message).
    @inline(__always)
    mutating func bulk(word: StaticString) { bulk(word.utf8Start, word.utf8CodeUnitCount) }
}

extension PushMessage {
    /// Appends the message as the receiving client's protocol frames it.
    public func write(into reply: inout ReplyWriter) {
        switch self {
        case .pubsub(let frame):
            reply.buffer.append(reply.resp3 ? frame.resp3 : frame.resp2)
        case .invalidate(let keys):
            if reply.resp3 {
                reply.pushHeader(2)
                reply.bulk(word: "invalidate")
            } else {
                reply.arrayHeader(3)
                reply.bulk("message")
                reply.bulk(PushMessage.invalidateChannel)
            }
            if let keys {
                reply.arrayHeader(keys.count)
                for key in keys { reply.bulk(key) }
            } else {
                reply.nullBulk()
            }
        case .trackingRedirectBroken(let id):
            reply.pushHeader(2)
            reply.bulk("tracking-redir-broken")
            reply.integer(id)
        case .monitorLine(let line):
            reply.buffer.append(line)
        }
    }
}
