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
/// Two direct-mapped tables, each entry found at `hash >> shift`:
/// - halves, for pieces of up to 16 bytes of ASCII (98% of English's and
///   code's): half a line, four words, two to a line: the piece's bytes
///   zero-padded to 16 (words 0-1), a head word (its length, id count, a
///   sequence number and the first id: word 2) and two more ids (word 3);
/// - lines, for the other pieces of up to ``maxBytes`` bytes (longer ones,
///   and other text's, whose few bytes often make more ids than a half
///   holds: a Chinese word) and for the ASCII pieces whose ids do not fit
///   a half: one 64-byte line, eight words: the bytes zero-padded to 32
///   (words 0-3), the head (word 4) and up to six more ids (words 5-7). Such
///   an ASCII piece's half holds its bytes and no ids, which sends its
///   lookups to its line.
/// A piece replaces whatever held its entry, so the cache never grows and
/// what it returns never depends on what it evicted: an entry is only read
/// back for exactly the same bytes, and holds exactly what the kernel made of
/// them. Pieces of more than ``maxBytes`` bytes or ``maxIds`` ids are not
/// held (longer ones go to each thread's ``LongPieceCache``). A half holds a
/// piece in half the memory of a line: on the 101 MB mixed text under
/// cl100k, one pass missed 566,217 pieces in 262,144 lines (16 MiB) and
/// 494,289 in 524,288 halves and 131,072 lines (24 MiB).
///
/// Threads share the entries without a lock: a writer makes the head's
/// sequence number odd while it writes the entry (giving up if another writer
/// has), then even again; a reader keeps what it read only if the head did not
/// change meanwhile and its number was even (a sequence lock per entry, in
/// ``PieceCacheView``).
@usableFromInline
final class SharedPieceCache: @unchecked Sendable {  // its entries are read and written only through PieceCacheView's sequence lock, with atomic loads and stores
    /// Halves by default: 131,072 (4 MiB) and a line for every four (2 MiB),
    /// paid for page by page as they fill.
    @usableFromInline static let defaultEntries = 1 << 17
    /// The longest piece a half holds, and its most ids.
    @usableFromInline static let halfBytes = 16
    @usableFromInline static let halfIds = 3
    /// The longest piece the cache holds, in bytes, and the most ids.
    @usableFromInline static let maxBytes = 32
    @usableFromInline static let maxIds = 7
    /// Halves for each line.
    @usableFromInline static let halvesPerLine = 4

    @usableFromInline let halves: UnsafeMutablePointer<UInt64>
    @usableFromInline let lines: UnsafeMutablePointer<UInt64>
    /// Halves (a power of two), and lines (a quarter as many, at least 1).
    @usableFromInline let count: Int
    @usableFromInline let lineCount: Int
    @usableFromInline let halfShift: UInt64
    @usableFromInline let lineShift: UInt64

    /// - Parameter count: halves, rounded up to a power of two (at least 1);
    ///   lines are a quarter as many.
    @usableFromInline init(entries count: Int) {
        self.count = max(count, 1).roundedUpToPowerOfTwo
        lineCount = max(self.count / SharedPieceCache.halvesPerLine, 1)
        halfShift = UInt64(64 - self.count.trailingZeroBitCount)
        lineShift = UInt64(64 - lineCount.trailingZeroBitCount)
        // Zeroed already: an empty cache (a head is never 0).
        halves = HugePages.allocate(bytes: self.count * 32).bindMemory(to: UInt64.self, capacity: self.count * 4)
        lines = HugePages.allocate(bytes: lineCount * 64).bindMemory(to: UInt64.self, capacity: lineCount * 8)
    }

    deinit {
        HugePages.release(halves, bytes: count * 32)
        HugePages.release(lines, bytes: lineCount * 64)
    }

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
/// their sequence lock. An entry is a half (`half` true: head at word 2, two
/// more ids at word 3) or a line (head at word 4, six more ids at words 5-7);
/// ``entry(_:_:)`` names the one a piece's lookup starts at.
@usableFromInline
struct PieceCacheView {
    @usableFromInline let halves: UnsafeMutablePointer<UInt64>
    @usableFromInline let lines: UnsafeMutablePointer<UInt64>
    @usableFromInline let halfShift: UInt64
    @usableFromInline let lineShift: UInt64

    @inlinable init(_ cache: SharedPieceCache) {
        halves = cache.halves
        lines = cache.lines
        halfShift = cache.halfShift
        lineShift = cache.lineShift
    }

