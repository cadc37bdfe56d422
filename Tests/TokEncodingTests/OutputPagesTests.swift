import Testing
@testable import TokEncoding
import TokRuntime

struct OutputPagesTests {
    /// A large text encoded a part at a time, the output's pages for each
    /// part mapped first, gives the ids of the whole text: with added tokens
    /// (one holding a space, which a careless cut would split) and with room
    /// reserved in the output or none.
    @Test func partsGiveTheWholeTextsIds() throws {
        var rng = SplitMix(state: 9)
        let words = ["the", " t", "  ", "\n", " \n", "42", ";", "é", "中文", "\u{1F600}", "<|end|>", "a b", " ab"]
        var text = ""
        while text.utf8.count < 2_300_000 { text += words.randomElement(using: &rng)! }
        let vocabulary = try smallVocabulary()
        var specials = vocabulary.specialTokens
        specials.append(SpecialToken(id: specials[0].id + 1, content: "a b"))
        let bytes = Array(text.utf8)
        for t in [Tokenizer(vocabulary: vocabulary, preTokenizer: PreTokenizer(named: "cl100k")!),
                  Tokenizer(vocabulary: try Vocabulary.fromRanks((0 ..< 256).map { [UInt8($0)] }, specialTokens: specials),
                            preTokenizer: PreTokenizer(named: "o200k")!)] {
            let whole = bytes.withUnsafeBufferPointer { t.encode(bytes: $0, allowedSpecial: .all) }
            for room in [0, bytes.count / 2, bytes.count] {
                var out: ContiguousArray<UInt32> = [7]  // what was there stays
                out.reserveCapacity(room)
                bytes.withUnsafeBufferPointer { t.encodeMappingOutput($0, allowedSpecial: .all, into: &out) }
                #expect(out.first == 7 && Array(out.dropFirst()) == Array(whole), "room \(room)")
            }
        }
    }
}
