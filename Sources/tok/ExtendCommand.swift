import ArgumentParser
import Foundation
import TokBuild
import TokCounts
import TokCorpus
import TokEncoding

struct ExtendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extend",
        abstract: "Add new tokens to a vocabulary, every existing id kept.",
        discussion: """
            Counts each domain with the base vocabulary's own pre-tokenizer (holding out \
            about 2% of its documents for evaluation, or measuring on --eval), encodes each \
            piece with the base, and continues BPE from there: each new token is a merge of \
            two tokens the base or an earlier new merge has, ranked after all of the base's \
            merges, chosen by the balance of tok build (each domain's counts scaled to the \
            same total, times --weights). New ids follow the base's largest id, special \
            tokens included; the base's ids, bytes and special tokens stay as they are, and \
            every new token encodes to itself. --add auto adds as few tokens as make each \
            --target domain's bytes/token reach its factor times the base's. Writes the \
            folder with extend-report.json, extend-report.html, added.tsv (the new ids and \
            their tokens) and heldout/<domain>.txt, and prints the table: per domain, \
            bytes/token and tokens/character before and after, also for --eval domains no \
            token was learned from.

            Example:
              tok extend --vocab vocab/cl100k --domains zh=corpora/zh --add 20000 -o vocab/cl100k-zh
              tok extend --vocab vocab/cl100k --domains zh=corpora/zh --add auto --target zh=1.3 \\
                  --eval zh=corpora/eval/zh,en=corpora/eval/en -o vocab/cl100k-zh
            """
    )

    @OptionGroup var vocabulary: VocabularyOptions

    @Option(help: ArgumentHelp("Domains to learn new tokens from: files, folders and globs of text, or count files made with the base's pattern (added up).", valueName: "name=path[+path...],..."), transform: DomainList.parse)
    var domains: DomainList

    @Option(help: ArgumentHelp("Tokens to add, or auto: as few as meet --target.", valueName: "N|auto"), transform: TokensToAddArgument.parse)
    var add: TokensToAddArgument

    @Option(help: ArgumentHelp("With --add auto: per domain, the bytes/token to reach as a factor of the base's (above 1).", valueName: "name=factor,..."), transform: TargetFactors.parse)
    var target: TargetFactors?

    @Option(help: "With --add auto: tokens to add at most.")
    var maxAdd: Int = 100_000

    @Option(help: ArgumentHelp("Domain weights (default 1 each), positive, at most \(Int(DomainWeights.maximum)).", valueName: "name=weight,..."), transform: DomainWeights.parse)
    var weights: DomainWeights?

    @OptionGroup var holdOut: HoldOutOptions

    @Option(name: .customLong("eval"), help: ArgumentHelp("Evaluation text per domain, from other sources than the training text; it may name domains not in --domains, to see what the extension does to them.", valueName: "name=path[+path...],..."), transform: DomainList.parse)
    var evaluation: DomainList?

    @OptionGroup var threads: ThreadOptions

    @OptionGroup var running: RunOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("The vocabulary folder to write (vocab/NAME).", valueName: "folder"))
    var output: String

    func validate() throws {
        if let weights { try DomainList.check(weights.weights.map(\.name), of: "--weights", against: domains) }
        if let target { try DomainList.check(target.factors.map(\.name), of: "--target", against: domains) }
        switch (add.count, target) {
        case (nil, nil): throw ValidationError("--add auto needs --target, e.g. --target zh=1.3")
        case (.some, .some): throw ValidationError("--target goes with --add auto")
        default: break
        }
        guard (1 ... TokensToAddArgument.maximum).contains(maxAdd) else {
            throw ValidationError("--max-add takes 1 to \(TokensToAddArgument.maximum), not \(maxAdd)")
        }
        try checkOutputFolder(output)
    }

    func run() throws {
        let base = try vocabulary.load()
        let add: TokensToAdd = add.count.map { .exactly($0) }
            ?? .auto(targets: Dictionary(target!.factors.map { ($0.name, $0.factor) }, uniquingKeysWith: { a, _ in a }), limit: maxAdd)
        var options = ExtensionOptions(domains: domains.domains, add: add)
        for (name, weight) in weights?.weights ?? [] {
            options.domains[options.domains.firstIndex { $0.name == name }!].weight = weight  // validated: a domain
        }
        options.threads = threads.count
        options.memoryBudget = running.memoryBudget
        options.heldOutPerMille = holdOut.heldOutPerMille
        options.heldOutUnit = holdOut.holdOutBy
        for domain in evaluation?.domains ?? [] { options.evaluation[domain.name] = domain.inputs }
        let stages = StageOutput(command: "extend", quiet: running.quiet || running.json)
        let baseName = URL(fileURLWithPath: vocabulary.vocab).lastPathComponent
        let report = try extendVocabulary(options, base: base, baseName: baseName, output: output, protecting: [vocabulary.vocab],
                                          log: stages.log, warn: stages.warn, progress: stages.progress)
        stages.complete()
        try StageOutput.print(report, json: running.json) { ExtensionTable.render(report, output: output) }
    }
}

