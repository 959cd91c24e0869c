// Glob matching with Redis's stringmatchlen semantics.
import Testing
@testable import Support

private func matches(_ pattern: String, _ string: String, nocase: Bool = false) -> Bool {
    Glob.matches(pattern: Array(pattern.utf8), string: Array(string.utf8), caseInsensitive: nocase)
}

@Test func globBasics() {
    #expect(matches("*", "anything"))
    #expect(matches("h?llo", "hello"))
    #expect(!matches("h?llo", "hllo"))
    #expect(matches("h*llo", "heeeello"))
    #expect(matches("h[ae]llo", "hallo"))
    #expect(!matches("h[^e]llo", "hello"))
    #expect(matches("h[a-b]llo", "hbllo"))
    #expect(matches("h[b-a]llo", "hallo"))
    #expect(matches("a\\*b", "a*b"))
    #expect(!matches("a\\*b", "axb"))
    #expect(matches("HELLO", "hello", nocase: true))
    #expect(!matches("HELLO", "hello"))
    #expect(!matches("*", ""))
}

@Test func hostilePatternsFinishQuickly() {
    let pattern = String(repeating: "a*", count: 60) + "b"
    let string = String(repeating: "a", count: 200)
    #expect(!matches(pattern, string))
}
