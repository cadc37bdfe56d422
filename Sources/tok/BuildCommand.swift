import ArgumentParser
import Foundation
import TokBuild
import TokEncoding
import TokCorpus
import TokCounts
import TokTraining

struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build a balanced multi-domain vocabulary (the Pangu Ultra recipe).",
        discussion: """
            Counts each domain (holding out about 2% of its documents, or with --hold-out-by \
            whole files or sources, for evaluation; --eval measures on text from other \
            sources instead), \
            trains a BPE per domain, and merges the domains into exactly --vocab-size \
            ids: the 256 byte tokens and the special tokens are included in that number. \
            The domains' frequency statistics are merged, each scaled to the same total \
            (times --weights), and one BPE ranks the tokens. Every token is checked to \
            encode to itself. Writes the vocabulary folder, build-report.json (compression, \
            tokens per word and Han character, Renyi efficiency, parity, dead tokens, \
            composition, token lengths), build-report.html (the same as charts) and \
            heldout/<domain>.txt, and prints the per-domain table.

            Example:
              tok build --domains zh=corpora/zh,en=corpora/en -o vocab/mixed
            """
    )

    @Option(help: ArgumentHelp("Domains: files, folders and globs of text, or count files (added up); not both in one domain.", valueName: "name=path[+path...],..."), transform: DomainList.parse)
    var domains: DomainList

    @Option(help: "Total ids, byte and special tokens included.")
    var vocabSize: Int = 153_376

    @Option(help: ArgumentHelp("Domain weights (default 1 each), positive, at most \(Int(DomainWeights.maximum)).", valueName: "name=weight,..."), transform: DomainWeights.parse)
    var weights: DomainWeights?

    @Option(help: ArgumentHelp("Special tokens, comma-separated; they take the last ids (default: <|endoftext|>).", valueName: "token,..."), transform: SpecialTokenList.parse)
    var specialTokens = SpecialTokenList(["<|endoftext|>"])

    @Flag(help: "Also train one BPE on all domains pooled, at the same size, and compare.")
    var comparePooled = false

    @OptionGroup var holdOut: HoldOutOptions

    @Option(name: .customLong("eval"), help: ArgumentHelp("Evaluation text per domain, from other sources than the training text: the report measures on it instead of the held-out text.", valueName: "name=path[+path...],..."), transform: DomainList.parse)
    var evaluation: DomainList?

    @OptionGroup var corpus: CorpusOptions

    @OptionGroup var model: ModelOptions
    @OptionGroup var superwords: SuperwordArguments

    @Option(name: .shortAndLong, help: ArgumentHelp("The vocabulary folder to write (vocab/NAME).", valueName: "folder"))
    var output: String

    func validate() throws {
        try VocabularySize.validate(vocabSize, specialTokens: specialTokens.tokens.count, merges: 1)
        if let weights { try DomainList.check(weights.weights.map(\.name), of: "--weights", against: domains) }
        if let evaluation { try DomainList.check(evaluation.names, of: "--eval", against: domains) }
        try superwords.check(model: model.model)
        try checkOutputFolder(output)
    }

    func run() throws {
        var options = BuildOptions(domains: domains.domains)
        for (name, weight) in weights?.weights ?? [] {
            options.domains[options.domains.firstIndex { $0.name == name }!].weight = weight  // validated: a domain
        }
        options.vocabularySize = vocabSize
        options.specialTokens = specialTokens.tokens
        options.preTokenizer = corpus.pattern
        options.model = model.vocabularyModel
        options.threads = corpus.threads.count
        options.memoryBudget = corpus.memoryBudget
        options.field = corpus.jsonLines.field
        options.strict = corpus.jsonLines.strict
        options.comparePooled = comparePooled
        options.superwords = superwords.options
        options.heldOutPerMille = holdOut.heldOutPerMille
        options.heldOutUnit = holdOut.holdOutBy
        for domain in evaluation?.domains ?? [] { options.evaluation[domain.name] = domain.inputs }
        let stages = StageOutput(command: "build", quiet: corpus.quiet || corpus.json)
        let report = try buildVocabulary(options, output: output, log: stages.log, warn: stages.warn, progress: stages.progress)
        stages.complete()
        for (name, r) in report.reductions.sorted(by: { $0.key < $1.key }) where !stages.quiet { printError("tok build: \(name): " + r.summary) }
        try StageOutput.print(report, json: corpus.json) { BuildTable.render(report, output: output) }
    }
}

