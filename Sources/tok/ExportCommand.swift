import ArgumentParser
import TokEncoding
import TokRuntime

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a vocabulary as a HuggingFace tokenizer.json, a tiktoken ranks file or a SentencePiece tokenizer.model.",
        discussion: """
            A ranks file holds no pattern or special tokens: the vocabulary's manifest.json \
            lists both (regexes, specialTokens) for building a tiktoken.Encoding.

            Example:
              tok export --vocab vocab/mixed --format hf -o tokenizer.json
            """
    )

    enum Format: String, ExpressibleByArgument { case hf, tiktoken, sentencepiece }

    @OptionGroup var vocabulary: VocabularyOptions

    @Option(help: "hf (a HuggingFace tokenizer.json), tiktoken (a ranks file) or sentencepiece (a tokenizer.model, for a SentencePiece vocabulary).")
    var format: Format

    @Option(name: .shortAndLong, help: "The file to write.")
    var output: String

    func run() throws {
        let tokenizer = try vocabulary.load()
        if tokenizer.sentencePiece != nil && format == .tiktoken {
            throw CLIError("\(vocabulary.vocab): a SentencePiece vocabulary, which a ranks file cannot express (its merges are over characters, not bytes)")
        }
        let bytes: [UInt8]
        switch format {
        case .sentencepiece:
            // The two models do not map onto each other: SentencePiece merges characters, byte-level BPE bytes.
            guard case .model(let proto) = tokenizer.sentencePiece?.form else {
                throw CLIError("\(vocabulary.vocab): not a SentencePiece model (\(tokenizer.sentencePiece == nil ? "byte-level BPE" : "a HuggingFace tokenizer.json"), which a tokenizer.model cannot express exactly)")
            }
            bytes = proto.serialized()
        case .hf where tokenizer.sentencePiece?.form.isModel == true:
            do {
                bytes = try MetaspaceJSON.write(tokenizer)
            } catch let refusal as MetaspaceJSON.Refusal {
                throw CLIError("\(vocabulary.vocab): no HuggingFace form gives this SentencePiece model's ids: \(refusal.reason)")
            }
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
