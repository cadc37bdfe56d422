import TokEncoding
import TokTraining

// What a build does differently for each ``VocabularyModel``: how it counts,
// how many merged tokens a vocabulary takes, and how the vocabulary is made
// and checked. The stages themselves (counting, joint counts, trainings,
// evaluation) are the same for both.

extension BuildOptions {
    /// The options a build runs with: a SentencePiece build counts words as
    /// sentencepiece's trainer cuts them, whatever ``preTokenizer`` says.
    ///
    /// - Throws: ``SpecialTokenError`` when the special tokens repeat, or
    ///   repeat `<unk>`, `<s>`, `</s>` or a user-defined symbol.
    func resolvingModel() throws -> BuildOptions {
        guard case .sentencePiece(let sentencePiece) = model else { return self }
        try SpecialToken.checkContents(SentencePieceOptions.metaPieces + specialTokens + sentencePiece.userDefinedSymbols)
        var options = self
        options.preTokenizer = PreTokenizer(named: SentencePieceOptions.countingPattern)!
        return options
    }

    /// The merged tokens a vocabulary of ``vocabularySize`` ids takes from a
    /// training with `alphabet` characters (SentencePiece's pieces of one
    /// character; byte-level has none).
    func mergesWanted(alphabet: Int) -> Int {
        vocabularySize - model.reservedIds(alphabet: alphabet, specialTokens: specialTokens.count)
    }

    /// A vocabulary of the first ``mergesWanted(alphabet:)`` of `learned`
    /// (a training's merged tokens), with the special tokens when
    /// `withSpecialTokens` (a domain's own vocabulary and the pooled one,
    /// made for comparison, have none, and the same number of merged tokens).
    func vocabulary(learned: some Collection<[UInt8]>, alphabet: [[UInt8]], withSpecialTokens: Bool) throws -> Tokenizer {
        try model.tokenizer(learned: learned.prefix(mergesWanted(alphabet: alphabet.count)), alphabet: alphabet,
                            specialTokens: withSpecialTokens ? specialTokens : [], preTokenizer: preTokenizer)
    }

    /// The merged tokens of a built vocabulary, in order, as the domains'
    /// own trainings spell them (a space for `▁`).
    func learnedTokens(of tokenizer: Tokenizer) -> [[UInt8]] {
        let vocabulary = tokenizer.vocabulary
        guard let sentencePiece = tokenizer.sentencePiece, case .sentencePiece = model else {
            return (256 ..< 256 + bpeTokens).map { vocabulary.bytes(of: UInt32($0)) }
        }
        // After the meta, control, user-defined and byte pieces: the merged pieces, then the alphabet's single characters.
        let start = model.reservedIds(alphabet: 0, specialTokens: specialTokens.count)
        return (start ..< sentencePiece.pieceCount).map { vocabulary.bytes(of: UInt32($0)) }.filter { bytes in
            bytes.count > 4 || String(decoding: bytes, as: UTF8.self).unicodeScalars.count > 1
        }
    }
}

/// Stage 5 for a SentencePiece vocabulary: exactly the size asked for. The
/// model was checked when it was made: every piece encodes to itself, none
/// twice.
func checkSentencePiece(_ sentencePiece: SentencePiece, _ options: BuildOptions) throws {
    guard sentencePiece.pieceCount == options.vocabularySize else {
        throw BuildError.checkFailed("built \(sentencePiece.pieceCount) pieces, not \(options.vocabularySize)")
    }
}
