// A hash value with Redis's two encodings: `listpack` (field/value pairs in insertion order in
// one contiguous Listpack, scanned linearly) while the hash is small, and `hashtable` (a
// ByteTable, with Redis's growth-safe SCAN cursor) once it has more than `hash-max-listpack-entries` fields or a
// field or value longer than `hash-max-listpack-value` bytes. Conversion is one way, as in
// Redis, so OBJECT ENCODING reports what Redis would.

public final class HashValue: CollectionObject {
    public static var kind: ValueKind { .hash }

    /// Field/value pairs while listpack-encoded (fields at even indexes).
    private var pairs = Listpack()
    /// The table once hashtable-encoded (then `pairs` is empty).
    private var table: ByteTable<[UInt8]>?
    /// Bytes of fields and values held by `table`, for the memory estimate.
    private var tableBytes = 0

    /// Bookkeeping per table entry: two array headers plus the dictionary slot.
    private static let tableEntryOverhead = 80

    public init() {}

    public var isListpack: Bool { table == nil }
    public var encodingName: String { table == nil ? "listpack" : "hashtable" }
    public var count: Int { table?.count ?? pairs.count / 2 }

    public var memoryUsage: Int {
        table == nil ? 48 + pairs.byteCount : 48 + tableBytes + count * HashValue.tableEntryOverhead
    }

    public func duplicate() -> HashValue {
        let copy = HashValue()
        copy.pairs = pairs
        copy.table = table
        copy.tableBytes = tableBytes
        return copy
    }

    // MARK: Reading

    /// Listpack index of `field`'s value, when listpack-encoded and present.
    private func valueIndex(of field: UnsafeRawBufferPointer) -> Int? {
        pairs.firstIndex(of: field, stride: 2).map { $0 + 1 }
    }

    public func contains(_ field: UnsafeRawBufferPointer) -> Bool {
        if let table { return table.slot(of: field) != nil }
        return valueIndex(of: field) != nil
    }

    /// Calls `body` with the value of `field`, or returns nil when the field is absent.
    public func withValue<T>(_ field: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> T) -> T? {
        if let table {
            return table.slot(of: field).map { table.value(at: $0).withUnsafeBytes(body) }
        }
        guard let index = valueIndex(of: field) else { return nil }
        return pairs.withElement(at: index, body)
    }

    /// Calls `body` with each field and value in encoding order (insertion order for listpack).
    public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        if let table {
            table.forEach { visit(table, $0, body) }
            return
        }
        var field = UnsafeRawBufferPointer(start: nil, count: 0)
        pairs.forEach { index, element in
            if index % 2 == 0 { field = element } else { body(field, element) }
            return true
        }
    }

    private func visit(_ table: ByteTable<[UInt8]>, _ slot: Int,
                       _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        table.key(at: slot).withUnsafeBytes { field in table.value(at: slot).withUnsafeBytes { body(field, $0) } }
    }

    /// One HSCAN step from `cursor`, returning the next cursor: a listpack is visited whole
    /// (cursor 0), a hashtable one bucket at a time.
    public func scan(cursor: UInt64, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) -> UInt64 {
        guard let table else {
            forEach(body)
            return 0
        }
        return table.scan(cursor: cursor) { visit(table, $0, body) }
    }

    /// A uniformly chosen field and its value (the hash must not be empty).
    public func randomPair() -> (field: [UInt8], value: [UInt8]) {
        if let table {
            let slot = table.randomSlot()
            return (table.key(at: slot), table.value(at: slot))
        }
        let index = Int.random(in: 0..<count) * 2
        return (pairs.element(at: index), pairs.element(at: index + 1))
    }

    /// Every field and value, in encoding order.
    public func allPairs() -> [(field: [UInt8], value: [UInt8])] {
        var result: [(field: [UInt8], value: [UInt8])] = []
        result.reserveCapacity(count)
        forEach { result.append((Array($0), Array($1))) }
        return result
    }

    // MARK: Writing

    /// Sets `field` to `value`; returns true when the field is new. Converts to hashtable when
    /// either is longer than `maxValue` or the hash grows past `maxEntries` fields.
    @discardableResult
    public func set(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
                    maxEntries: Int, maxValue: Int) -> Bool {
        if table == nil && (field.count > maxValue || value.count > maxValue) { convertToHashtable() }
        if table != nil {
            let old = table!.insert(field, Array(value))
            tableBytes += value.count - (old?.count ?? -field.count)
            return old == nil
        }
        if let index = valueIndex(of: field) {
            pairs.replace(at: index, with: value)
            return false
        }
        pairs.append(field)
        pairs.append(value)
        if count > maxEntries { convertToHashtable() }
        return true
    }

    /// Removes `field`; returns whether it was present.
    @discardableResult
    public func remove(_ field: UnsafeRawBufferPointer) -> Bool {
        if table != nil {
            guard let old = table!.remove(field) else { return false }
            tableBytes -= field.count + old.count
            return true
        }
        guard let index = valueIndex(of: field) else { return false }
        pairs.remove(at: index - 1, length: 2)
        pairs.shrinkToFit()
        return true
    }

    /// Switches a listpack to the hashtable encoding (one way, as in Redis).
    public func convertToHashtable() {
        guard table == nil else { return }
        var converted = ByteTable<[UInt8]>(minimumCapacity: count)
        var bytes = 0
        forEach { field, value in
            converted.insert(field, Array(value))
            bytes += field.count + value.count
        }
        table = converted
        tableBytes = bytes
        pairs = Listpack()
    }
}
