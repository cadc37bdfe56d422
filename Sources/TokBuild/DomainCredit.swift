import TokEncoding
import TokTraining

/// One domain's own vocabulary, trained alone, as the report sees it.
public struct DomainVocabulary: Sendable {
    public var name: String
    public var weight: Double
    /// Bytes of training text the counts came from.
    public var trainingBytes: Int
    /// Tokens in merge order (after the 256 bytes), and each merge's count.
    public var tokens: [[UInt8]]
    public var counts: [UInt64]
    /// SentencePiece: the characters that are pieces of their own (none for byte-level).
    public var alphabet: [[UInt8]]

    public init(name: String, weight: Double, trainingBytes: Int, result: BPETrainer.Result) {
        self.name = name
        self.weight = weight
        self.trainingBytes = trainingBytes
        tokens = Array(result.tokens.dropFirst(256))
        counts = result.merges.map(\.count)
        alphabet = result.alphabet
    }

    /// A merge's count is the number of tokens it saves on the domain's text;
    /// over the text's size (times the weight) it is the share it saves.
    func share(_ index: Int) -> Double { weight * Double(counts[index]) / Double(max(trainingBytes, 1)) }
}

/// Credits each token of the built vocabulary to the domain whose own
/// vocabulary values it most: the largest share of its text the token saves
/// there. A token in no domain's own vocabulary (learned only from the merged
/// statistics) is credited to `domains.count`.
///
/// - Complexity: O(total tokens of the domain vocabularies + tokens).
public func creditTokens(_ tokens: [[UInt8]], to domains: [DomainVocabulary]) -> [Int] {
    var best: [[UInt8]: (domain: Int, share: Double)] = [:]
    for (d, domain) in domains.enumerated() {
        for (i, token) in domain.tokens.enumerated() {
            let s = domain.share(i)
            if best[token].map({ s > $0.share }) ?? true { best[token] = (d, s) }
        }
    }
    return tokens.map { best[$0]?.domain ?? domains.count }
}
