// Background freeing, Redis's lazyfree: UNLINK, FLUSHDB/FLUSHALL ASYNC and the
// lazyfree-lazy-user-* settings unlink values at once but hand the freeing of large ones (and
// of whole detached tables) to one background thread, so neither the client nor the shard
// lock it holds waits for thousands of free() calls. INFO's lazyfree_pending_objects and
// lazyfreed_objects count the work as Redis does: one per value, one per key of a table.
#if canImport(Glibc)
import Glibc
#endif

public final class LazyFreer {
    /// Values whose freeing costs more than this many steps go to the background (Redis's
    /// LAZYFREE_THRESHOLD); cheaper ones are freed on the spot.
    public static let effortThreshold = 64

    private var mutex = pthread_mutex_t()
    private var wakeUp = pthread_cond_t()
    private var jobs: [(objects: Int, work: () -> Void)] = []
    private var pending = 0
    private var freed = 0
    private var started = false

    public init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wakeUp, nil)
    }

    /// Objects handed over and not freed yet.
    public var pendingObjects: Int { locked { pending } }
    /// Objects freed in the background since start-up or CONFIG RESETSTAT.
    public var freedObjects: Int { locked { freed } }

    public func resetStats() { locked { freed = 0 } }

    /// Queues `work` (which frees `objects` objects) for the background thread.
    public func submit(objects: Int, _ work: @escaping () -> Void) {
        locked {
            jobs.append((objects, work))
            pending += objects
            if !started {
                started = true
                startThread()
            }
        }
        pthread_cond_signal(&wakeUp)
    }

    private func startThread() {
        var thread = pthread_t()
        let me = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { arg in
            Unmanaged<LazyFreer>.fromOpaque(arg!).takeRetainedValue().serve()
            return nil
        }, me)
        pthread_detach(thread)
    }

    /// The background thread (started on first use, it keeps the freer alive for the rest of
    /// the process): runs jobs in order; a job's captures (the values it frees) are released
    /// here, when it goes out of scope.
    private func serve() {
        while true {
            let objects: Int
            do {
                pthread_mutex_lock(&mutex)
                while jobs.isEmpty { pthread_cond_wait(&wakeUp, &mutex) }
                let job = jobs.removeFirst()
                pthread_mutex_unlock(&mutex)
                job.work()
                objects = job.objects
            }
            locked {
                pending -= objects
                freed += objects
            }
        }
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
