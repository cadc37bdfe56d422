import ArgumentParser
import Foundation
import TokBuild
import TokData
import TokEncoding
import TokRuntime

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Compare vocabularies' compression per domain.",
        discussion: """
            For each vocabulary (built, trained or imported) and each domain's text, prints \
            bytes, characters, tokens, bytes and characters per token, tokens per word and \
            per Han character, Rényi efficiency (alpha 2.5), parity (against the vocabulary \
            needing the fewest tokens on that domain), dead tokens and bytes/token against \
            the first --vocab (a superword build against the plain build of the same size); \
            then, per vocabulary, \
            dead tokens on all domains and tokens used only as merge intermediates. --json \
            adds the composition and token lengths per kind; --html charts them all. The \
            project's evaluation set is corpora/eval/<domain> (corpora/gather.py); a \
            build's held-out text is in vocab/NAME/heldout/<domain>.txt.

            Example:
              tok stats --vocab vocab/mixed --vocab vocab/o200k --domains en=eval/en
            """
    )

    @Option(name: .customLong("vocab"), help: ArgumentHelp("A vocabulary folder (repeatable).", valueName: "folder"))
    var vocabularies: [String] = []

    @Option(help: ArgumentHelp("Domains: files, folders or globs of text (.txt, .jsonl, either .zst).", valueName: "name=path[+path...],..."), transform: DomainList.parse)
    var domains: DomainList?

    @Option(name: .customLong("dataset"), help: ArgumentHelp("A megatron dataset written by 'tok encode --format megatron' (repeatable): documents, tokens, id type, tokens per domain.", valueName: "prefix"))
    var datasets: [String] = []

    @OptionGroup var threads: ThreadOptions

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "Also write a self-contained HTML page charting every figure against the other vocabularies.")
    var html: String?

    func validate() throws {
        guard !datasets.isEmpty || (domains != nil && !vocabularies.isEmpty) else {
            throw ValidationError("stats needs --vocab and --domains, or --dataset")
        }
        if !datasets.isEmpty && (domains != nil || !vocabularies.isEmpty) {
            throw ValidationError("--dataset reports on datasets; --vocab and --domains measure vocabularies: give one or the other")
        }
    }

    func run() throws {
        if !datasets.isEmpty { return try datasetStats() }
        let loaded = try vocabularies.map { (name: $0, tokenizer: try VocabularyFolder.load($0)) }
        let domainList = domains!.domains.map { (name: $0.name, inputs: $0.inputs) }  // validated
        let report = try StatsReport.measure(vocabularies: loaded, domains: domainList, threads: threads.count)
        if let html {
            // The page names vocabularies by their folders when that tells them apart.
            var shown = report.metrics
            let short = vocabularies.map { URL(fileURLWithPath: $0).lastPathComponent }
            if Set(short).count == short.count { for k in shown.indices { shown[k].name = short[k] } }
            let page = MetricsPage(title: "tok stats", note: "Parity is against the vocabulary that needs the fewest tokens on each domain.",
                                   domains: report.domains, vocabularies: shown)
            try writeFileAtomically(html, Array(page.render().utf8))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try StandardOutput.writeLine(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        var lines = ["domain\tvocabulary\tbytes\tcharacters\ttokens\tbytes/token\tcharacters/token\ttokens/word\ttokens/Han\trenyi2.5\tparity\tdead\tvs first"]
        for d in report.domains {
            let first = report.metrics.first?.domains[d]?.bytesPerToken ?? 0
            for (v, metrics) in zip(report.vocabularies, report.metrics) {
                guard let m = metrics.domains[d] else { continue }
                lines.append("\(d)\t\(v)\t\(m.bytes)\t\(m.characters)\t\(m.tokens)\t" + String(
                    format: "%.3f\t%.3f\t%.3f\t%@\t%.4f\t%.4f\t%.1f%%", m.bytesPerToken, m.charactersPerToken, m.tokensPerWord,
                    m.hanCharacters * 4 > m.characters ? String(format: "%.3f", m.tokensPerHanCharacter) : "-", m.renyiEfficiency, m.parity ?? 0,
                    m.deadShare * 100) + (first > 0 ? String(format: "\t%.3fx", m.bytesPerToken / first) : "\t-"))
            }
        }
        for (v, metrics) in zip(report.vocabularies, report.metrics) {
            lines.append(String(format: "%@: %d ids, %d dead on all domains (%.1f%%), %d used only as merge intermediates, parity spread %.4f",
                                v, metrics.size, metrics.deadTokens, metrics.deadShare * 100, metrics.intermediateOnlyTokens,
                                metrics.paritySpread ?? 0))
        }
        try StandardOutput.writeLine(lines.joined(separator: "\n"))
    }
}

extension StatsCommand {
    /// Documents, tokens and id type of each dataset, and tokens per domain.
    func datasetStats() throws {
        var rows: [[String: Any]] = []
        var perDomain: [String: Int] = [:]
        for prefix in datasets {
            let dataset = try MegatronDataset(prefix: prefix)
            let domain = dataset.manifest?.domain ?? "-"
            perDomain[domain, default: 0] += dataset.tokens
            rows.append(["dataset": prefix, "documents": dataset.documents, "tokens": dataset.tokens,
                         "dtype": dataset.shards.isEmpty ? "" : dataset.dtype.name, "domain": domain,
                         "shards": dataset.shards.count, "complete": dataset.manifest?.complete ?? true])
        }
        if json {
            let object: [String: Any] = ["datasets": rows, "tokensPerDomain": perDomain]
            try StandardOutput.writeLine(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
            return
        }
        var lines = ["dataset\tdomain\tshards\tdocuments\ttokens\tdtype"]
        for r in rows { lines.append("\(r["dataset"]!)\t\(r["domain"]!)\t\(r["shards"]!)\t\(r["documents"]!)\t\(r["tokens"]!)\t\(r["dtype"]!)") }
        for (domain, tokens) in perDomain.sorted(by: { $0.key < $1.key }) { lines.append("domain \(domain): \(tokens) tokens") }
        try StandardOutput.writeLine(lines.joined(separator: "\n"))
    }
}
