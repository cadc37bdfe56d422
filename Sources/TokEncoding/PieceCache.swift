import Synchronization
import TokRuntime
import CTokRuntime

/// A bounded cache from a short piece's bytes to its ids, one per thread (it
/// lives in ``BytePairScratch``). Text repeats its pieces: in 5 MB of each
/// gathered domain under o200k, 97% of English pieces and 88% of Chinese ones
/// were seen before. A hit skips the vocabulary's lookup table and the merges.
///
/// Direct-mapped: entry `hash >> shift` is one 64-byte line, eight words:
/// the piece's bytes zero-padded to 32 (words 0-3), a head word (its length,
/// id count, a sequence number and the first id: word 4), and up to six
/// more ids (words 5-7). A piece replaces whatever held its entry, so the
/// cache never grows and what it returns never depends on what it evicted:
/// an entry is only read back for exactly the same bytes, and holds exactly
/// what the kernel made of them. Pieces of more than 7 ids are not cached.
///
/// The entries may be shared by threads (the workers of one stream, see
/// ``Tokenizer/encodeStream(blockSize:chunkSize:threads:allowedSpecial:read:emit:)``)
/// without a lock: a writer makes the head's sequence number odd while it
/// writes the entry (giving up if another writer has), then even again; a
/// reader keeps what it read only if the head did not change meanwhile and
/// its number was even (a sequence lock per entry).
///
/// Pieces of 33 to 1,024 bytes (rows of `*` or `─`, Chinese clauses under
/// o200k: 5% of the mixed text's bytes, but 17% of its encoding time in the
/// kernel's tree) go to a second, smaller cache: an open-addressing table of
/// 4,096 slots (a power of two) into an arena of 1 MiB holding each piece's bytes and ids,
/// emptied whole when either fills.
@usableFromInline
final class PieceCacheStorage: @unchecked Sendable {  // the long-piece and pair caches and `owner` are reached only through BytePairScratch.pieceCache(for:), which hands a mutating owner a cache no other scratch holds; the entries, which ScratchPool.sharedCache(for:) may share, only through the sequence lock of PieceCacheView
    @usableFromInline let entries: UnsafeMutablePointer<UInt64>
    @usableFromInline let shift: UInt64
    @usableFromInline let count: Int
    /// The long-piece cache: slots (`hash >> 32 << 32 | word offset + 1`, 0
    /// empty), the arena, and its two counters (words used, slots used).
    @usableFromInline let longSlots: UnsafeMutablePointer<UInt64>
    @usableFromInline let longArena: UnsafeMutablePointer<UInt32>
    @usableFromInline let longUsed: UnsafeMutablePointer<Int>
    /// The pair cache: `2 * pairEntries` words, `key, value` for a pair of ids
    /// and its ``BPETables/pair(_:_:)``; `UInt64.max` keys are empty (no pair
    /// of ids below 2^32 - 1 has that key).
    @usableFromInline let pairSlots: UnsafeMutablePointer<UInt64>
    @usableFromInline let pairShift: UInt64
    @usableFromInline let pairEntries: Int
    /// The ``TableStorage/serial`` of the vocabulary whose ids these are.
    @usableFromInline var owner: UInt64 = 0

    /// The long-piece cache's size: 4,096 slots and 1 MiB, less for a small
    /// cache (1 slot per 16 entries and 256 bytes per slot), so that a tiny
    /// cache evicts both kinds of piece.
    @usableFromInline let longSlotCount: Int

    /// Entries: a power of two, at least 1.
    @usableFromInline init(entries count: Int) {
        self.count = count
        shift = UInt64(64 - count.trailingZeroBitCount)
        // Zeroed already: an empty cache, paid for page by page as it fills.
        entries = HugePages.allocate(bytes: count * 64).bindMemory(to: UInt64.self, capacity: count * 8)
        longSlotCount = min(4096, max(count / 16, 4))
        longSlots = .allocate(capacity: longSlotCount)
        longSlots.initialize(repeating: 0, count: longSlotCount)
        longArena = .allocate(capacity: PieceCacheView.arenaWordsPerSlot * longSlotCount)
        longUsed = .allocate(capacity: 2)
        longUsed.initialize(repeating: 0, count: 2)
        pairEntries = min(1 << 14, max(count, 4))
        pairShift = UInt64(64 - pairEntries.trailingZeroBitCount)
        pairSlots = .allocate(capacity: 2 * pairEntries)
        pairSlots.initialize(repeating: .max, count: 2 * pairEntries)
    }

