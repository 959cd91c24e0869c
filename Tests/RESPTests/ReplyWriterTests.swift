// Reply shapes in RESP2 and RESP3, including the RESP2 downgrades Redis applies.
import Testing
@testable import RESP

private func render(resp3: Bool, _ body: (inout ReplyWriter) -> Void) -> String {
    var writer = ReplyWriter(capacity: 64)
    defer { writer.deallocate() }
    writer.resp3 = resp3
    body(&writer)
    return String(decoding: writer.buffer.bytes, as: UTF8.self)
}

@Test func resp2Shapes() {
    #expect(render(resp3: false) { $0.nullBulk() } == "$-1\r\n")
    #expect(render(resp3: false) { $0.nullArray() } == "*-1\r\n")
    #expect(render(resp3: false) { $0.mapHeader(2) } == "*4\r\n")
    #expect(render(resp3: false) { $0.double(1.5) } == "$3\r\n1.5\r\n")
    #expect(render(resp3: false) { $0.bool(true) } == ":1\r\n")
    #expect(render(resp3: false) { $0.bulk(decimal: -42) } == "$3\r\n-42\r\n")
}

@Test func resp3Shapes() {
    #expect(render(resp3: true) { $0.nullBulk() } == "_\r\n")
    #expect(render(resp3: true) { $0.mapHeader(2) } == "%2\r\n")
    #expect(render(resp3: true) { $0.setHeader(3) } == "~3\r\n")
    #expect(render(resp3: true) { $0.double(3.141) } == ",3.141\r\n")
    #expect(render(resp3: true) { $0.bool(false) } == "#f\r\n")
    #expect(render(resp3: true) { $0.verbatim("hi") } == "=6\r\ntxt:hi\r\n")
}

@Test func errorsStayOnOneLine() {
    #expect(render(resp3: false) { $0.error("ERR a\r\nb") } == "-ERR a  b\r\n")
}

@Test func deferredArrayHeaderIsInsertedBeforeItsElements() {
    let text = render(resp3: false) { writer in
        writer.simple("first")
        let start = writer.deferredStart()
        for i in 0..<12 { writer.integer(i) }
        writer.deferredArray(at: start, count: 12)
    }
    #expect(text.hasPrefix("+first\r\n*12\r\n:0\r\n:1\r\n"))
    #expect(text.hasSuffix(":11\r\n"))
}
