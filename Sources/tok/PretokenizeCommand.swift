import ArgumentParser
import TokEncoding

struct PretokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretokenize",
        abstract: "Show how a pattern splits text into pieces.",
        discussion: "Prints one piece per line as a JSON string, or with --lengths the byte length of each piece."
    )

    @Option(help: "Pattern: \(PreTokenizer.named.keys.sorted().joined(separator: ", ")).")
    var pattern: String = PreTokenizer.defaultName

    @Option(help: "Take the pattern from this vocabulary folder instead.")
    var vocab: String?

    @Flag(help: "Print the byte length of each piece, separated by spaces.")
    var lengths = false

    @Flag(help: "Print the regexes the pattern is equivalent to, as a JSON array (applied in order), and exit.")
    var regex = false

    @Flag(help: "With --regex: the spelling written into tokenizer.json for HuggingFace tokenizers.")
    var hf = false

    @Argument(help: "Input file ('-' or none: standard input).")
    var input: String = "-"

    func run() throws {
        let preTokenizer: PreTokenizer
        if let vocab {
            preTokenizer = try VocabularyOptions.parse(["--vocab", vocab]).load().preTokenizer
        } else {
            guard let p = PreTokenizer(named: pattern) else { throw CLIError("unknown pattern '\(pattern)'") }
            preTokenizer = p
        }
        if regex {
            let strings = preTokenizer.rules.map { hf ? $0.huggingFaceRegex : $0.regex }
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
                    out.append(contentsOf: String(decoding: t[piece], as: UTF8.self).debugDescription.utf8)
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
