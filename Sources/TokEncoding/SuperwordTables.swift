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

    /// - Complexity: O(total token bytes) for the crossings; a lookup per
    ///   split point of every token for the highest ranks.
    init(_ vocabulary: Vocabulary) {
        let t = vocabulary.tables
        var crossing = [UInt32](repeating: .max, count: 1 << 16)
        var highest = [UInt32](repeating: 0, count: t.tokenCount)
        withExtendedLifetime(vocabulary.storage) {
            var byLength: [[UInt32]] = []
            for id in 0 ..< t.tokenCount {
                let n = t.tokenLength(UInt32(id))
                let bytes = t.tokenBytes + Int(t.tokenOffsets[id])
                highest[id] = UInt32(id)
                guard n >= 2 else { continue }
                for k in 0 ..< n - 1 {
                    let pair = Int(bytes[k]) << 8 | Int(bytes[k + 1])
                    crossing[pair] = min(crossing[pair], UInt32(id))
                }
                while byLength.count <= n { byLength.append([]) }
                byLength[n].append(UInt32(id))
            }
            // Shorter tokens first: a split's parts are shorter than the token.
            for ids in byLength {
                for id in ids {
                    let n = t.tokenLength(id)
                    let bytes = t.tokenBytes + Int(t.tokenOffsets[Int(id)])
                    var reach = id
                    for k in 1 ..< n {
                        guard let left = t.find(bytes, k), let right = t.find(bytes + k, n - k) else { continue }
                        reach = max(reach, highest[Int(left)], highest[Int(right)])
                    }
                    highest[Int(id)] = reach
                }
            }
        }
        self.crossing = crossing
        self.highest = highest
    }

    /// The lowest rank at which a merge can join byte `x` to the byte `y` after it.
    @inlinable @inline(__always)
    func crossingRank(_ x: UInt8, _ y: UInt8) -> UInt32 { crossing[Int(x) << 8 | Int(y)] }

    /// The highest rank BPE reaches inside token `id`'s bytes.
    @inlinable @inline(__always)
    func highestRank(_ id: UInt32) -> UInt32 { highest[Int(id)] }
}
