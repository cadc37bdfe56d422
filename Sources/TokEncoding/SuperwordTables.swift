/// What the encoder needs to encode a superword piece from its words
/// (`Tokenizer+Superwords.swift`): for each pair of adjacent bytes, the lowest
/// rank of a token that holds them side by side, and for each token the
/// highest rank any BPE of its bytes can reach.
///
/// BPE over a piece merges in rank order, so where the piece is cut between
/// two words, no merge can cross the cut before the rank at which some token
/// holds the two bytes on either side of it (``crossingRank(_:_:)``). A word
/// whose BPE stays below that rank (``highestRank(_:)`` of its tokens) is
/// finished before anything crosses the cut, exactly as if it were encoded
/// alone. A ranks (tiktoken) vocabulary only: a rank is then a token's id.
@usableFromInline
final class SuperwordTables: Sendable {
    /// `crossing[x << 8 | y]`: the lowest id of a token holding bytes `x, y` side by side (`UInt32.max`: none).
    @usableFromInline let crossing: [UInt32]
    /// `highest[id]`: the highest id among the tokens any split of `id`'s bytes into two tokens, and theirs in turn, reaches.
    @usableFromInline let highest: [UInt32]
    /// The lowest rank of a token of whole characters that the `tok` pattern
    /// cuts into two pieces or more: where superwords begin (the transition point of a superword
    /// build). Ranks below it are the words' own.
    @usableFromInline let firstCrossingRank: UInt32

    /// - Complexity: O(total token bytes) for the crossings; for the highest
    ///   ranks, a pass over the merge table per level of the deepest chain of
    ///   splits whose part ranks above its token (one or two passes in a
    ///   trained vocabulary, whose tokens rank above their parts).
    init(_ vocabulary: Vocabulary) {
        let t = vocabulary.tables
        var crossing = [UInt32](repeating: .max, count: 1 << 16)
        var highest = (0 ..< UInt32(t.tokenCount)).map { $0 }
        var firstCrossing = UInt32(t.tokenCount)
        withExtendedLifetime(vocabulary.storage) {
            for id in 0 ..< t.tokenCount {
                let n = t.tokenLength(UInt32(id))
                let bytes = t.tokenBytes + Int(t.tokenOffsets[id])
                for k in 0 ..< max(n - 1, 0) {
                    let pair = Int(bytes[k]) << 8 | Int(bytes[k + 1])  // k + 1 < n
                    crossing[pair] = min(crossing[pair], UInt32(id))
                }
                // A token cut only because it ends inside a character (Han and part of the next one) is not one.
                let token = UnsafeBufferPointer(start: bytes, count: n)
                if UInt32(id) < firstCrossing && n >= 2 && token.matchO200K(at: 0, separateHan: true) < n
                    && invalidUTF8ByteCount(token) == 0 {
                    firstCrossing = UInt32(id)
                }
            }
            // Every split of every token into two tokens is a merge of the
            // table, whose result is its rank: raise each result to its parts'
            // highest until nothing changes.
            let slots = vocabulary.storage.elements(of: .pairSlots, as: UInt64.self)
            var changed = true
            while changed {
                changed = false
                for word in slots where word != PackedPairs.empty {
                    let left = Int(word >> 43), right = Int(word >> 22 & 0x1F_FFFF), result = Int(word & 0x3F_FFFF)
                    let reach = max(highest[left], highest[right])
                    if reach > highest[result] {
                        highest[result] = reach
                        changed = true
                    }
                }
            }
            // That bound counts every split, and a split into a late part (a
            // superword stage's `ization` inside an early `organization`) lifts
            // a token its own BPE never takes past its rank. A token that BPE
            // limited to ranks up to its own still reaches whole is bounded by
            // its rank: every merge inside a token's bytes in any text is one
            // of the merges of BPE over its bytes alone.
            var scratch = BytePairScratch(caching: false)
            var ids = ContiguousArray<UInt32>()
            for id in 0 ..< UInt32(t.tokenCount) where highest[Int(id)] > id {
                ids.removeAll(keepingCapacity: true)
                let bytes = t.tokenBytes + Int(t.tokenOffsets[Int(id)])
                if t.mergeBelow(id + 1, bytes, t.tokenLength(id), scratch: &scratch, into: &ids), ids.count == 1, ids[0] == id {
                    highest[Int(id)] = id
                }
            }
        }
        self.crossing = crossing
        self.highest = highest
        self.firstCrossingRank = firstCrossing
    }

    /// The lowest rank at which a merge can join byte `x` to the byte `y` after it.
    @inlinable @inline(__always)
    func crossingRank(_ x: UInt8, _ y: UInt8) -> UInt32 { crossing[Int(x) << 8 | Int(y)] }

    /// The highest rank BPE reaches inside token `id`'s bytes.
    @inlinable @inline(__always)
    func highestRank(_ id: UInt32) -> UInt32 { highest[Int(id)] }
}
