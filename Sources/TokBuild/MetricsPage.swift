import Foundation

/// A self-contained HTML page (inline SVG, no script) that charts
/// ``VocabularyMetrics`` of several vocabularies side by side: compression,
/// tokens per word and per Han character, Rényi efficiency, parity, dead
/// tokens, composition and token lengths. `tok stats --html` and
/// `build-report.html` are this page.
public struct MetricsPage {
    public var title: String
    public var note: String
    public var domains: [String]
    public var vocabularies: [VocabularyMetrics]

    public init(title: String, note: String = "", domains: [String], vocabularies: [VocabularyMetrics]) {
        self.title = title
        self.note = note
        self.domains = domains
        self.vocabularies = vocabularies
    }

    static let colors = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
                         "#ff9da7", "#bab0ac"]

    public func render() -> String {
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
            h2{font-size:1.15em;margin:1.8em 0 .2em}p.caption{margin:.2em 0 .6em;color:#555;max-width:60em}
            .legend span{display:inline-block;margin-right:1.2em}.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em}
            table{border-collapse:collapse;margin:.6em 0}td,th{padding:.15em .7em;text-align:right;border-bottom:1px solid #eee}th:first-child{text-align:left}</style></head><body>
            <h1>\(escape(title))</h1>
            """
        if !note.isEmpty { out += "<p>\(escape(note))</p>\n" }
        out += "<div class=\"legend\" id=\"legend\">"
        for (k, v) in vocabularies.enumerated() { out += "<span><i style=\"background:\(color(k))\"></i>\(escape(v.name))</span>" }
        out += "</div>\n"
        out += domainChart(id: "bytes-per-token", "Bytes per token", "Compression of each domain's evaluation text: higher is better.") { $0.bytesPerToken }
        out += domainChart(id: "characters-per-token", "Characters per token", "Higher is better.") { $0.charactersPerToken }
        out += domainChart(id: "tokens-per-word", "Tokens per word", "Tokens per white-space-separated word (the figure for English and code): lower is better.",
                           only: domains.filter { $0 != "zh" }) { $0.words > 0 ? $0.tokensPerWord : nil }
        out += domainChart(id: "tokens-per-han", "Tokens per Han character", "Tokens over the Han characters of the text (the figure for Chinese): lower is better.",
                           only: domains.filter { d in vocabularies.contains { ($0.domains[d]?.hanCharacters ?? 0) * 4 > ($0.domains[d]?.characters ?? 1) } }) {
            $0.hanCharacters > 0 ? $0.tokensPerHanCharacter : nil
        }
        out += domainChart(id: "renyi", "Rényi efficiency (α = 2.5)", "How evenly the text uses the vocabulary: Rényi entropy of the token distribution over log of the vocabulary size.") { $0.renyiEfficiency }
        out += domainChart(id: "parity", "Parity", "Tokens relative to the reference on the same text (1 is parity; lower is better). Spread per vocabulary: "
                           + vocabularies.map { "\($0.name) \($0.paritySpread.map { format($0) } ?? "-")" }.joined(separator: ", ") + ".") { $0.parity }
        out += deadChart()
        out += compositionChart()
        out += lengthCharts()
        out += table()
        out += "</body></html>\n"
        return out
    }

    func color(_ k: Int) -> String { MetricsPage.colors[k % MetricsPage.colors.count] }

    /// Grouped horizontal bars: one group per domain, one bar per vocabulary.
    func domainChart(id: String, _ heading: String, _ caption: String, only: [String]? = nil,
                     value: (DomainMetrics) -> Double?) -> String {
        let shown = only ?? domains
        let rows = shown.map { d in (d, vocabularies.map { $0.domains[d].flatMap(value) }) }
        guard rows.contains(where: { $0.1.contains { $0 != nil } }) else { return "" }
        return barChart(id: id, heading, caption, rows: rows)
    }

    func barChart(id: String, _ heading: String, _ caption: String, rows: [(String, [Double?])], percent: Bool = false) -> String {
        let bar = 16, gap = 10
        let top = rows.flatMap { $0.1.compactMap { $0 } }.max() ?? 1
        let height = rows.count * (vocabularies.count * bar + gap) + 4
        var svg = "<h2 id=\"\(id)\">\(escape(heading))</h2><p class=\"caption\">\(escape(caption))</p>\n"
        svg += "<svg class=\"chart\" width=\"760\" height=\"\(height)\" role=\"img\" aria-label=\"\(escape(heading))\">\n"
        var y = 2
        for (label, values) in rows {
            svg += "<text x=\"0\" y=\"\(y + vocabularies.count * bar / 2 + 5)\" font-size=\"13\" font-weight=\"bold\">\(escape(label))</text>\n"
            for (k, v) in values.enumerated() {
                if let v {
                    let width = top > 0 ? max(1, Int(540 * v / top)) : 1
                    svg += "<rect x=\"110\" y=\"\(y)\" width=\"\(width)\" height=\"\(bar - 2)\" fill=\"\(color(k))\"><title>\(escape(vocabularies[k].name)): \(format(v, percent: percent))</title></rect>"
                    svg += "<text x=\"\(116 + width)\" y=\"\(y + bar - 5)\" font-size=\"11\">\(format(v, percent: percent))</text>\n"
                }
                y += bar
            }
            y += gap
        }
        return svg + "</svg>\n"
    }

    func deadChart() -> String {
        guard vocabularies.contains(where: { !$0.domains.isEmpty }) else { return "" }
        var rows = domains.map { d in (d, vocabularies.map { $0.domains[d].map(\.deadShare) }) }
        rows.append(("all domains", vocabularies.map { $0.domains.isEmpty ? nil : $0.deadShare }))
        rows.append(("intermediate", vocabularies.map { v in
            v.domains.isEmpty ? nil : Double(v.intermediateOnlyTokens) / Double(max(v.size, 1)) }))
        return barChart(id: "dead", "Dead tokens", "Share of the vocabulary never used on each domain's evaluation text and on all of them; "
                        + "'intermediate': tokens never used but merged into used ones (kept only as stepping stones). Lower is better.",
                        rows: rows, percent: true)
    }

    /// One 100% stacked bar per vocabulary, colored by kind (Pangu Ultra's table 1).
    func compositionChart() -> String {
        let kinds = TokenKind.allCases.map(\.rawValue)
        var svg = "<h2 id=\"composition\">Composition</h2><p class=\"caption\">Tokens per kind, as in table 1 of the Pangu Ultra report.</p>\n<div class=\"legend\">"
        for (k, kind) in kinds.enumerated() { svg += "<span><i style=\"background:\(color(k))\"></i>\(escape(kind))</span>" }
        svg += "</div>\n<svg class=\"chart\" width=\"760\" height=\"\(vocabularies.count * 26 + 4)\" role=\"img\" aria-label=\"composition\">\n"
        for (row, v) in vocabularies.enumerated() {
            let total = Double(max(v.composition.values.reduce(0, +), 1))
            var x = 200.0
            let y = row * 26 + 2
            svg += "<text x=\"0\" y=\"\(y + 16)\" font-size=\"12\">\(escape(String(v.name.suffix(30))))</text>"
            for (k, kind) in kinds.enumerated() {
                let n = v.composition[kind] ?? 0
                let width = 540 * Double(n) / total
                guard width > 0 else { continue }
                svg += "<rect x=\"\(format(x))\" y=\"\(y)\" width=\"\(format(width))\" height=\"22\" fill=\"\(color(k))\"><title>\(escape(kind)): \(n)</title></rect>"
                x += width
            }
            svg += "\n"
        }
        svg += "</svg>\n<table><tr><th>kind</th>" + vocabularies.map { "<th>\(escape($0.name))</th>" }.joined() + "</tr>\n"
        for kind in kinds {
            svg += "<tr><th>\(escape(kind))</th>" + vocabularies.map { v in
                let n = v.composition[kind] ?? 0
                return "<td>\(n) (\(format(Double(n) / Double(max(v.composition.values.reduce(0, +), 1)), percent: true)))</td>"
            }.joined() + "</tr>\n"
        }
        return svg + "</table>\n"
    }

    /// Token length distributions per kind: one line per vocabulary, the share of its tokens of that kind at each length.
    func lengthCharts() -> String {
        let kinds = TokenKind.allCases.map(\.rawValue).filter { k in vocabularies.contains { ($0.lengths[k]?.reduce(0, +) ?? 0) >= 50 } }
        var svg = "<h2 id=\"lengths\">Token lengths</h2><p class=\"caption\">Per kind, the share of that kind's tokens at each length in characters (bytes for partial UTF-8; the last point is 16 and over).</p>\n"
        for kind in kinds {
            svg += "<svg class=\"chart\" width=\"370\" height=\"190\" role=\"img\" aria-label=\"lengths \(escape(kind))\">"
            svg += "<text x=\"30\" y=\"14\" font-size=\"12\" font-weight=\"bold\">\(escape(kind))</text>"
            svg += "<line x1=\"30\" y1=\"170\" x2=\"360\" y2=\"170\" stroke=\"#999\"/>"
            for l in [1, 4, 8, 12, 16] { svg += "<text x=\"\(30 + (l - 1) * 22 - 3)\" y=\"184\" font-size=\"10\">\(l)</text>" }
            let shares = vocabularies.map { v -> [Double] in
                let h = v.lengths[kind] ?? []
                let total = Double(max(h.reduce(0, +), 1))
                return h.map { Double($0) / total }
            }
            let top = max(shares.flatMap { $0 }.max() ?? 1, 0.01)
            for (k, s) in shares.enumerated() where !s.isEmpty {
                let points = s.enumerated().map { "\(30 + $0.offset * 22),\(format(170 - 145 * $0.element / top))" }.joined(separator: " ")
                svg += "<polyline fill=\"none\" stroke=\"\(color(k))\" stroke-width=\"2\" points=\"\(points)\"><title>\(escape(vocabularies[k].name))</title></polyline>"
            }
            svg += "</svg>\n"
        }
        return svg
    }

    func table() -> String {
        var html = "<h2 id=\"figures\">All figures</h2><table><tr><th>domain</th><th>vocabulary</th><th>bytes/token</th><th>chars/token</th><th>tokens/word</th><th>tokens/Han</th><th>Rényi 2.5</th><th>parity</th><th>dead</th></tr>\n"
        for d in domains {
            for v in vocabularies {
                guard let m = v.domains[d] else { continue }
                html += "<tr><th>\(escape(d))</th><td>\(escape(v.name))</td><td>\(format(m.bytesPerToken))</td><td>\(format(m.charactersPerToken))</td>"
                html += "<td>\(format(m.tokensPerWord))</td><td>\(m.hanCharacters > 0 ? format(m.tokensPerHanCharacter) : "-")</td><td>\(format(m.renyiEfficiency))</td>"
                html += "<td>\(m.parity.map { format($0) } ?? "-")</td><td>\(format(m.deadShare, percent: true))</td></tr>\n"
            }
        }
        html += "</table>\n<table><tr><th>vocabulary</th><th>ids</th><th>dead on all domains</th><th>intermediate only</th><th>parity spread</th></tr>\n"
        for v in vocabularies {
            html += "<tr><th>\(escape(v.name))</th><td>\(v.size)</td><td>\(v.deadTokens) (\(format(v.deadShare, percent: true)))</td>"
            html += "<td>\(v.intermediateOnlyTokens)</td><td>\(v.paritySpread.map { format($0) } ?? "-")</td></tr>\n"
        }
        return html + "</table>\n"
    }
}

func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}

func format(_ x: Double, percent: Bool = false) -> String {
    percent ? String(format: "%.1f%%", x * 100) : String(format: x >= 100 ? "%.0f" : "%.3f", x)
}
