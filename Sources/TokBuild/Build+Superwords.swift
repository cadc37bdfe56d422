import Foundation
import TokCorpus
import TokCounts
import TokEncoding
import TokTraining
import TokRuntime

extension BuildOptions {
    /// Refuses, before any counting, a transition point outside the vocabulary
    /// and a domain given as count files without superword counts beside them.
    func checkSuperwords() throws {
        guard let superwords else { return }
        let bpeIds = vocabularySize - specialTokens.count
        let t = superwords.transitionIds(bpeIds: bpeIds)
        guard t > 256 && t <= bpeIds else { throw SuperwordError.transitionOutOfRange(transition: t, bpeIds: bpeIds) }
        for domain in domains {
            guard case .countFiles(let paths) = try CorpusInputs(resolving: domain.inputs) else { continue }
            for path in CountFile.withoutPairedSuperwordCounts(paths) {
                _ = try CountFile.superwordCounts(besides: path, metadata: try CountFile.metadata(path: path))
            }
        }
    }
}

/// What the superword stage of a build did.
public struct SuperwordReport: Codable, Sendable {
    public var options: SuperwordOptions
    /// Ids learned as ordinary BPE (the 256 bytes included) before the first superword.
    public var transition: Int
    public var superwordTokens: Int
    /// Distinct superword pieces counted over all domains, and the pieces dropped to fit the memory budget, if any.
    public var distinctPieces: Int
    public var reduction: PieceReduction?
}

/// Stage 4 of a superword build, in place of ``assemble(learned:alphabet:preTokenizer:_:name:staging:)``
/// alone. Each domain's superword counts (counted in stage 1 with its counts,
/// or beside its count files) are scaled and merged as the joint counts are,
/// so that the domains stay balanced; from them, a first stage of ordinary BPE up to
/// the transition point (on the pieces cut by the pattern:
/// ``SuperwordStage/firstStagePieces(_:preTokenizer:)``), then superword
/// tokens up to the size; written to `staging` with the superword
/// pre-tokenizer. The joint BPE of the same size stays the plain build the
/// report compares against.
func assembleSuperwords(
    _ superwords: SuperwordOptions, domains: [CountedDomain], _ options: BuildOptions,
    work: String, name: String, staging: String, progress: @escaping @Sendable (BuildProgress) -> Void
) throws -> (Tokenizer, SuperwordReport) {
    let bpeIds = options.vocabularySize - options.specialTokens.count
    let transition = superwords.transitionIds(bpeIds: bpeIds)
    let countFiles = domains.map { $0.superwordCountFile! }  // counted with the domains' counts
    let joined = work + "/joint.superwords.counts"
    let metadata = try mergeCountFiles(countFiles, output: joined, scales: jointScales(domains))
    let budget = max(options.memoryBudget - BPETrainer.reservedMemory, 1 << 20)
    let (pieces, reduction) = try PieceCounts.load(countFile: joined, budget: budget, cost: SuperwordStage.memoryCost(of:))
    let started = Date()
    let first = try BPETrainer(vocabularySize: transition).train(
        pieces: SuperwordStage.firstStagePieces(pieces, preTokenizer: options.preTokenizer)
    ) { done, total in
        progress(BuildProgress(stage: "superwords first stage", done: Double(done), total: Double(total),
                               seconds: Date().timeIntervalSince(started)))
    }.tokens
    let stage = SuperwordStage(maxWords: superwords.maxWords).train(
        base: try Vocabulary.fromRanks(first), pieces: pieces, count: bpeIds - transition
    ) { done, total in
        progress(BuildProgress(stage: "superwords", done: Double(done), total: Double(total), seconds: Date().timeIntervalSince(started)))
    }
    guard first.count + stage.tokens.count == bpeIds else {
        throw BuildError.tooFewMerges(merges: first.count + stage.tokens.count - 256, needed: options.bpeTokens, size: options.vocabularySize,
                                      reserved: 256 + options.specialTokens.count, dropped: reduction != nil)
    }
    let tokenizer = try assemble(learned: (first + stage.tokens).dropFirst(256), alphabet: [],
                                 preTokenizer: PreTokenizer(rules: [.superwords]), options, name: name, staging: staging)
    return (tokenizer, SuperwordReport(options: superwords, transition: transition, superwordTokens: stage.tokens.count,
                                       distinctPieces: metadata.distinctPieces, reduction: reduction))
}
