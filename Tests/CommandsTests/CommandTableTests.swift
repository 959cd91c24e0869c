// The command table's name index: every command is found under any mix of case, and no
// other byte string is (each name with any one byte changed, shortened or lengthened, and
// names that differ from a command only in a non-letter's bit 0x20), as strcasecmp would.
import Testing
import Commands
import Support

private func lowercased(_ bytes: [UInt8]) -> String { String(decoding: bytes.map(ASCII.lowercase), as: UTF8.self) }

private func uppercase(_ byte: UInt8) -> UInt8 { byte &- 97 < 26 ? byte & ~0x20 : byte }

private func find(_ table: CommandTable, _ bytes: [UInt8]) -> CommandSpec? {
    bytes.withUnsafeBytes { table.lookup($0) }
}

@Test func everyCommandIsFoundInAnyCase() {
    let table = CommandTable.standard
    for spec in table.commands {
        let lower = Array(spec.name.lowercased().utf8)
        let variants = [lower, Array(spec.name.uppercased().utf8),
                        lower.enumerated().map { $0.offset % 2 == 0 ? $0.element : uppercase($0.element) }]
        for variant in variants {
            #expect(find(table, variant) === spec, "\(String(decoding: variant, as: UTF8.self))")
        }
    }
}

@Test func noOtherNameMatchesACommand() {
    let table = CommandTable.standard
    let known = Set(table.commands.map { $0.name.lowercased() })
    for spec in table.commands {
        let name = Array(spec.name.lowercased().utf8)
        for position in name.indices {
            for byte in 0...255 {
                var changed = name
                changed[position] = UInt8(byte)
                if changed.allSatisfy({ $0 < 0x80 }) && known.contains(lowercased(changed)) { continue }
                #expect(find(table, changed) == nil, "\(spec.name) with byte \(byte) at \(position)")
            }
        }
        for other in [Array(name.dropLast()), name + [0], name + Array("x".utf8), Array(name.dropFirst())]
        where !known.contains(lowercased(other)) {
            #expect(find(table, other) == nil, "\(String(decoding: other, as: UTF8.self))")
        }
    }
    #expect(find(table, []) == nil)
}
