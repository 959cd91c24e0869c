// Transparent huge pages for the heap. Keys and values are scattered over the heap, so the
// random samples of eviction and the lookups of a large keyspace miss the TLB on most
// entries; with 2 MB pages they mostly do not (measured under eviction at maxmemory 32mb:
// +10% ops per CPU-second, for +2 bytes of RSS per key). Redis turns huge pages off because
// a forked child's copy-on-write would copy 2 MB at a time; Swiftlet never forks.
//
// glibc's malloc asks for huge pages only with its glibc.malloc.hugetlb tunable, read when
// the process starts, so the server executes itself again, once, with the tunable set: same
// PID, arguments and descriptors. It does not when GLIBC_TUNABLES already names the tunable
// (glibc.malloc.hugetlb=0 opts out; under valgrind the second run would escape the tool, so
// profile with the tunable set) or the kernel's THP mode is not "madvise" ("always" needs
// nothing, "never" allows nothing). The tunable covers the main heap, where worker 0 (the
// main thread) allocates; the other threads allocate from glibc's thread heaps, 64 MB
// regions grown in place that it leaves out, so each worker advises its current heap from
// its cron (`adviseThreadHeap`) for the kernel's khugepaged to collapse.
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
        // The executable's path rather than /proc/self/exe, which under a loader or a tool
        // such as valgrind is that program, not the server.
        var path = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &path, Int(PATH_MAX))
        guard length > 0 else { return }
        let setting = hugePagesTunable + "=1"
        setenv(tunablesVariable, tunables.isEmpty ? setting : tunables + ":" + setting, 1)
        execv(path, CommandLine.unsafeArgv)
        // Still here: run on ordinary pages, with the environment as it was.
        if tunables.isEmpty { unsetenv(tunablesVariable) } else { setenv(tunablesVariable, tunables, 1) }
    }

    /// Whether malloc asks for huge pages in this process (the tunable is on).
    static let enabled: Bool = {
        guard let tunables = getenv(tunablesVariable) else { return false }
        return String(cString: tunables).split(separator: ":").contains { $0 == hugePagesTunable + "=1" }
    }()

    /// glibc's thread heaps: regions of this size, aligned to it.
    static let threadHeapSize = 64 << 20

    /// Advises the thread heap the calling thread allocates from, if it is not `advised`
    /// (updated): a malloc and a compare when nothing changed; /proc/self/maps is read only
    /// for a heap not seen before (glibc starts another when one fills).
    static func adviseThreadHeap(advised: inout UInt) {
        guard enabled, let probe = malloc(64) else { return }
        let base = UInt(bitPattern: probe) & ~UInt(threadHeapSize - 1)
        free(probe)
        guard base != advised else { return }
        advised = base
        guard anonymousMappingStarts(at: base), let start = UnsafeMutableRawPointer(bitPattern: base) else { return }
        madvise(start, threadHeapSize, MADV_HUGEPAGE)
    }

    /// Whether an anonymous mapping starts at `address` (a thread heap's reservation does;
    /// the main heap and everything else do not, or are not anonymous).
    private static func anonymousMappingStarts(at address: UInt) -> Bool {
        guard let file = fopen("/proc/self/maps", "r") else { return false }
        defer { fclose(file) }
        let prefix = String(address, radix: 16) + "-"
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            guard text.hasPrefix(prefix) else { continue }
            // start-end perms offset device inode [path]: anonymous ones have no path.
            return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).count == 5
        }
        return false
    }

    private static func kernelModeIsMadvise() -> Bool {
        guard let file = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r") else { return false }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 128)
        guard fgets(&line, Int32(line.count), file) != nil else { return false }
        return line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.contains("[madvise]")
    }
}
