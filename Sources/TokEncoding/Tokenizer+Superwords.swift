import CTokRuntime

// Encoding with a superword vocabulary. Its pieces are whole stretches of a
// line (``SplitRule/superwords``): most are met once, so a cache of pieces
// rarely holds them, and BPE over every piece from its bytes runs at a tenth
// of an ordinary vocabulary's speed. But a superword vocabulary is an ordinary
// one whose later ranks cross the spaces between words, and BPE merges in rank
// order. Let C be the rank where superwords begin
// (``SuperwordTables/firstCrossingRank``); a piece's *state at C* is what BPE
// has made of it when every merge ranked below C is done. Then:
//
// 1. Each piece is cut into words by the `tok` pattern. Where a token below C
//    holds the bytes either side of the cut after a word (` (see`: the first
//    stage has `(s`; spaces before spaces), the word and the next are one
//    *stretch*. No merge below C crosses a cut between stretches, so a
//    piece's state at C is its stretches' states at C one after another.
// 2. Stretches repeat, as words do: they go through the piece cache like an
//    ordinary vocabulary's pieces, encoded on a miss with the merges stopped
//    at C (``SuperwordTables/cappedTables(_:)``), so the cache holds states
//    at C.
// 3. A merge from C on makes a token ranked C or above, and every pair it
//    then forms can only merge higher still; so BPE goes on from the state
//    at C asking only for the merges ranked C or above, a table and filter
//    that stay in the core's cache (``LateMerges``). The filter rules out
//    three pairs in four, and a piece where nothing merges is left as it is.
//
// The piece's ids are worked on in place in the output, where the cache put
// them: a piece costs its stretches' lookups and a filter word per pair.

extension Tokenizer {
    /// The ids of `text`'s superword pieces, each from its stretches (above).
    @usableFromInline
    func encodeSuperwords(
        _ text: UnsafeBufferPointer<UInt8>, tables sw: SuperwordTables, scratch: inout BytePairScratch,
        into out: inout ContiguousArray<UInt32>
    ) {
        guard !text.isEmpty else { return }
        let tables = vocabulary.tables
        withExtendedLifetime((vocabulary.storage, pieceCache, sw)) {
            let capped = sw.cappedTables(tables)
            var late = LateMerges(tables: sw.view.lateTables(tables))
            defer { late.release() }
            // The open piece's ids start at `pieceStart` in `out`.
            var pieceStart = out.count
            guard let cache = pieceCache?.view else {
                // No cache: each stretch on its own.
                return text.forEachSuperwordStretch(sw.view) { stretch, endsPiece in
                    capped.encodePiece(text.baseAddress! + stretch.lowerBound, stretch.count, scratch: &scratch, into: &out)
                    guard endsPiece else { return }
                    let n = out.count - pieceStart
                    let kept = out.withUnsafeMutableBufferPointer { late.merge($0.baseAddress! + pieceStart, n) }
                    out.removeLast(n - kept)
                    pieceStart = out.count
                }
            }
            withUnsafeTemporaryAllocation(of: Bool.self, capacity: PieceBatch.capacity) { flags in
                let closes = flags.baseAddress!
                scratch.longPieces.prepare(for: capped)
                PieceBatch.with(text: text) { batch in
                    func flush() {
                        let count = batch.count, idCounts = batch.idCounts, batchStart = out.count
                        batch.flush(tables: capped, cache: cache, scratch: &scratch, into: &out)
                        // The batch's ids are its stretches' at C; each piece it closes
                        // goes on from C, in place, and the ids after it move down.
                        let written = out.withUnsafeMutableBufferPointer { buffer in
                            let ids = buffer.baseAddress!
                            var read = batchStart, write = pieceStart, readStart = pieceStart
                            for j in 0 ..< count {
                                read += idCounts[j]
                                guard closes[j] else { continue }
                                let n = read - readStart
                                if write != readStart { (ids + write).update(from: ids + readStart, count: n) }  // moving down
                                write += late.merge(ids + write, n)
                                readStart = read
                            }
                            // The open piece's ids, after the closed ones.
                            if write != readStart { (ids + write).update(from: ids + readStart, count: read - readStart) }
                            pieceStart = write
                            return write + (read - readStart)
                        }
                        out.removeLast(out.count - written)
                    }
                    text.forEachSuperwordStretch(sw.view) { stretch, endsPiece in
                        closes[batch.count] = endsPiece  // batch.count < capacity: flushed when it reaches it
                        if batch.add(stretch) { flush() }
                    }
                    flush()
                }
            }
        }
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// Calls `body` with each stretch of each superword piece (its words
    /// joined where a merge below C may cross the cut between them), and
    /// whether it ends its piece.
    @inline(__always)
    func forEachSuperwordStretch(_ view: SuperwordView, _ body: (Range<Int>, Bool) -> Void) {
        var start = -1
        forEachSuperwordWord { word, endsPiece in
            if start < 0 { start = word.lowerBound }
            // A word that does not end its piece has a byte after it.
            if !endsPiece && view.crossesBelowCap(self[word.upperBound - 1], self[word.upperBound]) { return }
            body(start ..< word.upperBound, endsPiece)
            start = -1
        }
    }

    /// Calls `body` with each word of each superword piece, and whether it ends its piece.
    ///
    /// A piece's words are the `tok` pattern's matches inside the piece. The
    /// 64-byte windows (``windowStarts(at:cl100k:maxDigits:)``) match the whole
    /// text instead, across the ends of pieces as over ordinary text, which
    /// gives the same words as long as none reaches past its piece's end: a
    /// piece ends with a line break, a sentence mark or the text, never with
    /// other white space, so no lookahead of the pattern (`\s+(?!\S)`) decides
    /// differently before that end. Past a word that would reach over it
    /// (`\n}` in code, `。”`), the rest of the piece is matched inside the piece.
    @inline(__always)
    func forEachSuperwordWord(_ body: (Range<Int>, Bool) -> Void) {
        guard count > 0 else { return }
        var pieceStart = 0, pieceEnd = matchSuperwordSpan(at: 0)
        var i = 0, gapStart = 0, windows = true
        @inline(__always) func nextPiece() {
            pieceStart = pieceEnd
            if pieceStart < count { pieceEnd = pieceStart + matchSuperwordSpan(at: pieceStart) }
            windows = true
        }
        while i < count {
            if windows && gapStart == i && count - i >= 64 {
                let (starts, limit) = windowStarts(at: i, cl100k: false, maxDigits: 1)  // i + 64 <= count
                var ends = starts & ~1 & ((UInt64(2) &<< UInt64(limit)) &- 1)
                var last = 0
                while ends != 0 {
                    let k = ends.trailingZeroBitCount
                    if i + k > pieceEnd {
                        windows = false
                        break
                    }
                    body(i + last ..< i + k, i + k == pieceEnd)
                    if i + k == pieceEnd { nextPiece() }
                    last = k
                    ends &= ends &- 1
                }
                if last > 0 {
                    i += last
                    gapStart = i
                    continue
                }
            }
            // i < pieceEnd: a piece ends where its last word or gap does, and the next begins there.
            let piece = UnsafeBufferPointer(rebasing: self[pieceStart ..< pieceEnd])
            let length = piece.matchO200K(at: i - pieceStart, separateHan: true)
            if length > 0 {
                if gapStart < i { body(gapStart ..< i, false) }
                body(i ..< i + length, i + length == pieceEnd)
                i += length
                gapStart = i
            } else {
                i += piece.scalar(at: i - pieceStart).length
                guard i == pieceEnd else { continue }
                body(gapStart ..< pieceEnd, true)
                gapStart = i
            }
            if i == pieceEnd { nextPiece() }
        }
    }
}

/// BPE from C on over a piece's state at C, with the merges ranked C or
/// above alone (``SuperwordView/lateTables(_:)``).
struct LateMerges {
    let tables: BPETables
    /// Each pair's value (`rank << 32 | result`; `UInt64.max`: no merge), room for `capacity`.
    var values: UnsafeMutablePointer<UInt64>, capacity = 256

