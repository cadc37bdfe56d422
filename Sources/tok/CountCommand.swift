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

            Example:
              tok count corpora/zh --domain zh -o counts/zh.counts
              tok count corpora/en --domain en --superwords -o counts/en.counts
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

    @Option(help: ArgumentHelp("Most bytes held out (as 'tok build'; default: 4M).", valueName: "size"), transform: ByteSize.parse)
    var heldOutCapacity = ByteSize(bytes: 4 << 20)

    @Option(help: ArgumentHelp("Bytes held out by the shards before these, when a corpus is counted in parts (see --plan-held-out).", valueName: "bytes"))
    var heldOutBefore: Int = 0

    @Flag(help: "Also count the superword pieces of the same documents (the superwords pattern) into OUTPUT's .superwords.counts, for 'tok build --superwords' from count files; with --merge, add up the superword counts beside the inputs too.")
    var superwords = false

    @Flag(help: "Print (as a JSON array) the sizes of the documents --hold-out would choose, in corpus order, counting nothing.")
    var scanHeldOut = false

    @Flag(help: "INPUTS are the --scan-held-out outputs of a corpus's shards, in corpus order: print (to OUTPUT with -o) each shard's --held-out-before for --held-out-capacity, as JSON lines {\"heldOutBefore\":N,\"scan\":\"PATH\"}, so that the shards count as the whole corpus.")
    var planHeldOut = false

    @OptionGroup var corpus: CorpusOptions

    @Option(name: .shortAndLong, help: "The count file to write.")
    var output: String?

    func validate() throws {
        if let holdOut, !(0 ... 1000).contains(holdOut) { throw ValidationError("--hold-out takes 0 to 1000 thousandths, not \(holdOut)") }
        if heldOutBefore < 0 { throw ValidationError("--held-out-before takes 0 or more bytes, not \(heldOutBefore)") }
        if scanHeldOut && holdOut == nil { throw ValidationError("--scan-held-out needs --hold-out") }
        if merge && holdOut != nil { throw ValidationError("--hold-out counts a corpus; merged count files keep their own held-out records") }
        if planHeldOut && (merge || scanHeldOut || holdOut != nil) {
            throw ValidationError("--plan-held-out reads scans: not with --merge, --scan-held-out or --hold-out")
        }
        if superwords && (scanHeldOut || planHeldOut) { throw ValidationError("--superwords counts pieces: not with --scan-held-out or --plan-held-out") }
        if superwords && !merge && corpus.pattern.regexes == PreTokenizer.superwords.regexes {
            throw ValidationError("--superwords counts beside the vocabulary's pattern, not beside --pattern superwords")
        }
        if output == nil && !scanHeldOut && !planHeldOut { throw ValidationError("missing -o/--output") }
    }

    func run() throws {
        let started = Date()
        if scanHeldOut {
            let sizes = try holdOutCandidates(files: try expandCorpusInputs(inputs), perMille: holdOut!, options: corpus.countingOptions)
            try StandardOutput.writeLine("[" + sizes.map(String.init).joined(separator: ",") + "]")
            return
        }
        if planHeldOut {
            let plan = try HoldOutPlan(scanFiles: inputs, capacity: heldOutCapacity.bytes)
            if let output { try writeFileAtomically(output, plan.jsonLines) } else { try plan.jsonLines.withUnsafeBytes { try StandardOutput.write($0) } }
            return
        }
        let output = output!  // validated
        let status = StatusLine(enabled: corpus.showsProgress)
        let metadata: CountMetadata
        var superwordMetadata: CountMetadata?
        if merge {
            let merging: (Double) -> Void = { fraction in
                let seconds = Date().timeIntervalSince(started)
                status.show(String(format: "merging: %.0f%%, %@ left", fraction * 100,
                                   StatusLine.duration(secondsLeft(done: fraction, of: 1, in: seconds, minimumShare: 0.05))))
            }
            if superwords {
                (metadata, superwordMetadata) = try mergeCountFilesWithSuperwords(CountFile.withoutPairedSuperwordCounts(inputs), output: output,
                                                                                  heldOutText: true, progress: merging)
            } else {
                metadata = try mergeCountFiles(inputs, output: output, heldOutText: true, progress: merging)
            }
            status.complete("merging: 100%")
        } else {
            let held = holdOut.map { HoldOut(perMille: $0, capacity: heldOutCapacity.bytes, alreadyHeld: heldOutBefore) }
            (metadata, superwordMetadata) = try corpus.count(inputs: inputs, domain: domain, output: output, holdOut: held,
                                                             superwords: superwords, status: status)
            if let held { try writeFileAtomically(CountFile.heldOutPath(output), held.text) }
        }
        let seconds = Date().timeIntervalSince(started)
        if !merge {
            status.complete(countingLine(domain: domain, bytes: metadata.statistics.bytes, seconds: seconds, fraction: 1, secondsLeft: 0))
        }
        if corpus.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            var object = try JSONSerialization.jsonObject(with: encoder.encode(metadata)) as! [String: Any]
            object["seconds"] = seconds
            object["output"] = output
            if let superwordMetadata {
                var superwords = try JSONSerialization.jsonObject(with: encoder.encode(superwordMetadata)) as! [String: Any]
                superwords["output"] = CountFile.superwordsPath(output)
                object["superwords"] = superwords
            }
            try StandardOutput.writeLine(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self))
        } else {
            let s = metadata.statistics
            if let h = metadata.heldOut { try StandardOutput.writeLine("\(CountFile.heldOutPath(output)): \(h.documents) documents, \(h.bytes) bytes held out") }
            try StandardOutput.writeLine("\(output): \(metadata.distinctPieces) distinct pieces, \(metadata.pieces) in all, from \(s.files) files, \(s.bytes) bytes, \(s.documents) documents in \(String(format: "%.1f", seconds)) s (\(String(format: "%.1f", Double(s.bytes) / 1e6 / max(seconds, 1e-9))) MB/s)")
            if let m = superwordMetadata {
                try StandardOutput.writeLine("\(CountFile.superwordsPath(output)): \(m.distinctPieces) distinct superword pieces, \(m.pieces) in all")
            }
            for line in s.warnings { printError("tok: " + line) }
        }
    }
}
