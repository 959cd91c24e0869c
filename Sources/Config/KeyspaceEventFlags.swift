// `notify-keyspace-events`: the class letters Redis accepts (keyspaceEventsStringToFlags) and
// the canonical string CONFIG GET prints back (keyspaceEventsFlagsToString). Bit `i` is the
// class of letter `i` in `letters`, the layout Commands' KeyspaceEventClass uses.

public enum KeyspaceEventFlags {
    /// The class letters by bit: K E g $ l s h z x e t m d n.
    static let letters: [Character] = ["K", "E", "g", "$", "l", "s", "h", "z", "x", "e", "t", "m", "d", "n"]
    /// `A`: every class but key misses (m) and new keys (n), and K/E themselves.
    static let all: Int = ["g", "$", "l", "s", "h", "z", "x", "e", "t", "d"].reduce(0) { $0 | bit($1) }

    private static func bit(_ letter: Character) -> Int { 1 << letters.firstIndex(of: letter)! }

    /// The flags a class string selects, or nil when it holds a character Redis rejects.
    public static func parse(_ classes: String) -> Int? {
        var flags = 0
        for letter in classes {
            if letter == "A" {
                flags |= all
            } else if let index = letters.firstIndex(of: letter) {
                flags |= 1 << index
            } else {
                return nil
            }
        }
        return flags
    }

    /// The canonical spelling of `flags`: A (or the type classes in Redis's order), then K,
    /// E and m.
    public static func format(_ flags: Int) -> String {
        var result = ""
        if flags & all == all {
            result = "A"
        } else {
            for letter in "g$lshzxetdn" where flags & bit(letter) != 0 { result.append(letter) }
        }
        for letter in "KEm" where flags & bit(letter) != 0 { result.append(letter) }
        return result
    }
}
