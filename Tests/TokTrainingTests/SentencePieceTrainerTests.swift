import Testing
import TokCounts
@testable import TokEncoding
@testable import TokTraining
import TokRuntime

struct SentencePieceTrainerTests {
    /// Words as the `sentencepiece` pattern counts them: a run of spaces starts each.
    static let words: [(String, UInt64)] = [
        (" the", 900), (" then", 300), (" there", 250), ("the", 200), (" cat", 180), (" cats", 90), (" 2024", 70),
        ("中文字", 160), ("中文", 140), (" 中文かな", 60), ("x2y", 50), ("    return", 80), ("  ", 40),
        (" naïve", 30), (" e\u{301}te", 20), (" Москва", 25), (" абвгд", 10),
        ("\u{1F600}\u{1F600}", 1),  // rare: left to byte fallback at any coverage below 1
    ]

    static func pieces(_ words: [(String, UInt64)] = words) -> PieceCounts {
        PieceCounts(words.map { (Array($0.0.utf8), $0.1) }.sorted { $0.0.lexicographicallyPrecedes($1.0) })
    }

    static func segments(_ word: String, _ options: SentencePieceOptions = SentencePieceOptions()) -> [String] {
        var segmenter = TrainingSegmenter(pieces: pieces(), options: options)
        let alphabet = segmenter.alphabet
        var out: [String] = []
        Array(word.utf8).withUnsafeBufferPointer { w in
            segmenter.forEachSegment(w) { out.append(String(decoding: $0.flatMap { alphabet[Int($0)] }, as: UTF8.self)) }
        }
        return out
    }

    @Test func wordsAreCutWhereNoPieceMayCross() {
        #expect(Self.segments(" the") == [" the"])
        // A run of spaces: all but the last are a piece of spaces alone; the last starts the word.
        #expect(Self.segments("    return") == ["   ", " return"])
        #expect(Self.segments("  ") == ["  "])
        // Digits stand alone (split_digits), and so does the space before one.
        #expect(Self.segments(" 2024") == [])
        #expect(Self.segments("x2y") == [])
        // Scripts: Latin | Han (Hiragana counts as Han); a combining mark takes the script before it.
        #expect(Self.segments(" 中文かな") == [" 中文かな"])
        #expect(Self.segments("the中文") == ["the", "中文"])
        #expect(Self.segments(" e\u{301}te") == [" e\u{301}te"])
        #expect(Self.segments(" cat,the") == [" cat", "the"])  // ',' is Common: alone
        var numbers = SentencePieceOptions()
        numbers.splitDigits = false
        #expect(Self.segments("x2y", numbers) == [])  // 2 is Common between two Latin letters
        #expect(Self.segments(" 2024", numbers) == [" 2024"])
    }

    @Test func trainedModelKeepsTheRulesAndEveryPieceEncodesToItself() throws {
        var trainer = BPETrainer(vocabularySize: 3 + 1 + 256 + 60)
        trainer.specialTokens = ["<|endoftext|>"]
        var options = SentencePieceOptions()
        options.characterCoverage = 0.999
        options.maxPieceLength = 5
        let result = try trainer.trainSentencePiece(pieces: Self.pieces(), options: options)
        let learned = result.tokens.dropFirst(256).map { String(decoding: $0, as: UTF8.self) }
        #expect(!result.alphabet.contains(Array("\u{1F600}".utf8)))
        #expect(result.alphabet.count + learned.count + 3 + 1 + 256 <= trainer.vocabularySize)
        #expect(learned.contains(" the") && learned.contains("中文"))
        for piece in learned {
            #expect(piece.unicodeScalars.count <= 5, "\(piece)")
            #expect(!piece.dropFirst().contains(" ") || piece.allSatisfy { $0 == " " }, "\(piece)")
            #expect(!piece.contains { $0.isNumber }, "\(piece)")
        }
        #expect(Set(learned).count == learned.count)
        let tokenizer = try VocabularyModel.sentencePiece(options).tokenizer(
            learned: result.tokens.dropFirst(256), alphabet: result.alphabet, specialTokens: trainer.specialTokens,
            preTokenizer: PreTokenizer(named: "sentencepiece")!)
        let sentencePiece = try #require(tokenizer.sentencePiece)
        #expect(sentencePiece.pieceCount == 3 + 1 + 256 + learned.count + result.alphabet.count)
        guard case .model(let proto) = sentencePiece.form else { Issue.record("not a model"); return }
        #expect(proto.pieces.prefix(4).map(\.type) == [.unknown, .control, .control, .control])
        #expect(proto.pieces[4].bytes == Array("<0x00>".utf8) && proto.pieces[4].type == .byte)
        // The merged pieces in training order, scored so that the first made merges first.
        #expect(proto.pieces[260].bytes == Array(learned[0].replacingOccurrences(of: " ", with: "▁").utf8))
        #expect(proto.pieces[260].score > proto.pieces[261].score)
        // Text encodes to the pieces training made of it (the dummy prefix is the word's space).
        #expect(tokenizer.encode("the").map { proto.pieces[Int($0)].bytes } == [Array("▁the".utf8)])
    }

    @Test func tooSmallAVocabularyIsRefusedWithWhatItMustHold() {
        let trainer = BPETrainer(vocabularySize: 100)
        #expect(throws: SentencePieceSizeError.self) { try trainer.trainSentencePiece(pieces: Self.pieces(), options: SentencePieceOptions()) }
    }

    @Test func trainingIsDeterministic() throws {
        let trainer = BPETrainer(vocabularySize: 3 + 256 + 80)
        let a = try trainer.trainSentencePiece(pieces: Self.pieces(), options: SentencePieceOptions())
        let b = try trainer.trainSentencePiece(pieces: Self.pieces(Self.words.reversed()), options: SentencePieceOptions())
        #expect(a.tokens == b.tokens && a.alphabet == b.alphabet && a.merges == b.merges)
    }
}
