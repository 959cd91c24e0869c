// A shard's hash tables, one per database. Database 0's table sits in the shard's own block,
// on the cache line after its lock. The tables of databases 1 and up, for all shards, lie in
// one region mapped from the kernel's zero pages, one database after another: an all-zero
// `Dict` is an empty table, so a database nobody uses costs no memory, and one in use touches
// its 1024 tables (80 KB). With every table in its shard's block, as before, 16 databases ×
// 1024 shards of table headers were 1.2 MB of start-up heap, which made `maxmemory 1mb`
// refuse every write (Redis starts at about 0.9 MB).
#if canImport(Glibc)
import Glibc
#endif

public struct DatabaseTables {
    /// Database 0's table.
    public let first: UnsafeMutablePointer<Dict>
    /// This shard's table of database 1; database n's lies `(n - 1) * stride` tables on.
    let others: UnsafeMutablePointer<Dict>
    let stride: Int

    /// The table of database `db`.
    @inline(__always)
    public func pointer(_ db: Int) -> UnsafeMutablePointer<Dict> {
        db == 0 ? first : others + (db - 1) * stride
    }

    public subscript(db: Int) -> Dict {
        @inline(__always) unsafeAddress { UnsafePointer(pointer(db)) }
        @inline(__always) nonmutating unsafeMutableAddress { pointer(db) }
    }
}

/// Zero-filled memory for tables, from the kernel's zero pages; unmapped when the last shard
/// using it goes.
final class DatabaseTableRegion {
    let base: UnsafeMutablePointer<Dict>
    private let size: Int

    init(tables count: Int) {
        precondition(withUnsafeBytes(of: Dict()) { $0.allSatisfy { $0 == 0 } }, "an empty Dict must be all zero bytes")
        size = max(count, 1) * MemoryLayout<Dict>.stride
        let region = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let region, region != MAP_FAILED else { fatalError("cannot map the database tables: errno \(errno)") }
        // Small pages even where the kernel hands out huge ones unasked: a database in use
        // must not make 2 MB resident for its 80 KB.
        madvise(region, size, MADV_NOHUGEPAGE)
        base = region.bindMemory(to: Dict.self, capacity: max(count, 1))
    }

    deinit { munmap(base, size) }
}
