import ArgumentParser
import TokEncoding

struct PretokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretokenize",
        abstract: "Show how a pattern splits text into pieces.",
        discussion: """
            Prints one piece per line as a JSON string (invalid UTF-8 shown as U+FFFD), \
            or with --lengths the byte length of each piece.

            Example:
              echo "Hello, world 12345" | tok pretokenize --pattern o200k
            """
    )

    @Option(help: "Pattern.")
    var pattern = PreTokenizer(named: PreTokenizer.defaultName)!

    @Option(help: ArgumentHelp("Take the pattern from this vocabulary folder instead.", valueName: "folder"))
    var vocab: String?

    @Flag(help: "Print the byte length of each piece, separated by spaces.")
    var lengths = false

    @Option(help: "Split with this regex instead (HuggingFace tokenizers' semantics), compiled: no regex engine runs.",
            transform: { try compileRegex($0) })
    var regex: SplitPattern?

    @Option(help: "With --regex: what the split does with matches.")
    var behavior = SplitBehavior.isolated

    @Flag(help: "With --regex: matches and the text between them swap roles first.")
    var invert = false

    @Flag(help: "Print the regexes the pattern is equivalent to, as a JSON array (applied in order), and exit.")
    var printRegexes = false

    @Flag(help: "With --print-regexes: the spelling written into tokenizer.json for HuggingFace tokenizers.")
    var hf = false

    @Argument(help: "Input file ('-' or none: standard input).")
    var input: String = "-"

    func validate() throws {
        if regex == nil && (invert || behavior != .isolated) { throw ValidationError("--behavior and --invert apply to --regex") }
        if hf && !printRegexes { throw ValidationError("--hf applies to --print-regexes") }
    }

    func run() throws {
        let preTokenizer: PreTokenizer
        if let regex {
            preTokenizer = PreTokenizer(splits: [Split(regex, behavior: behavior, invert: invert)])
        } else if let vocab {
            preTokenizer = try VocabularyFolder.load(vocab).preTokenizer
        } else {
            preTokenizer = pattern
        }
        if printRegexes {
            let strings = preTokenizer.splits.map { hf ? $0.pattern.huggingFaceRegex : $0.pattern.regex }
            try StandardOutput.writeLine("[" + strings.map(HuggingFaceJSON.jsonString).joined(separator: ", ") + "]")
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

/// A `--regex` compiled when the command line is parsed: a regex that cannot
/// be compiled is a bad option, named by ArgumentParser with the reason.
private func compileRegex(_ text: String) throws -> SplitPattern {
    do {
        return try SplitPattern(huggingFaceRegex: text)
    } catch let error as PatternError {
        throw ValidationError(error.description)
    }
}
