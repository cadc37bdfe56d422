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
/// vocabulary come (it holds one vocabulary's ids, ``vocabulary``). The
/// slots are allocated at the first store, and the arena's pages are touched
/// only as it fills.
@usableFromInline
struct LongPieceCache: Sendable {
    /// The longest piece it holds, in bytes (the shortest is one more than
    /// the shared cache's longest).
    @usableFromInline static let maxBytes = 1024
    /// The arena's size per slot: 256 bytes.
    @usableFromInline static let arenaWordsPerSlot = 64
    @usableFromInline static let defaultSlots = 4096

    /// Slots: a power of two, or 0 when the cache is off.
    @usableFromInline let slotCount: Int
    /// Empty until the first store, then `slotCount` long.
    @usableFromInline var slots: ContiguousArray<UInt64> = []
    /// The entries stored, back to back, each `[bytes, ids, the bytes in
    /// words, the ids]`; at most ``arenaWords`` words (its capacity, reserved
    /// at the first store).
    @usableFromInline var arena: ContiguousArray<UInt32> = []
    @usableFromInline var slotsUsed = 0
    /// The ``BPETables/serial`` of the vocabulary whose ids it holds (0: none yet).
    @usableFromInline var vocabulary: UInt64 = 0

    /// - Parameter slots: rounded up to a power of two (at least 4); 0 turns the cache off.
    @usableFromInline init(slots: Int = LongPieceCache.defaultSlots) {
        slotCount = slots > 0 ? max(slots, 4).roundedUpToPowerOfTwo : 0
    }

    @inlinable var arenaWords: Int { LongPieceCache.arenaWordsPerSlot * slotCount }

    /// Empties the cache if it holds another vocabulary's ids than `tables`'.
    @inlinable
    mutating func prepare(for tables: BPETables) {
        guard vocabulary != tables.serial else { return }
        clear()
        vocabulary = tables.serial
    }

    @usableFromInline mutating func clear() {
        if !slots.isEmpty { slots.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
        arena.removeAll(keepingCapacity: true)
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
        _ slots: UnsafeBufferPointer<UInt64>, _ arena: UnsafeBufferPointer<UInt32>, _ p: UnsafePointer<UInt8>, _ n: Int,
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
                // A used slot's entry lies inside the arena, which is then not empty.
                let e = arena.baseAddress! + Int(s & 0xFFFF_FFFF) - 1
                return Int(e[0]) == n && bytesEqual(p, UnsafeRawPointer(e + 2), n)
            })
    }

    /// Appends the ids held for the `n` bytes at `p` (hash `h`) and returns
    /// true, or returns false.
    @inlinable
    func lookUp(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, into out: inout ContiguousArray<UInt32>) -> Bool {
        guard !slots.isEmpty else { return false }
        return slots.withUnsafeBufferPointer { slots in
            arena.withUnsafeBufferPointer { arena in
                let (slot, found) = LongPieceCache.probe(slots, arena, p, n, hash: h)
                guard found else { return false }
                let e = arena.baseAddress! + Int(slots[slot] & 0xFFFF_FFFF) - 1  // a stored entry, inside the arena
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
            arena.reserveCapacity(arenaWords)
        }
        let byteWords = (n + 3) / 4, words = 2 + byteWords + ids.count
        if arena.count + words > arenaWords || slotsUsed >= slotCount / 2 { clear() }
        guard words <= arenaWords else { return }
        let (slot, found) = slots.withUnsafeBufferPointer { slots in
            arena.withUnsafeBufferPointer { LongPieceCache.probe(slots, $0, p, n, hash: h) }
        }
        guard !found else { return }
        let offset = arena.count
        arena.append(UInt32(n))
        arena.append(UInt32(ids.count))
        arena.append(contentsOf: repeatElement(0, count: byteWords))
        arena.withUnsafeMutableBufferPointer { a in
            UnsafeMutableRawPointer(a.baseAddress! + offset + 2).copyMemory(from: p, byteCount: n)  // byteWords words, just appended
        }
        arena.append(contentsOf: ids)
        slots[slot] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(offset + 1)
        slotsUsed += 1
    }
}
