import CTokRuntime

// Encoding with a superword vocabulary. Its pieces are whole stretches of a
// line (``SplitRule/superwords``): most are met once, so a cache of pieces
// rarely holds them, and BPE over every piece from its bytes runs at a tenth
// of an ordinary vocabulary's speed. But a superword vocabulary is an ordinary
// one whose later ranks cross the spaces between words, and BPE merges in rank
// order. Let C be the rank where superwords begin
// (``SuperwordTables/firstCrossingRank``). Then:
//
// 1. Each piece is cut into words by the `tok` pattern, and the words are
//    encoded as ordinary pieces, through the piece cache (the ordinary path,
//    at its speed).
// 2. Where a token below C holds the bytes either side of the cut after a
//    word (` (see`: the first stage has `(s`; spaces before spaces), the word
//    and the next are one *stretch*. No merge below C crosses a cut between
//    stretches, so BPE below C does in each stretch what it does to the
//    stretch alone: a stretch of one word that BPE takes no higher than C
//    stands as the word's ids; any other is encoded below C (its state at C).
// 3. A merge from C on that crosses the cut between two stretches joins a part
//    ending with the first stretch's last token at C to a part starting with
//    the second's first (``SuperwordView/mayJoin(_:_:)``). Where no merge can,
//    the cut is never crossed, so BPE over the piece is BPE over each
//    *segment* between such cuts alone: a segment of one word is that word's
//    ids; a longer one (` of the`, `    return`) is BPE over its bytes, through
//    the piece cache, as short segments repeat.
//
// Most cuts are settled by a bit of a table in the core's cache, and a word's
// ids are read once, so a superword piece costs about what its words do.

extension Tokenizer {
    /// The ids of `text`'s superword pieces, each from its words (above).
    @usableFromInline
    func encodeSuperwords(
        _ text: UnsafeBufferPointer<UInt8>, tables sw: SuperwordTables, scratch: inout BytePairScratch,
        into out: inout ContiguousArray<UInt32>
    ) {
        guard !text.isEmpty else { return }
        let tables = vocabulary.tables
        withExtendedLifetime((vocabulary.storage, pieceCache, sw)) {
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: BPETables.linearScanLimit) { parts in
            withUnsafeTemporaryAllocation(of: Bool.self, capacity: BPETables.linearScanLimit + PieceBatch.capacity) { flags in
                var segments = SuperwordSegments(text: text, tables: tables, view: sw.view, cache: pieceCache?.view,
                                                 parts: parts.baseAddress!, partMayMerge: flags.baseAddress!)
                let closes = flags.baseAddress! + BPETables.linearScanLimit
                guard let cache = pieceCache?.view else {
                    // No cache: each word on its own.
                    var start = 0, length = 0, idCount = 0, closesPiece = false
                    text.forEachSuperwordWord { word, endsPiece in
                        let before = segments.wordIds.count
                        tables.encodePiece(text.baseAddress! + word.lowerBound, word.count, scratch: &scratch,
                                           into: &segments.wordIds)
                        (start, length, idCount, closesPiece) = (word.lowerBound, word.count, segments.wordIds.count - before, endsPiece)
                        segments.take(1, starts: &start, lengths: &length, idCounts: &idCount, closes: &closesPiece,
                                      scratch: &scratch, into: &out)
                    }
                    return segments.finish(into: &out)
                }
                scratch.longPieces.prepare(for: tables)
                PieceBatch.with(text: text) { batch in
                    func flush() {
                        let count = batch.count
                        batch.flush(tables: tables, cache: cache, scratch: &scratch, into: &segments.wordIds)
                        segments.take(count, starts: batch.starts, lengths: batch.lengths, idCounts: batch.idCounts,
                                      closes: closes, scratch: &scratch, into: &out)
                    }
                    text.forEachSuperwordWord { word, endsPiece in
                        closes[batch.count] = endsPiece  // batch.count < capacity: flushed when it reaches it
                        if batch.add(word) { flush() }
                    }
                    flush()
                }
                segments.finish(into: &out)
            }
            }
        }
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// Calls `body` with each word of each superword piece, and whether it ends its piece.
    ///
    /// A piece's words are the `tok` pattern's matches inside the piece. The
    /// 64-byte windows (``windowStarts(at:cl100k:maxDigits:)``) match the whole
    /// text instead, which gives the same words as long as none reaches past
    /// the piece's end: a piece ends with a line break, a sentence mark or the
    /// text, never with other white space, so no lookahead of the pattern
    /// (`\s+(?!\S)`) decides differently before that end. Past the first word that
    /// would reach over it (`。”`), the rest of the piece is matched inside the piece.
    @inline(__always)
    func forEachSuperwordWord(_ body: (Range<Int>, Bool) -> Void) {
        var pieceStart = 0
        while pieceStart < count {
            let pieceEnd = pieceStart + matchSuperwordSpan(at: pieceStart)
            let piece = UnsafeBufferPointer(rebasing: self[pieceStart ..< pieceEnd])
            var i = pieceStart, gapStart = pieceStart, windows = true
            while i < pieceEnd {
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
                        last = k
                        ends &= ends &- 1
                    }
                    if last > 0 {
                        i += last
                        gapStart = i
                        continue
                    }
                }
                let length = piece.matchO200K(at: i - pieceStart, separateHan: true)
                if length > 0 {
                    if gapStart < i { body(gapStart ..< i, false) }
                    body(i ..< i + length, i + length == pieceEnd)
                    i += length
                    gapStart = i
                } else {
                    i += piece.scalar(at: i - pieceStart).length
                }
            }
            if gapStart < pieceEnd { body(gapStart ..< pieceEnd, true) }
            pieceStart = pieceEnd
        }
    }
}

