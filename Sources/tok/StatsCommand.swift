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
            needing the fewest tokens on that domain) and dead tokens; then, per vocabulary, \
            dead tokens on all domains and tokens used only as merge intermediates. --json \
            adds the composition and token lengths per kind; --html charts them all. The \
            project's evaluation set is corpora/eval/<domain> (corpora/gather.py); a \
            build's held-out text is in vocab/NAME/heldout/<domain>.txt.
            """
    )

    @Option(name: .customLong("vocab"), help: "A vocabulary folder (repeatable).")
    var vocabularies: [String] = []

    @Option(help: "Domains as NAME=PATH[+PATH...],...")
    var domains: String?

    @Option(name: .customLong("dataset"), help: "A megatron dataset PREFIX written by 'tok encode --format megatron' (repeatable): documents, tokens, id type, tokens per domain.")
    var datasets: [String] = []

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "Also write a self-contained HTML page charting every figure against the other vocabularies.")
    var html: String?

    func run() throws {
        if !datasets.isEmpty { return try datasetStats() }
        guard let domains, !vocabularies.isEmpty else { throw ValidationError("stats needs --vocab and --domains, or --dataset") }
        let loaded = try vocabularies.map { (name: $0, tokenizer: try VocabularyOptions.parse(["--vocab", $0]).load()) }
        let domainList = try parseDomains(domains).map { (name: $0.name, inputs: $0.inputs) }
        let report = try StatsReport.measure(vocabularies: loaded, domains: domainList, threads: threads ?? defaultThreadCount())
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
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        var lines = ["domain\tvocabulary\tbytes\tcharacters\ttokens\tbytes/token\tcharacters/token\ttokens/word\ttokens/Han\trenyi2.5\tparity\tdead"]
        for d in report.domains {
            for (v, metrics) in zip(report.vocabularies, report.metrics) {
                guard let m = metrics.domains[d] else { continue }
                lines.append("\(d)\t\(v)\t\(m.bytes)\t\(m.characters)\t\(m.tokens)\t" + String(
                    format: "%.3f\t%.3f\t%.3f\t%@\t%.4f\t%.4f\t%.1f%%", m.bytesPerToken, m.charactersPerToken, m.tokensPerWord,
                    m.hanCharacters * 4 > m.characters ? String(format: "%.3f", m.tokensPerHanCharacter) : "-", m.renyiEfficiency, m.parity ?? 0,
                    m.deadShare * 100))
            }
        }
        for (v, metrics) in zip(report.vocabularies, report.metrics) {
            lines.append(String(format: "%@: %d ids, %d dead on all domains (%.1f%%), %d used only as merge intermediates, parity spread %.4f",
                                v, metrics.size, metrics.deadTokens, metrics.deadShare * 100, metrics.intermediateOnlyTokens,
                                metrics.paritySpread ?? 0))
        }
        print(lines.joined(separator: "\n"))
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
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
            return
        }
        print("dataset\tdomain\tshards\tdocuments\ttokens\tdtype")
        for r in rows { print("\(r["dataset"]!)\t\(r["domain"]!)\t\(r["shards"]!)\t\(r["documents"]!)\t\(r["tokens"]!)\t\(r["dtype"]!)") }
        for (domain, tokens) in perDomain.sorted(by: { $0.key < $1.key }) { print("domain \(domain): \(tokens) tokens") }
    }
}
