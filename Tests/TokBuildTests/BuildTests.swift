import Foundation
import Synchronization
import Testing
import TokCorpus
import TokCounts
@testable import TokBuild
@testable import TokEncoding
@testable import TokTraining
import TokRuntime

struct BuildTests {
    let tok = PreTokenizer(named: "tok")!

    /// A count file of `words`, as if `bytes` of text had been counted (with `pattern`, `tok` if none).
    func countFile(_ name: String, _ words: [(String, UInt64)], bytes: Int, pattern: PreTokenizer? = nil) throws -> String {
        let tok = pattern ?? self.tok
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

    @Test func buildsAreDeterministicForAnyThreadCount() throws {
        let en = try countFile("en", [("the", 500), (" the", 400), (" cat", 300), (" hat", 200), (" sat", 100)], bytes: 5000)
        let zh = try countFile("zh", [("中文", 60), ("文字", 50), ("汉字", 40)], bytes: 1000)
        let outputs = (0 ..< 3).map { uniqueTemporaryPath("deterministic-\($0)") }
        defer { for p in [en, zh] { unlink(p) }; for o in outputs { try? FileManager.default.removeItem(atPath: o) } }
        var options = BuildOptions(domains: [DomainInput(name: "en", inputs: [en]), DomainInput(name: "zh", inputs: [zh])])
        options.vocabularySize = 256 + 12 + 1
        options.comparePooled = true
        var reports: [BuildReport] = []
        for (o, threads) in zip(outputs, [1, 2, 4]) {
            options.threads = threads
            reports.append(try buildVocabulary(options, output: o) { _ in })
        }
        let files = try outputs.map { try readFile($0 + "/tokenizer.json") }
        #expect(files[1] == files[0] && files[2] == files[0])
        #expect(reports.map { $0.domains.map(\.contributed) } == Array(repeating: reports[0].domains.map(\.contributed), count: 3))
        // The ids themselves: the ranks of one BPE on the counts scaled to the same total (zh's times 5), then the special token.
        let scaled = [("the", 500), (" the", 400), (" cat", 300), (" hat", 200), (" sat", 100), ("中文", 300), ("文字", 250), ("汉字", 200)]
        let joint = try BPETrainer(vocabularySize: 269).train(pieces: PieceCounts(scaled.map { (Array($0.0.utf8), UInt64($0.1)) }))
        let v = try VocabularyFolder.load(outputs[0]).vocabulary
        #expect((0 ..< 268).map { v.bytes(of: UInt32($0)) } == Array(joint.tokens.prefix(268)))
        #expect(v.specialTokens == [SpecialToken(id: 268, content: "<|endoftext|>")])
    }

    @Test func tooFewPairsForTheSizeSayHowManyTheCorporaYield() throws {
        // "the" makes 2 merges and " cat" 3: 5 in all, with 257 ids besides.
        let en = try countFile("en", [("the", 5), (" cat", 3)], bytes: 100)
        let output = uniqueTemporaryPath("too-small")
        defer { unlink(en); try? FileManager.default.removeItem(atPath: output) }
        var options = BuildOptions(domains: [DomainInput(name: "en", inputs: [en])])
        options.vocabularySize = 256 + 20 + 1
        #expect(throws: BuildError.tooFewMerges(merges: 5, needed: 20, size: 277, reserved: 257)) {
            try buildVocabulary(options, output: output) { _ in }
        }
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(BuildError.tooFewMerges(merges: 5, needed: 20, size: 277, reserved: 257).description
                == "the corpora yield only 5 merges, not the 20 that a vocabulary of 277 ids needs besides its 257 byte and "
                + "special tokens: ask for at most 262 ids, or give more text")
        #expect(BuildError.tooFewMerges(merges: 5, needed: 20, size: 277, reserved: 257, dropped: true).description
                == "the corpora yield only 5 merges from the pieces kept within the memory budget, not the 20 that a vocabulary "
                + "of 277 ids needs besides its 257 byte and special tokens: ask for at most 262 ids, or give more memory or text")
        // The largest size it names builds.
        options.vocabularySize = 262
        let report = try buildVocabulary(options, output: output) { _ in }
        #expect(report.bpeTokens == 5)
    }

    @Test func binaryFilesInACorpusAreReportedAsTokCountReportsThem() throws {
        let folder = uniqueTemporaryPath("binary-corpus"), output = uniqueTemporaryPath("binary-built")
        defer { for p in [folder, output] { try? FileManager.default.removeItem(atPath: p) } }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try writeFileAtomically(folder + "/a.txt", Array(String(repeating: "the cat sat on the mat\n\n", count: 40).utf8))
        try writeFileAtomically(folder + "/b.bin", [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0xFF, 0xFE, 0x00, 0x80, 0xC3, 0x28])
        var options = BuildOptions(domains: [DomainInput(name: "en", inputs: [folder])])
        options.vocabularySize = 256 + 8 + 1
        options.heldOutPerMille = 0
        let warnings = Mutex<[String]>([])
        _ = try buildVocabulary(options, output: output, log: { _ in }, warn: { line in warnings.withLock { $0.append(line) } })
        // 0xFF, 0xFE, 0x80 and 0xC3 (a lead byte before a non-continuation) are not UTF-8.
        #expect(warnings.withLock { $0 } == ["en: 4 bytes of invalid UTF-8 counted as byte pieces"])
        var clean = CorpusStatistics()
        clean.bytes = 10
        #expect(clean.warnings.isEmpty)
    }

    @Test func trainingsAreNamedAndMappedByRole() {
        let counts = Trainings(own: ["en.counts", "zh.counts"], joint: "joint.counts", pooled: "pooled.counts")
        #expect(counts.all == ["en.counts", "zh.counts", "joint.counts", "pooled.counts"])
        #expect(counts.named(["en", "zh"]).map(\.name) == ["en", "zh", "joint", "pooled"])
        #expect(counts.named(["en", "zh"]).map(\.training) == counts.all)
        var seen: [String] = []
        let lengths = counts.mapAll { files in
            seen = files
            return files.map(\.count)
        }
        #expect(seen == counts.all)
        #expect(lengths.own == [9, 9] && lengths.joint == 12 && lengths.pooled == 13)
        let unpooled = Trainings(own: ["en.counts"], joint: "joint.counts", pooled: nil)
        #expect(unpooled.all == ["en.counts", "joint.counts"])
        #expect(unpooled.named(["en"]).map(\.name) == ["en", "joint"])
        let mapped = unpooled.mapAll { $0.map { $0.uppercased() } }
        #expect(mapped.own == ["EN.COUNTS"] && mapped.joint == "JOINT.COUNTS" && mapped.pooled == nil)
    }

    @Test func anEmptyDomainFailsAndLeavesTheOutputAlone() throws {
        let en = try countFile("en", [("the", 5), (" cat", 3)], bytes: 100)
        let emptyFolder = uniqueTemporaryPath("empty-domain"), output = uniqueTemporaryPath("existing")
        defer {
            unlink(en)
            for p in [emptyFolder, output] { try? FileManager.default.removeItem(atPath: p) }
        }
        try FileManager.default.createDirectory(atPath: emptyFolder, withIntermediateDirectories: true)
        // A vocabulary folder tok made: the one kind of folder a build may replace.
        let good = Tokenizer(vocabulary: try Vocabulary.fromRanks((0 ..< 256).map { [UInt8($0)] }), preTokenizer: PreTokenizer(named: "tok")!)
        try VocabularyFolder.save(good, to: output, source: "the good vocabulary")
        let before = try readFile(output + "/tokenizer.json")
        var options = BuildOptions(domains: [DomainInput(name: "en", inputs: [en]), DomainInput(name: "zh", inputs: [emptyFolder])])
        options.vocabularySize = 270
        #expect(throws: BuildError.emptyDomain(name: "zh", inputs: [emptyFolder])) {
            try buildVocabulary(options, output: output) { _ in }
        }
        #expect(try readFile(output + "/tokenizer.json") == before)
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