/// The words of a text's superword pieces, taken in order with their ids,
/// gathered into stretches and segments (above), and the segments' ids
/// appended to the output.
struct SuperwordSegments {
    let base: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>
    let tables: BPETables, view: SuperwordView, cache: PieceCacheView?
    /// The words' ids as the piece cache gave them, from the first that may
    /// still be needed.
    var wordIds = ContiguousArray<UInt32>()
    /// Where the next word's ids start in `wordIds`; the ids before `copied`
    /// are in the output already (or dropped: a longer segment's).
    var next = 0, copied = 0
    /// The stretch being gathered: its words so far, where its bytes and ids start.
    var stretchWords = 0, stretchStart = 0, stretchIds = 0
    /// The open segment: its stretches (0: none open), where its bytes and ids
    /// start and its ids end, and whether it is one word.
    var segmentStretches = 0, segmentStart = 0, segmentIds = 0, segmentIdsEnd = 0, segmentIsWord = false
    /// The last token at C of the open segment's last stretch (known: false
    /// when that stretch was too long to encode below C, so that any cut after it may be crossed).
    var lastToken: UInt32 = 0, lastKnown = false
    /// A stretch's ids at C.
    var belowCap = ContiguousArray<UInt32>()
    /// The open segment's ids at C, and whether each with the next may merge
    /// (false inside a word BPE finished below C): BPE continued from them
    /// gives a new segment's ids. Room for ``BPETables/linearScanLimit``;
    /// `partCount` is past it when the segment outgrew it or a stretch's ids
    /// at C are unknown.
    let parts: UnsafeMutablePointer<UInt32>, partMayMerge: UnsafeMutablePointer<Bool>
    var partCount = 0

    /// A segment of several words closed in this batch: its bytes, where its
    /// words' ids lie in `wordIds`, its parts in `closedParts` (a count past
    /// ``BPETables/linearScanLimit``: none kept, BPE over its bytes), and its
    /// piece cache key and entry (none: too long for one), requested from memory
    /// when it closed and read once the batch's words are all taken.
    struct Closed {
        var start: Int, count: Int, ids: Int, idsEnd: Int, parts: Int, partCount: Int
        var key: PieceKey?, slot: Int
    }
    var closed = ContiguousArray<Closed>()
    var closedParts = ContiguousArray<UInt32>(), closedMayMerge = ContiguousArray<Bool>()

    init(text: UnsafeBufferPointer<UInt8>, tables: BPETables, view: SuperwordView, cache: PieceCacheView?,
         parts: UnsafeMutablePointer<UInt32>, partMayMerge: UnsafeMutablePointer<Bool>) {
        self.parts = parts
        self.partMayMerge = partMayMerge
        base = text.baseAddress!
        end = base + text.count
        self.tables = tables
        self.view = view
        self.cache = cache
    }

