import Foundation
import Testing
import TokCorpus
@testable import TokCounts
import TokEncoding
import TokRuntime

/// Superword counts beside ordinary ones: one read gives each pattern's own
/// count file, parts merge pair by pair into the counts of the whole, and a
/// count file without its superword counts (or with another text's) is
/// refused naming the file.
struct SuperwordCountingTests {
    let tok = PreTokenizer(named: "tok")!

    /// Documents of sentences over several lines, words and digits, some not UTF-8.
    func writeCorpus(_ paths: [String], documents: Int = 300) throws {
        var rng = SplitMix(state: 11)
        let words = ["the", "cat", "中文", "of", "x_y", "42", "δ", "return", "\t", "  "]
        for (k, path) in paths.enumerated() {
            var text: [UInt8] = []
            for d in 0 ..< documents {
                var document = "doc \(k)-\(d):"
                for _ in 0 ..< (d % 17 + 3) {
                    document += " " + words.randomElement(using: &rng)!
                    document += ["", "", ".", "!", "\n", "?"].randomElement(using: &rng)!
                }
                text += Array(document.utf8) + (d % 50 == 7 ? [0xFF, 0x41] : []) + Array("\n\n".utf8)
            }
            try writeFileAtomically(path, text)
        }
    }

    @Test func oneReadGivesEachPatternsOwnCountFile() throws {
        let inputs = (0 ..< 2).map { uniqueTemporaryPath("in\($0).txt") }
        let alone = [uniqueTemporaryPath("tok.counts"), uniqueTemporaryPath("superwords.counts")]
        var outputs: [String] = []
        defer { for p in inputs + alone + outputs { unlink(p); unlink(CountFile.superwordsPath(p)) } }
        try writeCorpus(inputs, documents: 8000)     // over a megabyte of superword pieces: the small budgets spill
        let files = inputs.map(CorpusFile.init)
        for (preTokenizer, path) in zip([tok, PreTokenizer.superwords], alone) {
            _ = try countPieces(files: files, domain: "d", options: CountingOptions(preTokenizer: preTokenizer, threads: 1),
                                output: path, holdOut: HoldOut(perMille: 100, capacity: 1 << 20))
        }
        // Small blocks cut long texts; small budgets spill both tables.
        for (threads, budget) in [(1, 1 << 30), (2, 1 << 12), (3, 1 << 16)] {
            var options = CountingOptions(preTokenizer: tok, threads: threads, memoryBudget: budget)
            options.blockSize = 4096
            let out = uniqueTemporaryPath("both.counts")
            outputs.append(out)
            let (counts, superwords) = try countPiecesWithSuperwords(files: files, domain: "d", options: options, output: out,
                                                                     holdOut: HoldOut(perMille: 100, capacity: 1 << 20))
            #expect(try readFile(out) == readFile(alone[0]))
            #expect(try readFile(CountFile.superwordsPath(out)) == readFile(alone[1]))
            #expect(counts.isCounted(asSuperwords: superwords) && superwords.pattern == "superwords")
            #expect(counts.heldOut != nil && superwords.distinctPieces > counts.distinctPieces / 2)
        }
    }

    @Test func superwordCountsGoWithTheCountFilesTheyLieBeside() {
        let named = ["d/a.counts", "d/a.superwords.counts", "d/b.superwords.counts", "d/c.counts"]
        #expect(CountFile.withoutPairedSuperwordCounts(named) == ["d/a.counts", "d/b.superwords.counts", "d/c.counts"])
        #expect(CountFile.superwordsPath("d/a.counts") == "d/a.superwords.counts" && CountFile.superwordsPath("x") == "x.superwords.counts")
        #expect(CountFile.heldOutPath("d/a.superwords.counts") == "d/a.heldout.txt")
    }

    @Test func streamsAreCutWhereEveryPatternMayBeCut() throws {
        #expect(try cuttingPreTokenizer([tok, .superwords]) == .superwords)
        #expect(try cuttingPreTokenizer([.superwords, tok]) == .superwords)
        // The sentencepiece words cut between ASCII words, superwords only after lines: neither honours the other's cuts.
        #expect(try cuttingPreTokenizer([PreTokenizer(named: "sentencepiece")!, .superwords]).safeCuts.isEmpty)
    }

