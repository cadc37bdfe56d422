import ArgumentParser
import Foundation
import TokCorpus
import TokCounts
import TokEncoding
import TokTraining

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a byte-level or SentencePiece BPE vocabulary on count files or a corpus.",
        discussion: """
            Each step merges the most frequent adjacent pair; ties go to the pair with \
            the smaller ids (left first). Ids are ranks: the 256 bytes, then tokens in \
            merge order, then the special tokens. --vocab-size counts all three. The \
            folder also gets training.json: every merge with its count and whether it \
            was tied. --model sentencepiece trains a SentencePiece BPE model instead \
            (tokenizer.model in the folder; docs/sentencepiece.md).

            Example:
              tok train corpora/en --vocab-size 32000 -o vocab/en-32k
            """
    )

    @Argument(help: "Count files from 'tok count', or corpus inputs (counted first).")
    var inputs: [String]

    @Option(help: "Total ids: 256 byte tokens + merges + special tokens.")
    var vocabSize: Int

    @Option(help: "Stop when the best pair occurs fewer times than this.")
    var minFrequency: UInt64 = 0

    @Option(help: "Longest token in bytes.")
    var maxTokenLength: Int?

    @Option(help: ArgumentHelp("Special tokens, comma-separated; they take the last ids (default: none).", valueName: "token,..."), transform: SpecialTokenList.parse)
    var specialTokens = SpecialTokenList([])

    @OptionGroup var corpus: CorpusOptions

    @OptionGroup var model: ModelOptions
    @OptionGroup var superwords: SuperwordArguments

    @Option(name: .shortAndLong, help: ArgumentHelp("The vocabulary folder to write (vocab/NAME).", valueName: "folder"))
    var output: String

    func validate() throws {
        try VocabularySize.validate(vocabSize, specialTokens: specialTokens.tokens.count, merges: 0)
        if let maxTokenLength, maxTokenLength < 1 { throw ValidationError("--max-token-length takes 1 or more bytes, not \(maxTokenLength)") }
        if maxTokenLength != nil && model.model == .sentencepiece {
            throw ValidationError("--max-token-length counts bytes of byte-level tokens; a SentencePiece model takes --max-piece-length (characters)")
        }
        try superwords.check(model: model.model)
        try checkOutputFolder(output)
    }

    func run() throws {
        var options = TrainingOptions(vocabularySize: vocabSize, counting: corpus.countingOptions)
        options.trainer.minFrequency = minFrequency
        options.trainer.maxTokenLength = maxTokenLength ?? .max
        options.trainer.specialTokens = specialTokens.tokens
        options.model = model.vocabularyModel
        options.superwords = superwords.options
        let status = StatusLine(enabled: corpus.showsProgress)
        var trainingStarted: Date?
        let summary = try trainVocabulary(
            inputs: inputs, options: options, output: output, warn: { printError("tok: " + $0) },
            countingProgress: corpus.countingProgress(domain: "train", status: status),
            trainingProgress: { done, total in
                let started = trainingStarted ?? Date()
                trainingStarted = started
                let seconds = Date().timeIntervalSince(started)
                let left = secondsLeft(done: Double(done), of: Double(total), in: seconds, minimumShare: 0.05)
                status.show(trainingLine(done: done, of: total, seconds: seconds, secondsLeft: left))
            })
        status.complete(trainingLine(done: summary.merges, of: summary.merges, seconds: summary.trainSeconds, secondsLeft: 0))
        if corpus.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try StandardOutput.writeLine(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            try StandardOutput.writeLine("\(output): \(summary.vocabularySize) ids (\(summary.merges) merges, \(summary.specialTokens) special tokens), pattern \(summary.pattern); counting \(String(format: "%.1f", summary.countSeconds)) s, training \(String(format: "%.1f", summary.trainSeconds)) s")
            if summary.stoppedEarly { printError("tok: stopped early: no pair left above --min-frequency") }
            if let r = summary.reduction { printError("tok: " + r.summary) }
        }
    }
}

/// "training: 12000 of 31744 merges, 5400 merges/s, 3s left".
func trainingLine(done: Int, of total: Int, seconds: Double, secondsLeft: Double?) -> String {
    String(format: "training: %d of %d merges, %.0f merges/s, %@ left", done, total, Double(done) / max(seconds, 1e-9),
           StatusLine.duration(secondsLeft))
}