    /// Takes `count` words, whose ids follow in `wordIds` after those taken before.
    mutating func take(
        _ count: Int, starts: UnsafePointer<Int>, lengths: UnsafePointer<Int>, idCounts: UnsafePointer<Int>,
        closes: UnsafePointer<Bool>,
        scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        do {
            // The ids are read through another reference to the same storage: nothing
            // changes `wordIds` while the words are taken, and it is gone before the trim below.
            let taken = wordIds
            taken.withUnsafeBufferPointer { idsBuffer in
                let ids = idsBuffer.baseAddress!
                for j in 0 ..< count {
                    take(start: starts[j], length: lengths[j], idCount: idCounts[j], closesPiece: closes[j], ids: ids,
                         scratch: &scratch, into: &out)
                }
            }
        }
        emitClosed(scratch: &scratch, into: &out)
        // Keep only what a later word may need: the open segment's ids if it is
        // one word so far, the gathered stretch's, none else.
        let keep = segmentStretches > 0 && segmentIsWord ? segmentIds : stretchWords > 0 ? stretchIds : next
        let copyEnd = segmentStretches > 0 ? segmentIds : keep
        if copied < copyEnd { wordIds.withUnsafeBufferPointer { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[copied ..< copyEnd])) } }
        wordIds.removeSubrange(0 ..< keep)
        next -= keep
        stretchIds -= keep  // >= 0 while a stretch is gathered: keep <= its start
        segmentIds = max(segmentIds - keep, 0)
        segmentIdsEnd = max(segmentIdsEnd - keep, 0)
        copied = segmentIds
    }

    /// One word: the `length` bytes at `start`, its `idCount` ids at `ids[next...]`.
    @inline(__always)
    mutating func take(
        start: Int, length: Int, idCount: Int, closesPiece: Bool, ids: UnsafePointer<UInt32>,
        scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        let first = next
        next += idCount
        var finished = true
        for k in first ..< next where view.reachesCap(ids[k]) { finished = false }
        if stretchWords == 0 { (stretchStart, stretchIds) = (start, first) }
        stretchWords += 1
        let wordEnd = start + length
        // A word that does not end its piece has a byte after it.
        if !closesPiece && view.crossesBelowCap(base[wordEnd - 1], base[wordEnd]) { return }
        // The stretch is whole: its first and last tokens at C.
        var firstToken: UInt32 = 0, last: UInt32 = 0, known = true
        if stretchWords == 1 && finished {
            (firstToken, last) = (ids[first], ids[next - 1])
        } else {
            belowCap.removeAll(keepingCapacity: true)
            known = mergeBelowCap(base + stretchStart, wordEnd - stretchStart, scratch: &scratch)
            if known { (firstToken, last) = (belowCap[0], belowCap[belowCap.count - 1]) }
        }
        if segmentStretches > 0 && (!known || !lastKnown || view.mayJoin(lastToken, firstToken)) {
            segmentStretches += 1
            segmentIsWord = false
            if partCount > 0 && partCount <= BPETables.linearScanLimit { partMayMerge[partCount - 1] = true }  // across the cut
        } else {
            if segmentStretches > 0 { closeSegment(at: stretchStart, ids: ids, scratch: &scratch, into: &out) }
            (segmentStretches, segmentStart, segmentIds) = (1, stretchStart, stretchIds)
            segmentIsWord = stretchWords == 1
            partCount = 0
        }
        // The stretch's ids at C join the segment's parts.
        if !known {
            partCount = BPETables.linearScanLimit + 1
        } else if stretchWords == 1 && finished {
            addParts(ids + first, next - first, mayMerge: false)
        } else {
            belowCap.withUnsafeBufferPointer { addParts($0.baseAddress!, $0.count, mayMerge: true) }
        }
        segmentIdsEnd = next
        (lastToken, lastKnown) = (last, known)
        stretchWords = 0
        if closesPiece { closeSegment(at: wordEnd, ids: ids, scratch: &scratch, into: &out) }
    }

    /// A stretch's ids at C (BPE below C over its `n` bytes at `start`) into
    /// `belowCap`; false for more than ``BPETables/linearScanLimit`` bytes.
    /// Short stretches (`    return`: the indentation and the first word)
    /// repeat, so their ids at C are kept in the piece cache too, under their
    /// length plus ``belowCapTag``: an entry's length byte tells a piece's
    /// ids from a stretch's at C, and pieces have at most 32 bytes.
    mutating func mergeBelowCap(_ start: UnsafePointer<UInt8>, _ n: Int, scratch: inout BytePairScratch) -> Bool {
        guard let cache, n <= SharedPieceCache.maxBytes else {
            return tables.mergeBelow(view.cap, start, n, scratch: &scratch, into: &belowCap)
        }
        let key = PieceKey(start, n, end: end), tagged = n + SuperwordSegments.belowCapTag
        let slot = key.slot(tagged, cache.shift)
        if cache.lookUp(key, tagged, slot: slot, into: &belowCap) { return true }
        _ = tables.mergeBelow(view.cap, start, n, scratch: &scratch, into: &belowCap)
        if belowCap.count <= SharedPieceCache.maxIds {
            belowCap.withUnsafeBufferPointer { cache.store(key, tagged, slot: slot, ids: $0) }
        }
        return true
    }

    static let belowCapTag = 64

    /// Appends `n` ids at C of a stretch to the parts: `mayMerge`, whether pairs inside it may still merge.
    @inline(__always)
    mutating func addParts(_ ids: UnsafePointer<UInt32>, _ n: Int, mayMerge: Bool) {
        guard partCount + n <= BPETables.linearScanLimit else {
            partCount = BPETables.linearScanLimit + 1
            return
        }
        for k in 0 ..< n {
            parts[partCount + k] = ids[k]  // partCount + k < linearScanLimit: the room checked above
            partMayMerge[partCount + k] = mayMerge
        }
        partCount += n
    }

    /// Ends the open segment at byte `segmentEnd`: a word's ids stay in
    /// `wordIds` to be copied with its neighbours'; a longer segment is noted
    /// for BPE over its bytes, its cache entry requested now.
    mutating func closeSegment(
        at segmentEnd: Int, ids: UnsafePointer<UInt32>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        segmentStretches = 0
        guard !segmentIsWord else { return }
        let n = segmentEnd - segmentStart
        var segment = Closed(start: segmentStart, count: n, ids: segmentIds, idsEnd: segmentIdsEnd, parts: closedParts.count,
                             partCount: partCount, key: nil, slot: -1)
        if partCount <= BPETables.linearScanLimit {
            closedParts.append(contentsOf: UnsafeBufferPointer(start: parts, count: partCount))
            closedMayMerge.append(contentsOf: UnsafeBufferPointer(start: partMayMerge, count: partCount))
        }
        if let cache, n <= SharedPieceCache.maxBytes {
            let key = PieceKey(base + segmentStart, n, end: end)
            (segment.key, segment.slot) = (key, key.slot(n, cache.shift))
            tok_prefetch(cache.entry(segment.slot))
        }
        closed.append(segment)
    }

    /// Appends the ids of the segments closed in this batch, each after the
    /// words' ids before it: from the piece caches, else by BPE continued from
    /// its parts (or over its bytes), then kept in the caches.
    mutating func emitClosed(scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>) {
        guard !closed.isEmpty else { return }
        let taken = wordIds
        taken.withUnsafeBufferPointer { idsBuffer in
            closedParts.withUnsafeBufferPointer { partsBuffer in
                closedMayMerge.withUnsafeBufferPointer { mayMergeBuffer in
                    for segment in closed {
                        // Every segment's ids range lies inside `wordIds`, after `copied`.
                        if copied < segment.ids {
                            out.append(contentsOf: UnsafeBufferPointer(rebasing: idsBuffer[copied ..< segment.ids]))
                        }
                        copied = segment.idsEnd
                        let start = base + segment.start, n = segment.count, before = out.count
                        func merge() {
                            guard segment.partCount <= BPETables.linearScanLimit else {
                                return tables.encodePiece(start, n, scratch: &scratch, into: &out)
                            }
                            // The parts were appended at `segment.parts` when it closed.
                            tables.mergeParts(partsBuffer.baseAddress! + segment.parts, mayMerge: mayMergeBuffer.baseAddress! + segment.parts,
                                              count: segment.partCount, scratch: &scratch, into: &out)
                        }
                        if let cache, let key = segment.key {
                            if cache.lookUp(key, n, slot: segment.slot, into: &out) { continue }
                            merge()
                            guard out.count - before <= SharedPieceCache.maxIds else { continue }
                            out.withUnsafeBufferPointer {
                                cache.store(key, n, slot: segment.slot, ids: UnsafeBufferPointer(rebasing: $0[before...]))
                            }
                        } else if cache != nil && n <= LongPieceCache.maxBytes {
                            let h = hashBytes(start, n)
                            if scratch.longPieces.lookUp(start, n, hash: h, into: &out) { continue }
                            merge()
                            out.withUnsafeBufferPointer {
                                scratch.longPieces.store(start, n, hash: h, ids: UnsafeBufferPointer(rebasing: $0[before...]))
                            }
                        } else {
                            merge()
                        }
                    }
                }
            }
        }
        closed.removeAll(keepingCapacity: true)
        closedParts.removeAll(keepingCapacity: true)
        closedMayMerge.removeAll(keepingCapacity: true)
    }

    /// Appends the ids not yet appended: call once every word is taken (the last ended its piece).
    mutating func finish(into out: inout ContiguousArray<UInt32>) {
        if copied < next { wordIds.withUnsafeBufferPointer { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[copied ..< next])) } }
    }
}

