// A property wrapper for configuration values that CONFIG SET may replace while other worker
// threads read them: strings and arrays are not safe to read during a concurrent write, so
// every access goes through a small lock. Integers and enums stay plain stored properties.
#if canImport(Glibc)
import Glibc
#endif

@propertyWrapper
public final class Guarded<Value> {
    private var value: Value
    private var lock = pthread_mutex_t()

    public init(wrappedValue: Value) {
        value = wrappedValue
        pthread_mutex_init(&lock, nil)
    }

    deinit { pthread_mutex_destroy(&lock) }

    public var wrappedValue: Value {
        get {
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            return value
        }
        set {
            pthread_mutex_lock(&lock)
            value = newValue
            pthread_mutex_unlock(&lock)
        }
    }
}