    /// Parts counted with the hold-out plan and merged pair by pair are the
    /// whole counted at once, both files and the one held-out text.
    @Test func partsMergePairByPairIntoTheWhole() throws {
        let inputs = (0 ..< 3).map { uniqueTemporaryPath("part\($0).txt") }
        let parts = (0 ..< 3).map { uniqueTemporaryPath("part\($0).counts") }
        let whole = uniqueTemporaryPath("whole.counts"), merged = uniqueTemporaryPath("merged.counts")
        defer {
            for p in inputs + parts + [whole, merged] {
                for q in [p, CountFile.superwordsPath(p), CountFile.heldOutPath(p)] { unlink(q) }
            }
        }
        try writeCorpus(inputs)
        let options = CountingOptions(preTokenizer: tok, threads: 2, memoryBudget: 1 << 20)
        let scans = try inputs.map { try holdOutCandidates(files: [CorpusFile(path: $0)], perMille: 100, options: options) }
        let capacity = scans[0].reduce(0, +) + scans[1].reduce(0, +) / 2     // fills in the second part
        let before = HoldOut.alreadyHeld(candidateSizes: scans, capacity: capacity)
        let all = HoldOut(perMille: 100, capacity: capacity)
        _ = try countPiecesWithSuperwords(files: inputs.map(CorpusFile.init), domain: "x", options: options, output: whole,
                                          holdOut: all)
        for k in 0 ..< 3 {
            let part = HoldOut(perMille: 100, capacity: capacity, alreadyHeld: before[k])
            _ = try countPiecesWithSuperwords(files: [CorpusFile(path: inputs[k])], domain: "x", options: options, output: parts[k],
                                              holdOut: part)
            try writeFileAtomically(CountFile.heldOutPath(parts[k]), part.text)
        }
        #expect(CountFile.heldOutPath(CountFile.superwordsPath(parts[0])) == CountFile.heldOutPath(parts[0]))
        let (counts, superwords) = try mergeCountFilesWithSuperwords(parts, output: merged, heldOutText: true)
        #expect(try readFile(merged) == readFile(whole))
        #expect(try readFile(CountFile.superwordsPath(merged)) == readFile(CountFile.superwordsPath(whole)))
        #expect(try readFile(CountFile.heldOutPath(merged)) == all.text && all.text.count <= capacity)
        #expect(counts.heldOut == superwords.heldOut && superwords.countsSuperwords)
        #expect(try CountFile.heldOutText(CountFile.superwordsPath(merged), metadata: superwords) == all.text)
        // Mixed in an ordinary merge, superword counts are refused by their pattern.
        #expect(throws: CountFileError.patternMismatch(path: CountFile.superwordsPath(parts[1]), counted: "superwords", expected: "tok")) {
            try mergeCountFiles([parts[0], CountFile.superwordsPath(parts[1])], output: uniqueTemporaryPath("mixed.counts"))
        }
    }

    @Test func countFilesWithoutTheirSuperwordCountsAreRefused() throws {
        let inputs = (0 ..< 2).map { uniqueTemporaryPath("in\($0).txt") }
        let a = uniqueTemporaryPath("a.counts"), b = uniqueTemporaryPath("b.counts"), out = uniqueTemporaryPath("out.counts")
        defer { for p in inputs + [a, b, out] { unlink(p); unlink(CountFile.superwordsPath(p)) } }
        try writeCorpus(inputs)
        let options = CountingOptions(preTokenizer: tok, threads: 1)
        _ = try countPiecesWithSuperwords(files: [CorpusFile(path: inputs[0])], domain: "x", options: options, output: a)
        _ = try countPieces(files: [CorpusFile(path: inputs[1])], domain: "x", options: options, output: b)
        #expect(throws: CountFileError.noSuperwordCounts(path: b)) { try mergeCountFilesWithSuperwords([a, b], output: out) }
        // Another text's superword counts beside b.
        try writeFileAtomically(CountFile.superwordsPath(b), try readFile(CountFile.superwordsPath(a)))
        #expect(throws: CountFileError.superwordCountsOfOtherText(path: CountFile.superwordsPath(b), countFile: b)) {
            try mergeCountFilesWithSuperwords([a, b], output: out)
        }
        #expect(throws: CountFileError.superwordCountsGiven(path: CountFile.superwordsPath(a))) {
            try mergeCountFilesWithSuperwords([CountFile.superwordsPath(a)], output: out)
        }
        #expect(!FileManager.default.fileExists(atPath: out) && !FileManager.default.fileExists(atPath: CountFile.superwordsPath(out)))
        #expect(CountFileError.noSuperwordCounts(path: b).description
                == "\(b): no superword counts beside it (\(CountFile.superwordsPath(b))): count its text with tok count --superwords")
    }
}
