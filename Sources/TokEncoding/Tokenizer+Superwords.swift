// Encoding with a superword vocabulary. Its pieces are whole stretches of a
// line (``SplitRule/superwords``): most are met once, so a cache of pieces
// rarely holds them, and BPE over every piece from its bytes runs at a tenth
// of an ordinary vocabulary's speed. But a superword vocabulary is an ordinary
// one whose later ranks cross the spaces between words, and BPE merges in rank
// order. Let C be the lowest rank of a token that the `tok` pattern cuts
// (``SuperwordTables/firstCrossingRank``: where superwords begin). Cut a
// piece into stretches such that no token below C holds the two bytes either
// side of any cut. Then no merge below C crosses a cut, so BPE over the whole
// piece, until no pair below C is left, does in each stretch exactly what BPE
// limited to ranks below C does to the stretch alone; and from that state
// (found by each stretch alone), BPE continued over the whole piece gives its
// ids. So:
//
// 1. Each piece is cut into words by the `tok` pattern, and the words are
//    encoded as ordinary pieces, through the piece cache (the ordinary path,
//    at its speed). A word that BPE takes no higher than C is finished below
//    C as it stands (``SuperwordTables/highestRank(_:)``); one that goes
//    higher (rare) is encoded again below C.
// 2. Where a token below C holds the bytes either side of the cut before a
//    word (` (see`: the first stage has `(s`; spaces before spaces), the
//    stretch before it and the word are joined and encoded below C, and the
//    cut before the joined stretch is checked in turn.
// 3. BPE continues over the piece from the stretches' ids (`mergeParts`),
//    looking up only the pairs across cuts and inside stretches encoded
//    below C: the others are finished. A piece of more than 128 tokens (the scan's limit), or with a
//    joined stretch longer than 128 bytes, is encoded whole.

/// The words of each superword piece, each word's end noted (with whether it
/// ends its piece) for the second pass.
@usableFromInline
struct SuperwordWords: PieceSplitter {
    /// Per word, `end << 1 | endsPiece`, in order.
    @usableFromInline final class Log {
        @usableFromInline var ends = ContiguousArray<Int>()
        @usableFromInline init() {}
    }

    @usableFromInline let log: Log

    @inlinable init(log: Log) { self.log = log }

    @inlinable
    func forEachPiece(_ text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        let log = self.log
        text.forEachMatch({ piece in
            let words = UnsafeBufferPointer(rebasing: text[piece])
            words.forEachMatch(windows: (cl100k: false, maxDigits: 1), { word in
                let end = piece.lowerBound + word.upperBound
                log.ends.append(end << 1 | (end == piece.upperBound ? 1 : 0))
                body(piece.lowerBound + word.lowerBound ..< end)
            }) { $0.matchO200K(at: $1, separateHan: true) }
        }) { $0.matchSuperwordSpan(at: $1) }
    }
}

