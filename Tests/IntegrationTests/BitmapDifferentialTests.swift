// Differential tests of the bitmap commands against a real redis-server: single bits at byte
// boundaries, BITCOUNT/BITPOS over byte and bit ranges with negative and out-of-range
// indexes, BITOP with missing, integer-encoded and shorter sources, and BITFIELD with every
// overflow mode, "#N" offsets, widths up to i64/u63 and offsets at proto-max-bulk-len.
// WRONGTYPE cases wait for the collection families (see BitmapCommandTests for them).
import Testing
import TestSupport

let bitmapScripts: [Script] = [
    script("setbitGetbit", """
    setbit b 7 1
    get b
    object encoding b
    setbit b 7 0
    setbit b 0 1
    setbit b 8 1
    strlen b
    getbit b 0
    getbit b 7
    getbit b 8
    getbit b 9
    getbit b 100000
    getbit missing 5
    setbit b -1 1
    setbit b 4294967296 1
    config set proto-max-bulk-len 1mb
    setbit big 8388608 1
    setbit big 8388607 1
    strlen big
    getbit big 8388607
    getbit big 8388608
    bitfield big get u8 8388607
    bitfield big get u8 8388608
    bitfield big set u8 8388600 1
    bitfield big set u8 8388601 1
    bitfield big get u8 #1048575
    bitfield big set u8 #1048575 7
    bitfield big set u8 #1048576 7
    bitcount big
    bitpos big 1 -1
    config set proto-max-bulk-len 512mb
    setbit b 17179869184 1
    setbit b abc 1
    setbit b 1 2
    setbit b 1 -1
    setbit b 1 x
    getbit b -1
    getbit b x
    set s foo
    object encoding s
    setbit s 2 1
    get s
    object encoding s
    set i 255
    object encoding i
    getbit i 2
    getbit i 7
    setbit i 8 0
    get i
    object encoding i
    strlen i
    set e ""
    setbit e 0 0
    get e
    setbit e2 15 0
    strlen e2
    get e2
    set ttl abc ex 100
    setbit ttl 100 1
    ttl ttl
    setbit
    getbit b
    setbit b 1
    """),
    script("bitcount", """
    set s foobar
    bitcount s
    bitcount s 0 0
    bitcount s 1 1
    bitcount s 1 -1
    bitcount s -2 -1
    bitcount s -1 -2
    bitcount s -100 -200
    bitcount s -1 -2 foo
    bitcount s 0 -1 bit
    bitcount s 5 30 bit
    bitcount s 5 30 BIT
    bitcount s 5 30 byte
    bitcount s 1 1 BYTE
    bitcount s 0 0 bit
    bitcount s 7 7 bit
    bitcount s -3 -1 bit
    bitcount s 47 47 bit
    bitcount s 48 100 bit
    bitcount s 100 200
    bitcount s 0 100000
    bitcount s 0
    bitcount s 0 1 2
    bitcount s 0 1 bits
    bitcount s a b
    bitcount s 0 b
    bitcount missing
    bitcount missing a b
    bitcount missing 0 1 bit
    set n 12345
    bitcount n
    bitcount n 1 2
    bitcount n 9 20 bit
    set e ""
    bitcount e
    bitcount e 0 -1
    bitcount e 0 -1 bit
    set long "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ!@#$%^&*()"
    """),
    script("bitpos", """
    set s foobar
    bitpos s 1
    bitpos s 0
    bitpos s 2
    bitpos s -1
    bitpos s x
    bitpos s 1 1
    bitpos s 1 1 2
    bitpos s 1 2 -1 byte
    bitpos s 0 2 -1 bit
    bitpos s 1 7 15 bit
    bitpos s 1 7 15 BIT
    bitpos s 1 7 15 foo
    bitpos s 1 7 x foo
    bitpos s 1 7 x bit
    bitpos s 1 x 15 bit
    bitpos s 1 0 -1 bit 1
    bitpos s 1 -100 -200
    bitpos s 0 -100 -200
    bitpos s 1 100
    bitpos s 0 100
    bitpos s 1 5 2
    bitpos missing 1
    bitpos missing 0
    bitpos missing 0 5 10
    bitpos missing 2
    setbit z 30 0
    bitpos z 1
    bitpos z 0
    bitpos z 1 1
    bitpos z 0 1 2
    bitpos z 0 3 bit
    set ff "ÿÿÿ"
    setrange f 0 "ÿ"
    get f
    set ones xxx
    bitop not ones z
    bitpos ones 0
    bitpos ones 0 0
    bitpos ones 0 0 -1
    bitpos ones 0 1 2
    bitpos ones 0 3 bit
    bitpos ones 0 3 20 bit
    bitpos ones 0 3 bit
    bitpos ones 1
    bitpos ones 1 0 -1 bit
    bitpos ones 1 31 31 bit
    bitpos ones 0 31 31 bit
    bitpos ones 0 31 bit
    bitpos ones 0 32 bit
    setbit w 200 1
    bitpos w 1
    bitpos w 1 3
    bitpos w 1 3 24
    bitpos w 1 3 25
    bitpos w 1 201 bit
    bitpos w 1 199 201 bit
    bitpos w 1 200 200 bit
    bitpos w 0 200 200 bit
    bitpos w 0 0 -1
    bitpos w 0 8 40 bit
    setbit runs 2001 1
    bitop not notruns runs
    bitpos runs 1
    bitpos runs 1 3 250
    bitpos runs 1 3 2000 bit
    bitpos runs 1 9 2001 bit
    bitpos notruns 0
    bitpos notruns 0 1
    bitpos notruns 0 17 2000 bit
    bitpos notruns 0 17 2001 bit
    bitpos notruns 1 250
    bitcount notruns 3 -2
    set n 12345
    bitpos n 1
    bitpos n 0 2
    set e ""
    bitpos e 0
    bitpos e 1
    bitpos e 0 0
    bitpos e 0 0 -1 bit
    bitpos
    bitpos s
    """),
    script("bitop", """
    set a "abcdefghijklmnopqrstuvwxyz0123456789"
    set b "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    set c 12345
    bitop and dst a b
    get dst
    object encoding dst
    bitop or dst a b c
    get dst
    bitop xor dst a b c missing
    get dst
    bitop and dst a missing
    get dst
    bitop not dst a
    get dst
    bitop not dst c
    get dst
    bitop not dst a b
    bitop NOT dst missing
    exists dst
    bitop foo dst a
    bitop AnD dst a
    get dst
    set dst2 x ex 100
    bitop or dst2 a
    ttl dst2
    bitop or dst3 missing missing2
    exists dst3
    set e ""
    bitop or dst e
    exists dst
    bitop or dst missing a
    get dst
    bitop or a a b
    get a
    bitop
    bitop and
    bitop and dst
    set short ab
    bitop and dst a short
    strlen dst
    bitop xor dst short a
    get dst
    set s2 "Hello world, this is a string of more than thirty-two bytes."
    bitop and dst s2 a b c
    get dst
    bitop or dst s2 a b c
    get dst
    bitop xor dst s2 a
    get dst
    """),
    script("bitfield", """
    bitfield bf set i8 0 -100 get i8 0 get u8 0
    bitfield bf set u8 8 255 get u8 8 get i8 8
    bitfield bf get i4 0 get u4 4 get i64 0 get u63 1
    bitfield bf incrby u2 100 1 overflow sat incrby u2 102 1
    strlen bf
    object encoding bf
    bitfield bf
    bitfield bf overflow fail
    bitfield bf get u8
    bitfield bf set u8 0
    bitfield bf foo u8 0
    bitfield bf get x8 0
    bitfield bf get u64 0
    bitfield bf get i65 0
    bitfield bf get i0 0
    bitfield bf get u0 0
    bitfield bf get I8 0
    bitfield bf get "" 0
    bitfield bf get i 0
    bitfield bf get i08 0
    bitfield bf get i-8 0
    bitfield bf get u8 -1
    bitfield bf get u8 x
    bitfield bf get u8 4294967296
    bitfield bf get u8 4294967295
    bitfield bf set u8 4294967296 1
    bitfield bf get u8 #1
    bitfield bf get u8 #-1
    bitfield bf get u8 #
    bitfield bf get i64 #288230376151711744
    bitfield bf get i64 #144115188075855872
    bitfield bf get u8 #536870912
    bitfield bf get u8 #536870911
    bitfield bf set u8 0 x
    bitfield bf incrby u8 0 1.5
    bitfield bf overflow foo get u8 0
    bitfield bf overflow
    bitfield bf get u8 0 overflow
    bitfield bf set u8 0 1 get x8 0
    exists x
    bitfield x set u8 0 1 get x8 0
    exists x
    bitfield w set u8 #0 255 get u8 0
    bitfield w set u8 #1 -1 get u8 8
    bitfield w overflow sat set u8 #2 -1 get u8 16
    bitfield w overflow fail set u8 #3 -1 get u8 24
    bitfield w overflow sat set u8 #3 256 overflow wrap set u8 #4 256 overflow fail set u8 #5 256
    bitfield w overflow sat set i8 #3 200 set i8 #4 -200 overflow wrap set i8 #5 200 set i8 #6 -200 overflow fail set i8 #7 200
    bitfield u overflow wrap incrby u8 0 300 incrby u8 0 -301 incrby u8 0 -1
    bitfield u overflow sat incrby u8 0 300 incrby u8 0 -301 incrby u8 0 10
    bitfield u overflow fail incrby u8 0 300 incrby u8 0 -301 incrby u8 0 10 incrby u8 0 250
    bitfield u overflow wrap incrby i8 0 300 incrby i8 0 -301 incrby i8 0 -1
    bitfield u overflow sat incrby i8 0 300 incrby i8 0 -301 incrby i8 0 10
    bitfield u overflow fail incrby i8 0 127 incrby i8 0 -128 incrby i8 0 -300
    bitfield big set i64 0 9223372036854775807 incrby i64 0 1 overflow sat incrby i64 0 1 incrby i64 0 -9223372036854775808 incrby i64 0 -9223372036854775808
    bitfield big overflow fail incrby i64 0 -1 incrby i64 0 9223372036854775807 get i64 0
    bitfield big overflow wrap set i64 64 -9223372036854775808 incrby i64 64 -1 get u63 64
    bitfield big set u63 0 9223372036854775807 incrby u63 0 1 overflow sat incrby u63 0 -9223372036854775808 incrby u63 0 9223372036854775807
    bitfield big overflow wrap incrby u63 0 -1 incrby u63 0 -9223372036854775808 get u63 0
    bitfield odd set i5 3 -7 get i5 3 get u5 3 set u13 11 5000 get u13 11 get i13 11 get u16 8
    get odd
    bitfield odd set i1 0 1 get i1 0 set u1 1 1 get u1 1 incrby i1 2 1 incrby i1 2 1
    bitfield odd set u63 5 1234567890123 get u63 5 set i64 7 -1234567890123 get i64 7
    bitfield ro get u8 0
    exists ro
    bitfield_ro ro get u8 0
    bitfield_ro odd get u8 0 get i16 3
    bitfield_ro odd set u8 0 1
    bitfield_ro odd get u8 0 incrby u8 0 1
    bitfield_ro odd
    bitfield_ro odd overflow sat
    bitfield_ro odd get x8 0 set u8 0 1
    bitfield_ro odd get u8 0 set u8 0 x
    set n 12345
    bitfield n get u8 0 get u8 8
    bitfield n set u8 0 50
    get n
    object encoding n
    set emb hello
    bitfield emb get u8 0
    object encoding emb
    bitfield emb set u8 0 104
    object encoding emb
    bitfield grow set u8 100 1
    strlen grow
    bitfield grow2 overflow fail set u8 100 256
    strlen grow2
    get grow2
    bitfield
    bitfield_ro
    hello 3
    bitfield f overflow fail incrby u8 0 300 get u8 0
    bitfield_ro f get u8 0
    bitpos f 1
    bitcount f
    """),
]