/// The readable form of an extension report.
enum ExtensionTable {
    static func render(_ r: ExtensionReport, output: String) -> String {
        func f(_ x: Double?, _ format: String = "%.3f") -> String { x.map { String(format: format, $0) } ?? "-" }
        func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
        func tokensPerCharacter(_ c: Compression?) -> Double? { c.flatMap { $0.characters > 0 ? Double($0.tokens) / Double($0.characters) : nil } }
        let newIds = r.added == 0 ? "no new ids" : "new ids \(r.firstNewId)-\(r.size - 1)"
        var lines = ["\(output): \(r.base) + \(r.added) tokens = \(r.size) ids (\(newIds); \(r.sizeRoundedTo64) rounded up to 64, "
                     + "\(r.sizeRoundedTo128) to 128), merge rule \(r.mergeRule), pattern \(r.pattern)"]
        if r.stoppedEarly { lines.append("fewer tokens than asked: no pair was left to merge") }
        for t in r.targets {
            lines.append(String(format: "target %@: bytes/token %.3fx the base's (wanted %.3fx)%@", t.domain, t.reached, t.wanted,
                                t.met ? "" : ": not reached"))
        }
        lines.append("")
        lines.append("domain    weight  train MB   added  measured on           bytes/token: before    after    ratio   tokens/char: before    after")
        for d in r.domains {
            lines.append(d.name.padding(toLength: max(8, d.name.count), withPad: " ", startingAt: 0)
                         + pad(f(d.weight, "%.2f"), 8) + pad(d.weight == nil ? "-" : String(format: "%.1f", Double(d.trainingBytes) / 1e6), 10)
                         + pad(String(d.added), 8) + "  " + d.evaluatedOn.padding(toLength: 20, withPad: " ", startingAt: 0)
                         + pad(f(d.before?.bytesPerToken), 21) + pad(f(d.after?.bytesPerToken), 9)
                         + pad(d.bytesPerTokenRatio.map { String(format: "%.3fx", $0) } ?? "-", 9)
                         + pad(f(tokensPerCharacter(d.before)), 21) + pad(f(tokensPerCharacter(d.after)), 9))
        }
        if let x = r.reduction {
            lines.append(String(format: "reduced to fit: %.1f%% of the distinct pieces dropped, %.2f%% of the piece mass",
                                x.droppedPieceShare * 100, x.droppedMassShare * 100))
        }
        let stages = r.seconds.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1f", $0.value)) s" }
        lines.append("")
        lines.append("time: " + stages.joined(separator: ", ") + String(format: "; peak memory %.0f MB of a %.0f MB budget", r.peakMemoryMB, r.memoryBudgetMB))
        lines.append("the new ids and their tokens: \(output)/added.tsv")
        return lines.joined(separator: "\n")
    }
}
