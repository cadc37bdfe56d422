import ArgumentParser
import TokTraining

/// `--model` and the SentencePiece trainer's options (train, build).
struct ModelOptions: ParsableArguments {
    enum Kind: String, ExpressibleByArgument { case byteLevel = "byte-level", sentencepiece }

    @Option(help: "byte-level (a tokenizer.json over bytes) or sentencepiece (a SentencePiece BPE tokenizer.model: ▁ for spaces, byte fallback; special tokens become control pieces after <unk>, <s>, </s>; counted with the sentencepiece pattern, whatever --pattern says).")
    var model = Kind.byteLevel

    @Option(help: ArgumentHelp("SentencePiece: pieces matched whole in text and never merged, comma-separated.", valueName: "symbol,..."), transform: SpecialTokenList.parse)
    var userDefinedSymbols = SpecialTokenList([])

    @Option(help: "SentencePiece: the share of characters that get a piece each; rarer ones go to byte fallback.")
    var characterCoverage = SentencePieceOptions().characterCoverage

    @Option(help: "SentencePiece: longest merged piece, in characters.")
    var maxPieceLength = SentencePieceOptions().maxPieceLength

    @Flag(inversion: .prefixedNo, help: "SentencePiece: every digit a piece of its own.")
    var splitDigits = SentencePieceOptions().splitDigits

    func validate() throws {
        if model == .byteLevel && !userDefinedSymbols.tokens.isEmpty {
            throw ValidationError("--user-defined-symbols is for --model sentencepiece")
        }
        guard characterCoverage > 0 && characterCoverage <= 1 else {
            throw ValidationError("--character-coverage takes a share above 0 and at most 1, not \(characterCoverage)")
        }
        guard maxPieceLength >= 2 else { throw ValidationError("--max-piece-length takes 2 or more characters, not \(maxPieceLength)") }
    }

    var vocabularyModel: VocabularyModel {
        guard model == .sentencepiece else { return .byteLevel }
        var options = SentencePieceOptions()
        options.userDefinedSymbols = userDefinedSymbols.tokens
        options.characterCoverage = characterCoverage
        options.maxPieceLength = maxPieceLength
        options.splitDigits = splitDigits
        return .sentencePiece(options)
    }
}