    @usableFromInline func clear() {
        entries.update(repeating: 0, count: count * 8)
        view.clearLong()
        pairSlots.update(repeating: .max, count: 2 * pairEntries)
    }

    deinit {
        HugePages.release(entries, bytes: count * 64)
        longSlots.deallocate()
        longArena.deallocate()
        longUsed.deallocate()
        pairSlots.deallocate()
    }
}

/// The longest piece the cache holds, in bytes, and the most ids.
@usableFromInline let pieceCacheMaxBytes = 32
@usableFromInline let pieceCacheMaxIds = 7

/// A piece's bytes as four zero-padded little-endian words: its cache key.
@usableFromInline
struct PieceKey {
    @usableFromInline var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0

    /// The `n` (1...32) bytes at `p`; `end` is the end of the readable buffer.
    @inlinable @inline(__always)
    init(_ p: UnsafePointer<UInt8>, _ n: Int, end: UnsafePointer<UInt8>) {
        let raw = UnsafeRawPointer(p)
        if end - p >= 32 {
            // All 32 bytes are readable; the bytes past the piece are masked off.
            // A smart shift by 64 or more gives 0, so `~0 >> (64 - bits)` is 0 for no bytes.
            @inline(__always) func masked(_ k: Int) -> UInt64 {
                let bits = min(max(n - 8 * k, 0), 8) * 8
                return raw.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self) & (~UInt64(0) >> UInt64(64 - bits))
            }
            w0 = masked(0)
            if n > 8 {
                w1 = masked(1)
                if n > 16 {
                    w2 = masked(2)
                    w3 = masked(3)
                }
            }
        } else {
            // Near the end of the buffer: byte by byte (k < n, inside the piece).
            for k in 0 ..< n {
                let b = UInt64(p[k]) << UInt64(8 * (k & 7))
                switch k >> 3 {
                case 0: w0 |= b
                case 1: w1 |= b
                case 2: w2 |= b
                default: w3 |= b
                }
            }
        }
    }

    @inlinable @inline(__always)
    func slot(_ n: Int, _ shift: UInt64) -> Int {
        var h = w0 ^ UInt64(truncatingIfNeeded: n) &* 0x9E37_79B9_7F4A_7C15
        if n > 8 { h = (h &* 0xBF58_476D_1CE4_E5B9) ^ w1 ^ (w2 &* 0x94D0_49BB_1331_11EB) ^ (w3 &* 0xD6E8_FEB8_6659_FD93) }
        h = (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: h >> shift)
    }
}

extension PieceCacheStorage {
    /// The entries as plain data for the hot loop (valid while this object lives):
    /// calling methods on the class per piece retained it each time.
    @inlinable var pairView: PairCacheView { PairCacheView(slots: pairSlots, shift: pairShift) }

    @inlinable var view: PieceCacheView { view(sharing: nil) }

    /// The view, with the entries of `shared` (a cache the threads of one
    /// stream share, for the same vocabulary) in place of this cache's own;
    /// the long-piece cache is always this one's.
    @inlinable func view(sharing shared: PieceCacheStorage?) -> PieceCacheView {
        PieceCacheView(entries: shared?.entries ?? entries, shift: shared?.shift ?? shift, longSlots: longSlots,
                       longSlotCount: longSlotCount, longArena: longArena, longUsed: longUsed)
    }
}

/// The kernel's cache of pair lookups (``PieceCacheStorage/pairSlots``): the
/// pair table of a large vocabulary is tens of MiB, read at DRAM latency, while
/// the pairs a text's merges ask for repeat.
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

/// A ``PieceCacheStorage``'s entries, reached without reference counting.
@usableFromInline
struct PieceCacheView {
    @usableFromInline let entries: UnsafeMutablePointer<UInt64>
    @usableFromInline let shift: UInt64
    @usableFromInline let longSlots: UnsafeMutablePointer<UInt64>
    @usableFromInline let longSlotCount: Int
    @usableFromInline let longArena: UnsafeMutablePointer<UInt32>
    @usableFromInline let longUsed: UnsafeMutablePointer<Int>

