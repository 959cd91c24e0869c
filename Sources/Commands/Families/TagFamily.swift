// Swiftlet's tag invalidation commands (not in Redis): attach tags to keys, then delete every
// key of a tag at once, the job cache-aside users otherwise do with hand-kept sets and a
// script. Membership lives in each key's shard (Storage/TagIndex.swift) and is dropped when
// the key goes away or gets a whole new value: DEL/UNLINK/GETDEL, a collection emptied, SET,
// MSET, COPY/RENAME/…STORE onto it, expiry (lazy or active), eviction, FLUSHDB/FLUSHALL. Edits
// of the value (APPEND, INCR, SETRANGE, HSET, LPUSH…) and TTL changes keep the tags. Tags do
// not follow a key moved by RENAME, MOVE or COPY; SWAPDB swaps them with their database.
// DIVERGENCE (beyond Redis): tags are not saved in RDB/AOF files, so they do not survive a
// restart (TAG.INVALIDATE reaches the AOF as the DELs it made). A tag's keys may live in every shard: TAG.KEYS, TAG.COUNT and TAG.INVALIDATE visit
// the shards one at a time, each atomically (a key tagged in a shard the command has already
// visited survives the invalidation).
import RESP
import Storage

public enum TagFamily {
    public static let specs: [CommandSpec] = [
        CommandSpec("tag.add", arity: -3, flags: [.write, .denyoom], acl: [.keyspace],
                    keys: [KeySpec([.RW, .update], .index(2), .range(lastKey: -1, step: 1, limit: 0),
                                   notes: "the key's tags change, not its value")],
                    group: .generic, since: ServerIdentity.swiftletVersion,
                    summary: "Attach a tag to existing keys, so that invalidating the tag deletes them.",
                    complexity: "O(N) where N is the number of keys given.",
                    arguments: [CommandArgument("tag", .string), .key(flags: .multiple)],
                    handler: add),
        CommandSpec("tag.rem", arity: -3, flags: [.write, .fast], acl: [.keyspace],
                    keys: [KeySpec([.RW, .update], .index(2), .range(lastKey: -1, step: 1, limit: 0),
                                   notes: "the key's tags change, not its value")],
                    group: .generic, since: ServerIdentity.swiftletVersion,
                    summary: "Detach a tag from keys, leaving the keys in place.",
                    complexity: "O(N) where N is the number of keys given.",
                    arguments: [CommandArgument("tag", .string), .key(flags: .multiple)],
                    handler: remove),
        CommandSpec("tag.keys", arity: 2, flags: [.readonly], acl: [.keyspace],
                    tips: ["nondeterministic_output_order"],
                    group: .generic, since: ServerIdentity.swiftletVersion,
                    summary: "List the live keys that carry a tag in the selected database.",
                    complexity: "O(S+N) where S is the number of shards and N the number of keys with the tag.",
                    arguments: [CommandArgument("tag", .string)],
                    handler: keys),
        CommandSpec("tag.count", arity: 2, flags: [.readonly], acl: [.keyspace],
                    group: .generic, since: ServerIdentity.swiftletVersion,
                    summary: "Count the live keys that carry a tag in the selected database.",
                    complexity: "O(S+N) where S is the number of shards and N the number of keys with the tag.",
                    arguments: [CommandArgument("tag", .string)],
                    handler: count),
        CommandSpec("tag.tags", arity: 2, flags: [.readonly, .fast], acl: [.keyspace],
                    keys: [KeySpec.single([.RO])],
                    tips: ["nondeterministic_output_order"],
                    group: .generic, since: ServerIdentity.swiftletVersion,
                    summary: "List the tags a key carries.",
                    complexity: "O(N) where N is the number of tags of the key.",
                    arguments: [.key()],
                    handler: tags),
        CommandSpec("tag.invalidate", arity: -2, flags: [.write], acl: [.keyspace],
                    group: .generic, since: ServerIdentity.swiftletVersion,
                    summary: "Delete every key that carries any of the given tags in the selected database.",
                    complexity: "O(S+N) where S is the number of shards and N the number of keys deleted.",
                    arguments: [CommandArgument("tag", .string, flags: .multiple)],
                    handler: invalidate),
    ]

