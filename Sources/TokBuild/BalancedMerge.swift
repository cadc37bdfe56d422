import TokEncoding
import TokTraining

/// One domain's trained vocabulary, as the merge sees it.
public struct DomainVocabulary: Sendable {
    public var name: String
    public var weight: Double
    /// Bytes of training text the counts came from.
    public var trainingBytes: Int
    /// Tokens in merge order (after the 256 bytes), each merge's count, and the
    /// two tokens (as indices into `tokens`, or -1 - byte for a byte) it joined.
    public var tokens: [[UInt8]]
    public var counts: [UInt64]
    public var parts: [(Int, Int)]

    public init(name: String, weight: Double, trainingBytes: Int, result: BPETrainer.Result) {
        self.name = name
        self.weight = weight
        self.trainingBytes = trainingBytes
        tokens = Array(result.tokens.dropFirst(256))
        counts = result.merges.map(\.count)
        parts = result.merges.map { m in
            (m.left < 256 ? -1 - Int(m.left) : Int(m.left) - 256, m.right < 256 ? -1 - Int(m.right) : Int(m.right) - 256)
        }
    }
}

/// How the domains become one rank order.
public enum MergeStrategy: String, Sendable, CaseIterable, Codable {
    /// The default. Merge the domains' frequency statistics, each scaled to the
    /// same total (times its weight), and train one BPE on them: every merge
    /// takes the pair that saves the largest summed share of the domains' texts.
    /// Measured better on every domain than interleaving the domain
    /// vocabularies (README).
    case balanced
    /// Merge the domain vocabularies: score each distinct token by the share of
    /// each domain's text it saves, summed over the domains that learned it,
    /// then prune candidates by measured use (see ``BalancedMerge``).
    case share
    /// Take each domain vocabulary's next token in turn (the naive baseline).
    case roundRobin = "round-robin"
}

/// The merge of domain vocabularies into one rank order.
///
/// A merge's count in its domain is the number of tokens it saves on that
/// domain's training text; divided by the text's size it is the share of the
/// domain's tokens it saves. A token's score is `weight x count / bytes`
/// summed over every domain whose vocabulary has it: the tokens taken are those
/// that save the most, counting each domain's text as equally important
/// whatever its size (or as the weights say), and a token useful to several
/// domains gets their savings together, as it would in one BPE over all of
/// them. Tokens are ranked by score; a token whose parts are not in yet brings
/// them in first (a part is made earlier than its token in its domain), so the
/// rank order is one BPE could follow. Ties go to the smaller byte string.
public struct BalancedMerge: Sendable {
    public var domains: [DomainVocabulary]
    public var strategy: MergeStrategy

    public init(domains: [DomainVocabulary], strategy: MergeStrategy = .share) {
        self.domains = domains
        self.strategy = strategy
    }

    /// Candidate order: each entry is (domain, index in its list).
    func candidates() -> [(domain: Int, index: Int)] {
        switch strategy {
        case .roundRobin, .balanced:  // `balanced` ranks by its joint BPE (Build.swift) and never asks for candidates
            var out: [(Int, Int)] = []
            let longest = domains.map(\.tokens.count).max() ?? 0
            for i in 0 ..< longest {
                for d in domains.indices where i < domains[d].tokens.count { out.append((d, i)) }
            }
            return out
        case .share:
            var score: [[UInt8]: Double] = [:]
            var home: [[UInt8]: (domain: Int, index: Int, part: Double)] = [:]
            for (d, domain) in domains.enumerated() {
                let scale = domain.weight / Double(max(domain.trainingBytes, 1))
                for (i, token) in domain.tokens.enumerated() {
                    let s = scale * Double(domain.counts[i])
                    score[token, default: 0] += s
                    if home[token].map({ s > $0.part }) ?? true { home[token] = (d, i, s) }
                }
            }
            let ordered = score.sorted { a, b in
                a.value != b.value ? a.value > b.value : a.key.lexicographicallyPrecedes(b.key)
            }
            return ordered.map { (home[$0.key]!.domain, home[$0.key]!.index) }
        }
    }

