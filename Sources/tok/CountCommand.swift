import ArgumentParser
import Foundation
import TokCorpus
import TokCounts
import TokEncoding
import TokTraining
import TokRuntime

struct CountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "count",
        abstract: "Count the pieces of a domain's corpus, or merge count files.",
        discussion: """
            Inputs are files, folders (recursive) and globs of .txt, .jsonl (text in \
            --field) and the same compressed as .zst. The count file is deterministic \
            (the same bytes for any thread count or input order) and mergeable: \
            'tok count --merge A B -o C' adds count files, so shards can be counted \
            apart and reduced afterwards.
            """
    )

    @Argument(help: "Corpus inputs, or count files with --merge.")
    var inputs: [String]

    @Option(help: "The domain's name, recorded in the count file.")
    var domain: String = "default"

    @Flag(help: "Add count files instead of counting a corpus.")
    var merge = false

    @Option(help: ArgumentHelp("Hold out this many thousandths of the documents, as 'tok build' does (it holds out 20), writing them to OUTPUT's .heldout.txt.", valueName: "per-mille"))
    var holdOut: Int?

    @Option(help: "Most bytes held out (as 'tok build').")
    var heldOutCapacity: String = "4M"

    @Option(help: ArgumentHelp("Bytes held out by the shards before these, when a corpus is counted in parts (see --plan-held-out).", valueName: "bytes"))
    var heldOutBefore: Int = 0

    @Flag(help: "Also count the documents each piece occurs in, into OUTPUT.documents (for 'tok build --min-documents'; --merge adds them up when every input has them).")
    var documentFrequencies = false

    @Flag(help: "Print (as a JSON array) the sizes of the documents --hold-out would choose, in corpus order, counting nothing.")
    var scanHeldOut = false

    @Flag(help: "INPUTS are the --scan-held-out outputs of a corpus's shards, in corpus order: print (to OUTPUT with -o) each shard's --held-out-before for --held-out-capacity, as JSON lines {\"heldOutBefore\":N,\"scan\":\"PATH\"}, so that the shards count as the whole corpus.")
    var planHeldOut = false

    @OptionGroup var corpus: CorpusOptions

    @Option(name: .shortAndLong, help: "The count file to write.")
    var output: String?

    func validate() throws {
        if let holdOut, !(0 ... 1000).contains(holdOut) { throw ValidationError("--hold-out takes 0 to 1000 thousandths") }
        if scanHeldOut && holdOut == nil { throw ValidationError("--scan-held-out needs --hold-out") }
        if merge && holdOut != nil { throw ValidationError("--hold-out counts a corpus; merged count files keep their own held-out records") }
        if planHeldOut && (merge || scanHeldOut || holdOut != nil) {
            throw ValidationError("--plan-held-out reads scans: not with --merge, --scan-held-out or --hold-out")
        }
        if output == nil && !scanHeldOut && !planHeldOut { throw ValidationError("missing -o/--output") }
    }

    func run() throws {
        let started = Date()
        if scanHeldOut {
            let sizes = try holdOutCandidates(files: try expandCorpusInputs(inputs), perMille: holdOut!, options: try corpus.options())
            print("[" + sizes.map(String.init).joined(separator: ",") + "]")
            return
        }
        if planHeldOut {
            let plan = try HoldOutPlan(scanFiles: inputs, capacity: try parseSize(heldOutCapacity, option: "--held-out-capacity"))
            if let output { try writeFileAtomically(output, plan.jsonLines) } else { print(String(decoding: plan.jsonLines, as: UTF8.self), terminator: "") }
            return
        }
        let output = output!  // validated
        let status = StatusLine(enabled: corpus.showsProgress)
        let metadata: CountMetadata
        if merge {
            metadata = try mergeCountFiles(inputs, output: output, heldOutText: true) { fraction in
                let seconds = Date().timeIntervalSince(started)
                status.show(String(format: "merging: %.0f%%, %@ left", fraction * 100,
                                   StatusLine.duration(secondsLeft(done: fraction, of: 1, in: seconds, minimumShare: 0.05))))
            }
        } else if let holdOut {
            let held = HoldOut(perMille: holdOut, capacity: try parseSize(heldOutCapacity, option: "--held-out-capacity"),
                               alreadyHeld: heldOutBefore)
            metadata = try corpus.count(inputs: inputs, domain: domain, output: output, holdOut: held,
                                        documentFrequencies: documentFrequencies, status: status)
            try writeFileAtomically(CountFile.heldOutPath(output), held.text)
        } else {
            metadata = try corpus.count(inputs: inputs, domain: domain, output: output, documentFrequencies: documentFrequencies,
                                        status: status)
        }
        status.finish()
        let seconds = Date().timeIntervalSince(started)
        if corpus.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            var object = try JSONSerialization.jsonObject(with: encoder.encode(metadata)) as! [String: Any]
            object["seconds"] = seconds
            object["output"] = output
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self))
        } else {
            let s = metadata.statistics
            if let h = metadata.heldOut { print("\(CountFile.heldOutPath(output)): \(h.documents) documents, \(h.bytes) bytes held out") }
            print("\(output): \(metadata.distinctPieces) distinct pieces, \(metadata.pieces) in all, from \(s.files) files, \(s.bytes) bytes, \(s.documents) documents in \(String(format: "%.1f", seconds)) s (\(String(format: "%.1f", Double(s.bytes) / 1e6 / max(seconds, 1e-9))) MB/s)")
            for line in s.warnings { printError("tok: " + line) }
        }
    }
}

