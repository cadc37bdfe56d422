import Dispatch
import TokEncoding
import TokTraining

/// A domain's distinct pieces and their counts, flat.
public struct DomainPieces: Sendable {
    public var bytes: [UInt8] = []
    public var ends: [Int] = []
    public var counts: [UInt64] = []
    public var trainingBytes: Int
    public var weight: Double

    public init(countFile: String, weight: Double) throws {
        self.weight = weight
        trainingBytes = try CountFile.metadata(path: countFile).statistics.bytes
        var bytes: [UInt8] = [], ends: [Int] = [], counts: [UInt64] = []
        try readCounts(countFile) { piece, count in
            bytes.append(contentsOf: piece)
            ends.append(bytes.count)
            counts.append(count)
        }
        self.bytes = bytes
        self.ends = ends
        self.counts = counts
    }

    /// How many times each token of `vocabulary` is used to encode these pieces.
    func usage(_ vocabulary: Vocabulary) -> [UInt64] {
        var usage = [UInt64](repeating: 0, count: vocabulary.count)
        var scratch = BytePairScratch()
        var ids = ContiguousArray<UInt32>()
        bytes.withUnsafeBufferPointer { all in
            var start = 0
            for (k, end) in ends.enumerated() {
                ids.removeAll(keepingCapacity: true)
                vocabulary.encodePiece(UnsafeBufferPointer(rebasing: all[start ..< end]), scratch: &scratch, into: &ids)
                for id in ids { usage[Int(id)] &+= counts[k] }
                start = end
            }
        }
        return usage
    }
}

/// Shrinks a merged candidate vocabulary to its target size by measured use.
///
/// The domain vocabularies were each trained alone; merged, a token's value
/// changes (another domain's tokens may now cover its bytes, or the rank order
/// may route merges around it). So the merge first takes more candidates than
/// needed, then encodes every domain's counted pieces with them and scores each
/// token by the share of each domain's tokens it makes up, summed over domains
/// with their weights: the same objective as the selection, measured instead
/// of estimated. The lowest-scoring half of the excess goes, and the rest is
/// measured again, until the size is exact. Tokens that no longer encode to
/// themselves go too.
struct UsagePruning {
    var domains: [DomainPieces]
    var threads: Int

    func prune(tokens candidates: [[UInt8]], from: [Int], parts: [(Int, Int)], target: Int, specialTokens: [SpecialToken]) throws
        -> (vocabulary: Vocabulary, from: [Int], rounds: Int)
    {
        // Candidates keep their rank order; pruning clears `alive`.
        var alive = [Bool](repeating: true, count: candidates.count)
        var droppedScore = [Double](repeating: -.infinity, count: candidates.count)
        var rounds = 0
        while true {
            rounds += 1
            if rounds > 40 { throw VocabularyError("pruning did not converge") }
            let current = candidates.indices.filter { alive[$0] }
            let all = (0 ..< 256).map { [UInt8($0)] } + current.map { candidates[$0] }
            let vocabulary = try Vocabulary.fromRanks(all, specialTokens: specialTokens, allowUnreachable: true)
            if current.count == target && vocabulary.unreachableTokens.isEmpty {
                return (vocabulary, current.map { from[$0] }, rounds)
            }
            // Tokens that no longer encode to themselves go for good.
            for id in vocabulary.unreachableTokens {
                alive[current[Int(id) - 256]] = false
                droppedScore[current[Int(id) - 256]] = -.infinity
            }
            let reachable = current.count - vocabulary.unreachableTokens.count
            if reachable < target {
                // Below the target: bring back the best of the pruned.
                let back = candidates.indices.filter { !alive[$0] && droppedScore[$0] > -.infinity }
                    .sorted { droppedScore[$0] != droppedScore[$1] ? droppedScore[$0] > droppedScore[$1] : $0 < $1 }
                    .prefix(target - reachable)
                guard back.count == target - reachable else {
                    throw VocabularyError("only \(reachable + back.count) usable candidates, \(target) wanted: take more candidates")
                }
                for k in back { alive[k] = true }
                continue
            }
            var score = [Double](repeating: 0, count: candidates.count)
            let measured = measure(vocabulary)
            for (n, k) in current.enumerated() { score[k] = measured[n + 256] }
            // A part is worth at least what the tokens made from it are worth:
            // removing it would strand them. Parts come first, so one backward pass.
            for k in candidates.indices.reversed() where alive[k] {
                let (l, r) = parts[k]
                if l >= 0 { score[l] = max(score[l], score[k]) }
                if r >= 0 { score[r] = max(score[r], score[k]) }
            }
            // Drop the lowest scores, half the excess at a time (all of it once small).
            let excess = reachable - target
            let cut = excess <= max(target / 50, 64) ? excess : (excess + 1) / 2
            let order = candidates.indices.filter { alive[$0] }
                .sorted { score[$0] != score[$1] ? score[$0] < score[$1] : $0 > $1 }
            for k in order.prefix(cut) {
                alive[k] = false
                droppedScore[k] = score[k]
            }
        }
    }

    /// Each token's score: its use in each domain as a share of the domain's
    /// text (per byte), weighted and summed.
    func measure(_ vocabulary: Vocabulary) -> [Double] {
        let usages = UnsafeMutableBufferPointer<[UInt64]>.allocate(capacity: domains.count)
        usages.initialize(repeating: [])
        defer { usages.deallocate() }
        let box = UncheckedSendable(usages)
        let domains = self.domains
        DispatchQueue.concurrentPerform(iterations: domains.count) { d in box.value[d] = domains[d].usage(vocabulary) }
        var score = [Double](repeating: 0, count: vocabulary.count)
        for (d, domain) in domains.enumerated() {
            let scale = domain.weight / Double(max(domain.trainingBytes, 1))
            for (id, n) in usages[d].enumerated() { score[id] += scale * Double(n) }
        }
        return score
    }
}
