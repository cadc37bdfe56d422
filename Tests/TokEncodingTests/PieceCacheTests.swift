import Testing
@testable import TokEncoding
import TokRuntime

struct PieceCacheTests {
    /// A piece's key is the same whether its words are loaded whole (32
    /// readable bytes ahead) or byte by byte (near the end of the buffer).
    @Test func keysDoNotDependOnHowTheyAreLoaded() {
        var rng = SplitMix(state: 11)
        for _ in 0 ..< 2000 {
            let n = Int(rng.next() % 32) + 1
            let bytes = (0 ..< 64).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes.withUnsafeBufferPointer { b in
                let p = b.baseAddress!
                let whole = PieceKey(p, n, end: p + 64)
                let tail = PieceKey(p, n, end: p + n)
                #expect(whole.w0 == tail.w0 && whole.w1 == tail.w1 && whole.w2 == tail.w2 && whole.w3 == tail.w3)
                // Bytes past the piece never enter the key.
                var other = bytes
                other[n] ^= 0xFF
                other.withUnsafeBufferPointer { o in
                    let k = PieceKey(o.baseAddress!, n, end: o.baseAddress! + 64)
                    #expect(k.w0 == whole.w0 && k.w1 == whole.w1 && k.w2 == whole.w2 && k.w3 == whole.w3)
                }
            }
        }
    }

    /// Entries give back exactly the ids stored (1 to 7 of them); a piece is
    /// found only under its own bytes and length, and a newer piece in the
    /// same entry replaces the older.
    @Test func entriesHoldTheirIdsAndOnlyForTheirPiece() {
        let storage = PieceCacheStorage(entries: 4)
        let cache = storage.view
        withExtendedLifetime(storage) {
            let text = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8) + [0, 0]
            text.withUnsafeBufferPointer { b in
                let p = b.baseAddress!, end = p + b.count
                for count in 1 ... 7 {
                    let n = count * 4
                    let key = PieceKey(p, n, end: end)
                    let slot = key.slot(n, cache.shift)
                    let ids = (0 ..< count).map { UInt32($0 * 100_003 + 7) }
                    ids.withUnsafeBufferPointer { cache.store(key, n, slot: slot, ids: $0) }
                    var out = ContiguousArray<UInt32>()
                    let head = cache.holds(key, n, slot: slot)
                    #expect(head != 0)
                    #expect(cache.lookUp(key, n, slot: slot, into: &out))
                    #expect(Array(out) == ids)
                    // A hit's head stands for the whole entry until the entry changes.
                    out.removeAll()
                    #expect(cache.appendIfUnchanged(slot: slot, head: head, into: &out))
                    #expect(Array(out) == ids)
                    let other = PieceKey(p + 1, n, end: end)
                    [UInt32(9)].withUnsafeBufferPointer { cache.store(other, n, slot: slot, ids: $0) }
                    out.removeAll()
                    #expect(!cache.appendIfUnchanged(slot: slot, head: head, into: &out))
                    #expect(out.isEmpty)
                    #expect(cache.holds(key, n, slot: slot) == 0)
                    ids.withUnsafeBufferPointer { cache.store(key, n, slot: slot, ids: $0) }
                    // The same piece stored again is a new head: an old one no longer vouches for it.
                    #expect(cache.holds(key, n, slot: slot) != head)
                    // The same bytes one shorter, or trailing zero bytes, are other pieces.
                    let shorter = PieceKey(p, n - 1, end: end)
                    #expect(cache.holds(shorter, n - 1, slot: slot) == 0)
                    #expect(!cache.lookUp(shorter, n - 1, slot: slot, into: &out))
                }
                let zeros = PieceKey(end - 2, 2, end: end)
                #expect(cache.holds(zeros, 2, slot: zeros.slot(2, cache.shift)) == 0)
            }
        }
    }

    /// The long-piece cache empties itself when full and still answers right.
    @Test func longPiecesSurviveEviction() {
        let storage = PieceCacheStorage(entries: 16)  // 4 long slots: emptied after 2 pieces
        let cache = storage.view
        withExtendedLifetime(storage) {
            var rng = SplitMix(state: 5)
            let pieces = (0 ..< 6).map { k in (0 ..< 40 + k * 7).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
            var hits = 0, misses = 0
            for _ in 0 ..< 3 {
                for k in [0, 1, 0, 1, 2, 3, 4, 5, 4, 5] {
                    let piece = pieces[k]
                    piece.withUnsafeBufferPointer { b in
                        let h = hashBytes(b.baseAddress!, b.count)
                        var out = ContiguousArray<UInt32>()
                        if cache.lookUpLong(b.baseAddress!, b.count, hash: h, into: &out) {
                            #expect(Array(out) == [UInt32(k), UInt32(k * 3)])
                            hits += 1
                        } else {
                            misses += 1
                            let ids: [UInt32] = [UInt32(k), UInt32(k * 3)]
                            ids.withUnsafeBufferPointer { cache.storeLong(b.baseAddress!, b.count, hash: h, ids: $0) }
                        }
                    }
                }
            }
            // Some pieces were found again, and some had been evicted.
            #expect(hits > 0 && misses > pieces.count)
        }
    }
}
