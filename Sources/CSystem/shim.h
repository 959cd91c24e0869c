// glibc interfaces that Swift's Glibc module does not export: allocation sizes for memory
// accounting, getrandom for hash seeds and run ids, mallinfo2 and sysinfo for INFO memory,
// a cycle counter for timing commands without a system call, relaxed atomic counters
// (the server-wide used-memory tally that eviction reads from every worker), lowering one
// thread's scheduling priority (background saves), and moving the environment (the process
// title takes its place).
#ifndef SWIFTLET_CSYSTEM_SHIM_H
#define SWIFTLET_CSYSTEM_SHIM_H
#include <malloc.h>
#include <stdint.h>
#include <time.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

/// A monotonic tick counter: the TSC on x86-64 (constant-rate on every CPU this runs on
/// in practice), else CLOCK_MONOTONIC in nanoseconds.
static inline uint64_t swiftlet_ticks(void) {
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

/// Gives the calling thread (not the whole process) the nice value `nice`.
static inline void swiftlet_nice_current_thread(int nice) {
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}

extern char **environ;

/// Points the process at another copy of its environment.
static inline void swiftlet_set_environ(char **variables) {
    environ = variables;
}

/// Asks the CPU to start loading `address` into cache (a hint; never faults).
static inline void swiftlet_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/// Adds `delta` to `*counter` atomically (relaxed ordering: a running total, no fences).
static inline void swiftlet_atomic_add(int64_t *counter, int64_t delta) {
    __atomic_fetch_add(counter, delta, __ATOMIC_RELAXED);
}

static inline int64_t swiftlet_atomic_load(const int64_t *counter) {
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

static inline void swiftlet_atomic_store(int64_t *counter, int64_t value) {
    __atomic_store_n(counter, value, __ATOMIC_RELAXED);
}

/// Sets the bits of `bits` in `*mask` atomically (relaxed).
static inline void swiftlet_atomic_or(int64_t *mask, int64_t bits) {
    __atomic_fetch_or(mask, bits, __ATOMIC_RELAXED);
}

/// Keeps only the bits of `bits` in `*mask` atomically (relaxed).
static inline void swiftlet_atomic_and(int64_t *mask, int64_t bits) {
    __atomic_fetch_and(mask, bits, __ATOMIC_RELAXED);
}
#endif
