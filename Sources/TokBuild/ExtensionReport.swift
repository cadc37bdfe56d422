import Foundation
import TokCorpus
import TokCounts
import TokEncoding
import TokTraining
import TokRuntime

/// One domain's figures in an extension: the tokens credited to it, and the
/// base's and the extension's compression of its evaluation text.
public struct ExtensionDomainReport: Codable, Sendable {
    public var name: String
    /// Its weight in the balance; nil for a domain only measured (no tokens learned from it).
    public var weight: Double?
    public var trainingBytes: Int
    public var heldOutDocuments: Int
    /// What the figures were measured on: `evaluation set` or `held-out documents` (files, sources); empty when nothing.
    public var evaluatedOn: String
    /// New tokens credited to this domain (``creditNewTokens(_:domains:)``).
    public var added: Int
    public var before: Compression?
    public var after: Compression?
    /// The extension's bytes/token over the base's: above 1 when the text takes fewer tokens.
    public var bytesPerTokenRatio: Double?
}

/// How far `--add auto` got towards one domain's target.
public struct TargetReport: Codable, Sendable, Equatable {
    public var domain: String
    /// The factor asked for over the base's bytes/token, and the one reached.
    public var wanted: Double
    public var reached: Double
    public var met: Bool
}

/// What `tok extend` did: the sizes, the tokens per domain, and the base's
/// and the extension's figures on every domain's evaluation text.
public struct ExtensionReport: Codable, Sendable {
    public var base: String
    /// `ranks` (tiktoken: the new ids are the new ranks) or `merges` (a HuggingFace merges list, the new merges at its end).
    public var mergeRule: String
    public var pattern: String
    /// One past the base's largest id (special tokens included), and the first new id: the same number.
    public var baseSize: Int
    public var firstNewId: Int
    public var added: Int
    /// One past the largest id, and that rounded up to multiples of 64 and 128 (as trainers pad embeddings).
    public var size: Int
    public var sizeRoundedTo64: Int
    public var sizeRoundedTo128: Int
    /// Fewer tokens than asked for: no pair was left to merge.
    public var stoppedEarly = false
    /// With `--add auto`: each target and how far it got.
    public var targets: [TargetReport] = []
    public var domains: [ExtensionDomainReport]
    public var seconds: [String: Double] = [:]
    public var peakMemoryMB = 0.0
    public var memoryBudgetMB = 0.0
    /// The rarest pieces dropped to fit the memory budget, if any were.
    public var reduction: PieceReduction?
    /// Every metric of the base and of the extension on the same texts (parity against the base).
    public var baseMetrics: VocabularyMetrics?
    public var metrics: VocabularyMetrics?

    /// Measures `base` and `extended` on each domain's evaluation text.
    init(base: Tokenizer, baseName: String, extended: Tokenizer, added: Int, options: ExtensionOptions,
         domains: [CountedDomain], texts: [EvaluationText], credit: [Int]) throws {
        self.base = baseName
        mergeRule = base.vocabulary.mergeOrder == .ranks ? "ranks" : "merges"
        pattern = base.preTokenizer.name
        baseSize = base.vocabulary.idLimit
        firstNewId = baseSize
        self.added = added
        size = extended.vocabulary.idLimit
        sizeRoundedTo64 = (size + 63) / 64 * 64
        sizeRoundedTo128 = (size + 127) / 128 * 128
        var before: [(domain: String, measurement: TextMeasurement)] = []
        var after: [(domain: String, measurement: TextMeasurement)] = []
        self.domains = try texts.map { text in
            let index = domains.firstIndex { $0.input.name == text.name }
            let counted = index.map { domains[$0] }
            var report = ExtensionDomainReport(
                name: text.name, weight: counted?.input.weight, trainingBytes: counted?.trainingBytes ?? 0,
                heldOutDocuments: counted?.heldOutDocuments ?? 0, evaluatedOn: text.isEmpty ? "" : text.evaluatedOn,
                added: index.map { d in credit.filter { $0 == d }.count } ?? 0)
            guard !text.isEmpty else { return report }
            let b = try text.measure(base, threads: options.threads), a = try text.measure(extended, threads: options.threads)
            before.append((text.name, b))
            after.append((text.name, a))
            report.before = b.compression
            report.after = a.compression
            if b.tokens > 0 && a.tokens > 0 { report.bytesPerTokenRatio = round4(Double(b.tokens) / Double(a.tokens)) }
            return report
        }
        let reference = Dictionary(before.map { ($0.domain, $0.measurement.tokens) }, uniquingKeysWith: { a, _ in a })
        baseMetrics = VocabularyMetrics(name: baseName, tokenizer: base, measurements: before)
        baseMetrics?.setParity(reference: reference)
        metrics = VocabularyMetrics(name: "extended", tokenizer: extended, measurements: after)
        metrics?.setParity(reference: reference)
    }

