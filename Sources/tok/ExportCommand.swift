import ArgumentParser
import TokEncoding
import TokRuntime

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a vocabulary as a HuggingFace tokenizer.json or a tiktoken ranks file.",
        discussion: """
            A ranks file holds no pattern or special tokens: the vocabulary's manifest.json \
            lists both (regexes, specialTokens) for building a tiktoken.Encoding.

            Example:
              tok export --vocab vocab/mixed --format hf -o tokenizer.json
            """
    )

    enum Format: String, ExpressibleByArgument { case hf, tiktoken }

    @OptionGroup var vocabulary: VocabularyOptions

    @Option(help: "hf (a HuggingFace tokenizer.json) or tiktoken (a ranks file).")
    var format: Format

    @Option(name: .shortAndLong, help: "The file to write.")
    var output: String

    func run() throws {
        let tokenizer = try vocabulary.load()
        if case .model = tokenizer.sentencePiece?.form {
            throw CLIError("\(vocabulary.vocab): a SentencePiece model; its tokenizer.model is in the folder, and tok does not write it as a tokenizer.json or ranks file")
        }
        if tokenizer.sentencePiece != nil && format == .tiktoken {
            throw CLIError("\(vocabulary.vocab): a SentencePiece vocabulary, which a ranks file cannot express (its merges are over characters, not bytes)")
        }
        let bytes: [UInt8]
        switch format {
        case .hf: bytes = HuggingFaceJSON.write(tokenizer)
        case .tiktoken:
            guard let rules = tokenizer.preTokenizer.rules, rules.count == 1, rules[0].coversEverything,
                  tokenizer.normalizer.steps.isEmpty else {
                throw CLIError("\(vocabulary.vocab): pattern \(tokenizer.preTokenizer.name) (normalizer \(tokenizer.normalizer.rawValue)) is not one regex that covers all text, which is all tiktoken can express")
            }
            bytes = TiktokenFile.write(tokenizer.vocabulary)
        }
        try writeFileAtomically(output, bytes)
    }
}
