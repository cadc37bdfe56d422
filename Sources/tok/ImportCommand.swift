import ArgumentParser
import TokEncoding
import TokRuntime

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a HuggingFace tokenizer.json or a tiktoken ranks file as a vocabulary folder.",
        discussion: """
            A tokenizer.json must be byte-level BPE; anything else is named as unsupported. \
            A tiktoken ranks file ('base64 rank' lines) needs --pattern; merges are \
            re-derived from the ranks. Every token is checked to encode to itself.
            """
    )

    @Argument(help: "tokenizer.json or a .tiktoken ranks file.")
    var file: String

    @Option(help: "Pre-tokenizer pattern for a ranks file: \(PreTokenizer.named.keys.sorted().joined(separator: ", ")).")
    var pattern: String?

    @Option(name: .customLong("special"), help: "A special token as TEXT=ID (repeatable). Ranks files of r50k, cl100k and o200k get tiktoken's own by default.")
    var specials: [String] = []

    @Option(name: .shortAndLong, help: "The vocabulary folder to write (vocab/NAME).")
    var output: String

    func run() throws {
        let data: [UInt8]
        data = try readFile(file)
        var tokenizer: Tokenizer
        let source: String
        do {
            if data.first(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }) == UInt8(ascii: "{") {
                guard specials.isEmpty else {
                    throw CLIError("--special applies to ranks files; a tokenizer.json lists its own added tokens")
                }
                tokenizer = try HuggingFaceJSON.read(data, path: file)
                if let pattern, PreTokenizer(named: pattern) != tokenizer.preTokenizer {
                    throw CLIError("\(file): its pre-tokenizer is \(tokenizer.preTokenizer.name), not \(pattern)")
                }
                source = "imported from HuggingFace tokenizer.json \(file)"
            } else {
                guard let pattern else {
                    throw CLIError("\(file): a tiktoken ranks file needs --pattern (\(PreTokenizer.named.keys.sorted().joined(separator: ", ")))")
                }
                guard let preTokenizer = PreTokenizer(named: pattern) else { throw CLIError("unknown pattern '\(pattern)'") }
                let ranks = try TiktokenFile.read(data, path: file)
                let specialTokens = try parseSpecials() ?? TiktokenFile.standardSpecialTokens(pattern: pattern)
                tokenizer = Tokenizer(
                    vocabulary: try Vocabulary.fromRanks(ranks, specialTokens: specialTokens), preTokenizer: preTokenizer)
                source = "imported from tiktoken ranks \(file) with pattern \(pattern)"
            }
        } catch let error as VocabularyError {
            throw CLIError(error.description.hasPrefix(file) ? error.description : "\(file): \(error)")
        } catch let error as SpecialTokenError {
            throw CLIError("\(file): \(error)")
        }
        try VocabularyFolder.save(tokenizer, to: output, source: source, protecting: [file])
        let v = tokenizer.vocabulary
        print("\(output): \(v.count) BPE tokens, \(v.specialTokens.count) special tokens, pattern \(tokenizer.preTokenizer.name), \(v.merges.count) merges, \(v.unreachableTokens.count) tokens the merges do not reach")
    }

    func parseSpecials() throws -> [SpecialToken]? {
        guard !specials.isEmpty else { return nil }
        return try specials.map { item in
            guard let eq = item.lastIndex(of: "="), let id = UInt32(item[item.index(after: eq)...]) else {
                throw CLIError("--special expects TEXT=ID, got '\(item)'")
            }
            return SpecialToken(id: id, content: String(item[..<eq]))
        }
    }
}
