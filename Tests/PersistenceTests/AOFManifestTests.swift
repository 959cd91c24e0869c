// The AOF manifest as Redis 7.0 reads and writes it: the exact line layout, quoted names,
// and the errors Redis reports for blank, overlong, untyped or out-of-order lines.
import Persistence
import Testing

@Suite struct AOFManifestTests {
    @Test func roundTripsRedisLayout() throws {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\n"
            + "file appendonly.aof.2.incr.aof seq 2 type i\nfile appendonly.aof.3.incr.aof seq 3 type i\n"
        let manifest = try AOFManifest.parse(text)
        #expect(manifest.base?.name == "appendonly.aof.2.base.rdb")
        #expect(manifest.history.map(\.seq) == [1])
        #expect(manifest.replayOrder.map(\.name) == ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.3.incr.aof"])
        #expect(manifest.text == text)
        var spaced = AOFManifest()
        spaced.incremental = [AOFManifest.Entry(name: "my aof.1.incr.aof", seq: 1, type: .incremental)]
        #expect(spaced.text == "file \"my aof.1.incr.aof\" seq 1 type i\n")
        #expect(try AOFManifest.parse(spaced.text) == spaced)
    }

    @Test func refusesWhatRedisRefuses() {
        let cases: [(String, String)] = [
            ("", "Found an empty AOF manifest"),
            ("file a seq 1 type b\n\nfile b seq 1 type i\n", "Invalid AOF manifest file format"),
            ("file a seq 1 type x\n", "Unknown AOF file type"),
            ("file a seq 1\n", "Invalid AOF manifest file format"),
            ("file dir/a seq 1 type b\n", "File can't be a path, just a filename"),
            ("file a seq 2 type i\nfile b seq 1 type i\n", "Found a non-monotonic sequence number"),
            ("file a seq 1 type b\nfile b seq 2 type b\n", "Found duplicate base file information"),
            ("file " + String(repeating: "a", count: 1100) + " seq 1 type b\n", "The AOF manifest file contains too long line"),
        ]
        for (text, message) in cases {
            #expect(throws: AOFManifest.ParseError.self) { try AOFManifest.parse(text) }
            do { _ = try AOFManifest.parse(text) } catch let error as AOFManifest.ParseError {
                #expect(error.message == message, "\(text.prefix(40))")
            } catch { Issue.record("unexpected \(error)") }
        }
        #expect((try? AOFManifest.parse("# comment\nfile a seq 1 type b\n"))?.base?.name == "a")
    }
}