    @inlinable init(
        entries: UnsafeMutablePointer<UInt64>, shift: UInt64, longSlots: UnsafeMutablePointer<UInt64>,
        longSlotCount: Int, longArena: UnsafeMutablePointer<UInt32>, longUsed: UnsafeMutablePointer<Int>
    ) {
        self.entries = entries
        self.shift = shift
        self.longSlots = longSlots
        self.longSlotCount = longSlotCount
        self.longArena = longArena
        self.longUsed = longUsed
    }

    /// The head word's sequence number: odd while a writer has the entry.
    @usableFromInline static let sequenceUnit: UInt64 = 1 << 16
    @usableFromInline static let sequenceMask: UInt64 = 0xFFFF_0000

    /// The head word of entry `slot` when it holds the piece and no writer has
    /// it, else 0 (a head is never 0: its length is at least 1). The first
    /// read of a sequence lock that ``appendIfUnchanged(slot:head:into:)``
    /// closes: between the two, the entry is the piece's if its head is the same.
    @inlinable @inline(__always)
    func holds(_ key: PieceKey, _ n: Int, slot: Int) -> UInt64 {
        let e = entries + slot * 8  // slot = hash >> shift < count
        let head = tok_load_acquire(e + 4)
        guard head & (0xFF | PieceCacheView.sequenceUnit) == UInt64(n), tok_load_relaxed(e) == key.w0,
              tok_load_relaxed(e + 1) == key.w1, tok_load_relaxed(e + 2) == key.w2, tok_load_relaxed(e + 3) == key.w3
        else { return 0 }
        return head
    }

    /// Appends the ids of entry `slot` and returns true if its head is still
    /// `head` (from ``holds(_:_:slot:)``, which compared the piece's bytes):
    /// no writer has changed the entry since, as every store moves the head's
    /// sequence number (it would take 32,768 stores into this one entry
    /// between the two reads to bring it back; a batch makes at most 128).
    /// Else appends nothing.
    @inlinable @inline(__always)
    func appendIfUnchanged(slot: Int, head: UInt64, into out: inout ContiguousArray<UInt32>) -> Bool {
        let e = entries + slot * 8  // slot = hash >> shift < count
        let i5 = tok_load_relaxed(e + 5), i6 = tok_load_relaxed(e + 6), i7 = tok_load_relaxed(e + 7)
        tok_fence_acquire()
        guard tok_load_relaxed(e + 4) == head else { return false }
        out.append(UInt32(truncatingIfNeeded: head >> 32))
        let more = Int(head >> 8 & 0xFF) - 1
        if more > 0 {
            // Ids 1...6 sit in words 5-7, two to a word.
            out.append(UInt32(truncatingIfNeeded: i5))
            if more > 1 { out.append(UInt32(truncatingIfNeeded: i5 >> 32)) }
            if more > 2 { out.append(UInt32(truncatingIfNeeded: i6)) }
            if more > 3 { out.append(UInt32(truncatingIfNeeded: i6 >> 32)) }
            if more > 4 { out.append(UInt32(truncatingIfNeeded: i7)) }
            if more > 5 { out.append(UInt32(truncatingIfNeeded: i7 >> 32)) }
        }
        return true
    }

    /// Appends the piece's ids and returns true when entry `slot` holds it,
    /// read whole (no writer changed it meanwhile); else appends nothing.
    @inlinable @inline(__always)
    func lookUp(_ key: PieceKey, _ n: Int, slot: Int, into out: inout ContiguousArray<UInt32>) -> Bool {
        let head = holds(key, n, slot: slot)
        return head != 0 && appendIfUnchanged(slot: slot, head: head, into: &out)
    }