    /// The head word's sequence number: odd while a writer has the entry.
    @usableFromInline static let sequenceUnit: UInt64 = 1 << 16
    @usableFromInline static let sequenceMask: UInt64 = 0xFFFF_0000
    /// A head's id count.
    @usableFromInline static let countMask: UInt64 = 0xFF00

    /// Whether a piece of `n` bytes (1 ... ``SharedPieceCache/maxBytes``) with this key is looked up in a
    /// half: up to 16 bytes of ASCII (a short piece of other text, a Chinese word, often has more ids
    /// than a half holds, and a half sending it to its line cost a second lookup).
    @inlinable @inline(__always)
    static func inHalf(_ key: PieceKey, _ n: Int) -> Bool {
        n <= SharedPieceCache.halfBytes && (key.w0 | key.w1) & 0x8080_8080_8080_8080 == 0
    }

    /// The entry a piece's lookup starts at: its half for up to 16 ASCII bytes (``inHalf(_:_:)``), else its line.
    @inlinable @inline(__always)
    func entry(_ key: PieceKey, _ n: Int) -> UnsafeMutablePointer<UInt64> {
        // A slot is below its table's count (the hash's top bits), so no overflow.
        PieceCacheView.inHalf(key, n) ? halves + key.slot(n, halfShift) &<< 2 : line(key, n)
    }

    /// The line of a piece (where a short piece's ids go when they do not fit its half).
    @inlinable @inline(__always)
    func line(_ key: PieceKey, _ n: Int) -> UnsafeMutablePointer<UInt64> { lines + key.slot(n, lineShift) &<< 3 }

    /// The head word of entry `e` when it holds the piece and no writer has
    /// it, else 0 (a head is never 0: its length is at least 1). The first
    /// read of a sequence lock that ``copyIfUnchanged(_:half:head:to:)``
    /// closes: between the two, the entry is the piece's if its head is the
    /// same. A half's head with no ids (``isForwarded(_:)``) says the piece's
    /// ids are in its line.
    @inlinable @inline(__always)
    func holds(_ key: PieceKey, _ n: Int, at e: UnsafeMutablePointer<UInt64>, half: Bool) -> UInt64 {
        // An entry of the same length holds zeros past its bytes, as the key
        // does: the words past the piece's need no look.
        if half {
            let head = tok_load_acquire(e + 2)
            guard head & (0xFF | PieceCacheView.sequenceUnit) == UInt64(n),
                  (tok_load_relaxed(e) ^ key.w0) | (tok_load_relaxed(e + 1) ^ key.w1) == 0 else { return 0 }
            return head
        }
        let head = tok_load_acquire(e + 4)
        guard head & (0xFF | PieceCacheView.sequenceUnit) == UInt64(n), tok_load_relaxed(e) == key.w0 else { return 0 }
        guard n > 8 else { return head }
        guard tok_load_relaxed(e + 1) == key.w1 else { return 0 }
        guard n > 16 else { return head }
        guard tok_load_relaxed(e + 2) == key.w2, tok_load_relaxed(e + 3) == key.w3 else { return 0 }
        return head
    }

    /// Whether a half's head (from ``holds(_:_:at:half:)``) sends the piece to its line.
    @inlinable @inline(__always)
    static func isForwarded(_ head: UInt64) -> Bool { head & countMask == 0 }

    /// Writes the ids of entry `e` at `ids` and returns how many, if its head
    /// is still `head` (from ``holds(_:_:at:half:)``, which compared the
    /// piece's bytes): no writer has changed the entry since, as every store
    /// moves the head's sequence number (it would take 32,768 stores into
    /// this one entry by other threads between the two reads to bring it
    /// back). Else returns 0. Writes 3 words for a half and 7 for a line
    /// whatever the count: the caller's buffer has room for ``SharedPieceCache/maxIds``.
    @inlinable @inline(__always)
    func copyIfUnchanged(_ e: UnsafeMutablePointer<UInt64>, half: Bool, head: UInt64, to ids: UnsafeMutablePointer<UInt32>) -> Int {
        let words = UnsafeMutableRawPointer(ids + 1)
        if half {
            let i3 = tok_load_relaxed(e + 3)
            tok_fence_acquire()
            guard tok_load_relaxed(e + 2) == head else { return 0 }
            ids[0] = UInt32(truncatingIfNeeded: head >> 32)
            words.storeBytes(of: i3, as: UInt64.self)
            return Int(truncatingIfNeeded: head >> 8 & 0xFF)
        }
        let i5 = tok_load_relaxed(e + 5), i6 = tok_load_relaxed(e + 6), i7 = tok_load_relaxed(e + 7)
        tok_fence_acquire()
        guard tok_load_relaxed(e + 4) == head else { return 0 }
        // Ids 1...6 sit in words 5-7, two to a word; words past the count are stale and not counted.
        ids[0] = UInt32(truncatingIfNeeded: head >> 32)
        words.storeBytes(of: i5, as: UInt64.self)
        words.storeBytes(of: i6, toByteOffset: 8, as: UInt64.self)
        words.storeBytes(of: i7, toByteOffset: 16, as: UInt64.self)
        return Int(truncatingIfNeeded: head >> 8 & 0xFF)
    }

