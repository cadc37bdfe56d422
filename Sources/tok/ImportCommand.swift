import ArgumentParser
import TokEncoding
import TokRuntime

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a HuggingFace tokenizer.json, a tiktoken ranks file or a SentencePiece model as a vocabulary folder.",
        discussion: """
            A tokenizer.json must be byte-level BPE or the HuggingFace form of a SentencePiece \
            BPE model (Metaspace); anything else is named as unsupported. A SentencePiece \
            tokenizer.model (a file named *.model) must be BPE. \
            A tiktoken ranks file ('base64 rank' lines) needs --pattern; merges are \
            re-derived from the ranks. Every token is checked to encode to itself.

            Example:
              tok import o200k_base.tiktoken --pattern o200k -o vocab/o200k
            """
    )

    @Argument(help: "tokenizer.json, a .tiktoken ranks file, or a SentencePiece .model.")
    var file: String

    @Option(help: "Pre-tokenizer pattern for a ranks file.")
    var pattern: PreTokenizer?

    @Option(name: .customLong("special"), help: ArgumentHelp("A special token as TEXT=ID (repeatable). Ranks files of r50k, cl100k and o200k get tiktoken's own by default.", valueName: "text=id"), transform: SpecialToken.parse)
    var specials: [SpecialToken] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("The vocabulary folder to write (vocab/NAME).", valueName: "folder"))
    var output: String

    func validate() throws {
        try checkOutputFolder(output)
    }

    func run() throws {
        let data: [UInt8]
        data = try readFile(file)
        var tokenizer: Tokenizer
        let source: String
        do {
            if file.hasSuffix(".model") {
                guard specials.isEmpty, pattern == nil else {
                    throw CLIError("--special and --pattern apply to ranks files; a SentencePiece model has its own pieces")
                }
                tokenizer = try SentencePiece.tokenizer(modelFile: data, path: file)
                source = "imported from SentencePiece model \(file)"
            } else if data.first(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }) == UInt8(ascii: "{") {
                guard specials.isEmpty else {
                    throw CLIError("--special applies to ranks files; a tokenizer.json lists its own added tokens")
                }
                tokenizer = try HuggingFaceJSON.read(data, path: file)
                if let pattern, pattern != tokenizer.preTokenizer {
                    throw CLIError("\(file): its pre-tokenizer is \(tokenizer.preTokenizer.name), not \(pattern.name)")
                }
                source = "imported from HuggingFace tokenizer.json \(file)"
            } else {
                guard let pattern else {
                    throw CLIError("\(file): a tiktoken ranks file needs --pattern (\(PreTokenizer.named.keys.sorted().joined(separator: ", ")))")
                }
                let ranks = try TiktokenFile.read(data, path: file)
                let specialTokens = specials.isEmpty ? TiktokenFile.standardSpecialTokens(pattern: pattern.name) : specials
                tokenizer = Tokenizer(
                    vocabulary: try Vocabulary.fromRanks(withGaps: ranks, specialTokens: specialTokens), preTokenizer: pattern)
                source = "imported from tiktoken ranks \(file) with pattern \(pattern.name)"
            }
        } catch let error as VocabularyError {
            throw CLIError(error.description.hasPrefix(file) ? error.description : "\(file): \(error)")
        } catch let error as SpecialTokenError {
            throw CLIError("\(file): \(error)")
        }
        try VocabularyFolder.save(tokenizer, to: output, source: source, protecting: [file])
        let v = tokenizer.vocabulary
        if let sentencePiece = tokenizer.sentencePiece {
            return try StandardOutput.writeLine("\(output): SentencePiece BPE, \(sentencePiece.pieceCount) pieces, \(v.specialTokens.count) special tokens")
        }
        try StandardOutput.writeLine("\(output): \(v.count) BPE tokens, \(v.specialTokens.count) special tokens, pattern \(tokenizer.preTokenizer.name), \(v.merges.count) merges, \(v.unreachableTokens.count) tokens the merges do not reach")
    }
}
