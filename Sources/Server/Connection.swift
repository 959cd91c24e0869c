// One client connection on its worker's event loop: reads into the input buffer, parses every
// complete command, runs each through the dispatcher, then writes replies with one `write`
// before returning to the loop. EV_WRITE is registered only while the socket would block.
// Protocol errors reply Redis's error and close this connection only.
#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import Commands
import RESP

final class Connection {
    let fd: Int32
    unowned let worker: Worker
    let context: CommandContext
    var input = ByteBuffer(capacity: 16 * 1024)
    var parser: CommandParser
    /// Start of the first unprocessed byte in `input`.
    var readOffset = 0
    var written = 0
    var readEvent: OpaquePointer?
    var writeEvent: OpaquePointer?
    var writeRegistered = false
    var closing = false
    /// Reused list of key positions for `prefetchPipelinedKeys`.
    var prefetchScratch: [(Int, Int)] = []

    init(fd: Int32, worker: Worker, session: Session) {
        self.fd = fd
        self.worker = worker
        context = CommandContext(server: worker.server.context, session: session, stats: worker.stats)
        parser = CommandParser(maxBulkLength: worker.server.context.config.protoMaxBulkLen)
    }

    deinit {
        input.deallocate()
        parser.deallocate()
    }

    var session: Session { context.session }

    func start(base: OpaquePointer) {
        let me = Unmanaged.passUnretained(self).toOpaque()
        readEvent = event_new(base, fd, Int16(EV_READ | EV_PERSIST), connectionReadable, me)
        writeEvent = event_new(base, fd, Int16(EV_WRITE | EV_PERSIST), connectionWritable, me)
        event_add(readEvent, nil)
    }

    func releaseEvents() {
        if let readEvent { event_free(readEvent) }
        if let writeEvent { event_free(writeEvent) }
        readEvent = nil
        writeEvent = nil
    }

    // MARK: Reading

    func handleReadable() {
        let wanted = max(16 * 1024, parser.bufferedBulkHint - (input.count - readOffset))
        input.reserve(wanted)
        let count = read(fd, input.end, input.freeSpace)
        if count == 0 { return worker.close(self) }
        if count < 0 {
            if errno == EAGAIN || errno == EINTR { return }
            return worker.close(self)
        }
        input.count += count
        worker.bytesIn += count
        worker.readsProcessed += 1
        session.lastInteraction = Clock.milliseconds()
        processInput()
        if closing { return }
        flush()
    }

    private func processInput() {
        parser.maxBulkLength = worker.server.context.config.protoMaxBulkLen
        parser.unauthenticated = !session.authenticated
        publishBufferSizes()
        prefetchPipelinedKeys()
        while readOffset < input.count && !closing {
            if session.killRequested { closing = true; break }
            let start = UnsafeRawPointer(input.base + readOffset)
            let outcome = parser.parse(start, available: input.count - readOffset)
            switch outcome {
            case .needMore:
                compactInput()
                publishBufferSizes()
                return
            case .empty:
                readOffset += parser.consumed
                parser.reset()
            case .command:
                context.args = parser.args(over: start)
                Dispatcher.execute(context)
                parser.unauthenticated = !session.authenticated
                readOffset += parser.consumed
                parser.reset()
                if session.closeAfterReply { closing = true }
            case .protocolError(let message):
                context.error("ERR " + message)
                worker.server.logProtocolError(message)
                closing = true
            }
        }
        if readOffset >= input.count {
            input.count = 0
            readOffset = 0
            input.shrinkIfIdle(to: 64 * 1024)
        }
        publishBufferSizes()
        if closing { flush() }
    }

    private func compactInput() {
        if readOffset > 0 {
            input.consume(readOffset)
            readOffset = 0
        }
        if input.count > worker.server.context.config.clientQueryBufferLimit {
            worker.server.log(.warning, "Closing client that reached max query buffer length (qbuf=\(input.count))")
            closing = true
        }
    }

    private func publishBufferSizes() {
        session.queryBufferLength = input.count - readOffset
        session.queryBufferCapacity = input.capacity
        session.outputBufferLength = context.reply.buffer.count - written
    }

    // MARK: Writing

    func flush() {
        let output = context.reply.buffer
        while written < output.count {
            let sent = write(fd, output.base + written, output.count - written)
            if sent < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {
                    if !writeRegistered { event_add(writeEvent, nil); writeRegistered = true }
                    publishBufferSizes()
                    return
                }
                return worker.close(self)
            }
            written += sent
            worker.bytesOut += sent
        }
        worker.writesProcessed += 1
        context.reply.buffer.count = 0
        written = 0
        context.reply.buffer.shrinkIfIdle(to: 64 * 1024)
        if writeRegistered { event_del(writeEvent); writeRegistered = false }
        if closing { worker.close(self) }
    }
}

/// libevent callbacks: plain C functions that recover the connection from `arg`. The
/// connection may close (and leave its worker's table) inside the call, so the callback
/// keeps it alive until the call returns.
let connectionReadable: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    let connection = Unmanaged<Connection>.fromOpaque(arg!).takeUnretainedValue()
    withExtendedLifetime(connection) { connection.handleReadable() }
}

let connectionWritable: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    let connection = Unmanaged<Connection>.fromOpaque(arg!).takeUnretainedValue()
    withExtendedLifetime(connection) { connection.flush() }
}