    /// Writes the piece's ids at `ids` (room for ``SharedPieceCache/maxIds``)
    /// and returns how many, when the cache holds it, read whole (no writer
    /// changed it meanwhile); else returns 0. The whole lookup in one call,
    /// a forwarded half's line included.
    @inlinable @inline(__always)
    func lookUp(_ key: PieceKey, _ n: Int, to ids: UnsafeMutablePointer<UInt32>) -> Int {
        var e = entry(key, n), half = PieceCacheView.inHalf(key, n)
        var head = holds(key, n, at: e, half: half)
        if half && head != 0 && PieceCacheView.isForwarded(head) {
            e = line(key, n)
            half = false
            head = holds(key, n, at: e, half: false)
        }
        return head == 0 ? 0 : copyIfUnchanged(e, half: half, head: head, to: ids)
    }

    /// Appends the piece's ids and returns true when the cache holds it (``lookUp(_:_:to:)``).
    @inlinable
    func lookUp(_ key: PieceKey, _ n: Int, into out: inout ContiguousArray<UInt32>) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: SharedPieceCache.maxIds) { ids in
            let k = lookUp(key, n, to: ids.baseAddress!)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: ids[..<k]))  // k <= maxIds
            return k > 0
        }
    }

    /// Stores `ids` (1 to ``SharedPieceCache/maxIds`` of them) for a piece of
    /// `n` bytes: in its half when they fit, else in its line, the half then
    /// holding the piece with no ids to send lookups there.
    @inlinable @inline(__always)
    func store(_ key: PieceKey, _ n: Int, ids: UnsafeBufferPointer<UInt32>) {
        let e = entry(key, n), half = PieceCacheView.inHalf(key, n)
        guard half && ids.count > SharedPieceCache.halfIds else { return store(key, n, at: e, half: half, ids: ids) }
        store(key, n, at: line(key, n), half: false, ids: ids)
        store(key, n, at: e, half: true, ids: UnsafeBufferPointer(start: ids.baseAddress, count: 0))
    }

    /// Stores `ids` (up to the entry's room: 3 in a half, 7 in a line; none,
    /// in a half, to forward the piece to its line) in entry `e`, unless
    /// another thread is writing it (then it keeps what that thread writes).
    @inlinable @inline(__always)
    func store(_ key: PieceKey, _ n: Int, at e: UnsafeMutablePointer<UInt64>, half: Bool, ids: UnsafeBufferPointer<UInt32>) {
        let h = e + (half ? 2 : 4)
        let old = tok_load_relaxed(h)
        let sequence = old & PieceCacheView.sequenceMask
        guard sequence & PieceCacheView.sequenceUnit == 0,
              tok_compare_exchange(h, old, old &+ PieceCacheView.sequenceUnit) != 0 else { return }
        // The odd head before the words: a reader that sees a new word then sees the head moved.
        tok_fence_release()
        tok_store_relaxed(e, key.w0)
        tok_store_relaxed(e + 1, key.w1)
        var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &words) { w in
            for k in 1 ..< max(ids.count, 1) { w.storeBytes(of: ids[k], toByteOffset: 4 * (k - 1), as: UInt32.self) }  // ids.count <= 7
        }
        if half {
            tok_store_relaxed(e + 3, words.0)
        } else {
            tok_store_relaxed(e + 2, key.w2)
            tok_store_relaxed(e + 3, key.w3)
            tok_store_relaxed(e + 5, words.0)
            tok_store_relaxed(e + 6, words.1)
            tok_store_relaxed(e + 7, words.2)
        }
        let next = (sequence &+ 2 * PieceCacheView.sequenceUnit) & PieceCacheView.sequenceMask
        let first = ids.isEmpty ? 0 : UInt64(ids[0])
        tok_store_release(h, UInt64(n) | UInt64(ids.count) << 8 | next | first << 32)
    }
}
