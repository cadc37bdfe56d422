// Encoding with a superword vocabulary. Its pieces are whole stretches of a
// line (``SplitRule/superwords``): most are met once, so a cache of pieces
// rarely holds them and BPE over every piece from its bytes would be several
// times slower than an ordinary vocabulary. But a superword vocabulary is an
// ordinary one whose later ranks cross the spaces between words, and BPE over a
// piece merges in rank order. So a piece is encoded from its words:
//
// 1. Each piece is cut into words by the `tok` pattern, and the words are
//    encoded as ordinary pieces, through the piece cache (the ordinary path,
//    at its speed).
// 2. A cut between two words is sound when no merge can cross it before both
//    words are finished: every token that holds the two bytes on either side
//    of the cut ranks above every token BPE reaches inside either word
//    (``SuperwordTables``). Until the first merge across a cut, each word
//    evolves exactly as it does alone; so when every cut of a piece is sound,
//    the words' ids are the state BPE over the whole piece reaches, and
//    continuing BPE from them (`mergeParts`) gives its ids exactly. Only
//    pairs across cuts can still merge, and for most pieces none does.
// 3. A piece with a cut that is not sound (rare: spaces before spaces), or
//    with more words' tokens than the scan takes, is encoded whole, as
//    `tokenizers` does.

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
        withExtendedLifetime(vocabulary.storage) {
            words.withUnsafeBufferPointer { ids in
                var k = 0, position = 0
                var pieceStart = 0, pieceFirst = 0
                var sound = true, crossingMerge = false
                var previousHighest: UInt32 = 0
                for entry in log.ends {
                    let end = entry >> 1
                    let wordStart = position, wordFirst = k
                    var highest: UInt32 = 0
                    while position < end {
                        // The words' ids spell out their bytes, so k < ids.count while position < end.
                        highest = max(highest, sw.highestRank(ids[k]))
                        position += t.tokenLength(ids[k])
                        k += 1
                    }
                    if wordStart > pieceStart && sound {
                        // A cut inside the piece: 0 < wordStart < text.count, and the word before has a token.
                        sound = sw.crossingRank(text[wordStart - 1], text[wordStart]) > max(previousHighest, highest)
                        crossingMerge = crossingMerge || t.pair(ids[wordFirst - 1], ids[wordFirst]) != UInt64.max
                    }
                    previousHighest = highest
                    guard entry & 1 == 1 else { continue }
                    let parts = UnsafeBufferPointer(rebasing: ids[pieceFirst ..< k])
                    if sound && !crossingMerge {
                        out.append(contentsOf: parts)
                    } else if sound && parts.count <= BPETables.linearScanLimit {
                        t.mergeParts(parts, scratch: &scratch, into: &out)
                    } else {
                        t.encodePiece(text.baseAddress! + pieceStart, end - pieceStart, scratch: &scratch, into: &out)
                    }
                    pieceStart = end
                    pieceFirst = k
                    sound = true
                    crossingMerge = false
                }
            }
        }
    }
}

extension BPETables {
    /// BPE continued from `parts` (ids, at most ``linearScanLimit``) by the
    /// scan: the ids BPE over their bytes reaches when `parts` is a state it
    /// passes through.
    @inlinable
    func mergeParts(
        _ parts: UnsafeBufferPointer<UInt32>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        let n = parts.count
        scratch.reserve(n)
        scratch.pairs.withView(for: self) { pairCache in
            scratch.ids.withUnsafeMutableBufferPointer { idsBuffer in
                scratch.ranks.withUnsafeMutableBufferPointer { ranksBuffer in
                    // reserve(n) made ids at least n long; ranks is linearScanLimit >= n long.
                    let ids = idsBuffer.baseAddress!, ranks = ranksBuffer.baseAddress!
                    for j in 0 ..< n { ids[j] = parts[j] }
                    for j in 0 ..< n - 1 { ranks[j] = pair(ids[j], ids[j + 1], pairCache) }
                    let m = scanMerges(ids: ids, ranks: ranks, count: n, pairCache: pairCache)
                    out.append(contentsOf: UnsafeBufferPointer(start: ids, count: m))
                }
            }
        }
    }
}
