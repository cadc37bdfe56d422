import Foundation
import TokCorpus
import TokCounts
import TokEncoding
import TokRuntime

/// What `tok train` does, as a library call: options for counting (when the
/// inputs are a corpus) and for the trainer.
public struct TrainingOptions: Sendable {
    public var trainer: BPETrainer
    public var counting: CountingOptions
    /// Byte-level BPE, or SentencePiece BPE (counted with ``SentencePieceOptions/countingPattern`` whatever `counting` says).
    public var model = VocabularyModel.byteLevel
    /// Superword tokens after a first stage of ordinary BPE (nil: none).
    public var superwords: SuperwordOptions?

    public init(vocabularySize: Int, counting: CountingOptions) {
        self.trainer = BPETrainer(vocabularySize: vocabularySize)
        self.counting = counting
    }
}

/// What a training made and how long it took.
public struct TrainingSummary: Sendable, Codable {
    public var output: String
    public var vocabularySize: Int
    public var merges: Int
    public var tiedMerges: Int
    public var specialTokens: Int
    public var pattern: String
    public var countSeconds: Double
    public var trainSeconds: Double
    public var seconds: Double
    /// Fewer merges than asked for: no pair was left above the minimum frequency.
    public var stoppedEarly: Bool
    /// The rarest pieces dropped to fit `--memory`, if any were.
    public var reduction: PieceReduction?
}

/// Trains a vocabulary and writes its folder: counts `inputs` first unless
/// they are count files (several are added up), trains, and writes the folder
/// with `training.json` (every merge with its count and whether it was tied)
/// under a staging name, moved into place only when complete. `warn` gets what
/// a counted corpus holds besides clean text (as `tok count` reports it).
///
/// - Throws: ``TrainingError``, ``CountFileError``, ``CorpusError``, ``FileError``.
public func trainVocabulary(
    inputs: [String], options: TrainingOptions, output: String,
    warn: @escaping @Sendable (String) -> Void = { _ in },
    countingProgress: @escaping @Sendable (CountingProgress) -> Void = { _ in },
    trainingProgress: (Int, Int) -> Void = { _, _ in }
) throws -> TrainingSummary {
    let started = Date()
    var options = options
    if case .sentencePiece(let sentencePiece) = options.model {
        options.counting.preTokenizer = PreTokenizer(named: SentencePieceOptions.countingPattern)!
        try SpecialToken.checkContents(SentencePieceOptions.metaPieces + options.trainer.specialTokens + sentencePiece.userDefinedSymbols)
    }
    // Checked before the counting and training, not after.
    try VocabularyFolder.checkReplaceable(output, protecting: inputs)
    try SpecialToken.checkContents(options.trainer.specialTokens)
    var resolved = try CorpusInputs(resolving: inputs)
    // A folder of counted pairs: the superword counts go with the count files they lie beside.
    if case .countFiles(let paths) = resolved { resolved = .countFiles(CountFile.withoutPairedSuperwordCounts(paths)) }
    let countFiles: [String]? = if case .countFiles(let paths) = resolved { paths } else { nil }
    let source = inputs.count == 1 ? inputs[0] : "count files"
    try options.checkSuperwords(countFiles: countFiles)
    var countSeconds = 0.0
    /// Checks the counts (text, pattern), then trains on them within the memory budget.
    func train(_ path: String, _ metadata: CountMetadata) throws -> (PreTokenizer, BPETrainer.Result) {
        guard metadata.statistics.bytes > 0 || metadata.distinctPieces > 0 else { throw TrainingError.noText(inputs: inputs) }
        guard let counted = PreTokenizer.named.values.first(where: { $0.regexes == metadata.regexes }) else {
            throw TrainingError.unknownPattern(path: source, pattern: metadata.pattern)
        }
        if countFiles != nil && counted != options.counting.preTokenizer {
            throw TrainingError.patternMismatch(path: source, counted: metadata.pattern, wanted: options.counting.preTokenizer.name)
        }
        countSeconds = Date().timeIntervalSince(started)
        return (counted, try options.trainer.train(
            countFile: path, model: options.model,
            memoryBudget: max(options.counting.memoryBudget - BPETrainer.reservedMemory, 1 << 20), progress: trainingProgress))
    }
    let metadata: CountMetadata
    let (preTokenizer, result): (PreTokenizer, BPETrainer.Result)
    if let countFiles, countFiles.count == 1, options.superwords == nil {
        metadata = try CountFile.metadata(path: countFiles[0])
        (preTokenizer, result) = try train(countFiles[0], metadata)
    } else {
        (metadata, preTokenizer, result) = try TemporaryPaths.withWorkFolder("train", in: options.counting.temporaryDirectory) { work in
            let path = work + "/train.counts"
            if let superwords = options.superwords {
                let (countFile, metadata) = try superwordCounts(resolved, options: options, work: work, warn: warn,
                                                                countingProgress: countingProgress)
                guard metadata.distinctPieces > 0 else { throw TrainingError.noText(inputs: inputs) }
                countSeconds = Date().timeIntervalSince(started)
                let result = try trainSuperwords(superwords, countFile: countFile, options: options, trainingProgress: trainingProgress)
                return (metadata, PreTokenizer.superwords, result)
            }
            let metadata: CountMetadata
            switch resolved {
            case .countFiles(let paths): metadata = try mergeCountFiles(paths, output: path)
            case .text(let files):
                metadata = try countPieces(files: files, domain: "train", options: options.counting,
                                           output: path, warn: warn, progress: countingProgress)
                metadata.statistics.warnings.forEach(warn)
            }
            let (preTokenizer, result) = try train(path, metadata)
            return (metadata, preTokenizer, result)
        }
    }
    let tokenizer = try options.model.tokenizer(learned: result.tokens.dropFirst(256), alphabet: result.alphabet,
                                                specialTokens: options.trainer.specialTokens, preTokenizer: preTokenizer)
    try VocabularyFolder.writeStaged(to: output, protecting: inputs) { staging in
        try VocabularyFolder.write(
            tokenizer, into: staging, name: URL(fileURLWithPath: output).lastPathComponent,
            source: "tok train on \(metadata.domains.joined(separator: ",")) (\(metadata.statistics.bytes) bytes, pattern \(metadata.pattern))")
        try writeFileAtomically(staging + "/training.json", options.model == .byteLevel
            ? trainingReport(result, pattern: metadata.pattern) : sentencePieceTrainingReport(result))
    }
    let wanted = options.trainer.vocabularySize - options.model.reservedIds(result, specialTokens: options.trainer.specialTokens.count)
    return TrainingSummary(
        output: output, vocabularySize: tokenizer.sentencePiece?.pieceCount ?? tokenizer.vocabulary.idLimit, merges: result.merges.count,
        tiedMerges: result.merges.filter(\.tied).count, specialTokens: options.trainer.specialTokens.count,
        pattern: metadata.pattern, countSeconds: countSeconds, trainSeconds: result.seconds,
        seconds: Date().timeIntervalSince(started), stoppedEarly: result.merges.count < wanted, reduction: result.reduction)
}

/// `training.json`: the pattern and every merge as `[left, right, count, tied]`.
func trainingReport(_ result: BPETrainer.Result, pattern: String) -> [UInt8] {
    var out = "{\"pattern\": \(HuggingFaceJSON.jsonString(pattern)), \"merges\": [\n"
    for (i, m) in result.merges.enumerated() {
        out += "[\(m.left), \(m.right), \(m.count), \(m.tied)]" + (i + 1 < result.merges.count ? ",\n" : "\n")
    }
    out += "]}\n"
    return Array(out.utf8)
}