    /// Writes `extend-report.json`, `extend-report.html` (the base's and the
    /// extension's metrics as charts) and `added.tsv` (each new id, its token
    /// as text, the domain it is credited to and its merge's count) into `folder`.
    func write(into folder: String, title: String, newTokens: [[UInt8]], merges: [BPETrainer.Merge], credit: [Int],
               domainNames: [String]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeFileAtomically(folder + "/extend-report.json", Array(try encoder.encode(self)) + [0x0A])
        if let baseMetrics, let metrics {
            let measured = domains.filter { $0.before != nil }
            let on = Set(measured.map(\.evaluatedOn)).sorted().joined(separator: ", ")
            let page = MetricsPage(title: title, note: "\(base) and its extension by \(added) tokens, measured on "
                                       + (on == "evaluation set" ? "the evaluation set" : on) + ". Parity is against \(base).",
                                   domains: measured.map(\.name), vocabularies: [baseMetrics, metrics])
            try writeFileAtomically(folder + "/extend-report.html", Array(page.render().utf8))
        }
        var tsv = "id\ttoken\tdomain\tcount\n"
        for (j, token) in newTokens.enumerated() {
            tsv += "\(firstNewId + j)\t\(ExtensionReport.escaped(token))\t\(domainNames[credit[j]])\t\(merges[j].count)\n"
        }
        try writeFileAtomically(folder + "/added.tsv", Array(tsv.utf8))
    }

    /// A token's bytes as one field of text: UTF-8 as it is, `\\`, `\t`, `\n`,
    /// `\r` and other control characters escaped, and a byte that is no whole
    /// character (partial UTF-8) as `\xNN`.
    static let namedEscapes: [Unicode.Scalar: String] = ["\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"]

    static func escaped(_ bytes: [UInt8]) -> String {
        var out = ""
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let length = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0
            guard length > 0, i + length <= bytes.count, let text = String(validating: bytes[i ..< i + length], as: UTF8.self) else {
                out += String(format: "\\x%02x", b)
                i += 1
                continue
            }
            for scalar in text.unicodeScalars {
                if let named = ExtensionReport.namedEscapes[scalar] {
                    out += named
                } else {
                    out += scalar.value < 0x20 || scalar.value == 0x7F ? String(format: "\\x%02x", scalar.value) : String(scalar)
                }
            }
            i += length
        }
        return out
    }
}

/// One domain's text the report measures on: its evaluation files, or its held-out text.
struct EvaluationText {
    var name: String
    var files: [CorpusFile]?
    var heldOut: [UInt8]
    var evaluatedOn: String

    func measure(_ tokenizer: Tokenizer, threads: Int) throws -> TextMeasurement {
        if let files { return try TextMeasurement.of(files: files, tokenizer: tokenizer, threads: threads) }
        return heldOut.withUnsafeBufferPointer { TextMeasurement.of($0, tokenizer: tokenizer, threads: threads) }
    }

    var isEmpty: Bool { files == nil && heldOut.isEmpty }

    /// The extended domains' texts in their order, then those of the domains only measured, by name.
    static func all(_ options: ExtensionOptions, domains: [CountedDomain]) throws -> [EvaluationText] {
        let extended = try domains.map { d in
            let files = try options.evaluation[d.input.name].map(expandCorpusInputs)
            return EvaluationText(name: d.input.name, files: files, heldOut: d.heldOut,
                                  evaluatedOn: files != nil ? "evaluation set" : "held-out \(options.heldOutUnit.plural)")
        }
        let measured = try options.evaluation.keys.sorted().filter { name in !domains.contains { $0.input.name == name } }.map { name in
            EvaluationText(name: name, files: try expandCorpusInputs(options.evaluation[name]!), heldOut: [], evaluatedOn: "evaluation set")
        }
        return extended + measured
    }
}
