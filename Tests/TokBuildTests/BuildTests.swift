import Foundation
import Testing
import TokCorpus
import TokCounts
@testable import TokBuild
@testable import TokEncoding
@testable import TokTraining

struct BuildTests {
    let tok = PreTokenizer(named: "tok")!

    /// A count file of `words`, as if `bytes` of text had been counted.
    func countFile(_ name: String, _ words: [(String, UInt64)], bytes: Int) throws -> String {
        let path = uniqueTemporaryPath("\(name).counts")
        var statistics = CorpusStatistics()
        statistics.bytes = bytes
        statistics.documents = 1
        _ = try writeCountFile(PieceCounts(words.map { (Array($0.0.utf8), $0.1) }),
                               metadata: CountMetadata(domains: [name], pattern: tok.name, regexes: tok.regexes, sources: [],
                                                       statistics: statistics, pieces: 0, distinctPieces: 0),
                               to: path)
        return path
    }

    @Test func defaultBuildOnSmallCountsIsExactAndBalanced() throws {
        // "en" has five times the text of "zh": scaled to equal totals, zh's pairs still rank high.
        let en = try countFile("en", [("the", 500), (" the", 400), (" cat", 300), (" hat", 200), (" sat", 100)], bytes: 5000)
        let zh = try countFile("zh", [("中文", 60), ("文字", 50), ("汉字", 40)], bytes: 1000)
        let output = uniqueTemporaryPath("built")
        defer { for p in [en, zh] { unlink(p) }; try? FileManager.default.removeItem(atPath: output) }
        var options = BuildOptions(domains: [DomainInput(name: "en", inputs: [en]), DomainInput(name: "zh", inputs: [zh])])
        options.vocabularySize = 256 + 12 + 1
        options.threads = 2
        let report = try buildVocabulary(options, output: output) { _ in }
        let tokenizer = try VocabularyFolder.load(output)
        let v = tokenizer.vocabulary
        #expect(v.idLimit == 269 && v.count == 268 && v.unreachableTokens.isEmpty)
        #expect(v.specialTokens == [SpecialToken(id: 268, content: "<|endoftext|>")])
        #expect(Set((0 ..< v.count).map { v.bytes(of: UInt32($0)) }).count == v.count)
        #expect(report.domains.map(\.contributed).reduce(0, +) + report.jointOnlyTokens == 12)
        // zh's tokens are in: a pooled BPE would give the first merges to en's larger counts.
        #expect(tokenizer.encode("中文").count == 1)
        #expect(report.domains.first { $0.name == "zh" }!.contributed >= 3)
        #expect(report.composition.values.reduce(0, +) == 269)
    }

    @Test(arguments: [DomainBalance.geometric, .parity])
    func rebalancedBuildsAreExactAndDeterministic(balance: DomainBalance) throws {
        let en = try countFile("en", [("the", 500), (" the", 400), (" cat", 300), (" hat", 200), (" sat", 100)], bytes: 5000)
        let zh = try countFile("zh", [("中文", 60), ("文字", 50), ("汉字", 40)], bytes: 1000)
        let outputs = [uniqueTemporaryPath("balanced-a"), uniqueTemporaryPath("balanced-b")]
        defer { for p in [en, zh] { unlink(p) }; for o in outputs { try? FileManager.default.removeItem(atPath: o) } }
        var options = BuildOptions(domains: [DomainInput(name: "en", inputs: [en]), DomainInput(name: "zh", inputs: [zh])])
        options.vocabularySize = 256 + 12 + 1
        options.balance = balance
        for o in outputs { _ = try buildVocabulary(options, output: o) { _ in } }
        let files = try outputs.map { try Data(contentsOf: URL(fileURLWithPath: $0 + "/tokenizer.json")) }
        #expect(files[0] == files[1])
        let tokenizer = try VocabularyFolder.load(outputs[0])
        #expect(tokenizer.vocabulary.count == 268 && tokenizer.vocabulary.unreachableTokens.isEmpty)
        #expect(tokenizer.encode("中文").count == 1 && tokenizer.encode(" the").count == 1)
    }