extension BPETables {
    /// BPE over the `n` bytes at `start` with only the merges ranked below
    /// `cap`, appended to `out`; false (nothing appended) for more than
    /// ``linearScanLimit`` bytes.
    @inlinable
    func mergeBelow(
        _ cap: UInt32, _ start: UnsafePointer<UInt8>, _ n: Int, scratch: inout BytePairScratch,
        into out: inout ContiguousArray<UInt32>
    ) -> Bool {
        guard n >= 1 && n <= BPETables.linearScanLimit else { return n == 0 }
        scanFrom(count: n, limit: UInt64(cap) << 32, scratch: &scratch, into: &out) { ids, ranks, pairCache in
            for j in 0 ..< n { ids[j] = byteTokens[Int(start[j])] }
            for j in 0 ..< n - 1 { ranks[j] = pair(ids[j], ids[j + 1], pairCache) }
        }
        return true
    }

    /// BPE continued from the `n` ids at `parts` (at most ``linearScanLimit``):
    /// the ids BPE over their bytes reaches when `parts` is a state it passes
    /// through. A pair whose `mayMerge` is false is not looked up.
    @inlinable
    func mergeParts(
        _ parts: UnsafePointer<UInt32>, mayMerge: UnsafePointer<Bool>, count n: Int, scratch: inout BytePairScratch,
        into out: inout ContiguousArray<UInt32>
    ) {
        scanFrom(count: n, scratch: &scratch, into: &out) { ids, ranks, pairCache in
            for j in 0 ..< n { ids[j] = parts[j] }
            for j in 0 ..< n - 1 { ranks[j] = mayMerge[j] ? pair(ids[j], ids[j + 1], pairCache) : UInt64.max }
        }
    }

    /// ``scanMerges(ids:ranks:count:pairCache:limit:)`` over `n` (1 to
    /// ``linearScanLimit``) parts that `fill` writes into the scratch: their
    /// ids, then each pair's value. The remaining ids are appended to `out`.
    @inlinable @inline(__always)
    func scanFrom(
        count n: Int, limit: UInt64 = .max, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>,
        _ fill: (UnsafeMutablePointer<UInt32>, UnsafeMutablePointer<UInt64>, PairCacheView?) -> Void
    ) {
        scratch.reserve(n)
        scratch.pairs.withView(for: self) { pairCache in
            scratch.ids.withUnsafeMutableBufferPointer { idsBuffer in
                scratch.ranks.withUnsafeMutableBufferPointer { ranksBuffer in
                    // reserve(n) made ids at least n long; ranks is linearScanLimit >= n long.
                    let ids = idsBuffer.baseAddress!, ranks = ranksBuffer.baseAddress!
                    fill(ids, ranks, pairCache)
                    let m = scanMerges(ids: ids, ranks: ranks, count: n, pairCache: pairCache, limit: limit)
                    out.append(contentsOf: UnsafeBufferPointer(start: ids, count: m))
                }
            }
        }
    }
}
