import Testing
import TokCounts
@testable import TokEncoding
@testable import TokTraining
import TokRuntime

struct SuperwordTests {
    static let superwords = PreTokenizer(rules: [.superwords])

    /// The pieces of `text` under the superword split.
    static func pieces(_ text: String) -> [String] {
        var out: [String] = []
        Array(text.utf8).withUnsafeBufferPointer { b in
            superwords.forEachPiece(b) { out.append(String(decoding: b[$0], as: UTF8.self)) }
        }
        return out
    }

    @Test func piecesRunToTheEndOfASentenceOrLine() {
        #expect(Self.pieces("Hello big world. Next one!\nfoo(x, y);\n\n    return") ==
                ["Hello big world.", " Next one!\n", "foo(x, y);\n\n", "    return"])
        #expect(Self.pieces("e.g. 3.14 is x.y?! Done.") == ["e.g.", " 3.14 is x.y?!", " Done."])
        #expect(Self.pieces("中文，文本。再见！好") == ["中文，文本。", "再见！", "好"])
        #expect(Self.pieces("\n\nx.\r\n") == ["\n\n", "x.\r\n"])
        #expect(Self.pieces(". a") == [".", " a"])
    }

    @Test func mergesStayWithinTheLimits() {
        func allows(_ a: String, _ b: String, _ n: Int = 4) -> Bool { SuperwordStage.allows(Array(a.utf8), Array(b.utf8), maxWords: n) }
        #expect(allows(" of", " the"))
        #expect(allows(" in order", " to the"))
        #expect(!allows(" in order to", " the end"))
        #expect(allows("    ", " return"))
        #expect(!allows("x1", "2"))
        #expect(allows("x1", "}"))
        #expect(!allows("Answer:", " yes"))
        #expect(allows("std::", "vector"))
        #expect(!allows(" a b", " c d", 3))
    }

    /// Text of few letters, spaces and punctuation: words repeat, and cuts
    /// between words meet spaces, digits and punctuation on either side.
    static func randomText(_ rng: inout SplitMix, length: Int) -> [UInt8] {
        let alphabet = Array("aab  c.,;:!?()0123\n\t".utf8) + Array("的了，。".utf8)
        var out: [UInt8] = []
        let words = ["the", "of", "and", "a", "in", "to", "is", "that"].map { Array($0.utf8) }
        while out.count < length {
            if Int.random(in: 0 ..< 3, using: &rng) == 0 {
                out += [0x20] + words[Int.random(in: 0 ..< words.count, using: &rng)]
            } else {
                out.append(alphabet[Int.random(in: 0 ..< alphabet.count, using: &rng)])
            }
        }
        return out
    }

    /// A superword vocabulary of `size` ids learned on `text` after `transition` ids.
    static func vocabulary(_ text: [UInt8], transition: Int, size: Int) throws -> Tokenizer {
        func counts(_ pre: PreTokenizer) -> PieceCounts {
            var table: [[UInt8]: UInt64] = [:]
            text.withUnsafeBufferPointer { b in pre.forEachPiece(b) { table[Array(b[$0]), default: 0] += 1 } }
            return PieceCounts(table.map { ($0.key, $0.value) }.sorted { $0.0.lexicographicallyPrecedes($1.0) })
        }
        let spans = counts(superwords)
        let first = try BPETrainer(vocabularySize: transition).train(
            pieces: SuperwordStage.firstStagePieces(spans, preTokenizer: PreTokenizer(named: "tok")!))
        let base = try Vocabulary.fromRanks(first.tokens)
        let stage = SuperwordStage().train(base: base, pieces: spans, count: size - transition)
        return Tokenizer(vocabulary: try Vocabulary.fromRanks(first.tokens + stage.tokens), preTokenizer: superwords)
    }

    @Test func superwordsAreLearnedAcrossSpaces() throws {
        let sentence = Array("We take one of the books. It is one of the best.\n".utf8)
        let text = (0 ..< 200).flatMap { _ in sentence }
        let tokenizer = try Self.vocabulary(text, transition: 300, size: 400)
        #expect(tokenizer.vocabulary.id(of: Array(" one of the".utf8)) != nil)
        #expect(tokenizer.vocabulary.unreachableTokens.isEmpty)
    }

    /// The encoder builds each piece from its stretches (Tokenizer+Superwords.swift):
    /// its ids are those of BPE over every whole piece, on text made to meet
    /// every kind of cut (words that reach over a piece's end: `\n(`, `。，`),
    /// with caches on, tiny (every stretch evicted) and off, and with pieces of
    /// hundreds of words (pieces that outlast a batch of stretches, and more ids
    /// at C than the linear scan takes).
    @Test(arguments: [1, 2, 3]) func encodingFromWordsIsBPEOverWholePieces(seed: UInt64) throws {
        var rng = SplitMix(state: seed)
        let tokenizer = try Self.vocabulary(Self.randomText(&rng, length: 60_000), transition: 600, size: 1200)
        #expect(tokenizer.superwordTables != nil)
        for encoder in [tokenizer, tokenizer.withPieceCache(entries: 4), tokenizer.withPieceCache(entries: 0)] {
            for k in 0 ..< 20 {
                var text = Self.randomText(&rng, length: Int.random(in: 1 ... 3000, using: &rng))
                if k % 4 == 0 {
                    // One line of words and spaces, no sentence end: a single piece.
                    text = text.filter { !"\n\r.!?。".utf8.contains($0) && $0 != 0xE3 }
                }
                var whole = ContiguousArray<UInt32>()
                var scratch = BytePairScratch(caching: false)
                text.withUnsafeBufferPointer { b in
                    Self.superwords.forEachPiece(b) { encoder.vocabulary.encodePiece(UnsafeBufferPointer(rebasing: b[$0]), scratch: &scratch, into: &whole) }
                }
                let ids = text.withUnsafeBufferPointer { encoder.encode(bytes: $0) }
                #expect(ids == whole)
                #expect(try encoder.decode(ids) == text)
            }
        }
    }
}
