import ArgumentParser
import Foundation
import TokBuild
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
    var vocabularies: [String]

    @Option(help: "Domains as NAME=PATH[+PATH...],...")
    var domains: String

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "Also write a self-contained HTML page with bar charts.")
    var html: String?

    func run() throws {
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
