import ArgumentParser
import TokTraining

/// `--superwords T` (the transition point, in ids) or `--superwords auto`.
struct TransitionArgument: CheckedArgument {
    let transition: SuperwordOptions.Transition

    static func parse(_ argument: String) throws -> TransitionArgument {
        if argument == "auto" { return TransitionArgument(transition: .auto) }
        guard let t = Int(argument), t > 256 else {
            throw ValidationError("--superwords takes auto or the ids (above 256) learned before the first superword")
        }
        return TransitionArgument(transition: .ids(t))
    }
}

/// The options of a superword vocabulary, shared by `train` and `build`.
struct SuperwordArguments: ParsableArguments {
    @Option(help: ArgumentHelp("Superword tokens (merges across spaces, within a sentence) after the first T ids of ordinary BPE; auto: \(Int(SuperwordOptions.autoShare * 100))% of the ids.", valueName: "T|auto"), transform: TransitionArgument.parse)
    var superwords: TransitionArgument?

    @Option(help: "With --superwords: most whitespace-separated words in one token.")
    var maxWords: Int = SuperwordOptions.defaultMaxWords

    func validate() throws {
        if maxWords < 1 { throw ValidationError("--max-words takes 1 or more words, not \(maxWords)") }
    }

    var options: SuperwordOptions? { superwords.map { SuperwordOptions(transition: $0.transition, maxWords: maxWords) } }

    /// Superword tokens are byte-level BPE merges across the words of a sentence: a SentencePiece model has none.
    func check(model: ModelOptions.Kind) throws {
        if superwords != nil && model == .sentencepiece {
            throw ValidationError("--superwords makes byte-level superword tokens; it does not go with --model sentencepiece")
        }
    }
}