    // MARK: TAG.ADD / TAG.REM tag key [key ...]

    /// Tags each existing key (a missing or expired key is left alone and not counted).
    static func add(_ c: CommandContext) {
        changeTags(c) { shard, tag, link in shard.addTag(tag, db: c.session.db, at: link) }
    }

    static func remove(_ c: CommandContext) {
        changeTags(c) { shard, tag, link in shard.removeTag(tag, db: c.session.db, at: link) }
    }

    /// Applies `change` to each existing key among the arguments and replies how many it
    /// changed.
    private static func changeTags(_ c: CommandContext, _ change: (Shard, UnsafeRawBufferPointer, EntryLink) -> Bool) {
        let tag = c.args[1]
        var changed = 0
        c.withEachKey(stride(from: 2, to: c.args.count, by: 1)) { shard, key, hash in
            guard let link = c.lookupWrite(shard, key, hash) else { return }
            if change(shard, tag, link) { changed += 1 }
        }
        c.reply.integer(changed)
    }

    // MARK: TAG.KEYS / TAG.COUNT tag

    static func keys(_ c: CommandContext) {
        let start = c.reply.deferredStart()
        var found = 0
        forEachLiveKey(c, tag: c.args[1]) { key in
            c.reply.bulk(key)
            found += 1
        }
        c.reply.deferredSet(at: start, count: found)
    }

    static func count(_ c: CommandContext) {
        var found = 0
        forEachLiveKey(c, tag: c.args[1]) { _ in found += 1 }
        c.reply.integer(found)
    }

    /// Calls `body` with every key of the selected database carrying `tag` that has not
    /// expired (expired ones are left for expiry to delete: these commands only read).
    private static func forEachLiveKey(_ c: CommandContext, tag: UnsafeRawBufferPointer,
                                       _ body: (UnsafeRawBufferPointer) -> Void) {
        let db = c.session.db
        for shard in c.keyspace.shards {
            shard.withLock {
                shard.forEachTaggedKey(tag, db: db) { key in
                    if shard.find(db: db, key: key, hash: KeyHash.hash(key), now: c.now, expireKeys: false) != nil { body(key) }
                }
            }
        }
    }

    // MARK: TAG.TAGS key

    static func tags(_ c: CommandContext) {
        c.withKey(1) { shard, key, hash in
            let found = c.lookupWrite(shard, key, hash) == nil ? [] : shard.tags(of: key, db: c.session.db)
            c.reply.setHeader(found.count)
            for tag in found { c.reply.bulk(tag) }
        }
    }

    // MARK: TAG.INVALIDATE tag [tag ...]

    /// Deletes the keys of every given tag, shard by shard, as DEL would (keyspace event
    /// "del", modified-key signal, lazy freeing under `lazyfree-lazy-user-del`), and replies
    /// how many keys it deleted.
    static func invalidate(_ c: CommandContext) {
        let db = c.session.db
        let freer = c.server.config.lazyfreeLazyUserDel ? c.server.lazyFreer : nil
        var deleted = 0
        // Tags are not in the AOF, so the deletions propagate as DELs, shard by shard.
        c.preventCommandPropagation()
        for shard in c.keyspace.shards {
            shard.withLock {
                for index in 1..<c.args.count {
                    for key in shard.taggedKeys(c.args[index], db: db) {
                        key.withUnsafeBytes { key in
                            let hash = KeyHash.hash(key)
                            guard let link = c.lookupWrite(shard, key, hash) else { return }
                            shard.remove(db: db, at: link, hash: hash, freer: freer)
                            c.notifyKeyspaceEvent(.generic, "del", key)
                            c.signalModifiedKey(key)
                            c.alsoPropagate { command in
                                command.add("DEL")
                                command.add(key)
                            }
                            deleted += 1
                        }
                    }
                }
                c.commitEffects()
            }
        }
        c.reply.integer(deleted)
    }
}
