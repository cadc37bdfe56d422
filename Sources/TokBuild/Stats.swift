import Foundation
import TokCorpus
import TokEncoding

/// Compression of several vocabularies on several domains' text.
public struct StatsReport: Codable, Sendable {
    public var vocabularies: [String]
    public var domains: [String]
    /// `results[domain][vocabulary]`.
    public var results: [String: [String: Compression]]

    /// Measures every vocabulary on every domain (files, folders, globs; .txt,
    /// .jsonl, .zst), reading each domain once per vocabulary in bounded memory.
    public static func measure(
        vocabularies: [(name: String, tokenizer: Tokenizer)], domains: [(name: String, inputs: [String])], threads: Int
    ) throws -> StatsReport {
        var results: [String: [String: Compression]] = [:]
        for domain in domains {
            let files = try expandCorpusInputs(domain.inputs)
            for vocabulary in vocabularies {
                results[domain.name, default: [:]][vocabulary.name] = try measure(vocabulary.tokenizer, files: files, threads: threads)
            }
        }
        return StatsReport(vocabularies: vocabularies.map(\.name), domains: domains.map(\.name), results: results)
    }

    /// The compression of one vocabulary on the text of `files`.
    public static func measure(_ tokenizer: Tokenizer, files: [CorpusFile], threads: Int) throws -> Compression {
        let stream = CorpusStream(files: files, preTokenizer: tokenizer.preTokenizer, blockSize: 8 << 20)
        var batch = TextBatch()
        var total = Compression(bytes: 0, characters: 0, tokens: 0)
        while try stream.next(&batch) {
            let texts = batch.ends.count
            let lanes = max(1, min(threads, texts))
            let shared = batch
            let counts: [(Int, Int, Int)]
            if lanes == 1 {
                // One long text: let the encoder split it across the threads.
                var c = (0, 0, 0)
                shared.forEachText { t in
                    c.0 += t.count
                    c.1 += characterCount(t)
                    c.2 += tokenizer.encodeInParallel(t, threads: threads).count
                }
                counts = [c]
            } else {
                counts = inParallel(lanes: lanes) { lane in
                    var k = 0, c = (0, 0, 0)
                    var scratch = tokenizer.makeScratch()
                    var ids = ContiguousArray<UInt32>()
                    shared.forEachText { t in
                        defer { k += 1 }
                        guard k % lanes == lane else { return }
                        ids.removeAll(keepingCapacity: true)
                        tokenizer.encode(t, allowedSpecial: .none, scratch: &scratch, into: &ids)
                        c.0 += t.count
                        c.1 += characterCount(t)
                        c.2 += ids.count
                    }
                    return c
                }
            }
            for c in counts {
                total.bytes += c.0
                total.characters += c.1
                total.tokens += c.2
            }
        }
        return total
    }

    /// A self-contained HTML page: one bar chart of bytes/token per domain.
    public func html(title: String = "tok stats") -> String {
        func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        let colors = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"]
        var out = """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}h2{font-size:1.1em;margin:1.5em 0 .3em}
            .legend span{display:inline-block;margin-right:1.2em}.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em}
            table{border-collapse:collapse;margin-top:2em}td,th{padding:.2em .8em;text-align:right}th{text-align:left}</style></head><body>
            <h1>\(escape(title))</h1><p>Held-out compression per domain: bytes per token (longer bars are better).</p><div class="legend">
            """
        for (k, v) in vocabularies.enumerated() {
            out += "<span><i style=\"background:\(colors[k % colors.count])\"></i>\(escape(v))</span>"
        }
        out += "</div>\n"
        let best = results.values.flatMap { $0.values.map(\.bytesPerToken) }.max() ?? 1
        for domain in domains {
            out += "<h2>\(escape(domain))</h2>\n"
            let height = vocabularies.count * 26 + 6
            out += "<svg width=\"720\" height=\"\(height)\" role=\"img\" aria-label=\"\(escape(domain))\">\n"
            for (k, v) in vocabularies.enumerated() {
                let value = results[domain]?[v]?.bytesPerToken ?? 0
                let width = Int(520 * value / best)
                let y = k * 26 + 3
                out += "<text x=\"0\" y=\"\(y + 16)\" font-size=\"12\">\(escape(String(v.prefix(22))))</text>"
                out += "<rect x=\"160\" y=\"\(y)\" width=\"\(width)\" height=\"20\" fill=\"\(colors[k % colors.count])\"/>"
                out += "<text x=\"\(166 + width)\" y=\"\(y + 15)\" font-size=\"12\">\(String(format: "%.3f", value))</text>\n"
            }
            out += "</svg>\n"
        }
        out += "<table><tr><th>domain</th>" + vocabularies.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n"
        for domain in domains {
            out += "<tr><th>\(escape(domain))</th>"
            for v in vocabularies {
                let c = results[domain]?[v]
                out += "<td>\(c.map { String(format: "%.3f B/tok, %.3f ch/tok", $0.bytesPerToken, $0.charactersPerToken) } ?? "-")</td>"
            }
            out += "</tr>\n"
        }
        out += "</table></body></html>\n"
        return out
    }
}