/// Options shared by the commands that read corpora.
struct CorpusOptions: ParsableArguments {
    @Option(help: "Pre-tokenizer pattern: \(PreTokenizer.named.keys.sorted().joined(separator: ", ")).")
    var pattern: String = PreTokenizer.defaultName

    @Option(help: "Threads (default: all cores). Results do not depend on it.")
    var threads: Int?

    @Option(help: "Peak memory, e.g. 4G or 512M (default: a quarter of RAM, at most 16G). Counting spills sorted runs to disk past it; training drops the rarest pieces when all would not fit (and says so).")
    var memory: String?

    @Option(help: "The JSON field holding the text in .jsonl files.")
    var field: String = "text"

    @Flag(help: "Fail on a malformed or blank JSON line, or one without the field, instead of reporting and skipping it.")
    var strict = false

    @Flag(help: "No progress on stderr.")
    var quiet = false

    @Flag(help: "Print a JSON summary on stdout.")
    var json = false

    func memoryBudget() throws -> Int {
        guard let memory else { return CountingOptions.defaultMemoryBudget }
        return try parseSize(memory, option: "--memory")
    }

    func options() throws -> CountingOptions {
        guard let preTokenizer = PreTokenizer(named: pattern) else { throw CLIError("unknown pattern '\(pattern)'") }
        var options = CountingOptions(preTokenizer: preTokenizer, threads: threads ?? defaultThreadCount(), memoryBudget: try memoryBudget())
        options.field = field
        options.strict = strict
        return options
    }

    var showsProgress: Bool { !quiet && !json }

    func count(inputs: [String], domain: String, output: String, holdOut: HoldOut? = nil, documentFrequencies: Bool = false,
               status: StatusLine) throws -> CountMetadata {
        var options = try options()
        options.documentFrequencies = documentFrequencies
        return try countPieces(files: try expandCorpusInputs(inputs), domain: domain, options: options, output: output,
                        holdOut: holdOut, warn: { printError("tok: " + $0) }, progress: countingProgress(domain: domain, status: status))
    }

    /// A status line on stderr while counting, with the time left.
    func countingProgress(domain: String, status: StatusLine) -> @Sendable (CountingProgress) -> Void {
        { p in status.show(countingLine(domain: domain, p)) }
    }
}

/// "counting zh: 1234.5 MB read (41%), 30.2 MB/s, 2m10s left".
func countingLine(domain: String, _ p: CountingProgress) -> String {
    let share = p.inputSize > 0 ? String(format: " (%.0f%%)", Double(p.consumed) / Double(p.inputSize) * 100) : ""
    return String(format: "counting %@: %.1f MB read%@, %.1f MB/s, %@ left", domain, Double(p.bytes) / 1e6, share,
                  Double(p.bytes) / 1e6 / max(p.seconds, 1e-9), StatusLine.duration(p.secondsLeft))
}

