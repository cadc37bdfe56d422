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

/// Counts the superword pieces of `files` into `work` and continues `result`
/// (the first stage) with superword tokens up to the trainer's size, within
/// the memory budget (the rarest pieces dropped first, as for any training).
func addSuperwords(
    _ superwords: SuperwordOptions, to result: inout BPETrainer.Result, files: [CorpusFile], options: TrainingOptions,
    work: String, progress: (Int, Int) -> Void
) throws {
    var counting = options.counting
    counting.preTokenizer = PreTokenizer(rules: [.superwords])
    let path = work + "/superwords.counts"
    _ = try countPieces(files: files, domain: "superwords", options: counting, output: path)
    let budget = max(options.counting.memoryBudget - BPETrainer.reservedMemory, 1 << 20)
    let (pieces, reduction) = try PieceCounts.load(countFile: path, budget: budget, cost: SuperwordStage.memoryCost(of:))
    let wanted = options.trainer.vocabularySize - options.trainer.specialTokens.count - result.tokens.count
    let base = try Vocabulary.fromRanks(result.tokens)
    let stage = SuperwordStage(maxWords: superwords.maxWords).train(base: base, pieces: pieces, count: wanted, progress: progress)
    result.tokens += stage.tokens
    result.merges += stage.merges
    result.seconds += stage.seconds
    result.specialTokens = options.trainer.specialTokens.enumerated().map {
        SpecialToken(id: UInt32(result.tokens.count + $0.offset), content: $0.element)
    }
    if result.reduction == nil { result.reduction = reduction }
}
