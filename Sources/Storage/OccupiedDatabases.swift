// Which databases may hold keys: a bit mask that shards set when they insert a key into a
// database (a load and a test per insert, an atomic OR only the first time) or swap two
// databases. Eviction samples only these databases' tables; finding them by scanning 16
// tables in each of 1024 shards on every cron tick took 12% of the CPU of a server under a
// memory limit serving a slow client. Bits are cleared only by `recount`, which eviction
// runs when its samples find nothing; databases 63 and up share the last bit.
import CSystem

public final class OccupiedDatabases {
    @usableFromInline let bits = UnsafeMutablePointer<Int64>.allocate(capacity: 1)

    init() { bits.initialize(to: 0) }
    deinit { bits.deallocate() }

    @inlinable static func bit(_ db: Int) -> Int64 { 1 << Int64(min(db, 63)) }

    /// Records that `db` holds a key.
    @inlinable public func note(_ db: Int) {
        let bit = OccupiedDatabases.bit(db)
        if swiftlet_atomic_load(bits) & bit == 0 { swiftlet_atomic_or(bits, bit) }
    }

    public var mask: Int64 { swiftlet_atomic_load(bits) }

    /// The databases `mask` stands for, out of `count`.
    public static func databases(in mask: Int64, count: Int) -> [Int] {
        (0..<count).filter { mask & bit($0) != 0 }
    }

    /// Clears the bits of databases that no shard has keys in. Counts are read without the
    /// shard locks: a key inserted meanwhile into a database found empty is missed until the
    /// next recount (eviction then samples the other databases first).
    func recount(_ shards: [Shard], databaseCount: Int) {
        let before = mask
        var found: Int64 = 0
        for shard in shards {
            for db in 0..<databaseCount where found & OccupiedDatabases.bit(db) == 0 && shard.dicts[db].count > 0 {
                found |= OccupiedDatabases.bit(db)
            }
        }
        swiftlet_atomic_and(bits, found | ~before)
    }
}
