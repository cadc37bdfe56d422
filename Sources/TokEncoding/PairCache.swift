/// A thread's cache of the kernel's pair lookups (``BPETables/pair(_:_:_:)``):
/// the pair table of a large vocabulary is tens of MiB, read at DRAM latency,
/// while the pairs a text's merges ask for repeat. It lives in a
/// ``BytePairScratch``, so only its thread reads or writes it.
///
/// Direct-mapped, 16,384 entries of two words, `key, value` for a pair of ids
/// and its ``BPETables/pair(_:_:)``; `UInt64.max` keys are empty (no pair of
/// ids below 2^32 - 1 has that key). It holds one vocabulary's pairs
/// (``vocabulary``) and is emptied when another's come. Its memory is
/// allocated at first use.
@usableFromInline
struct PairCache: Sendable {
    @usableFromInline static let defaultEntries = 1 << 14

    /// Entries: a power of two, or 0 when the cache is off.
    @usableFromInline let entries: Int
    @usableFromInline let shift: UInt64
    /// `2 * entries` words once used, empty before.
    @usableFromInline var slots: ContiguousArray<UInt64> = []
    /// The ``BPETables/serial`` of the vocabulary whose pairs it holds.
    @usableFromInline var vocabulary: UInt64 = 0

    /// - Parameter entries: rounded up to a power of two (at least 4); 0 turns the cache off.
    @usableFromInline init(entries: Int = PairCache.defaultEntries) {
        self.entries = entries > 0 ? max(entries, 4).roundedUpToPowerOfTwo : 0
        shift = UInt64(64 - max(self.entries, 1).trailingZeroBitCount)
    }

    /// Calls `body` with the cache's entries for `tables`' vocabulary (emptied
    /// first if they held another's), or with nil when the cache is off.
    @inlinable @inline(__always)
    mutating func withView<R>(for tables: BPETables, _ body: (PairCacheView?) -> R) -> R {
        guard entries > 0 else { return body(nil) }
        if vocabulary != tables.serial {
            if slots.isEmpty {
                slots = ContiguousArray(repeating: .max, count: 2 * entries)
            } else {
                slots.withUnsafeMutableBufferPointer { $0.update(repeating: .max) }
            }
            vocabulary = tables.serial
        }
        let shift = self.shift
        return slots.withUnsafeMutableBufferPointer { body(PairCacheView(slots: $0.baseAddress!, shift: shift)) }
    }
}

/// A ``PairCache``'s entries as plain data for the kernel, valid inside
/// ``PairCache/withView(for:_:)``.
@usableFromInline
struct PairCacheView {
    @usableFromInline let slots: UnsafeMutablePointer<UInt64>
    @usableFromInline let shift: UInt64

    @inlinable init(slots: UnsafeMutablePointer<UInt64>, shift: UInt64) {
        self.slots = slots
        self.shift = shift
    }

    /// The entry (`key, value`) a pair's key maps to.
    @inlinable @inline(__always)
    func entry(for key: UInt64) -> UnsafeMutablePointer<UInt64> {
        slots + 2 * OpenAddressing.fibonacci(key, shift: shift)  // < 2 * entries
    }
}
