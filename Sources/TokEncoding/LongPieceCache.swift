import CTokRuntime

/// A thread's cache of pieces too long for the ``SharedPieceCache``'s
/// 64-byte entries: 33 to 1,024 bytes (rows of `*` or `─`, Chinese clauses
/// under o200k: 5% of the mixed text's bytes, but 17% of its encoding time in
/// the kernel's tree). It lives in a ``BytePairScratch``, so only its thread
/// reads or writes it.
///
/// An open-addressing table of 4,096 slots (`hash >> 32 << 32 | word offset
/// + 1`, 0 empty) into an arena of 1 MiB holding each piece's bytes and ids,
/// emptied whole when either fills, and emptied when the pieces of another
/// vocabulary come (it holds one vocabulary's ids, ``vocabulary``). Its
/// memory is allocated at the first store.
@usableFromInline
struct LongPieceCache: Sendable {
    /// The shortest and the longest piece it holds, in bytes.
    @usableFromInline static let minBytes = SharedPieceCache.maxBytes + 1
    @usableFromInline static let maxBytes = 1024
    /// The arena's size per slot: 256 bytes.
    @usableFromInline static let arenaWordsPerSlot = 64
    @usableFromInline static let defaultSlots = 4096

    /// Slots: a power of two, or 0 when the cache is off.
    @usableFromInline let slotCount: Int
    /// The slots and the arena: empty until the first store, then
    /// `slotCount` and `arenaWordsPerSlot * slotCount` long.
    @usableFromInline var slots: ContiguousArray<UInt64> = []
    @usableFromInline var arena: ContiguousArray<UInt32> = []
    /// Arena words and slots in use.
    @usableFromInline var wordsUsed = 0, slotsUsed = 0
    /// The ``BPETables/serial`` of the vocabulary whose ids it holds (0: none yet).
    @usableFromInline var vocabulary: UInt64 = 0

    /// - Parameter slots: rounded up to a power of two (at least 4); 0 turns the cache off.
    @usableFromInline init(slots: Int = LongPieceCache.defaultSlots) {
        slotCount = slots > 0 ? max(slots, 4).roundedUpToPowerOfTwo : 0
    }

    /// Empties the cache if it holds another vocabulary's ids than `tables`'.
    @inlinable
    mutating func prepare(for tables: BPETables) {
        guard vocabulary != tables.serial else { return }
        clear()
        vocabulary = tables.serial
    }

    @usableFromInline mutating func clear() {
        if !slots.isEmpty { slots.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
        wordsUsed = 0
        slotsUsed = 0
    }

    /// Requests the slot where the probe for hash `h` starts from memory.
    @inlinable @inline(__always)
    func prefetch(hash h: UInt64) {
        guard !slots.isEmpty else { return }
        slots.withUnsafeBufferPointer { tok_prefetch($0.baseAddress! + (Int(truncatingIfNeeded: h) & (slotCount - 1))) }
    }

    /// The slot for the `n` bytes at `p` with hash `h`, and whether it holds
    /// them (else it is the empty slot to store them in). The slots are allocated.
    @inlinable
    static func probe(
        _ slots: UnsafeBufferPointer<UInt64>, _ arena: UnsafePointer<UInt32>, _ p: UnsafePointer<UInt8>, _ n: Int,
        hash h: UInt64
    ) -> (slot: Int, found: Bool) {
        let tag = h & 0xFFFF_FFFF_0000_0000
        // Fewer than half the slots are ever used, so an empty slot ends every probe.
        return OpenAddressing.probe(
            home: Int(truncatingIfNeeded: h), mask: slots.count - 1,
            isEmpty: { slots[$0] == 0 },
            matches: { i in
                let s = slots[i]
                guard s & 0xFFFF_FFFF_0000_0000 == tag else { return false }
                // An entry is [bytes, ids, the bytes in words, the ids], inside the arena.
                let e = arena + Int(s & 0xFFFF_FFFF) - 1
                return Int(e[0]) == n && bytesEqual(p, UnsafeRawPointer(e + 2), n)
            })
    }

    /// Appends the ids held for the `n` bytes at `p` (hash `h`) and returns
    /// true, or returns false.
    @inlinable
    func lookUp(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, into out: inout ContiguousArray<UInt32>) -> Bool {
        guard !slots.isEmpty else { return false }
        return slots.withUnsafeBufferPointer { slots in
            arena.withUnsafeBufferPointer { arenaBuffer in
                let arena = arenaBuffer.baseAddress!
                let (slot, found) = LongPieceCache.probe(slots, arena, p, n, hash: h)
                guard found else { return false }
                let e = arena + Int(slots[slot] & 0xFFFF_FFFF) - 1  // a stored entry, inside the arena
                out.append(contentsOf: UnsafeBufferPointer(start: e + 2 + (n + 3) / 4, count: Int(e[1])))
                return true
            }
        }
    }

    /// Holds `ids` for the `n` bytes at `p` (hash `h`), emptying the cache
    /// first if it is full.
    @inlinable
    mutating func store(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, ids: UnsafeBufferPointer<UInt32>) {
        guard slotCount > 0 else { return }
        if slots.isEmpty {
            slots = ContiguousArray(repeating: 0, count: slotCount)
            arena = ContiguousArray(repeating: 0, count: LongPieceCache.arenaWordsPerSlot * slotCount)
        }
        let words = 2 + (n + 3) / 4 + ids.count
        if wordsUsed + words > arena.count || slotsUsed >= slotCount / 2 { clear() }
        guard words <= arena.count else { return }
        let offset = wordsUsed
        let stored = slots.withUnsafeMutableBufferPointer { slots in
            arena.withUnsafeMutableBufferPointer { arenaBuffer in
                let arena = arenaBuffer.baseAddress!
                let (slot, found) = LongPieceCache.probe(UnsafeBufferPointer(slots), arena, p, n, hash: h)
                guard !found else { return false }
                let e = arena + offset  // offset + words <= arena.count, checked above
                e[0] = UInt32(n)
                e[1] = UInt32(ids.count)
                e[2 + n / 4] = 0  // zero the last, partial word
                UnsafeMutableRawPointer(e + 2).copyMemory(from: p, byteCount: n)
                (e + 2 + (n + 3) / 4).update(from: ids.baseAddress!, count: ids.count)
                slots[slot] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(offset + 1)
                return true
            }
        }
        guard stored else { return }
        wordsUsed = offset + words
        slotsUsed += 1
    }
}
