import Foundation
import Testing
import TokCorpus
import TokCounts
@testable import TokBuild
@testable import TokEncoding
@testable import TokTraining
import TokRuntime

struct SentencePieceBuildTests {
    /// A count file of `pieces` counted with the SentencePiece pattern, as if from `bytes` of text.
    func countFile(_ name: String, _ pieces: [(String, UInt64)], bytes: Int) throws -> String {
        try BuildTests().countFile(name, pieces, bytes: bytes, pattern: PreTokenizer(named: SentencePieceOptions.countingPattern)!)
    }

    @Test func balancedBuildMakesAModelOfExactlyTheSize() throws {
        let en = try countFile("en", [(" the", 500), ("the", 400), (" cat", 300), (" hat", 200), (" sat", 100)], bytes: 5000)
        let zh = try countFile("zh", [("中文字", 60), ("文字", 50), ("汉字", 40)], bytes: 1000)
        let outputs = [uniqueTemporaryPath("sp-built-1"), uniqueTemporaryPath("sp-built-2")]
        defer { for p in [en, zh] { unlink(p) }; for o in outputs { try? FileManager.default.removeItem(atPath: o) } }
        var options = BuildOptions(domains: [DomainInput(name: "en", inputs: [en]), DomainInput(name: "zh", inputs: [zh])])
        options.model = .sentencePiece(SentencePieceOptions())
        options.specialTokens = ["<|endoftext|>"]
        // 3 meta + 1 control + 256 bytes + 11 characters (▁ t h e c a s 中 文 字 汉) + 8 merged pieces.
        options.vocabularySize = 3 + 1 + 256 + 11 + 8
        var reports: [BuildReport] = []
        for (output, threads) in zip(outputs, [1, 2]) {
            options.threads = threads
            reports.append(try buildVocabulary(options, output: output) { _ in })
        }
        let tokenizer = try VocabularyFolder.load(outputs[0])
        let sentencePiece = try #require(tokenizer.sentencePiece)
        #expect(sentencePiece.pieceCount == options.vocabularySize)
        #expect(FileManager.default.fileExists(atPath: outputs[0] + "/tokenizer.model"))
        #expect(try readFile(outputs[0] + "/tokenizer.model") == readFile(outputs[1] + "/tokenizer.model"))
        #expect(reports[0].bpeTokens == 8 && reports[0].pattern == "sentencepiece")
        #expect(reports[0].domains.map(\.contributed).reduce(0, +) + reports[0].jointOnlyTokens == 8)
        // zh's pieces are in although en has five times the text.
        #expect(tokenizer.encode("中文字").count <= 2)
        #expect(reports[0].domains.first { $0.name == "zh" }!.contributed >= 1)
    }

    @Test func specialTokensThatRepeatTheModelsOwnAreRefusedBeforeCounting() throws {
        let en = try countFile("en", [(" the", 500)], bytes: 500)
        defer { unlink(en) }
        var options = BuildOptions(domains: [DomainInput(name: "en", inputs: [en])])
        options.model = .sentencePiece(SentencePieceOptions())
        options.specialTokens = ["</s>"]
        let output = uniqueTemporaryPath("sp-refused")
        #expect(throws: SpecialTokenError.self) { try buildVocabulary(options, output: output) { _ in } }
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
