import ArgumentParser
import TokEncoding

struct PretokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretokenize",
        abstract: "Show how a pattern splits text into pieces.",
        discussion: "Prints one piece per line as a JSON string (invalid UTF-8 shown as U+FFFD), or with --lengths the byte length of each piece."
    )

    @Option(help: "Pattern: \(PreTokenizer.named.keys.sorted().joined(separator: ", ")).")
    var pattern: String = PreTokenizer.defaultName

    @Option(help: "Take the pattern from this vocabulary folder instead.")
    var vocab: String?

    @Flag(help: "Print the byte length of each piece, separated by spaces.")
    var lengths = false

    @Option(help: "Split with this regex instead (HuggingFace tokenizers' semantics, Isolated), compiled: no regex engine runs.")
    var regex: String?

    @Option(help: "With --regex: what the split does with matches: \(SplitBehavior.allCases.map(\.rawValue).joined(separator: ", ")).")
    var behavior: String = SplitBehavior.isolated.rawValue

    @Flag(help: "With --regex: matches and the text between them swap roles first.")
    var invert = false

    @Flag(help: "Print the regexes the pattern is equivalent to, as a JSON array (applied in order), and exit.")
    var printRegexes = false

    @Flag(help: "With --print-regexes: the spelling written into tokenizer.json for HuggingFace tokenizers.")
    var hf = false

    @Argument(help: "Input file ('-' or none: standard input).")
    var input: String = "-"

    func run() throws {
        let preTokenizer: PreTokenizer
        if let regex {
            guard let behavior = SplitBehavior(rawValue: behavior) else { throw CLIError("unknown behavior '\(behavior)'") }
            do {
                preTokenizer = PreTokenizer(splits: [Split(try SplitPattern(huggingFaceRegex: regex), behavior: behavior, invert: invert)])
            } catch let error as PatternError {
                throw CLIError(error.description)
            }
        } else if let vocab {
            preTokenizer = try VocabularyOptions.parse(["--vocab", vocab]).load().preTokenizer
        } else {
            guard let p = PreTokenizer(named: pattern) else { throw CLIError("unknown pattern '\(pattern)'") }
            preTokenizer = p
        }
        if printRegexes {
            let strings = preTokenizer.splits.map { hf ? $0.pattern.huggingFaceRegex : $0.pattern.regex }
            print("[" + strings.map(HuggingFaceJSON.jsonString).joined(separator: ", ") + "]")
            return
        }
        let reader = try BlockReader(input)
        var text: [UInt8] = []
        while try reader.read(into: &text, maximum: 1 << 20) {}
        var out: [UInt8] = []
        text.withUnsafeBufferPointer { t in
            var first = true
            preTokenizer.forEachPiece(t) { piece in
                if lengths {
                    if !first { out.append(0x20) }
                    out.append(contentsOf: String(piece.count).utf8)
                } else {
                    out.append(contentsOf: HuggingFaceJSON.jsonString(String(decoding: t[piece], as: UTF8.self)).utf8)
                    out.append(0x0A)
                }
                first = false
            }
        }
        if lengths { out.append(0x0A) }
        let sink = try OutputSink(nil)
        try sink.write(out)
        try sink.finish()
    }
}