/// The readable form of a build report.
enum BuildTable {
    static func render(_ r: BuildReport, output: String) -> String {
        func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "-" }
        // Bytes/token of `b` relative to `a`: positive when `b` needs fewer tokens.
        func gain(_ a: Compression?, _ b: Compression?) -> String {
            guard let a, let b, a.tokens > 0, b.tokens > 0 else { return "-" }
            return String(format: "%+.1f%%", (b.bytesPerToken / a.bytesPerToken - 1) * 100)
        }
        func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, n - s.count))
            return left ? fill + s : s + fill
        }
        var lines = [r.pattern == SentencePieceOptions.countingPattern
            ? "\(output): a SentencePiece BPE model of \(r.vocabularySize) pieces: \(r.bpeTokens) merged; <unk>, <s>, </s>, \(r.specialTokens.count) control, the user-defined, 256 byte and \(r.vocabularySize - r.bpeTokens - 259 - r.specialTokens.count) more pieces (single characters and user-defined)"
            : "\(output): \(r.vocabularySize) ids (\(r.bpeTokens) merged BPE tokens + 256 bytes + \(r.specialTokens.count) special), pattern \(r.pattern)"]
        lines.append("")
        let on = Set(r.domains.map(\.evaluatedOn).filter { !$0.isEmpty })
        let heading = on.count == 1 && on.first == "evaluation set" ? "evaluation bytes/token:" : "  held-out bytes/token:"
        lines.append("domain   weight  train MB  tokens  shared " + heading + " merged    own  pooled   merged vs pooled   chars/token merged")
        for d in r.domains {
            lines.append(pad(d.name, 8) + String(format: " %6.2f %9.1f %7d %7d", d.weight, Double(d.trainingBytes) / 1e6, d.contributed, d.shared)
                         + pad(f(d.merged?.bytesPerToken), 38, left: true) + pad(f(d.own?.bytesPerToken), 7, left: true)
                         + pad(f(d.pooled?.bytesPerToken), 8, left: true) + pad(gain(d.pooled, d.merged), 19, left: true)
                         + pad(f(d.merged?.charactersPerToken), 21, left: true))
        }
        if let s = r.superwords {
            let gains = r.domains.map { "\($0.name) \(f($0.plain?.bytesPerToken)) (\(gain($0.plain, $0.merged)))" }
            lines.append("superwords after \(s.transition) ids: \(s.superwordTokens) tokens of at most \(s.options.maxWords) words; "
                         + "bytes/token of the plain build of the same size: " + gains.joined(separator: ", "))
        }
        if r.jointOnlyTokens > 0 { lines.append("\(r.jointOnlyTokens) tokens are in no single domain's own vocabulary (learned from the merged statistics)") }
        if let m = r.metrics, !m.domains.isEmpty {
            lines.append("")
            lines.append("merged vocabulary: tokens/word  tokens/Han char  Renyi(2.5)  parity vs own   dead tokens")
            for d in r.domains {
                guard let x = m.domains[d.name] else { continue }
                lines.append(pad(d.name, 17) + pad(String(format: "%.3f", x.tokensPerWord), 12, left: true)
                             + pad(x.hanCharacters * 4 > x.characters ? String(format: "%.3f", x.tokensPerHanCharacter) : "-", 17, left: true)
                             + pad(String(format: "%.4f", x.renyiEfficiency), 12, left: true)
                             + pad(x.parity.map { String(format: "%.4f", $0) } ?? "-", 15, left: true)
                             + pad(String(format: "%.1f%%", x.deadShare * 100), 14, left: true))
            }
            lines.append(String(format: "parity spread %.4f; %d tokens (%.1f%%) unused on every domain's text, %d of them only merge intermediates",
                                m.paritySpread ?? 0, m.deadTokens, m.deadShare * 100, m.intermediateOnlyTokens))
        }
        lines.append("")
        lines.append("composition (as Pangu Ultra's table 1):")
        let total = Double(r.vocabularySize)
        for kind in TokenKind.allCases {
            let n = r.composition[kind.rawValue] ?? 0
            lines.append("  " + pad(kind.rawValue, 34) + String(format: " %7d  %5.1f%%", n, Double(n) / total * 100))
        }
        let stages = r.seconds.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1f", $0.value)) s" }
        lines.append("")
        lines.append("time: " + stages.joined(separator: ", ") + String(format: "; peak memory %.0f MB of a %.0f MB budget", r.peakMemoryMB, r.memoryBudgetMB))
        for (name, x) in r.reductions.sorted(by: { $0.key < $1.key }) {
            lines.append(String(format: "reduced to fit: %@ dropped %.1f%% of its distinct pieces, %.2f%% of the piece mass", name,
                                x.droppedPieceShare * 100, x.droppedMassShare * 100))
        }
        return lines.joined(separator: "\n")
    }
}
