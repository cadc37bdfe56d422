import Foundation
import TokCorpus
import TokCounts
import TokEncoding
import TokRuntime

extension TrainingOptions {
    /// The first stage's trainer: the trainer itself, stopped at the
    /// transition point when superwords follow.
    var firstStageTrainer: BPETrainer {
        guard let superwords else { return trainer }
        var first = trainer
        first.vocabularySize = superwords.transitionIds(bpeIds: trainer.vocabularySize - trainer.specialTokens.count)
            + trainer.specialTokens.count
        return first
    }

    /// Refuses a transition point outside the vocabulary, and count files (superwords are counted on the text).
    func checkSuperwords(countFiles: [String]?) throws {
        guard let superwords else { return }
        let bpeIds = trainer.vocabularySize - trainer.specialTokens.count
        let t = superwords.transitionIds(bpeIds: bpeIds)
        guard t > 256 && t <= bpeIds else { throw SuperwordError.transitionOutOfRange(transition: t, bpeIds: bpeIds) }
        if let first = countFiles?.first { throw SuperwordError.needsText(input: first) }
    }
}

/// Both stages of a superword training on `files`: counts their superword
/// pieces into `work`, keeps as many as the memory budget holds (the rarest
/// dropped first, as for any training), learns the first stage from the
/// pieces cut by the ordinary pattern (``SuperwordStage/firstStagePieces(_:preTokenizer:)``)
/// up to the transition point, then superword tokens up to the trainer's size.
func trainSuperwords(
    _ superwords: SuperwordOptions, files: [CorpusFile], options: TrainingOptions, work: String,
    warn: @escaping @Sendable (String) -> Void, countingProgress: @escaping @Sendable (CountingProgress) -> Void,
    trainingProgress: (Int, Int) -> Void
) throws -> (CountMetadata, BPETrainer.Result) {
    var counting = options.counting
    counting.preTokenizer = PreTokenizer(rules: [.superwords])
    let path = work + "/superwords.counts"
    let metadata = try countPieces(files: files, domain: "train", options: counting, output: path, warn: warn,
                                   progress: countingProgress)
    metadata.statistics.warnings.forEach(warn)
    let budget = max(options.counting.memoryBudget - BPETrainer.reservedMemory, 1 << 20)
    let (pieces, reduction) = try PieceCounts.load(countFile: path, budget: budget, cost: SuperwordStage.memoryCost(of:))
    var result = try options.firstStageTrainer.train(
        pieces: SuperwordStage.firstStagePieces(pieces, preTokenizer: options.counting.preTokenizer), progress: trainingProgress)
    let wanted = options.trainer.vocabularySize - options.trainer.specialTokens.count - result.tokens.count
    let stage = SuperwordStage(maxWords: superwords.maxWords).train(
        base: try Vocabulary.fromRanks(result.tokens), pieces: pieces, count: wanted, progress: trainingProgress)
    result.tokens += stage.tokens
    result.merges += stage.merges
    result.seconds += stage.seconds
    result.specialTokens = options.trainer.specialTokens.enumerated().map {
        SpecialToken(id: UInt32(result.tokens.count + $0.offset), content: $0.element)
    }
    result.reduction = reduction
    return (metadata, result)
}