extension Tokenizer {
    /// The ids of `text`'s superword pieces, each from its words (above).
    @usableFromInline
    func encodeSuperwords(
        _ text: UnsafeBufferPointer<UInt8>, tables sw: SuperwordTables, scratch: inout BytePairScratch,
        into out: inout ContiguousArray<UInt32>
    ) {
        let log = SuperwordWords.Log()
        let first = out.count
        encodePieces(text, splitter: SuperwordWords(log: log), scratch: &scratch, into: &out)
        let words = ContiguousArray(out[first...])
        out.removeSubrange(first...)
        let t = vocabulary.tables
        let cap = sw.firstCrossingRank
        /// The stretches of the current piece: where their bytes start, where their ids start in `parts`,
        /// and whether they were encoded below the cap (pairs inside them may still merge).
        var stretches: [(start: Int, firstPart: Int, belowCap: Bool)] = []
        var parts = ContiguousArray<UInt32>()
        withExtendedLifetime(vocabulary.storage) {
            let base = text.baseAddress!
            var k = 0, position = 0, pieceStart = 0
            var belowCap = false  // a stretch was encoded below the cap: BPE goes on over the piece
            var whole = false  // the piece is encoded from its bytes
            for entry in log.ends {
                let end = entry >> 1
                let wordStart = position, wordFirst = parts.count
                var highest: UInt32 = 0
                while position < end {
                    // The words' ids spell out their bytes, so k < words.count while position < end.
                    parts.append(words[k])
                    highest = max(highest, sw.highestRank(words[k]))
                    position += t.tokenLength(words[k])
                    k += 1
                }
                let reencoded = !whole && highest >= cap
                if reencoded {
                    parts.removeSubrange(wordFirst...)
                    whole = !t.mergeBelow(cap, base + wordStart, end - wordStart, scratch: &scratch, into: &parts)
                    belowCap = true
                }
                stretches.append((wordStart, wordFirst, reencoded))
                // 0 < the last stretch's start < text.count while another precedes it in the piece.
                while !whole && stretches.count >= 2,
                      sw.crossingRank(text[stretches[stretches.count - 1].start - 1], text[stretches[stretches.count - 1].start]) < cap {
                    let before = stretches[stretches.count - 2]
                    parts.removeSubrange(before.firstPart...)
                    stretches.removeLast()
                    stretches[stretches.count - 1].belowCap = true
                    whole = !t.mergeBelow(cap, base + before.start, end - before.start, scratch: &scratch, into: &parts)
                    belowCap = true
                }
                guard entry & 1 == 1 else { continue }
                // With one stretch finished as it stands there is nothing left to merge;
                // otherwise the scan looks up only the pairs that can merge.
                let goesOn = belowCap || stretches.count > 1
                if whole || (goesOn && parts.count > BPETables.linearScanLimit) {
                    t.encodePiece(base + pieceStart, end - pieceStart, scratch: &scratch, into: &out)
                } else if goesOn {
                    // Only pairs across cuts, or inside a stretch encoded below the cap, can merge.
                    var next = 1, inside = stretches[0].belowCap
                    parts.withUnsafeBufferPointer {
                        t.mergeParts($0, scratch: &scratch, into: &out) { j in
                            if next < stretches.count && j + 1 == stretches[next].firstPart {
                                inside = stretches[next].belowCap
                                next += 1
                                return true
                            }
                            return inside
                        }
                    }
                } else {
                    out.append(contentsOf: parts)
                }
                pieceStart = end
                belowCap = false
                whole = false
                parts.removeAll(keepingCapacity: true)
                stretches.removeAll(keepingCapacity: true)
            }
        }
    }
}

extension BPETables {
    /// BPE continued from `parts` (ids, at most ``linearScanLimit``) by the
    /// scan: the ids BPE over their bytes reaches when `parts` is a state it
    /// passes through.
    /// `mayMerge(j)`, asked for each `j` in order, says whether the pair of
    /// parts `j` and `j + 1` can merge at all (false: it is not looked up).
    @inlinable
    func mergeParts(
        _ parts: UnsafeBufferPointer<UInt32>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>,
        mayMerge: (Int) -> Bool
    ) {
        let n = parts.count
        scratch.reserve(n)
        scratch.pairs.withView(for: self) { pairCache in
            scratch.ids.withUnsafeMutableBufferPointer { idsBuffer in
                scratch.ranks.withUnsafeMutableBufferPointer { ranksBuffer in
                    // reserve(n) made ids at least n long; ranks is linearScanLimit >= n long.
                    let ids = idsBuffer.baseAddress!, ranks = ranksBuffer.baseAddress!
                    for j in 0 ..< n { ids[j] = parts[j] }
                    for j in 0 ..< n - 1 { ranks[j] = mayMerge(j) ? pair(ids[j], ids[j + 1], pairCache) : UInt64.max }
                    let m = scanMerges(ids: ids, ranks: ranks, count: n, pairCache: pairCache)
                    out.append(contentsOf: UnsafeBufferPointer(start: ids, count: m))
                }
            }
        }
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
        scratch.reserve(n)
        scratch.pairs.withView(for: self) { pairCache in
            scratch.ids.withUnsafeMutableBufferPointer { idsBuffer in
                scratch.ranks.withUnsafeMutableBufferPointer { ranksBuffer in
                    // reserve(n) made ids at least n long; ranks is linearScanLimit >= n long.
                    let ids = idsBuffer.baseAddress!, ranks = ranksBuffer.baseAddress!
                    for j in 0 ..< n { ids[j] = byteTokens[Int(start[j])] }
                    for j in 0 ..< n - 1 { ranks[j] = pair(ids[j], ids[j + 1], pairCache) }
                    let m = scanMerges(ids: ids, ranks: ranks, count: n, pairCache: pairCache, limit: UInt64(cap) << 32)
                    out.append(contentsOf: UnsafeBufferPointer(start: ids, count: m))
                }
            }
        }
        return true
    }
}
