// The cluster command group as a standalone Redis answers it: Swiftlet runs without cluster
// support, so READONLY, READWRITE and ASKING, which clients send to cluster nodes, reply
// Redis's "cluster support disabled" error rather than an unknown command.
// CLUSTER itself is not implemented (an unknown command here).
public enum ClusterFamily {
    static let disabled = "ERR This instance has cluster support disabled"

    public static let specs: [CommandSpec] = [
        CommandSpec("readonly", arity: 1, flags: [.fast, .loading, .stale], acl: [.connection], group: .cluster,
                    since: "3.0.0", summary: "Let a cluster replica serve reads (not available: no cluster support).",
                    complexity: "O(1)", handler: { $0.error(disabled) }),
        CommandSpec("readwrite", arity: 1, flags: [.fast, .loading, .stale], acl: [.connection], group: .cluster,
                    since: "3.0.0", summary: "End READONLY on a cluster replica (not available: no cluster support).",
                    complexity: "O(1)", handler: { $0.error(disabled) }),
        CommandSpec("asking", arity: 1, flags: [.fast], acl: [.connection], group: .cluster, since: "3.0.0",
                    summary: "Follow an ASK redirection to a cluster node (not available: no cluster support).",
                    complexity: "O(1)", handler: { $0.error(disabled) }),
    ]
}
