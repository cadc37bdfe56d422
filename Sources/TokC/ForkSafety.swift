import Glibc

/// What makes a forked child (multiprocessing's `fork`, a torch DataLoader's
/// workers) safe to encode in: the child has only the thread that forked,
/// so a lock another thread of the parent held at that moment stays held
/// forever, and the parent's worker threads are gone.
///
/// Each tokenizer keeps its scratch pool behind a lock; in the child, every
/// live handle gets a copy of its tokenizer with a pool and a piece cache of
/// its own (``Tokenizer/withPieceCache(entries:)``), made in the fork's
/// child handler, before the child can start a thread. The registry's own
/// lock is taken across the fork (prepare, then parent and child), so no
/// thread holds it mid-change when the process is copied.
enum ForkSafety {
    nonisolated(unsafe) private static var handles: [ObjectIdentifier: Unmanaged<EncodingHandle>] = [:]
    nonisolated(unsafe) private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        pthread_atfork({ pthread_mutex_lock(ForkSafety.lock) },
                       { pthread_mutex_unlock(ForkSafety.lock) },
                       { ForkSafety.renewAfterFork() })
        return lock
    }()

    static func register(_ handle: EncodingHandle) {
        pthread_mutex_lock(lock)
        handles[ObjectIdentifier(handle)] = Unmanaged.passUnretained(handle)
        pthread_mutex_unlock(lock)
    }

    static func unregister(_ handle: EncodingHandle) {
        pthread_mutex_lock(lock)
        handles[ObjectIdentifier(handle)] = nil
        pthread_mutex_unlock(lock)
    }

    /// In the child, with the lock held since `prepare`: fresh caches and pools.
    private static func renewAfterFork() {
        for handle in handles.values {
            let h = handle.takeUnretainedValue()
            h.tokenizer = h.tokenizer.withPieceCache(entries: h.tokenizer.pieceCacheEntries)
        }
        pthread_mutex_unlock(lock)
    }
}
