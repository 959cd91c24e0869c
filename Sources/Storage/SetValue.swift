// A set value with Redis 7.0's two encodings: `intset` (an IntSet, ascending) while every
// member is an integer in Redis's strict form and there are at most `set-max-intset-entries`
// of them, and `hashtable` (a ByteTable with Redis's growth-safe SCAN cursor) otherwise. Conversion is one way, as
// in Redis (7.0 has no listpack sets). Callers pass each member's integer form (parsed with
// Redis's string2ll rules in Commands), so Storage needs no number parser of its own.

public final class SetValue: CollectionObject {
    public static var kind: ValueKind { .set }

    private var integers = IntSet()
    /// The members once hashtable-encoded (then `integers` is empty).
    private var table: ByteTable<Void>?
    /// Bytes of the members held by `table`, for the memory estimate.
    private var tableBytes = 0

    /// Bookkeeping per table member: an array header plus the set slot.
    private static let tableEntryOverhead = 56

    public init() {}

    public var isIntset: Bool { table == nil }
    public var encodingName: String { table == nil ? "intset" : "hashtable" }
    public var count: Int { table?.count ?? integers.count }

    public var memoryUsage: Int {
        table == nil ? 48 + integers.byteCount : 48 + tableBytes + count * SetValue.tableEntryOverhead
    }

    public func duplicate() -> SetValue {
        let copy = SetValue()
        copy.integers = integers
        copy.table = table
        copy.tableBytes = tableBytes
        return copy
    }

    private static func bytes(of integer: Int64) -> [UInt8] { Array(String(integer).utf8) }

    // MARK: Reading

    /// Whether `member` (whose integer form is `integer`, nil when it has none) is present.
    public func contains(_ member: UnsafeRawBufferPointer, integer: Int64?) -> Bool {
        if let table { return table.slot(of: member) != nil }
        guard let integer else { return false }
        return integers.contains(integer)
    }

    /// The integers of an intset-encoded set (nil once hashtable-encoded), for RDB and DUMP.
    public var intsetMembers: IntSet? { table == nil ? integers : nil }

    /// Calls `body` with each member in encoding order (ascending for intsets).
    public func forEach(_ body: (UnsafeRawBufferPointer) -> Void) {
        if let table {
            table.forEach { table.key(at: $0).withUnsafeBytes(body) }
            return
        }
        for index in 0..<integers.count {
            SetValue.bytes(of: integers.value(at: index)).withUnsafeBytes(body)
        }
    }

    /// Every member, in encoding order.
    public func members() -> [[UInt8]] {
        if let table {
            var members: [[UInt8]] = []
            members.reserveCapacity(table.count)
            table.forEach { members.append(table.key(at: $0)) }
            return members
        }
        return (0..<integers.count).map { SetValue.bytes(of: integers.value(at: $0)) }
    }

    /// One SSCAN step from `cursor`, returning the next cursor: an intset is visited whole
    /// (cursor 0), a hashtable one bucket at a time.
    public func scan(cursor: UInt64, _ body: (UnsafeRawBufferPointer) -> Void) -> UInt64 {
        guard let table else {
            forEach(body)
            return 0
        }
        return table.scan(cursor: cursor) { table.key(at: $0).withUnsafeBytes(body) }
    }

    /// A uniformly chosen member (the set must not be empty).
    public func randomMember() -> [UInt8] {
        if let table { return table.key(at: table.randomSlot()) }
        return SetValue.bytes(of: integers.value(at: Int.random(in: 0..<integers.count)))
    }

    // MARK: Writing

    /// Adds `member`; returns whether it is new. A member without an integer form, or an
    /// intset growing past `maxIntsetEntries`, converts the set to hashtable.
    @discardableResult
    public func add(_ member: UnsafeRawBufferPointer, integer: Int64?, maxIntsetEntries: Int) -> Bool {
        if table == nil {
            guard let integer else {
                convertToHashtable()
                return add(member, integer: nil, maxIntsetEntries: maxIntsetEntries)
            }
            guard integers.insert(integer) else { return false }
            if integers.count > min(maxIntsetEntries, 1 << 30) { convertToHashtable() }
            return true
        }
        guard table!.insert(member, ()) == nil else { return false }
        tableBytes += member.count
        return true
    }

    /// Removes `member`; returns whether it was present.
    @discardableResult
    public func remove(_ member: UnsafeRawBufferPointer, integer: Int64?) -> Bool {
        if table != nil {
            guard table!.remove(member) != nil else { return false }
            tableBytes -= member.count
            return true
        }
        guard let integer else { return false }
        return integers.remove(integer)
    }

    /// Takes over `other`'s members and encoding (SPOP rebuilding what remains in place, so
    /// the key keeps its TTL).
    public func replaceContents(with other: SetValue) {
        integers = other.integers
        table = other.table
        tableBytes = other.tableBytes
    }

    private func convertToHashtable() {
        var converted = ByteTable<Void>(minimumCapacity: integers.count)
        var bytes = 0
        forEach { member in
            converted.insert(member, ())
            bytes += member.count
        }
        table = converted
        tableBytes = bytes
        integers = IntSet()
    }
}
