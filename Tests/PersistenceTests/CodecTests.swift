// LZF and CRC-64 against known vectors (the CRC check value, a DUMP payload written by Redis
// 7.0.15) and round trips over random and repetitive inputs.
import Testing
@testable import Persistence

/// DUMP of a 66-byte string from Redis 7.0.15: type 0, LZF-encoded (0xC3, compressed length
/// 0x15, original length 0x42), version 10 and the CRC-64 of everything before it.
let redisStringDump: [UInt8] = [
    0x00, 0xc3, 0x15, 0x40, 0x42, 0x03, 0x61, 0x62, 0x63, 0x61, 0xe0, 0x1d, 0x02, 0x05, 0x2d, 0x68,
    0x65, 0x6c, 0x6c, 0x6f, 0xe0, 0x07, 0x05, 0x01, 0x6c, 0x6f, 0x0a, 0x00, 0xf5, 0x5d, 0xeb, 0x97,
    0xb5, 0x82, 0x3f, 0xef,
]
let redisStringValue = "abcabcabcabcabcabcabcabcabcabcabcabcabcabc-hello-hello-hello-hello"

@Test func crc64MatchesTheCheckValue() {
    #expect(CRC64.checksum(Array("123456789".utf8)) == 0xe9c6_d914_c4b8_d9ca)
    #expect(CRC64.checksum([]) == 0)
}

/// CRC-64/Jones one bit at a time, the definition the table-driven code must agree with.
private func bitwiseCRC64(_ bytes: [UInt8]) -> UInt64 {
    var crc: UInt64 = 0
    for byte in bytes {
        crc ^= UInt64(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x95AC_9329_AC4B_C9B5 : crc >> 1 }
    }
    return crc
}

@Test func crc64AgreesWithTheBitwiseDefinitionAtEveryLengthAndSplit() {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
    for length in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 299, 300] {
        let prefix = Array(bytes[0..<length])
        #expect(CRC64.checksum(prefix) == bitwiseCRC64(prefix))
        for split in Set([0, length / 3, length]) {
            let first = prefix[0..<split].withUnsafeBytes { CRC64.update(0, $0) }
            let whole = prefix[split...].withUnsafeBytes { CRC64.update(first, $0) }
            #expect(whole == bitwiseCRC64(prefix), "length \(length) split at \(split)")
        }
    }
}

@Test func crc64MatchesRedisDumpFooter() {
    let body = Array(redisStringDump.dropLast(8))
    let footer = redisStringDump.suffix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    #expect(CRC64.checksum(body) == footer)
}

@Test func lzfReadsWhatRedisWrote() {
    let compressed = Array(redisStringDump[5..<5 + 0x15])
    let output = compressed.withUnsafeBytes { LZF.decompress($0, length: 0x42) }
    #expect(output.map { String(decoding: $0, as: UTF8.self) } == redisStringValue)
}

@Test func lzfRejectsCorruptInput() {
    // A back-reference before the start, a literal running past the end, a wrong length.
    #expect([UInt8]([0x20, 0x05]).withUnsafeBytes { LZF.decompress($0, length: 3) } == nil)
    #expect([UInt8]([0x05, 0x61]).withUnsafeBytes { LZF.decompress($0, length: 6) } == nil)
    #expect([UInt8]([0x00, 0x61]).withUnsafeBytes { LZF.decompress($0, length: 2) } == nil)
}

@Test func lzfRoundTrips() {
    var generator = SystemRandomNumberGenerator()
    var inputs: [[UInt8]] = [Array(redisStringValue.utf8), [UInt8](repeating: 7, count: 100_000), Array("abc".utf8)]
    for size in [1, 2, 3, 31, 32, 33, 300, 9000, 70_000] {
        inputs.append((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
        inputs.append((0..<size).map { _ in UInt8.random(in: 97...100, using: &generator) })
        inputs.append((0..<size).map { UInt8(($0 / 7) % 251) })
    }
    for input in inputs {
        guard let compressed = input.withUnsafeBytes({ LZF.compress($0, limit: input.count + input.count / 16 + 64) }) else {
            Issue.record("compress failed for \(input.count) bytes")
            continue
        }
        #expect(compressed.withUnsafeBytes { LZF.decompress($0, length: input.count) } == input)
    }
    let repetitive = [UInt8](repeating: 1, count: 10_000)
    #expect(repetitive.withUnsafeBytes { LZF.compress($0, limit: 1000) }!.count < 200)
    // Random bytes do not shrink: a tight limit refuses them.
    let noise = (0..<1000).map { _ in UInt8.random(in: 0...255) }
    #expect(noise.withUnsafeBytes { LZF.compress($0, limit: 996) } == nil)
}

@Test func sha1MatchesKnownVectors() {
    func hex(_ s: String) -> String { DatasetDigest.hex(Array(s.utf8).withUnsafeBytes { SHA1.hash($0) }) }
    #expect(hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
    #expect(hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d")
    #expect(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
    var incremental = SHA1()
    for _ in 0..<1000 { incremental.update(Array(repeating: UInt8(ascii: "a"), count: 1000)) }
    #expect(DatasetDigest.hex(incremental.finish()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
}
