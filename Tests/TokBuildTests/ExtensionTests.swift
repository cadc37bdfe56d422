import Foundation
import Testing
import TokCorpus
import TokCounts
@testable import TokBuild
@testable import TokEncoding
import TokTraining
import TokRuntime

struct ExtensionTests {
    let counts = BuildTests()

    /// A built vocabulary of English words only (its `<|endoftext|>` on the last id), in a folder.
    func englishBase() throws -> (folder: String, tokenizer: Tokenizer, counts: String) {
        let en = try counts.countFile("en", [("the", 500), (" the", 400), (" cat", 300), (" hat", 200), (" sat", 100)], bytes: 5000)
        let folder = uniqueTemporaryPath("base")
        var options = BuildOptions(domains: [DomainInput(name: "en", inputs: [en])])
        options.vocabularySize = 256 + 8 + 1
        _ = try buildVocabulary(options, output: folder) { _ in }
        return (folder, try VocabularyFolder.load(folder), en)
    }

    @Test func newTokensFollowTheSpecialTokenAndEveryBaseIdStays() throws {
        let base = try englishBase()
        let zh = try counts.countFile("zh", [("中文", 60), ("文字", 50), ("汉字", 40), ("中文的", 30), ("我们", 25), ("你们", 20)],
                                      bytes: 1000)
        let outputs = (0 ..< 2).map { uniqueTemporaryPath("extended-\($0)") }
        defer {
            for p in [base.counts, zh] { unlink(p) }
            for f in [base.folder] + outputs { try? FileManager.default.removeItem(atPath: f) }
        }
        var options = ExtensionOptions(domains: [DomainInput(name: "zh", inputs: [zh])], add: .exactly(12))
        var reports: [ExtensionReport] = []
        for (output, threads) in zip(outputs, [1, 2]) {
            options.threads = threads
            reports.append(try extendVocabulary(options, base: base.tokenizer, baseName: "base", output: output) { _ in })
        }
        let report = reports[0]
        #expect(report.baseSize == 265 && report.firstNewId == 265 && report.added == 12 && report.size == 277)
        #expect(report.sizeRoundedTo64 == 320 && report.sizeRoundedTo128 == 384)
        #expect(report.domains.map(\.name) == ["zh"] && report.domains[0].added == 12)
        let extended = try VocabularyFolder.load(outputs[0])
        let v = extended.vocabulary, b = base.tokenizer.vocabulary
        #expect(v.idLimit == 277 && v.specialTokens == [SpecialToken(id: 264, content: "<|endoftext|>")])
        for id in 0 ..< b.count { #expect(v.bytes(of: UInt32(id)) == b.bytes(of: UInt32(id))) }
        #expect(extended.encode("中文") == [UInt32(v.id(of: Array("中文".utf8))!)] && v.id(of: Array("中文".utf8))! >= 265)
        #expect(extended.encode(" the cat") == base.tokenizer.encode(" the cat"))
        // One thread or two: the same folder.
        for name in [VocabularyFolder.jsonName, "added.tsv"] {
            #expect(try readFile(outputs[0] + "/" + name) == readFile(outputs[1] + "/" + name))
        }
        let tsv = String(decoding: try readFile(outputs[0] + "/added.tsv"), as: UTF8.self).split(separator: "\n")
        #expect(tsv.count == 13 && tsv[0] == "id\ttoken\tdomain\tcount" && tsv[1].hasPrefix("265\t") && tsv.last!.hasPrefix("276\t"))
        #expect(tsv.contains { $0.hasPrefix("\(v.id(of: Array("中文".utf8))!)\t中文\tzh\t") })
        #expect(fileExists(outputs[0] + "/extend-report.json") && fileExists(outputs[0] + "/heldout/zh.txt"))
    }

    @Test func addingNothingGivesTheBaseBack() throws {
        let base = try englishBase()
        let output = uniqueTemporaryPath("same")
        defer {
            unlink(base.counts)
            for f in [base.folder, output] { try? FileManager.default.removeItem(atPath: f) }
        }
        let options = ExtensionOptions(domains: [DomainInput(name: "en", inputs: [base.counts])], add: .exactly(0))
        let report = try extendVocabulary(options, base: base.tokenizer, baseName: "base", output: output) { _ in }
        #expect(report.added == 0 && report.size == 265)
        #expect(try readFile(output + "/" + VocabularyFolder.jsonName) == readFile(base.folder + "/" + VocabularyFolder.jsonName))
    }

    @Test func countsOfAnotherPatternAndTargetsOfOtherDomainsAreRefused() throws {
        let base = try englishBase()
        let o200k = PreTokenizer(named: "o200k")!
        let other = uniqueTemporaryPath("other.counts")
        var statistics = CorpusStatistics()
        statistics.bytes = 10
        _ = try writeCountFile(PieceCounts([(Array("ab".utf8), 3)]),
                               metadata: CountMetadata(domains: ["x"], pattern: o200k.name, regexes: o200k.regexes, sources: [],
                                                       statistics: statistics, pieces: 0, distinctPieces: 0), to: other)
        let output = uniqueTemporaryPath("refused")
        defer {
            for p in [base.counts, other] { unlink(p) }
            try? FileManager.default.removeItem(atPath: base.folder)
        }
        let options = ExtensionOptions(domains: [DomainInput(name: "x", inputs: [other])], add: .exactly(1))
        #expect(throws: BuildError.patternMismatch(domain: "x", path: other, counted: "o200k", expected: "tok")) {
            try extendVocabulary(options, base: base.tokenizer, baseName: "base", output: output) { _ in }
        }
        let auto = ExtensionOptions(domains: [DomainInput(name: "en", inputs: [base.counts])], add: .auto(targets: ["zh": 1.3], limit: 10))
        #expect(throws: ExtensionError.targetNotExtended(domain: "zh")) {
            try extendVocabulary(auto, base: base.tokenizer, baseName: "base", output: output) { _ in }
        }
        #expect(!fileExists(output))
    }

    @Test func aBaseThatNormalizesCountsTheTextNormalized() throws {
        // Decomposed é (e and U+0301) in the corpus: the base composes it (NFC) before splitting, so the new tokens do too.
        let corpus = uniqueTemporaryPath("nfd.txt"), output = uniqueTemporaryPath("nfc")
        defer {
            unlink(corpus)
            try? FileManager.default.removeItem(atPath: output)
        }
        try writeFileAtomically(corpus, Array(String(repeating: "cafe\u{301} ", count: 200).utf8))
        let base = Tokenizer(vocabulary: try Vocabulary.fromRanks((0 ..< 256).map { [UInt8($0)] }), preTokenizer: tok, normalizer: .nfc)
        var options = ExtensionOptions(domains: [DomainInput(name: "fr", inputs: [corpus])], add: .exactly(3))
        options.heldOutPerMille = 0
        _ = try extendVocabulary(options, base: base, baseName: "bytes", output: output) { _ in }
        let v = try VocabularyFolder.load(output).vocabulary
        let added = (256 ..< 259).map { v.bytes(of: UInt32($0)) }
        #expect(added.contains([0xC3, 0xA9]) && !added.joined().contains(0xCC))
        let counts = try counts.countFile("fr", [("café", 5)], bytes: 5)
        defer { unlink(counts) }
        options.domains = [DomainInput(name: "fr", inputs: [counts])]
        #expect(throws: BuildError.countFilesNotNormalized(domain: "fr", path: counts, normalizer: "nfc")) {
            try extendVocabulary(options, base: base, baseName: "bytes", output: output) { _ in }
        }
    }

    var tok: PreTokenizer { counts.tok }

    @Test func tokensAreEscapedAsTextInAddedTSV() {
        #expect(ExtensionReport.escaped(Array("a\tb\\c\n".utf8)) == "a\\tb\\\\c\\n")
        #expect(ExtensionReport.escaped(Array("中".utf8).prefix(2).map { $0 }) == "\\xe4\\xb8")
        #expect(ExtensionReport.escaped(Array(" 中文".utf8) + [0xE6]) == " 中文\\xe6")
    }
}
