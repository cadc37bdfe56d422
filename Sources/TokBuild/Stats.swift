import Foundation
import TokCorpus
import TokEncoding

/// Compression and the other metrics (``VocabularyMetrics``) of several
/// vocabularies on several domains' text.
public struct StatsReport: Codable, Sendable {
    public var vocabularies: [String]
    public var domains: [String]
    /// `results[domain][vocabulary]`.
    public var results: [String: [String: Compression]]
    /// Per vocabulary, in order; each domain's parity is against the vocabulary
    /// that needs the fewest tokens on that domain's text.
    public var metrics: [VocabularyMetrics]

    /// Measures every vocabulary on every domain (files, folders, globs; .txt,
    /// .jsonl, .zst), reading each domain once per vocabulary in bounded memory.
    public static func measure(
        vocabularies: [(name: String, tokenizer: Tokenizer)], domains: [(name: String, inputs: [String])], threads: Int
    ) throws -> StatsReport {
        var results: [String: [String: Compression]] = [:]
        var measurements = [[(domain: String, measurement: TextMeasurement)]](repeating: [], count: vocabularies.count)
        for domain in domains {
            let files = try expandCorpusInputs(domain.inputs)
            for (k, vocabulary) in vocabularies.enumerated() {
                let m = try TextMeasurement.of(files: files, tokenizer: vocabulary.tokenizer, threads: threads)
                results[domain.name, default: [:]][vocabulary.name] = m.compression
                measurements[k].append((domain.name, m))
            }
        }
        var fewest: [String: Int] = [:]
        for (domain, r) in results { fewest[domain] = r.values.map(\.tokens).filter { $0 > 0 }.min() }
        let metrics = vocabularies.enumerated().map { k, v in
            var m = VocabularyMetrics(name: v.name, tokenizer: v.tokenizer, measurements: measurements[k])
            m.setParity(reference: fewest)
            return m
        }
        return StatsReport(vocabularies: vocabularies.map(\.name), domains: domains.map(\.name), results: results,
                           metrics: metrics)
    }

    /// The compression of one vocabulary on the text of `files`.
    public static func measure(_ tokenizer: Tokenizer, files: [CorpusFile], threads: Int) throws -> Compression {
        try TextMeasurement.of(files: files, tokenizer: tokenizer, threads: threads).compression
    }
}