    @Test func tooFewPairsForTheSizeFailTheCheck() throws {
        let en = try countFile("en", [("the", 5), (" cat", 3)], bytes: 100)
        let output = uniqueTemporaryPath("too-small")
        defer { unlink(en); try? FileManager.default.removeItem(atPath: output) }
        var options = BuildOptions(domains: [DomainInput(name: "en", inputs: [en])])
        options.vocabularySize = 256 + 20 + 1
        #expect(throws: BuildError.self) { try buildVocabulary(options, output: output) { _ in } }
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func anEmptyDomainFailsAndLeavesTheOutputAlone() throws {
        let en = try countFile("en", [("the", 5), (" cat", 3)], bytes: 100)
        let emptyFolder = uniqueTemporaryPath("empty-domain"), output = uniqueTemporaryPath("existing")
        defer {
            unlink(en)
            for p in [emptyFolder, output] { try? FileManager.default.removeItem(atPath: p) }
        }
        try FileManager.default.createDirectory(atPath: emptyFolder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try writeFileAtomically(output + "/tokenizer.json", Array("the good vocabulary".utf8))
        var options = BuildOptions(domains: [DomainInput(name: "en", inputs: [en]), DomainInput(name: "zh", inputs: [emptyFolder])])
        options.vocabularySize = 270
        #expect(throws: BuildError.emptyDomain(name: "zh", inputs: [emptyFolder])) {
            try buildVocabulary(options, output: output) { _ in }
        }
        #expect(try readFile(output + "/tokenizer.json") == Array("the good vocabulary".utf8))
        let siblings = try FileManager.default.contentsOfDirectory(atPath: (output as NSString).deletingLastPathComponent)
        let name = (output as NSString).lastPathComponent
        #expect(!siblings.contains { $0.hasPrefix(name + ".tmp-") })
    }

    @Test func creditGoesToTheDomainThatSavesTheLargestShare() {
        func domain(_ name: String, _ tokens: [(String, UInt64)], bytes: Int) -> DomainVocabulary {
            var d = DomainVocabulary(name: name, weight: 1, trainingBytes: bytes,
                                     result: BPETrainer.Result(tokens: [], merges: [], specialTokens: [], seconds: 0))
            d.tokens = tokens.map { Array($0.0.utf8) }
            d.counts = tokens.map(\.1)
            return d
        }
        let a = domain("a", [("alpha", 100), ("shared", 50)], bytes: 5000)
        let b = domain("b", [("gamma", 40), ("shared", 20)], bytes: 1000)
        // "shared": 50/5000 in a, 20/1000 in b: b saves the larger share.
        #expect(creditTokens(["alpha", "shared", "gamma", "zzz"].map { Array($0.utf8) }, to: [a, b]) == [0, 1, 1, 2])
    }

    @Test func tokenKinds() {
        #expect(TokenKind.of(Array(" the".utf8)) == .englishLatin)
        #expect(TokenKind.of(Array("中文".utf8)) == .chinese)
        #expect(TokenKind.of(Array("の中".utf8)) == .japanese)
        #expect(TokenKind.of(Array("한국".utf8)) == .korean)
        #expect(TokenKind.of(Array("123".utf8)) == .digitsMath)
        #expect(TokenKind.of(Array("    ".utf8)) == .codePunctuationWhitespace)
        #expect(TokenKind.of([0xE4, 0xB8]) == .fragments)
        #expect(TokenKind.of([0x41]) == .byteAndSpecial)
    }

    @Test func compressionOfFilesEqualsAnIndependentCount() throws {
        // A plain-text file and a JSON-lines file of mixed scripts, measured as
        // `tok stats` measures them, against bytes, code points and ids counted
        // here document by document.
        let merged = ["at", "he", "th", "the", " t", " the", " c", " cat", " s", " sat", "an"].map { Array($0.utf8) }
        let tokenizer = Tokenizer(vocabulary: try Vocabulary.fromRanks((0 ..< 256).map { [UInt8($0)] } + merged),
                                  preTokenizer: tok)
        let text = "The cat sat on the mat.\n中文字符与汉字，混在 English 里。\nlet x = 42 // ∑ αβγ\n"
        let lines = ["the hat, the cat", "数学 x² + y² = z²"]
        let textPath = uniqueTemporaryPath("plain.txt"), linesPath = uniqueTemporaryPath("lines.jsonl")
        defer { for p in [textPath, linesPath] { unlink(p) } }
        try Data(text.utf8).write(to: URL(fileURLWithPath: textPath))
        let json = try lines.map { String(decoding: try JSONEncoder().encode(["text": $0]), as: UTF8.self) }
        try Data((json.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: linesPath))
        let measured = try StatsReport.measure(tokenizer, files: [CorpusFile(path: textPath), CorpusFile(path: linesPath)],
                                               threads: 2)
        let documents = [text] + lines
        let expected = Compression(bytes: documents.map(\.utf8.count).reduce(0, +),
                                   characters: documents.map(\.unicodeScalars.count).reduce(0, +),
                                   tokens: documents.map { tokenizer.encode($0).count }.reduce(0, +))
        #expect(measured == expected)
        #expect(expected.tokens > documents.count && expected.tokens < expected.bytes, "the vocabulary merges some pairs")
        #expect(measured.bytesPerToken == Double(expected.bytes) / Double(expected.tokens))
        #expect(measured.charactersPerToken == Double(expected.characters) / Double(expected.tokens))
    }
}
