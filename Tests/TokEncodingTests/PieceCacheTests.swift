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

    /// Entries give back exactly the ids stored (1 to 7 of them, pieces of
    /// 1 to 32 bytes of ASCII and of Chinese: in halves, forwarded to lines,
    /// and in lines); a piece is found only under its own bytes and length,
    /// and a newer piece in the same entry replaces the older.
    @Test func entriesHoldTheirIdsAndOnlyForTheirPiece() {
        let storage = SharedPieceCache(entries: 1)  // one half and one line: every piece shares them
        let cache = storage.view
        withExtendedLifetime(storage) {
            for text in [Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8) + [0, 0], Array("中文分词测试汉字长句没有标点符号".utf8)] {
            text.withUnsafeBufferPointer { b in
                let p = b.baseAddress!, end = p + b.count
                for n in [1, 2, 7, 8, 9, 15, 16, 17, 24, 31, 32] {
                    for count in 1 ... 7 {
                        let key = PieceKey(p, n, end: end)
                        let ids = (0 ..< count).map { UInt32($0 * 100_003 + 7 + n) }
                        func lookUp(_ key: PieceKey, _ n: Int) -> [UInt32]? {
                            var out = ContiguousArray<UInt32>()
                            return cache.lookUp(key, n, into: &out) ? Array(out) : (out.isEmpty ? nil : [])
                        }
                        ids.withUnsafeBufferPointer { cache.store(key, n, ids: $0) }
                        #expect(lookUp(key, n) == ids)
                        // Where the batch's two steps find it: the entry it starts at, or the line it is sent to.
                        let half = PieceCacheView.inHalf(key, n)
                        var e = cache.entry(key, n), inHalf = half
                        var head = cache.holds(key, n, at: e, half: half)
                        #expect(head != 0)
                        #expect(half && count > SharedPieceCache.halfIds ? PieceCacheView.isForwarded(head)
                                : !(half && PieceCacheView.isForwarded(head)))
                        if half && PieceCacheView.isForwarded(head) {
                            e = cache.line(key, n)
                            inHalf = false
                            head = cache.holds(key, n, at: e, half: false)
                        }
                        // A hit's head stands for the whole entry until the entry changes.
                        var buffer = [UInt32](repeating: 0, count: SharedPieceCache.maxIds)
                        #expect(cache.copyIfUnchanged(e, half: inHalf, head: head, to: &buffer) == count)
                        #expect(Array(buffer[..<count]) == ids)
                        let other = PieceKey(p + 1, n, end: end)
                        let otherIds = Array(repeating: UInt32(9), count: count)
                        otherIds.withUnsafeBufferPointer { cache.store(other, n, ids: $0) }
                        #expect(cache.copyIfUnchanged(e, half: inHalf, head: head, to: &buffer) == 0)
                        #expect(lookUp(key, n) == nil)
                        #expect(lookUp(other, n) == otherIds)
                        ids.withUnsafeBufferPointer { cache.store(key, n, ids: $0) }
                        // The same piece stored again is a new head: an old one no longer vouches for it.
                        #expect(cache.holds(key, n, at: e, half: inHalf) != head)
                        #expect(lookUp(key, n) == ids)
                        // The same bytes one shorter, or trailing zero bytes, are other pieces.
                        if n > 1 {
                            let shorter = PieceKey(p, n - 1, end: end)
                            #expect(lookUp(shorter, n - 1) == nil)
                        }
                    }
                }
                if text.last == 0 {
                    let zeros = PieceKey(end - 2, 2, end: end)
                    var out = ContiguousArray<UInt32>()
                    #expect(!cache.lookUp(zeros, 2, into: &out))
                }
            }
            }
        }
    }

    /// The long-piece cache holds at most half its slots: the store that
    /// would pass that empties it first, so exactly the pieces stored since
    /// are found, each with its own ids; a piece too large for its arena is
    /// never held; another vocabulary's pieces empty it.
    @Test func longPieceCacheEmptiesWholeWhenFullAndForOtherVocabularies() throws {
        var cache = LongPieceCache(slots: 4)  // 2 pieces at a time, an arena of 256 words
        var rng = SplitMix(state: 5)
        let pieces = (0 ..< 4).map { k in (0 ..< 40 + k * 7).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        func ids(_ k: Int) -> [UInt32] { [UInt32(k), UInt32(k * 3 + 1), UInt32(1000 + k)] }
        func held(_ k: Int) -> [UInt32]? {
            pieces[k].withUnsafeBufferPointer { b in
                var out = ContiguousArray<UInt32>()
                let found = cache.lookUp(b.baseAddress!, b.count, hash: hashBytes(b.baseAddress!, b.count), into: &out)
                #expect(found || out.isEmpty)
                return found ? Array(out) : nil
            }
        }
        func store(_ piece: [UInt8], _ ids: [UInt32]) {
            piece.withUnsafeBufferPointer { b in
                ids.withUnsafeBufferPointer { cache.store(b.baseAddress!, b.count, hash: hashBytes(b.baseAddress!, b.count), ids: $0) }
            }
        }
        let v1 = try smallVocabulary(), v2 = try smallVocabulary()
        withExtendedLifetime((v1, v2)) {
            cache.prepare(for: v1.tables)
            #expect(held(0) == nil)
            store(pieces[0], ids(0))
            store(pieces[1], ids(1))
            #expect(held(0) == ids(0) && held(1) == ids(1))
            store(pieces[2], ids(2))  // a third piece: emptied first
            #expect(held(0) == nil && held(1) == nil && held(2) == ids(2))
            store(pieces[3], ids(3))
            #expect(held(2) == ids(2) && held(3) == ids(3))
            // 1,000 bytes and an id take 253 of the arena's 256 words.
            let large = (0 ..< 1000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            func largeHeld() -> Bool {
                large.withUnsafeBufferPointer { b in
                    var out = ContiguousArray<UInt32>()
                    return cache.lookUp(b.baseAddress!, b.count, hash: hashBytes(b.baseAddress!, b.count), into: &out)
                        && out == [7]
                }
            }
            store(large, [7])
            #expect(held(2) == nil && held(3) == nil && largeHeld())
            store(pieces[0], ids(0))  // no room in the arena beside it: emptied first
            #expect(held(0) == ids(0) && !largeHeld())
            // A piece larger than the whole arena is never held.
            let huge = (0 ..< 1024).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            store(huge, [1, 2, 3, 4, 5, 6, 7, 8, 9])
            huge.withUnsafeBufferPointer { b in
                var out = ContiguousArray<UInt32>()
                #expect(!cache.lookUp(b.baseAddress!, b.count, hash: hashBytes(b.baseAddress!, b.count), into: &out))
            }
            store(pieces[0], ids(0))
            cache.prepare(for: v1.tables)  // the same vocabulary: kept
            #expect(held(0) == ids(0))
            cache.prepare(for: v2.tables)  // another: emptied
            #expect(held(0) == nil)
        }
    }

    /// Threads storing and reading one small shared cache at once (every
    /// store evicts another thread's piece, every read may meet a write): a
    /// read that succeeds gives exactly the ids stored for that piece, never
    /// a mix of two writes. Run under ThreadSanitizer too.
    @Test func threadsOverwritingASmallCacheReadOnlyWholeEntries() {
        let storage = SharedPieceCache(entries: 8)
        let cache = storage.view
        // 64 pieces of 1-32 bytes, half of them ASCII (in halves, or forwarded to lines: more
        // than 3 ids); piece k's ids are 1 to 7 values derived from k.
        var rng = SplitMix(state: 21)
        let pieces = (0 ..< 64).map { k in
            (0 ..< k % 32 + 1).map { _ in UInt8(truncatingIfNeeded: k % 2 == 0 ? rng.next() & 0x7F | 1 : rng.next() | 0x80) }
        }
        func ids(_ k: Int) -> [UInt32] { (0 ..< k % 7 + 1).map { UInt32(k * 1000 + $0) } }
        // Per thread: reads that found their piece, and those that gave wrong ids.
        let counts = withExtendedLifetime(storage) {
            inParallel(lanes: 4) { lane -> (hits: Int, wrong: Int) in
                var rng = SplitMix(state: UInt64(lane + 1))
                var hits = 0, wrong = 0
                var out = ContiguousArray<UInt32>()
                for _ in 0 ..< 40_000 {
                    let k = Int(rng.next() % 64)
                    pieces[k].withUnsafeBufferPointer { b in
                        let n = b.count, key = PieceKey(b.baseAddress!, n, end: b.baseAddress! + n)
                        out.removeAll(keepingCapacity: true)
                        if cache.lookUp(key, n, into: &out) {
                            hits += 1
                            if Array(out) != ids(k) { wrong += 1 }
                        } else {
                            if !out.isEmpty { wrong += 1 }
                            ids(k).withUnsafeBufferPointer { cache.store(key, n, ids: $0) }
                        }
                    }
                }
                return (hits, wrong)
            }
        }
        #expect(counts.map(\.wrong) == [0, 0, 0, 0])
        #expect(counts.allSatisfy { $0.hits > 0 })
    }

    /// The encoder on several threads over one tokenizer whose piece cache
    /// is tiny (4 and 64 entries: the threads overwrite each other's entries
    /// all the time, with pieces of 1-32 bytes and up to 7 ids, and each
    /// thread's long-piece cache, 4 slots, empties itself as often): each
    /// thread, with a scratch of its own, encodes every line alone (as `tok
    /// encode --lines` and datasets do) and the whole text, in an order of
    /// its own, and every id equals a cache-free encode's. Threads here are
    /// ``inParallel(lanes:_:)``'s alone, so that ThreadSanitizer sees only
    /// the caches (the stream and the pipeline: ParallelTests).
    @Test func threadsSharingATinyPieceCacheGiveCacheFreeIds() throws {
        let base = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "cl100k")!)
        let text = PieceCacheTests.repetitiveText(bytes: 300_000)
        let uncached = base.withPieceCache(entries: 0)
        let whole = text.withUnsafeBufferPointer { uncached.encode(bytes: $0) }
        let lines = text.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        let lineIds = lines.map { line in line.withUnsafeBufferPointer { uncached.encode(bytes: $0) } }
        for entries in [4, 64] {
            let t = base.withPieceCache(entries: entries)
            let lanes = 4
            // Per thread: the lines whose ids differ, and whether the whole text's do.
            let wrong = inParallel(lanes: lanes) { lane -> (lines: Int, whole: Bool) in
                var scratch = t.makeScratch()
                var ids = ContiguousArray<UInt32>()
                var wrongLines = 0
                for j in 0 ..< lines.count {
                    let k = (j + lane * lines.count / lanes) % lines.count
                    ids.removeAll(keepingCapacity: true)
                    lines[k].withUnsafeBufferPointer { t.encode($0, allowedSpecial: .none, scratch: &scratch, into: &ids) }
                    if ids != lineIds[k] { wrongLines += 1 }
                }
                ids.removeAll(keepingCapacity: true)
                text.withUnsafeBufferPointer { t.encode($0, allowedSpecial: .none, scratch: &scratch, into: &ids) }
                return (wrongLines, ids != whole)
            }
            #expect(wrong.map(\.lines) == [0, 0, 0, 0], "\(entries) entries")
            #expect(wrong.map(\.whole) == [false, false, false, false], "\(entries) entries")
        }
    }

    /// Text of pieces that repeat, of 1 to 200 bytes and up to a dozen ids,
    /// Han and Latin, in lines.
    static func repetitiveText(bytes: Int) -> [UInt8] {
        var rng = SplitMix(state: 8)
        let words = ["abcaaaab", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "abcabcabc", "the", " thing", "中文", "aab", "b",
                     " abcbabcbacbacbabcbcacbabcaaab", "\n", " ", "42", "ab", "中文中中文文中中中中文中文中文中",
                     String(repeating: "a", count: 200)]
        var text: [UInt8] = []
        while text.count < bytes { text += Array(words.randomElement(using: &rng)!.utf8) }
        return text
    }
}