    /// Stores `ids` (1...7 of them) for the piece, unless another thread is
    /// writing the entry (then it keeps what that thread writes).
    @inlinable @inline(__always)
    func store(_ key: PieceKey, _ n: Int, slot: Int, ids: UnsafeBufferPointer<UInt32>) {
        let e = entries + slot * 8  // slot = hash >> shift < count
        let old = tok_load_relaxed(e + 4)
        let sequence = old & PieceCacheView.sequenceMask
        guard sequence & PieceCacheView.sequenceUnit == 0,
              tok_compare_exchange(e + 4, old, old &+ PieceCacheView.sequenceUnit) != 0 else { return }
        tok_store_relaxed(e, key.w0)
        tok_store_relaxed(e + 1, key.w1)
        tok_store_relaxed(e + 2, key.w2)
        tok_store_relaxed(e + 3, key.w3)
        var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &words) { w in
            for k in 1 ..< ids.count { w.storeBytes(of: ids[k], toByteOffset: 4 * (k - 1), as: UInt32.self) }  // ids.count <= 7
        }
        tok_store_relaxed(e + 5, words.0)
        tok_store_relaxed(e + 6, words.1)
        tok_store_relaxed(e + 7, words.2)
        let next = (sequence &+ 2 * PieceCacheView.sequenceUnit) & PieceCacheView.sequenceMask
        tok_store_release(e + 4, UInt64(n) | UInt64(ids.count) << 8 | next | UInt64(ids[0]) << 32)
    }
}

extension PieceCacheView {
    /// The longest piece the long-piece cache holds.
    @usableFromInline static let longMaxBytes = 1024
    /// The arena's size per slot: 256 bytes.
    @usableFromInline static let arenaWordsPerSlot = 64
    @inlinable var longArenaWords: Int { PieceCacheView.arenaWordsPerSlot * longSlotCount }

    @usableFromInline func clearLong() {
        longSlots.update(repeating: 0, count: longSlotCount)
        longUsed[0] = 0
        longUsed[1] = 0
    }

    /// Where the long-piece cache's probe for hash `h` starts: to prefetch.
    @inlinable @inline(__always)
    func longHome(hash h: UInt64) -> UnsafeMutablePointer<UInt64> {
        longSlots + (Int(truncatingIfNeeded: h) & (longSlotCount - 1))
    }

    /// The long-piece cache's slot for `n` bytes at `p` with hash `h`, and
    /// whether it holds them (else it is the empty slot to store them in).
    @inlinable
    func longSlot(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64) -> (slot: Int, found: Bool) {
        let tag = h & 0xFFFF_FFFF_0000_0000
        // Fewer than half the slots are ever used, so an empty slot ends every probe.
        return OpenAddressing.probe(
            home: Int(truncatingIfNeeded: h), mask: longSlotCount - 1,
            isEmpty: { longSlots[$0] == 0 },
            matches: { i in
                let s = longSlots[i]
                guard s & 0xFFFF_FFFF_0000_0000 == tag else { return false }
                // An entry is [bytes, ids, the bytes in words, the ids], inside the arena.
                let e = longArena + Int(s & 0xFFFF_FFFF) - 1
                return Int(e[0]) == n && bytesEqual(p, UnsafeRawPointer(e + 2), n)
            })
    }

    /// Appends the ids cached for the piece and returns true, or returns false.
    @inlinable
    func lookUpLong(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, into out: inout ContiguousArray<UInt32>) -> Bool {
        let (slot, found) = longSlot(p, n, hash: h)
        guard found else { return false }
        let e = longArena + Int(longSlots[slot] & 0xFFFF_FFFF) - 1
        out.append(contentsOf: UnsafeBufferPointer(start: e + 2 + (n + 3) / 4, count: Int(e[1])))
        return true
    }

    /// Stores the piece's ids, emptying the cache first if it is full.
    @inlinable
    func storeLong(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, ids: UnsafeBufferPointer<UInt32>) {
        let words = 2 + (n + 3) / 4 + ids.count
        if longUsed[0] + words > longArenaWords || longUsed[1] >= longSlotCount / 2 {
            clearLong()
        }
        guard words <= longArenaWords else { return }
        let (slot, found) = longSlot(p, n, hash: h)
        guard !found else { return }
        let offset = longUsed[0]
        let e = longArena + offset  // offset + words <= longArenaWords, checked above
        e[0] = UInt32(n)
        e[1] = UInt32(ids.count)
        e[2 + n / 4] = 0  // zero the last, partial word
        UnsafeMutableRawPointer(e + 2).copyMemory(from: p, byteCount: n)
        (e + 2 + (n + 3) / 4).update(from: ids.baseAddress!, count: ids.count)
        longSlots[slot] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(offset + 1)
        longUsed[0] = offset + words
        longUsed[1] += 1
    }
}
