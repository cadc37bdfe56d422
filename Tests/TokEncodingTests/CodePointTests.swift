import Testing
@testable import TokEncoding
import TokRuntime

struct CodePointTests {
    /// `text`'s code points stored `width` bytes each, as CPython stores a `str`.
    static func stored(_ text: String, width: Int) -> [UInt8] {
        var out: [UInt8] = []
        for c in text.unicodeScalars {
            let v = c.value
            for k in 0 ..< width { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) }
        }
        return out
    }

    static func encode(_ t: Tokenizer, _ units: [UInt8], width: Int, special: AllowedSpecial = .all) -> ContiguousArray<UInt32>? {
        var out: ContiguousArray<UInt32> = [7]  // what was there stays
        let done = units.withUnsafeBytes {
            t.encode(CodePointText(start: $0.baseAddress!, width: width, count: units.count / width), allowedSpecial: special, into: &out)
        }
        guard done else {
            #expect(out == [7], "nothing appended")
            return nil
        }
        #expect(out.first == 7)
        return ContiguousArray(out.dropFirst())
    }

    /// Text of each width, over many blocks (cuts between them where the
    /// pre-tokenizer allows), gives the ids of its UTF-8; with an added token
    /// holding a space (which a cut could split) too.
    @Test func eachWidthEncodesAsItsUTF8() throws {
        var rng = SplitMix(state: 5)
        let words = ["the", "ing", " t", "  ", "\n", "\nA", " \n", "x", "42", ";", "\t", "é", "ÿ", "<|end|>", " ab", "a b"]
        let wide = ["中文", "\u{3000}", "ā", "\u{1F600}", "\u{10000}"]
        var narrow = ""
        while narrow.utf8.count < 1_500_000 { narrow += words.randomElement(using: &rng)! }
        var mixed = narrow.prefix(300_000) + ""
        for k in 0 ..< 20_000 { mixed += words[k % words.count] + wide[k % wide.count] }
        let vocabulary = try smallVocabulary()
        var specials = vocabulary.specialTokens
        specials.append(SpecialToken(id: specials[0].id + 1, content: "a b"))
        for t in [Tokenizer(vocabulary: vocabulary, preTokenizer: PreTokenizer(named: "cl100k")!),
                  Tokenizer(vocabulary: try Vocabulary.fromRanks((0 ..< 256).map { [UInt8($0)] }, specialTokens: specials),
                            preTokenizer: PreTokenizer(named: "o200k")!)] {
            for (text, widths) in [(narrow, [1, 2, 4]), (String(mixed), [4])] {
                let whole = Array(text.utf8).withUnsafeBufferPointer { t.encode(bytes: $0, allowedSpecial: .all) }
                for width in widths {
                    #expect(CodePointTests.encode(t, CodePointTests.stored(text, width: width), width: width) == whole, "width \(width)")
                }
            }
        }
    }

    @Test func aSurrogateAppendsNothing() throws {
        let t = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "cl100k")!)
        for width in [2, 4] {
            var units = CodePointTests.stored(String(repeating: "the ", count: 400_000), width: width)
            units += [0x00, 0xD8, 0x00, 0x00].prefix(width)  // U+D800, after the first blocks
            #expect(CodePointTests.encode(t, units, width: width) == nil)
        }
    }
}
