@testable import TokEncoding

/// Byte-pair merging as tiktoken's `_byte_pair_merge` defines it, written for
/// clarity alone: start from single bytes and, while some adjacent pair joins
/// into a token, join the leftmost pair whose token has the lowest rank. The
/// kernels are checked against it.
///
/// - Complexity: O(n^2) lookups for a piece of n bytes: for short pieces only.
func naiveBytePairMerge(_ piece: [UInt8], _ vocabulary: Vocabulary) -> [UInt32] {
    var parts = piece.map { [$0] }
    while parts.count > 1 {
        var best: (index: Int, rank: UInt32)?
        for k in 0 ..< parts.count - 1 {
            guard let rank = vocabulary.id(of: parts[k] + parts[k + 1]) else { continue }
            if best == nil || rank < best!.rank { best = (k, rank) }
        }
        guard let (k, _) = best else { break }
        parts[k] += parts.remove(at: k + 1)
    }
    return parts.map { vocabulary.id(of: $0)! }
}
