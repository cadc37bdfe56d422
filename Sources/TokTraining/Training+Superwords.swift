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

    /// Refuses a transition point outside the vocabulary, and count files of
    /// another pattern or without superword counts beside them.
    func checkSuperwords(countFiles: [String]?) throws {
        guard let superwords else { return }
        let bpeIds = trainer.vocabularySize - trainer.specialTokens.count
        let t = superwords.transitionIds(bpeIds: bpeIds)
        guard t > 256 && t <= bpeIds else { throw SuperwordError.transitionOutOfRange(transition: t, bpeIds: bpeIds) }
        for path in countFiles ?? [] {
            let metadata = try CountFile.metadata(path: path)
            _ = try CountFile.superwordCounts(besides: path, metadata: metadata)
            // The first stage cuts the superword pieces with the pattern the count files were counted with.
            guard metadata.regexes == counting.preTokenizer.regexes else {
                throw TrainingError.patternMismatch(path: path, counted: metadata.pattern, wanted: counting.preTokenizer.name)
            }
        }
    }
}

/// The superword counts of a training's inputs, in `work` unless they are
/// one count file's: counted from the text, or those beside the count files
/// (``CountFile/superwordCounts(besides:metadata:)``), added up when several.
func superwordCounts(
    _ inputs: CorpusInputs, options: TrainingOptions, work: String, warn: @escaping @Sendable (String) -> Void,
    countingProgress: @escaping @Sendable (CountingProgress) -> Void
) throws -> (path: String, metadata: CountMetadata) {
    let path = work + "/superwords.counts"
    switch inputs {
    case .text(let files):
        var counting = options.counting
        counting.preTokenizer = .superwords
        let metadata = try countPieces(files: files, domain: "train", options: counting, output: path, warn: warn,
                                       progress: countingProgress)
        metadata.statistics.warnings.forEach(warn)
        return (path, metadata)
    case .countFiles(let paths):
        let superwords = try paths.map { try CountFile.superwordCounts(besides: $0, metadata: try CountFile.metadata(path: $0)) }
        if superwords.count == 1 { return superwords[0] }
        return (path, try mergeCountFiles(superwords.map(\.path), output: path))
    }
}

/// Both stages of a superword training on the superword counts at
/// `countFile`: keeps as many pieces as the memory budget holds (the rarest
/// dropped first, as for any training), learns the first stage from the
/// pieces cut by the ordinary pattern (``SuperwordStage/firstStagePieces(_:preTokenizer:)``)
/// up to the transition point, then superword tokens up to the trainer's size.
func trainSuperwords(
    _ superwords: SuperwordOptions, countFile: String, options: TrainingOptions, trainingProgress: (Int, Int) -> Void
) throws -> BPETrainer.Result {
    let budget = max(options.counting.memoryBudget - BPETrainer.reservedMemory, 1 << 20)
    let (pieces, reduction) = try PieceCounts.load(countFile: countFile, budget: budget, cost: SuperwordStage.memoryCost(of:))
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
    return result
}
