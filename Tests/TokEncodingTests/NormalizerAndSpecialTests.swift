import Testing
@testable import TokEncoding

struct NormalizerAndSpecialTests {
    func nfc(_ bytes: [UInt8]) -> [UInt8]? { bytes.withUnsafeBufferPointer { Normalizer.nfc.apply($0) } }

    @Test func nfcComposesAndKeepsWhatIsAlreadyComposed() {
        #expect(nfc(Array("e\u{301}".utf8)) == Array("é".utf8))
        #expect(nfc(Array("\u{1100}\u{1161}".utf8)) == Array("가".utf8))  // Hangul jamo compose
        #expect(nfc(Array("café 中文 plain".utf8)) == nil)  // already NFC: unchanged, no copy
        #expect(nfc(Array("abc".utf8)) == nil)
        #expect(Array("e\u{301}".utf8).withUnsafeBufferPointer { Normalizer.none.apply($0) } == nil)
    }

    @Test func nfcKeepsInvalidBytesAndNormalizesAroundThem() {
        // An invalid byte between two decomposed letters: each valid run is normalized alone.
        let input = Array("e\u{301}".utf8) + [0xFF] + Array("a\u{308}".utf8)
        #expect(nfc(input) == Array("é".utf8) + [0xFF] + Array("ä".utf8))
    }

    @Test func specialTokensMatchLeftmostThenLongest() {
        let matcher = SpecialTokenMatcher([
            SpecialToken(id: 1, content: "<|a|>"), SpecialToken(id: 2, content: "<|a|><|b|>"),
            SpecialToken(id: 3, content: "<|b|>"), SpecialToken(id: 4, content: "|b"),
        ])
        func all(_ text: String) -> [(Int, Int, UInt32)] {
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBufferPointer { b in
                var out: [(Int, Int, UInt32)] = []
                var from = 0
                while let m = matcher.next(in: b, from: from) {
                    out.append((m.start, m.length, m.id))
                    from = m.start + m.length
                }
                return out
            }
        }
        // The longer token wins where two start at the same place.
        #expect(all("x<|a|><|b|>y").map(\.2) == [2])
        #expect(all("x<|a|><|b|>y").map(\.0) == [1])
        // Leftmost first: "|b" starts inside "<|b|>" but later than "<".
        #expect(all("<|b|>").map(\.2) == [3])
        #expect(all("<|a|> <|b|>|b").map(\.2) == [1, 3, 4])
        #expect(all("nothing here").isEmpty)
    }

    @Test func allowedSpecialChoosesWhichAreMatched() throws {
        var tokens = (0 ..< 256).map { [UInt8($0)] }
        tokens.append(Array("<|".utf8))
        let v = try Vocabulary.fromRanks(tokens, specialTokens: [
            SpecialToken(id: 257, content: "<|a|>"), SpecialToken(id: 258, content: "<|b|>"),
        ])
        let t = Tokenizer(vocabulary: v, preTokenizer: PreTokenizer(named: "o200k")!)
        #expect(t.encode("<|a|><|b|>", allowedSpecial: .all) == [257, 258])
        #expect(t.encode("<|a|><|b|>", allowedSpecial: .only(["<|b|>"])).last == 258)
        #expect(!t.encode("<|a|><|b|>", allowedSpecial: .only(["<|b|>"])).contains(257))
        #expect(!t.encode("<|a|><|b|>").contains(257))
    }
}
