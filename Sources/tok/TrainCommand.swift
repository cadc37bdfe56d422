import ArgumentParser
import Foundation
import TokCorpus
import TokCounts
import TokEncoding
import TokTraining

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a byte-level BPE vocabulary on count files or a corpus.",
        discussion: """
            Each step merges the most frequent adjacent pair; ties go to the pair with \
            the smaller ids (left first). Ids are ranks: the 256 bytes, then tokens in \
            merge order, then the special tokens. --vocab-size counts all three. The \
            folder also gets training.json: every merge with its count and whether it \
            was tied.
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

    @Option(help: "Special tokens, comma-separated; they take the last ids.")
    var specialTokens: String?

    @OptionGroup var corpus: CorpusOptions

    @Option(name: .shortAndLong, help: "The vocabulary folder to write (vocab/NAME).")
    var output: String

    func run() throws {
        var options = TrainingOptions(vocabularySize: vocabSize, counting: try corpus.options())
        options.trainer.minFrequency = minFrequency
        options.trainer.maxTokenLength = maxTokenLength ?? .max
        options.trainer.specialTokens = specialTokens?.split(separator: ",").map(String.init) ?? []
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
                status.show(String(format: "training: %d of %d merges, %.0f merges/s, %@ left", done, total,
                                   Double(done) / max(seconds, 1e-9), StatusLine.duration(left)))
            })
        status.finish()
        if corpus.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print("\(output): \(summary.vocabularySize) ids (\(summary.merges) merges, \(summary.specialTokens) special tokens), pattern \(summary.pattern); counting \(String(format: "%.1f", summary.countSeconds)) s, training \(String(format: "%.1f", summary.trainSeconds)) s")
            if summary.stoppedEarly { printError("tok: stopped early: no pair left above --min-frequency") }
            if let r = summary.reduction { printError("tok: " + reductionLine(r)) }
        }
    }
}

/// One line saying what fitting the memory budget cost.
func reductionLine(_ r: PieceReduction) -> String {
    String(format: "%d of %d distinct pieces (%.1f%%), %.2f%% of the piece mass, dropped to fit %@ of training memory (all would take %@): the rarest first, every piece counted fewer than %llu times and those counted %llu times in hash buckets 0-%d of 1023",
           r.droppedPieces, r.distinctPieces, r.droppedPieceShare * 100, r.droppedMassShare * 100,
           formatSize(r.budgetBytes), formatSize(r.estimatedBytes), r.countThreshold, r.countThreshold, r.bucketThreshold)
}

/// "4.0G", "512M".
func formatSize(_ bytes: Int) -> String {
    bytes >= 1 << 30 ? String(format: "%.1fG", Double(bytes) / Double(1 << 30)) : String(format: "%.0fM", Double(bytes) / Double(1 << 20))
}
