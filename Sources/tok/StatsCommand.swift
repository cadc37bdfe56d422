import ArgumentParser
import Foundation
import TokBuild
import TokData
import TokEncoding

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Compare vocabularies' compression per domain.",
        discussion: """
            For each vocabulary (built, trained or imported) and each domain's text, prints \
            bytes, characters, tokens, bytes/token and characters/token. A build's own \
            held-out text is in vocab/NAME/heldout/<domain>.txt.
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

    @Option(help: "Also write a self-contained HTML page with bar charts.")
    var html: String?

    func run() throws {
        if !datasets.isEmpty { return try datasetStats() }
        guard let domains, !vocabularies.isEmpty else { throw ValidationError("stats needs --vocab and --domains, or --dataset") }
        let loaded = try vocabularies.map { (name: $0, tokenizer: try VocabularyOptions.parse(["--vocab", $0]).load()) }
        let domainList = try parseDomains(domains).map { (name: $0.name, inputs: $0.inputs) }
        let report = try StatsReport.measure(vocabularies: loaded, domains: domainList, threads: threads ?? defaultThreadCount())
        if let html { try writeFileAtomically(html, Array(report.html().utf8)) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        var lines = ["domain\tvocabulary\tbytes\tcharacters\ttokens\tbytes/token\tcharacters/token"]
        for d in report.domains {
            for v in report.vocabularies {
                guard let c = report.results[d]?[v] else { continue }
                lines.append("\(d)\t\(v)\t\(c.bytes)\t\(c.characters)\t\(c.tokens)\t" + String(format: "%.3f\t%.3f", c.bytesPerToken, c.charactersPerToken))
            }
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
            let directory = URL(fileURLWithPath: prefix).deletingLastPathComponent().path
            let manifest = try DatasetManifest.read(prefix)
            let prefixes = manifest?.shards.map { directory + "/" + $0.prefix } ?? [prefix]
            var documents = 0, tokens = 0, dtype = ""
            for p in prefixes {
                let reader = try IndexedDatasetReader(prefix: p)
                documents += reader.documents
                tokens += reader.tokens
                dtype = reader.dtype.name
            }
            let domain = manifest?.domain ?? "-"
            perDomain[domain, default: 0] += tokens
            rows.append(["dataset": prefix, "documents": documents, "tokens": tokens, "dtype": dtype, "domain": domain,
                         "shards": prefixes.count, "complete": manifest?.complete ?? true])
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
