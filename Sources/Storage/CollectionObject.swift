// The contract every collection value (list, set, sorted set, hash) fulfils so that the
// keyspace can hold it by reference in an entry: its kind, the encoding name Redis would
// report, its memory footprint for accounting, and a deep copy for COPY. The concrete types
// live beside it in Storage (ListValue, SetValue, ZSetValue, HashValue).

public protocol CollectionObject: AnyObject {
    /// The entry kind that holds this type.
    static var kind: ValueKind { get }
    /// What OBJECT ENCODING reports ("listpack", "quicklist", "intset", "hashtable", "skiplist").
    var encodingName: String { get }
    /// Number of elements (fields for hashes); an empty collection is deleted with its key.
    var count: Int { get }
    /// Approximate bytes held, kept current by every mutation (shard memory accounting).
    var memoryUsage: Int { get }
    /// An independent copy with the same encoding.
    func duplicate() -> Self
}