/// Random ranges and fields over random values, from a fixed seed so a failure reproduces:
/// BITCOUNT/BITPOS with every unit and sign of start/end, BITFIELD on random widths, offsets
/// and overflow modes, and BITOP over values of different lengths.
func generatedBitmapScript() -> Script {
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    func next(_ bound: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(bound))
    }
    let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    var lines: [String] = []
    for key in ["k0", "k1", "k2"] {
        let length = [1, 7, 8, 9, 33, 70][next(6)]
        lines.append("set \(key) " + String((0..<length).map { _ in alphabet[next(alphabet.count)] }))
        for _ in 0..<30 { lines.append("setbit \(key) \(next(length * 8 + 16)) \(next(2))") }
    }
    let overflows = ["wrap", "sat", "fail"]
    for _ in 0..<300 {
        let key = "k\(next(4))"
        let start = next(200) - 100, end = next(200) - 100
        let unit = ["", " bit", " byte"][next(3)]
        let signed = next(2) == 0
        let width = signed ? 1 + next(64) : 1 + next(63)
        let type = (signed ? "i" : "u") + String(width)
        switch next(6) {
        case 0: lines.append("bitcount \(key) \(start) \(end)\(unit)")
        case 1: lines.append("bitpos \(key) \(next(2)) \(start) \(end)\(unit)")
        case 2: lines.append("bitpos \(key) \(next(2)) \(start)\(next(2) == 0 ? "" : " -1")\(unit)")
        case 3:
            let value = Int64(bitPattern: state) >> next(64)
            lines.append("bitfield \(key) overflow \(overflows[next(3)]) incrby \(type) \(next(600)) \(value) get \(type) \(next(600))")
        case 4:
            let value = Int64(next(1 << 20)) - (1 << 19)
            lines.append("bitfield \(key) overflow \(overflows[next(3)]) set \(type) #\(next(70)) \(value) get u8 \(next(600))")
        default:
            lines.append("bitop \(["and", "or", "xor"][next(3)]) k\(next(4)) k\(next(4)) k\(next(4)) k\(next(4))")
        }
    }
    lines += ["get k0", "get k1", "get k2", "get k3"]
    return script("generated", lines.joined(separator: "\n"))
}

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct BitmapDifferentialTests {
    @Test(arguments: [1, 4])
    func bitmapScriptsMatchRedis(threads: Int) throws {
        #expect(try expectMatchesRedis(bitmapScripts + [generatedBitmapScript()], threads: threads) > 600)
    }
}