    /// `count` merged BPE tokens (after the 256 bytes) in rank order, with the
    /// domain each is credited to and the positions of the two parts it was
    /// made of there (-1 for a single byte); fewer if the lists run out.
    public func select(count: Int, exclude: Set<[UInt8]> = []) -> (tokens: [[UInt8]], from: [Int], parts: [(Int, Int)]) {
        var taken = Set<[UInt8]>()
        var position: [[UInt8]: Int] = [:]
        var tokens: [[UInt8]] = []
        var from: [Int] = []
        var parts: [(Int, Int)] = []
        tokens.reserveCapacity(count)
        // The tokens `add` would bring in, parts first; nil if one is excluded.
        func needed(_ d: Int, _ i: Int, into list: inout [(Int, Int)], seen: inout Set<[UInt8]>) -> Bool {
            let token = domains[d].tokens[i]
            if taken.contains(token) || seen.contains(token) { return true }
            if exclude.contains(token) { return false }
            let (l, r) = domains[d].parts[i]
            if l >= 0 && !needed(d, l, into: &list, seen: &seen) { return false }
            if r >= 0 && !needed(d, r, into: &list, seen: &seen) { return false }
            seen.insert(token)
            list.append((d, i))
            return true
        }
        for (d, i) in candidates() where tokens.count < count {
            var list: [(Int, Int)] = []
            var seen = Set<[UInt8]>()
            guard needed(d, i, into: &list, seen: &seen), !list.isEmpty, tokens.count + list.count <= count else { continue }
            for (pd, pi) in list {
                let token = domains[pd].tokens[pi]
                let (l, r) = domains[pd].parts[pi]
                parts.append((l >= 0 ? position[domains[pd].tokens[l]] ?? -1 : -1, r >= 0 ? position[domains[pd].tokens[r]] ?? -1 : -1))
                taken.insert(token)
                position[token] = tokens.count
                tokens.append(token)
                from.append(pd)
            }
        }
        return (tokens, from, parts)
    }

    /// For each token, the domain whose own vocabulary gives it the largest
    /// share score (`weight x count / bytes`), or `domains.count` when no
    /// domain vocabulary has it.
    public func credit(_ tokens: [[UInt8]]) -> [Int] {
        var best: [[UInt8]: (domain: Int, score: Double)] = [:]
        for (d, domain) in domains.enumerated() {
            let scale = domain.weight / Double(max(domain.trainingBytes, 1))
            for (i, token) in domain.tokens.enumerated() {
                let s = scale * Double(domain.counts[i])
                if best[token].map({ s > $0.score }) ?? true { best[token] = (d, s) }
            }
        }
        return tokens.map { best[$0]?.domain ?? domains.count }
    }

    /// The merged vocabulary of exactly `bpeTokens` tokens after the 256 bytes,
    /// every one of which encodes to itself. A token that rival domains' tokens
    /// leave unreachable (its bytes merge another way and get stuck) is dropped
    /// and the selection refilled, until none is left.
    public func build(bpeTokens: Int, specialTokens: [SpecialToken]) throws -> (vocabulary: Vocabulary, from: [Int], dropped: Int) {
        var exclude = Set<[UInt8]>()
        for _ in 0 ..< 50 {
            let (tokens, from, _) = select(count: bpeTokens, exclude: exclude)
            guard tokens.count == bpeTokens else {
                throw VocabularyError("the domain vocabularies hold only \(tokens.count) usable distinct tokens, \(bpeTokens) wanted: train them larger")
            }
            let all = (0 ..< 256).map { [UInt8($0)] } + tokens
            let vocabulary = try Vocabulary.fromRanks(all, specialTokens: specialTokens, allowUnreachable: true)
            if vocabulary.unreachableTokens.isEmpty { return (vocabulary, from, exclude.count) }
            for id in vocabulary.unreachableTokens { exclude.insert(all[Int(id)]) }
        }
        throw VocabularyError("could not make every token reachable")
    }
}
