// Transparent huge pages for the heap. Keys and values are scattered over the heap, so the
// random samples of eviction and the lookups of a large keyspace miss the TLB on most
// entries; with 2 MB pages they mostly do not (measured under eviction at maxmemory 32mb:
// +10% ops per CPU-second, for +2 bytes of RSS per key). Redis turns huge pages off because
// a forked child's copy-on-write would copy 2 MB at a time; Swiftlet never forks.
//
// glibc's malloc asks for huge pages only with its glibc.malloc.hugetlb tunable, read when
// the process starts, so the server executes itself again, once, with the tunable set: same
// PID, arguments and descriptors. It does not when GLIBC_TUNABLES already names the tunable
// (glibc.malloc.hugetlb=0 opts out) or the kernel's THP mode is not "madvise" ("always"
// needs nothing, "never" allows nothing).
#if canImport(Glibc)
import Glibc
#endif

public enum HugePages {
    static let tunablesVariable = "GLIBC_TUNABLES"
    static let hugePagesTunable = "glibc.malloc.hugetlb"

    /// Re-executes the server with glibc's huge-page tunable set when that would change
    /// anything; returns only when it does not (or the exec fails).
    public static func reexecuteIfUseful() {
        let tunables = getenv(tunablesVariable).map { String(cString: $0) } ?? ""
        guard !tunables.contains(hugePagesTunable), kernelModeIsMadvise() else { return }
        let setting = hugePagesTunable + "=1"
        setenv(tunablesVariable, tunables.isEmpty ? setting : tunables + ":" + setting, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Still here: run on ordinary pages, with the environment as it was.
        if tunables.isEmpty { unsetenv(tunablesVariable) } else { setenv(tunablesVariable, tunables, 1) }
    }

    private static func kernelModeIsMadvise() -> Bool {
        guard let file = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r") else { return false }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 128)
        guard fgets(&line, Int32(line.count), file) != nil else { return false }
        return line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.contains("[madvise]")
    }
}
