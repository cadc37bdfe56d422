import Testing
@testable import TokEncoding
import TokRuntime
import CTokRuntime

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
    /// and in lines); a piece is found only under its own bytes and length;
    /// a newer piece replaces the older in a line, and in a line of halves
    /// takes the second half (the first while it is empty), which trades
    /// places with the first when asked (``PieceCacheView/promote(_:)``).
    @Test func entriesHoldTheirIdsAndOnlyForTheirPiece() {
        for text in [Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8) + [0, 0], Array("中文分词测试汉字长句没有标点符号".utf8)] {
            text.withUnsafeBufferPointer { b in
                let p = b.baseAddress!, end = p + b.count
                for n in [1, 2, 7, 8, 9, 15, 16, 17, 24, 31, 32] {
                    for count in 1 ... 7 {
                        let storage = SharedPieceCache(entries: 1)  // two halves and one line: every piece shares them
                        withExtendedLifetime(storage) {
                            checkEntries(storage.view, p, n, end: end, count: count)
                        }
                    }
                }
                if text.last == 0 {
                    let storage = SharedPieceCache(entries: 1)
                    withExtendedLifetime(storage) {
                        [UInt32(5), 6].withUnsafeBufferPointer { storage.view.store(PieceKey(p, 2, end: end), 2, ids: $0) }
                        let zeros = PieceKey(end - 2, 2, end: end)
                        var out = ContiguousArray<UInt32>()
                        #expect(!storage.view.lookUp(zeros, 2, into: &out))
                    }
                }
            }
        }
    }

    /// One round of ``entriesHoldTheirIdsAndOnlyForTheirPiece()`` in an empty
    /// cache of two halves and a line: pieces of `n` bytes at `p`, `p + 1`,
    /// `p + 2` and `p + 3` with `count` ids each.
    func checkEntries(_ cache: PieceCacheView, _ p: UnsafePointer<UInt8>, _ n: Int, end: UnsafePointer<UInt8>, count: Int) {
        let keys = (0 ..< 4).map { PieceKey(p + $0, n, end: end) }
        let ids = (0 ..< 4).map { k in (0 ..< count).map { UInt32($0 * 100_003 + 7 + n + k * 1_000_000) } }
        func lookUp(_ k: Int) -> [UInt32]? {
            var out = ContiguousArray<UInt32>()
            return cache.lookUp(keys[k], n, into: &out) ? Array(out) : (out.isEmpty ? nil : [])
        }
        func store(_ k: Int) { ids[k].withUnsafeBufferPointer { cache.store(keys[k], n, ids: $0) } }
        let half = PieceCacheView.inHalf(keys[0], n)
        // Forwarded to the one line, pieces of more than 3 ids replace each other's ids there.
        let forwarded = half && count > SharedPieceCache.halfIds
        store(0)
        #expect(lookUp(0) == ids[0])
        // Where the batch's two steps find it: the entry it starts at (the
        // first half, empty before), or the line it is sent to.
        var e = cache.entry(keys[0], n), inHalf = half
        var head = cache.holds(keys[0], n, at: &e, half: half)
        #expect(head != 0 && !PieceCacheView.isSecondHalf(e))
        #expect(forwarded ? PieceCacheView.isForwarded(head) : !(half && PieceCacheView.isForwarded(head)))
        if forwarded {
            e = cache.line(keys[0], n)
            inHalf = false
            head = cache.holds(keys[0], n, at: &e, half: false)
        }
        // A hit's head stands for the whole entry until the entry changes.
        var buffer = [UInt32](repeating: 0, count: SharedPieceCache.maxIds)
        #expect(cache.copyIfUnchanged(e, half: inHalf, head: head, to: &buffer) == count)
        #expect(Array(buffer[..<count]) == ids[0])
        store(1)
        #expect(lookUp(1) == ids[1])
        if half && !forwarded {
            // The second half took it: the first piece is untouched.
            #expect(cache.copyIfUnchanged(e, half: true, head: head, to: &buffer) == count)
            #expect(lookUp(0) == ids[0])
            // A third piece replaces the second, not the first.
            store(2)
            #expect(lookUp(1) == nil && lookUp(2) == ids[2] && lookUp(0) == ids[0])
            // Promoted, the third takes the first half and the first piece the second, both still found.
            var second = cache.entry(keys[2], n)
            let found = cache.holds(keys[2], n, at: &second, half: true)
            #expect(found != 0 && PieceCacheView.isSecondHalf(second))
            PieceCacheView.promote(second, head: found)
            // A second trade from the same sighting (another thread's) finds the head moved and undoes nothing.
            PieceCacheView.promote(second, head: found)
            #expect(cache.copyIfUnchanged(e, half: true, head: head, to: &buffer) == 0)
            var first = cache.entry(keys[2], n)
            #expect(cache.holds(keys[2], n, at: &first, half: true) != 0 && !PieceCacheView.isSecondHalf(first))
            #expect(lookUp(2) == ids[2] && lookUp(0) == ids[0])
            // So a fourth replaces the first piece.
            store(3)
            #expect(lookUp(0) == nil && lookUp(2) == ids[2] && lookUp(3) == ids[3])
        } else {
            #expect(cache.copyIfUnchanged(e, half: inHalf, head: head, to: &buffer) == 0)
            #expect(lookUp(0) == nil)
        }
        store(0)
        // The same piece stored again is a new head: an old one no longer vouches for it.
        var again = forwarded ? cache.line(keys[0], n) : cache.entry(keys[0], n)
        #expect(cache.holds(keys[0], n, at: &again, half: inHalf) != head)
        #expect(lookUp(0) == ids[0])
        // The same bytes one shorter are another piece.
        if n > 1 {
            var out = ContiguousArray<UInt32>()
            #expect(!cache.lookUp(PieceKey(p, n - 1, end: end), n - 1, into: &out))
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

    /// Threads storing, reading and promoting in one small shared cache at once (every
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
                            // As a batch does: a piece found in a second half trades places with the first's.
                            var e = cache.entry(key, n)
                            if PieceCacheView.inHalf(key, n), case let head = cache.holds(key, n, at: &e, half: true), head != 0,
                               PieceCacheView.isSecondHalf(e) {
                                PieceCacheView.promote(e, head: head)
                            }
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

    /// A trade of halves moves nothing while a writer holds either half or
    /// once the second half's head has moved; a forwarded piece traded to
    /// the first half still finds its line.
    @Test func tradesOfHalvesWaitForWritersAndKeepForwardedPieces() {
        let storage = SharedPieceCache(entries: 2)  // one line of halves and one line
        let cache = storage.view
        let text = Array("abcdwxyz".utf8)
        withExtendedLifetime(storage) {
            text.withUnsafeBufferPointer { b in
                let p = b.baseAddress!, end = p + b.count
                let first = PieceKey(p, 4, end: end), second = PieceKey(p + 4, 4, end: end)
                [UInt32(1), 2].withUnsafeBufferPointer { cache.store(first, 4, ids: $0) }
                [UInt32(3), 4, 5, 6].withUnsafeBufferPointer { cache.store(second, 4, ids: $0) }  // forwarded to the line
                var e = cache.entry(second, 4)
                let head = cache.holds(second, 4, at: &e, half: true)
                #expect(head != 0 && PieceCacheView.isSecondHalf(e) && PieceCacheView.isForwarded(head))
                let halves = storage.halves
                let before = (0 ..< 8).map { halves[$0] }
                // A writer holds the second half: nothing moves, and the first head is as it was.
                _ = tok_compare_exchange(halves + 6, head, head &+ PieceCacheView.sequenceUnit)
                PieceCacheView.promote(e, head: head)
                #expect((0 ..< 8).map { halves[$0] } == before.enumerated().map { $0.offset == 6 ? head &+ PieceCacheView.sequenceUnit : $0.element })
                tok_store_release(halves + 6, head)
                // A stale head (the half stored again since): nothing moves.
                PieceCacheView.promote(e, head: head &+ 2 * PieceCacheView.sequenceUnit)
                #expect((0 ..< 8).map { halves[$0] } == before)
                PieceCacheView.promote(e, head: head)
                var moved = cache.entry(second, 4)
                #expect(cache.holds(second, 4, at: &moved, half: true) != 0 && !PieceCacheView.isSecondHalf(moved))
                var out = ContiguousArray<UInt32>()
                #expect(cache.lookUp(second, 4, into: &out) && Array(out) == [3, 4, 5, 6])
                out.removeAll()
                #expect(cache.lookUp(first, 4, into: &out) && Array(out) == [1, 2])
                // Every head even: no writer left one held.
                #expect([halves[2], halves[6], storage.lines[4]].allSatisfy { $0 & PieceCacheView.sequenceUnit == 0 })
            }
        }
    }

    /// Threads reading, storing and trading the halves of one line at once,
    /// with six pieces whose heads differ only in their sequence numbers (same
    /// length, count and first id): a read that succeeds gives exactly its
    /// piece's ids, and no head is left held. Run under ThreadSanitizer too.
    @Test func threadsTradingHalvesOfOneLineReadOnlyTheirPieces() {
        let storage = SharedPieceCache(entries: 2)
        let cache = storage.view
        let pieces = (0 ..< 6).map { Array("pc\($0)z".utf8) }
        func ids(_ k: Int) -> [UInt32] { [7, UInt32(k * 1000 + 1), UInt32(k * 1000 + 2)] }
        let counts = withExtendedLifetime(storage) {
            inParallel(lanes: 4) { lane -> (hits: Int, wrong: Int, trades: Int) in
                var rng = SplitMix(state: UInt64(lane + 31))
                var hits = 0, wrong = 0, trades = 0
                var buffer = [UInt32](repeating: 0, count: SharedPieceCache.maxIds)
                for _ in 0 ..< 40_000 {
                    let k = Int(rng.next() % 6)
                    pieces[k].withUnsafeBufferPointer { b in
                        let key = PieceKey(b.baseAddress!, 4, end: b.baseAddress! + 4)
                        var e = cache.entry(key, 4)
                        let head = cache.holds(key, 4, at: &e, half: true)
                        if head != 0, case let got = cache.copyIfUnchanged(e, half: true, head: head, to: &buffer), got > 0 {
                            hits += 1
                            if Array(buffer[..<got]) != ids(k) { wrong += 1 }
                            if PieceCacheView.isSecondHalf(e) {
                                PieceCacheView.promote(e, head: head)
                                trades += 1
                            }
                        } else {
                            ids(k).withUnsafeBufferPointer { cache.store(key, 4, ids: $0) }
                        }
                    }
                }
                return (hits, wrong, trades)
            }
        }
        #expect(counts.map(\.wrong) == [0, 0, 0, 0])
        #expect(counts.allSatisfy { $0.hits > 0 && $0.trades > 0 })
        #expect([storage.halves[2], storage.halves[6]].allSatisfy { $0 & PieceCacheView.sequenceUnit == 0 })
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
