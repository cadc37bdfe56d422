import TokEncoding
import TokTraining

/// One domain's trained vocabulary, as the merge sees it.
public struct DomainVocabulary: Sendable {
    public var name: String
    public var weight: Double
    /// Bytes of training text the counts came from.
    public var trainingBytes: Int
    /// Tokens in merge order (after the 256 bytes) and each merge's count.
    public var tokens: [[UInt8]]
    public var counts: [UInt64]
}

/// The merge of domain vocabularies into one rank order.
///
/// A merge's count in its domain is the number of tokens it saves on that
/// domain's training text; divided by the text's size it is the share of the
/// domain's tokens it saves. Each step takes, over all domains, the next token
/// with the highest `weight x count / bytes`, skipping byte strings already
/// taken: every domain gets tokens until its next one saves no larger a share of
/// its own text than any other domain's next one, which maximises the weighted
/// sum of the domains' relative compression gains. A domain's counts never rise
/// along its merge order, so each domain contributes a prefix of its own list,
/// and a token's two parts, made earlier in its domain, always come first.
/// Ties go to the domain listed first, then to the earlier merge.
public struct BalancedMerge: Sendable {
    public var domains: [DomainVocabulary]

    public init(domains: [DomainVocabulary]) { self.domains = domains }

    /// The merged BPE tokens (after the 256 bytes) in rank order, with the
    /// domain each was taken from; `count` of them, fewer if the lists run out.
    /// `exclude` removes byte strings from consideration (see ``build``).
    public func select(count: Int, exclude: Set<[UInt8]> = []) -> (tokens: [[UInt8]], from: [Int]) {
        var next = [Int](repeating: 0, count: domains.count)
        var taken = Set<[UInt8]>()
        var tokens: [[UInt8]] = []
        var from: [Int] = []
        tokens.reserveCapacity(count)
        func score(_ d: Int) -> Double {
            let domain = domains[d]
            guard next[d] < domain.counts.count else { return -1 }
            return domain.weight * Double(domain.counts[next[d]]) / Double(max(domain.trainingBytes, 1))
        }
        while tokens.count < count {
            var best = -1
            var bestScore = -1.0
            for d in domains.indices {
                let s = score(d)
                if s > bestScore { best = d; bestScore = s }
            }
            if best < 0 { break }
            let token = domains[best].tokens[next[best]]
            next[best] += 1
            if token.count < 2 || exclude.contains(token) || !taken.insert(token).inserted { continue }
            tokens.append(token)
            from.append(best)
        }
        return (tokens, from)
    }

    /// The merged vocabulary of exactly `bpeTokens` tokens after the 256 bytes,
    /// every one of which encodes to itself. A token that a rival domain's
    /// tokens leave unreachable (its bytes merge another way and get stuck) is
    /// dropped and the selection refilled, until none is left.
    public func build(bpeTokens: Int, specialTokens: [SpecialToken]) throws -> (vocabulary: Vocabulary, from: [Int], dropped: Int) {
        var exclude = Set<[UInt8]>()
        for _ in 0 ..< 50 {
            let (tokens, from) = select(count: bpeTokens, exclude: exclude)
            guard tokens.count == bpeTokens else {
                throw VocabularyError("the domain vocabularies hold only \(tokens.count) distinct tokens, \(bpeTokens) wanted: train them larger")
            }
            let all = (0 ..< 256).map { [UInt8($0)] } + tokens
            let vocabulary = try Vocabulary.fromRanks(all, specialTokens: specialTokens, allowUnreachable: true)
            if vocabulary.unreachableTokens.isEmpty { return (vocabulary, from, exclude.count) }
            for id in vocabulary.unreachableTokens { exclude.insert(all[Int(id)]) }
        }
        throw VocabularyError("could not make every token reachable")
    }
}
