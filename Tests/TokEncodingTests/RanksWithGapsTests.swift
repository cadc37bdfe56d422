import Foundation
import Testing
@testable import TokEncoding
import TokRuntime

/// Ranks vocabularies whose ranks skip ids: an extended vocabulary's new
/// ranks follow the base's special and unused ids.
struct RanksWithGapsTests {
    /// Bytes, "ab" (256), the special token (257), an unused id (258), "abc" (259).
    func tokens() -> [[UInt8]?] {
        (0 ..< 256).map { [UInt8($0)] } + [Array("ab".utf8), nil, nil, Array("abc".utf8)]
    }
    let special = SpecialToken(id: 257, content: "<|s|>")

    @Test func gapsHoldNoTokenAndRanksAfterThemMerge() throws {
        let v = try Vocabulary.fromRanks(withGaps: tokens(), specialTokens: [special])
        #expect(v.count == 260 && v.idLimit == 260 && v.unreachableTokens.isEmpty)
        #expect(v.id(of: Array("<|s|>".utf8)) == nil && v.id(of: Array("abc".utf8)) == 259)
        let t = Tokenizer(vocabulary: v, preTokenizer: PreTokenizer(named: "cl100k")!)
        #expect(t.encode("abcab") == [259, 256])
        #expect(t.encode("<|s|>abc", allowedSpecial: .all) == [257, 259])
        #expect(try t.decode([257, 259]) == Array("<|s|>abc".utf8))
        #expect(throws: DecodeError.self) { try t.decode([258]) }
        // A special token on a rank that holds a token is refused.
        #expect(throws: SpecialTokenError.collision(content: "<|x|>", id: 256, token: Array("ab".utf8))) {
            try Vocabulary.fromRanks(withGaps: tokens(), specialTokens: [SpecialToken(id: 256, content: "<|x|>")])
        }
    }

    @Test func aFolderOfARanksVocabularyWithGapsLoadsAsItWasWritten() throws {
        let v = try Vocabulary.fromRanks(withGaps: tokens(), specialTokens: [special])
        let folder = uniqueTemporaryPath("gaps")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try VocabularyFolder.save(Tokenizer(vocabulary: v, preTokenizer: PreTokenizer(named: "cl100k")!), to: folder, source: "test")
        let json = try readFile(folder + "/" + VocabularyFolder.jsonName)
        try FileManager.default.removeItem(atPath: folder + "/" + VocabularyFolder.binaryName)  // loaded from the JSON
        let loaded = try VocabularyFolder.load(folder)
        #expect(loaded.vocabulary.mergeOrder == .ranks && loaded.vocabulary.specialTokens == [special])
        #expect((0 ..< 260).map { loaded.vocabulary.bytes(of: UInt32($0)) } == (0 ..< 260).map { v.bytes(of: UInt32($0)) })
        #expect(loaded.encode("abcab") == [259, 256] && HuggingFaceJSON.write(loaded) == json)
        // The special token is a vocab entry on its id, as `tokenizers` wants an added token inside the vocab.
        #expect(String(decoding: json, as: UTF8.self).contains("\"<|s|>\": 257"))
    }
}
