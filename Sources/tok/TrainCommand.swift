import ArgumentParser
import Foundation
import TokCorpus
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
        let started = Date()
        let countsPath: String
        var temporary: String?
        let countFiles = inputs.allSatisfy { CountFile.isCountFile($0) }
        if countFiles && inputs.count == 1 {
            countsPath = inputs[0]
        } else {
            let path = NSTemporaryDirectory() + "/tok-train-\(getpid()).counts"
            temporary = path
            if countFiles {
                _ = try mergeCountFiles(inputs, output: path)
            } else {
                _ = try corpus.count(inputs: inputs, domain: "train", output: path)
                corpus.finishProgress()
            }
            countsPath = path
        }
        defer { if let temporary { unlink(temporary) } }
        let countSeconds = Date().timeIntervalSince(started)
        let metadata = try CountFile.metadata(path: countsPath)
        var pieces: [(bytes: [UInt8], count: UInt64)] = []
        try readCounts(countsPath) { bytes, count in pieces.append((Array(bytes), count)) }
        guard let preTokenizer = PreTokenizer.named.values.first(where: { $0.regexes == metadata.regexes }) else {
            throw CLIError("\(countsPath): counted with an unknown pattern")
        }
        if countFiles && corpus.pattern != PreTokenizer.defaultName && preTokenizer != PreTokenizer(named: corpus.pattern) {
            throw CLIError("\(countsPath): counted with pattern \(metadata.pattern), not \(corpus.pattern)")
        }
        var trainer = BPETrainer(vocabularySize: vocabSize)
        trainer.minFrequency = minFrequency
        trainer.maxTokenLength = maxTokenLength ?? .max
        trainer.specialTokens = specialTokens?.split(separator: ",").map(String.init) ?? []
        let show = corpus.showsProgress
        let trainingStarted = Date()
        let result = try trainer.train(pieces: pieces) { done, total in
            let rate = Double(done) / max(Date().timeIntervalSince(trainingStarted), 1e-9)
            if show { printError(String(format: "\rtraining: %d of %d merges, %.0f merges/s   ", done, total, rate), newline: false) }
        }
        if show { printError("") }
        pieces = []
        let tokenizer = Tokenizer(
            vocabulary: try Vocabulary.fromRanks(result.tokens, specialTokens: result.specialTokens), preTokenizer: preTokenizer)
        // Written in full beside the output, then moved into place.
        let staging = output + ".tmp-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        try VocabularyFolder.save(
            tokenizer, to: staging, name: URL(fileURLWithPath: output).lastPathComponent,
            source: "tok train on \(metadata.domains.joined(separator: ",")) (\(metadata.statistics.bytes) bytes, pattern \(metadata.pattern))")
        try writeTrainingReport(result, metadata: metadata, folder: staging)
        try VocabularyFolder.moveIntoPlace(staging, output)
        let seconds = Date().timeIntervalSince(started)
        if corpus.json {
            let summary: [String: Any] = [
                "output": output, "vocab_size": tokenizer.vocabulary.idLimit, "merges": result.merges.count,
                "tied_merges": result.merges.filter(\.tied).count, "count_seconds": countSeconds,
                "train_seconds": result.seconds, "seconds": seconds, "pattern": metadata.pattern,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self))
        } else {
            print("\(output): \(tokenizer.vocabulary.idLimit) ids (\(result.merges.count) merges, \(result.specialTokens.count) special tokens), pattern \(metadata.pattern); counting \(String(format: "%.1f", countSeconds)) s, training \(String(format: "%.1f", result.seconds)) s")
            if result.merges.count < vocabSize - 256 - result.specialTokens.count {
                printError("tok: stopped early: no pair left above --min-frequency")
            }
        }
    }

    func writeTrainingReport(_ result: BPETrainer.Result, metadata: CountMetadata, folder: String) throws {
        var out = "{\"pattern\": \(HuggingFaceJSON.jsonString(metadata.pattern)), \"merges\": [\n"
        for (i, m) in result.merges.enumerated() {
            out += "[\(m.left), \(m.right), \(m.count), \(m.tied)]" + (i + 1 < result.merges.count ? ",\n" : "\n")
        }
        out += "]}\n"
        try writeFileAtomically(folder + "/training.json", Array(out.utf8))
    }
}
