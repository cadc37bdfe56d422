import TokRuntime
import CTokRuntime

/// The piece cache: a bounded map from a short piece's bytes to its ids, one
/// per ``Tokenizer`` and shared by every thread that encodes with it (the
/// workers of a stream, of `tok encode --lines`, of a dataset, and any caller's
/// own threads). Text repeats its pieces: in 5 MB of each gathered domain
/// under o200k, 97% of English pieces and 88% of Chinese ones were seen
/// before. A hit skips the vocabulary's lookup table and the merges; one cache
/// for all threads pays each miss once, where a cache per thread paid it once
/// per thread.
///
/// Direct-mapped: entry `hash >> shift` is one 64-byte line, eight words: the
/// piece's bytes zero-padded to 32 (words 0-3), a head word (its length, id
/// count, a sequence number and the first id: word 4), and up to six more ids
/// (words 5-7). A piece replaces whatever held its entry, so the cache never
/// grows and what it returns never depends on what it evicted: an entry is
/// only read back for exactly the same bytes, and holds exactly what the
/// kernel made of them. Pieces of more than ``maxBytes`` bytes or
/// ``maxIds`` ids are not held (longer ones go to each thread's
/// ``LongPieceCache``).
///
/// Threads share the entries without a lock: a writer makes the head's
/// sequence number odd while it writes the entry (giving up if another writer
/// has), then even again; a reader keeps what it read only if the head did not
/// change meanwhile and its number was even (a sequence lock per entry, in
/// ``PieceCacheView``).
@usableFromInline
final class SharedPieceCache: @unchecked Sendable {  // its entries are read and written only through PieceCacheView's sequence lock, with atomic loads and stores
    /// Entries by default: 65,536 lines of 64 bytes, 4 MiB, paid for page by
    /// page as they fill.
    @usableFromInline static let defaultEntries = 1 << 16
    /// The longest piece an entry holds, in bytes, and the most ids.
    @usableFromInline static let maxBytes = 32
    @usableFromInline static let maxIds = 7

    @usableFromInline let entries: UnsafeMutablePointer<UInt64>
    /// Entries: a power of two.
    @usableFromInline let count: Int
    @usableFromInline let shift: UInt64

    /// - Parameter count: entries, rounded up to a power of two (at least 1).
    @usableFromInline init(entries count: Int) {
        self.count = max(count, 1).roundedUpToPowerOfTwo
        shift = UInt64(64 - self.count.trailingZeroBitCount)
        // Zeroed already: an empty cache (a head is never 0).
        entries = HugePages.allocate(bytes: self.count * 64).bindMemory(to: UInt64.self, capacity: self.count * 8)
    }

    deinit { HugePages.release(entries, bytes: count * 64) }

    /// The entries as plain data for the hot loop, valid while this object
    /// lives: calling methods on the class per piece retained it each time.
    @inlinable var view: PieceCacheView { PieceCacheView(self) }
}

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

    /// The entry of a piece of `n` bytes with this key, in a cache of `64 - shift` bits.
    @inlinable @inline(__always)
    func slot(_ n: Int, _ shift: UInt64) -> Int {
        var h = w0 ^ UInt64(truncatingIfNeeded: n) &* 0x9E37_79B9_7F4A_7C15
        if n > 8 { h = (h &* 0xBF58_476D_1CE4_E5B9) ^ w1 ^ (w2 &* 0x94D0_49BB_1331_11EB) ^ (w3 &* 0xD6E8_FEB8_6659_FD93) }
        h = (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: h >> shift)
    }
}

/// A ``SharedPieceCache``'s entries, reached without reference counting, and
/// their sequence lock. `slot` is always a key's ``PieceKey/slot(_:_:)`` with
/// this view's `shift`, so below the entry count.
@usableFromInline
struct PieceCacheView {
    @usableFromInline let entries: UnsafeMutablePointer<UInt64>
    @usableFromInline let shift: UInt64

    @inlinable init(_ cache: SharedPieceCache) {
        entries = cache.entries
        shift = cache.shift
    }

    /// The head word's sequence number: odd while a writer has the entry.
    @usableFromInline static let sequenceUnit: UInt64 = 1 << 16
    @usableFromInline static let sequenceMask: UInt64 = 0xFFFF_0000

