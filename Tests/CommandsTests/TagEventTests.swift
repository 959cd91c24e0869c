// TAG.INVALIDATE raises, for each key it deletes, the modified-key signal (client tracking's
// source) and a "del" keyspace notification of the generic class, exactly as DEL would; a
// tag without keys raises nothing.
import Commands
import Testing

struct TagEventTests {
    @Test func invalidateSignalsEveryDeletedKey() {
        let harness = Harness()
        var modified: [String] = []
        var notified: [String] = []
        harness.server.keyEvents.observeModified { db, key, _ in modified.append("\(db):" + String(decoding: key, as: UTF8.self)) }
        harness.server.keyEvents.publishNotifications { eventClass, event, key, db in
            #expect(eventClass == .generic)
            notified.append("\(event)@\(db):" + String(decoding: key, as: UTF8.self))
        }
        harness.server.keyEvents.enabledClasses = [.keyspace, .generic]
        harness.run("mset", "a", "1", "b", "2", "c", "3")
        #expect(harness.run("tag.add", "t", "a", "b") == ":2\r\n")
        #expect(harness.run("tag.add", "u", "b", "c") == ":2\r\n")
        modified.removeAll()
        notified.removeAll()
        #expect(harness.run("tag.invalidate", "nothing") == ":0\r\n")
        #expect(modified.isEmpty && notified.isEmpty)
        #expect(harness.run("tag.invalidate", "t", "u") == ":3\r\n")
        #expect(modified.sorted() == ["0:a", "0:b", "0:c"])
        #expect(notified.sorted() == ["del@0:a", "del@0:b", "del@0:c"])
        #expect(harness.run("dbsize") == ":0\r\n")
    }
}
