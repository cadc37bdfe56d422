import ArgumentParser
import Foundation
import TokCorpus
import TokCounts
import TokEncoding

/// Options shared by the commands that read corpora (count, train, build).
struct CorpusOptions: ParsableArguments {
    @Option(help: "Pre-tokenizer pattern.")
    var pattern = PreTokenizer(named: PreTokenizer.defaultName)!

    @OptionGroup var threads: ThreadOptions

    @OptionGroup var running: RunOptions

    @OptionGroup var jsonLines: JSONLinesOptions

    var quiet: Bool { running.quiet }
    var json: Bool { running.json }
    var memoryBudget: Int { running.memoryBudget }

    var countingOptions: CountingOptions {
        var options = CountingOptions(preTokenizer: pattern, threads: threads.count, memoryBudget: memoryBudget)
        options.field = jsonLines.field
        options.strict = jsonLines.strict
        return options
    }

    var showsProgress: Bool { !quiet && !json }

    /// Counts `inputs` into `output`; with `superwords`, also the superword
    /// counts of the same documents beside it.
    func count(inputs: [String], domain: String, output: String, holdOut: HoldOut?, superwords: Bool,
               status: StatusLine) throws -> (CountMetadata, CountMetadata?) {
        let files = try expandCorpusInputs(inputs)
        let warn: @Sendable (String) -> Void = { printError("tok: " + $0) }
        let progress = countingProgress(domain: domain, status: status)
        guard superwords else {
            return (try countPieces(files: files, domain: domain, options: countingOptions, output: output, holdOut: holdOut,
                                    warn: warn, progress: progress), nil)
        }
        return try countPiecesWithSuperwords(files: files, domain: domain, options: countingOptions, output: output,
                                             holdOut: holdOut, warn: warn, progress: progress)
    }

    /// A status line on stderr while counting, with the time left.
    func countingProgress(domain: String, status: StatusLine) -> @Sendable (CountingProgress) -> Void {
        { p in
            status.show(countingLine(domain: domain, bytes: p.bytes, seconds: p.seconds,
                                     fraction: p.inputSize > 0 ? Double(p.consumed) / Double(p.inputSize) : nil, secondsLeft: p.secondsLeft))
        }
    }
}

/// "counting zh: 1234.5 MB read (41%), 30.2 MB/s, 2m10s left".
func countingLine(domain: String, bytes: Int, seconds: Double, fraction: Double?, secondsLeft: Double?) -> String {
    let share = fraction.map { String(format: " (%.0f%%)", $0 * 100) } ?? ""
    return String(format: "counting %@: %.1f MB read%@, %.1f MB/s, %@ left", domain, Double(bytes) / 1e6, share,
                  Double(bytes) / 1e6 / max(seconds, 1e-9), StatusLine.duration(secondsLeft))
}