    /// Entry `slot`'s first word, to prefetch.
    @inlinable @inline(__always)
    func entry(_ slot: Int) -> UnsafeMutablePointer<UInt64> { entries + slot &<< 3 }  // slot < count, so no overflow

    /// The head word of entry `slot` when it holds the piece and no writer has
    /// it, else 0 (a head is never 0: its length is at least 1). The first
    /// read of a sequence lock that ``appendIfUnchanged(slot:head:into:)``
    /// closes: between the two, the entry is the piece's if its head is the same.
    @inlinable @inline(__always)
    func holds(_ key: PieceKey, _ n: Int, slot: Int) -> UInt64 {
        let e = entry(slot)
        let head = tok_load_acquire(e + 4)
        // An entry of the same length holds zeros past its bytes, as the key
        // does: the words past the piece's need no look.
        guard head & (0xFF | PieceCacheView.sequenceUnit) == UInt64(n), tok_load_relaxed(e) == key.w0 else { return 0 }
        guard n > 8 else { return head }
        guard tok_load_relaxed(e + 1) == key.w1 else { return 0 }
        guard n > 16 else { return head }
        guard tok_load_relaxed(e + 2) == key.w2, tok_load_relaxed(e + 3) == key.w3 else { return 0 }
        return head
    }

    /// Appends the ids of entry `slot` and returns true if its head is still
    /// `head` (from ``holds(_:_:slot:)``, which compared the piece's bytes):
    /// no writer has changed the entry since, as every store moves the head's
    /// sequence number (it would take 32,768 stores into this one entry
    /// between the two reads to bring it back; a batch makes at most 192).
    /// Else appends nothing.
    @inlinable @inline(__always)
    func appendIfUnchanged(slot: Int, head: UInt64, into out: inout ContiguousArray<UInt32>) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: SharedPieceCache.maxIds) { ids in
            let k = copyIfUnchanged(slot: slot, head: head, to: ids.baseAddress!)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: ids[..<k]))  // k <= maxIds
            return k > 0
        }
    }

    /// Writes the ids of entry `slot` at `to` and returns how many, if its
    /// head is still `head`; else returns 0. Writes ``SharedPieceCache/maxIds``
    /// words whatever the count: the caller's buffer has room for them.
    @inlinable @inline(__always)
    func copyIfUnchanged(slot: Int, head: UInt64, to ids: UnsafeMutablePointer<UInt32>) -> Int {
        let e = entry(slot)
        let i5 = tok_load_relaxed(e + 5), i6 = tok_load_relaxed(e + 6), i7 = tok_load_relaxed(e + 7)
        tok_fence_acquire()
        guard tok_load_relaxed(e + 4) == head else { return 0 }
        // Ids 1...6 sit in words 5-7, two to a word; words past the count are stale and not counted.
        ids[0] = UInt32(truncatingIfNeeded: head >> 32)
        let words = UnsafeMutableRawPointer(ids + 1)
        words.storeBytes(of: i5, as: UInt64.self)
        words.storeBytes(of: i6, toByteOffset: 8, as: UInt64.self)
        words.storeBytes(of: i7, toByteOffset: 16, as: UInt64.self)
        return Int(truncatingIfNeeded: head >> 8 & 0xFF)
    }

    /// Appends the piece's ids and returns true when entry `slot` holds it,
    /// read whole (no writer changed it meanwhile); else appends nothing.
    @inlinable @inline(__always)
    func lookUp(_ key: PieceKey, _ n: Int, slot: Int, into out: inout ContiguousArray<UInt32>) -> Bool {
        let head = holds(key, n, slot: slot)
        return head != 0 && appendIfUnchanged(slot: slot, head: head, into: &out)
    }

    /// Stores `ids` (1 to ``SharedPieceCache/maxIds`` of them) for the piece,
    /// unless another thread is writing the entry (then it keeps what that
    /// thread writes).
    @inlinable @inline(__always)
    func store(_ key: PieceKey, _ n: Int, slot: Int, ids: UnsafeBufferPointer<UInt32>) {
        let e = entry(slot)
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
