import Foundation
import TokCorpus
import TokCounts
import TokEncoding
import TokTraining
import TokRuntime

/// The joint counts' pieces as the base encodes them, each with its count in
/// every domain (looked up in the domains' count files, which are sorted as
/// the joint file is): the words a continued training learns from. Drops the
/// rarest pieces when all would not fit in `budget` (``PieceReduction``).
///
/// - Complexity: one pass over each count file, and the encoding of every piece on `threads` threads.
func continuationWords(countFile: String, domains: [CountedDomain], base: Vocabulary, budget: Int,
                       threads: Int) throws -> (ContinuationWords, PieceReduction?) {
    let d = domains.count
    let (pieces, reduction) = try PieceCounts.load(countFile: countFile, budget: budget) { BPETrainer.memoryCost(of: $0) + 8 * d }
    var perDomain = [UInt64](repeating: 0, count: pieces.count * d)
    for (k, domain) in domains.enumerated() {
        var next = 0
        try CountFile.forEachEntry(domain.countFile) { bytes, count in
            while next < pieces.count && pieces.piece(next, precedes: bytes) { next += 1 }
            if next < pieces.count && pieces.pieceEquals(next, bytes) { perDomain[next * d + k] = count }
        }
    }
    // Each lane encodes a contiguous range; joined in order, the words do not depend on the lanes.
    let lanes = max(1, min(threads, pieces.count / 65536 + 1))
    let encoded: [(ids: ContiguousArray<UInt32>, ends: [Int])] = inParallel(lanes: lanes) { lane in
        var scratch = BytePairScratch(caching: false)
        var ids = ContiguousArray<UInt32>()
        var ends: [Int] = []
        pieces.bytes.withUnsafeBufferPointer { all in
            for k in pieces.count * lane / lanes ..< pieces.count * (lane + 1) / lanes {
                base.encodePiece(UnsafeBufferPointer(rebasing: all[pieces.start(k) ..< pieces.ends[k]]), scratch: &scratch, into: &ids)
                ends.append(ids.count)
            }
        }
        return (ids, ends)
    }
    var words = ContinuationWords(domains: d)
    for (lane, part) in encoded.enumerated() {
        var start = 0
        for (j, k) in (pieces.count * lane / lanes ..< pieces.count * (lane + 1) / lanes).enumerated() {
            words.append(part.ids[start ..< part.ends[j]], count: pieces.counts[k], domainCounts: perDomain[k * d ..< (k + 1) * d])
            start = part.ends[j]
        }
    }
    return (words, reduction)
}

extension PieceCounts {
    /// Whether piece `k` sorts before `other` (bytes compared unsigned; a prefix first), as count files sort.
    func piece(_ k: Int, precedes other: UnsafeBufferPointer<UInt8>) -> Bool {
        let s = start(k), n = ends[k] - s
        let common = min(n, other.count)
        let c = common == 0 ? 0 : bytes.withUnsafeBufferPointer { memcmp($0.baseAddress! + s, other.baseAddress!, common) }
        return c < 0 || (c == 0 && n < other.count)
    }
}

/// Adds tokens in growing steps until every target is met on its domain's
/// evaluation text, then finds by bisection the fewest tokens that meet them
/// all; or stops at `limit` (or when no pair is left) and reports how far it got.
func addUntilTargets(
    _ continuation: inout BPEContinuation, wanted: [String: Double], limit: Int, texts: [EvaluationText], base: Tokenizer,
    threads: Int, log: (String) -> Void, progress: (Int, Int) -> Void
) throws -> (Int, [TargetReport]) {
    let targets = wanted.keys.sorted().map { name in (text: texts.first { $0.name == name }!, factor: wanted[name]!) }
    let before = try targets.map { try $0.text.measure(base, threads: threads).compression.bytesPerToken }
    func reports(_ k: Int) throws -> [TargetReport] {
        let tokenizer = base.with(vocabulary: try continuation.vocabulary(tokens: k))
        return try zip(targets, before).map { target, b in
            let reached = try target.text.measure(tokenizer, threads: threads).compression.bytesPerToken / max(b, 1e-9)
            return TargetReport(domain: target.text.name, wanted: target.factor, reached: round4(reached), met: reached >= target.factor)
        }
    }
    var current = try reports(0)
    var missed = 0  // the most tokens known to miss a target
    var step = 1000
    while !current.allSatisfy(\.met) && continuation.tokens.count < limit && !continuation.exhausted {
        missed = continuation.tokens.count
        let goal = min(continuation.tokens.count + step, limit)
        continuation.add(goal - continuation.tokens.count) { done, _ in progress(missed + done, limit) }
        current = try reports(continuation.tokens.count)
        log("\(continuation.tokens.count) tokens: " + current.map { "\($0.domain) \(String(format: "%.3f", $0.reached))x" }.joined(separator: ", "))
        step = min(step * 2, 8000)
    }
    guard current.allSatisfy(\.met) else { return (continuation.tokens.count, current) }
    var enough = continuation.tokens.count
    while enough - missed > 1 {
        let middle = (missed + enough) / 2
        let r = try reports(middle)
        if r.allSatisfy(\.met) {
            enough = middle
            current = r
        } else {
            missed = middle
        }
    }
    return (enough, current)
}

/// Credits each new token to the domain whose text its merges saved the
/// largest share of (counts scaled as in the joint counts, times the weights),
/// as ``creditTokens(_:to:)`` credits a build's tokens.
func creditNewTokens(_ counts: ArraySlice<[UInt64]>, domains: [CountedDomain]) -> [Int] {
    let largest = Double(domains.map(\.trainingBytes).max() ?? 1)
    let scales = domains.map { $0.input.weight * largest / Double(max($0.trainingBytes, 1)) }
    return counts.map { perDomain in
        var best = 0
        for d in perDomain.indices where Double(perDomain[d]) * scales[d] > Double(perDomain[best]) * scales[best] { best = d }
        return best
    }
}