    init(tables: BPETables) {
        self.tables = tables
        values = .allocate(capacity: capacity)
    }

    func release() { values.deallocate() }

    /// Room for `n` values.
    mutating func reserve(_ n: Int) {
        guard n > capacity else { return }
        values.deallocate()
        capacity = n.roundedUpToPowerOfTwo
        values = .allocate(capacity: capacity)
    }

    /// Merges the `n` ids at `ids` (a piece's state at C) in place and
    /// returns how many are left.
    ///
    /// - Complexity: O(n) when nothing merges (a filter word a pair, in the
    ///   core's cache); else as the kernel's, for n parts.
    @inline(__always)
    mutating func merge(_ ids: UnsafeMutablePointer<UInt32>, _ n: Int) -> Int {
        guard n > 1 else { return n }
        reserve(n)
        // Most pairs are ruled out by the filter; the others' slots are requested before any is read.
        var candidates = false
        for j in 0 ..< n - 1 {
            let key = UInt64(ids[j]) << 32 | UInt64(ids[j + 1])
            if PairFilter.mayHold(key, words: tables.pairFilter, shift: tables.pairFilterShift) {
                tok_prefetch(tables.pairHome(ids[j], ids[j + 1]))
                values[j] = LateMerges.unread
                candidates = true
            } else {
                values[j] = .max
            }
        }
        guard candidates else { return n }
        var merges = false
        for j in 0 ..< n - 1 where values[j] == LateMerges.unread {
            values[j] = tables.pairInTable(ids[j], ids[j + 1])
            if values[j] != .max { merges = true }
        }
        guard merges else { return n }
        values[n - 1] = .max
        guard n <= BPETables.linearScanLimit else {
            // A long piece: the kernel's tournament tree over its ids.
            let rank = UnsafeMutablePointer<UInt32>.allocate(capacity: n + 1)
            let node = UnsafeMutablePointer<UInt64>.allocate(capacity: BPETables.treeNodes(n))
            defer {
                rank.deallocate()
                node.deallocate()
            }
            for j in 0 ..< n { rank[j] = UInt32(truncatingIfNeeded: values[j] >> 32) }  // UInt64.max: none
            rank[n] = .max
            var merged = ContiguousArray<UInt32>()
            tables.mergeTree(n, bytes: 0, ids: ids, rank: rank, node: node, pairCache: nil, into: &merged)
            merged.withUnsafeBufferPointer { ids.update(from: $0.baseAddress!, count: $0.count) }
            return merged.count
        }
        // The late table stays in the core's cache: no pair cache in front of it.
        return tables.scanMerges(ids: ids, ranks: values, count: n, pairCache: nil)
    }

    /// A pair's value to be read from the table.
    static let unread = UInt64.max - 1
}
