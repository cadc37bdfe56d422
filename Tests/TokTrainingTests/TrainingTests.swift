import Foundation
import Testing
@testable import TokCorpus
import TokEncoding
@testable import TokTraining

struct TrainingTests {
    func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UInt32.random(in: 0 ... .max))-\(name)").path
    }

    @Test func trainerMergesMostFrequentPairFirstWithDocumentedTies() throws {
        // "ab" occurs 5 times, "bc" 3 times: ab first; then "abc" (3), then ties break to smaller ids.
        let pieces: [(bytes: [UInt8], count: UInt64)] = [(Array("abc".utf8), 3), (Array("ab".utf8), 2), (Array("xy".utf8), 1), (Array("zw".utf8), 1)]
        var trainer = BPETrainer(vocabularySize: 256 + 4)
        trainer.specialTokens = []
        let result = try trainer.train(pieces: pieces)
        let made = result.merges.map { result.tokens[Int($0.left)] + result.tokens[Int($0.right)] }
        #expect(made.map { String(decoding: $0, as: UTF8.self) } == ["ab", "abc", "xy", "zw"])
        #expect(result.merges.map(\.count) == [5, 3, 1, 1])
        #expect(result.merges.map(\.tied) == [false, false, true, false])
    }

    @Test func overlappingMergesCountCorrectly() throws {
        // "aaaa": pairs (a,a) x3 -> after merging, "aa aa" holds (aa,aa) once.
        let result = try BPETrainer(vocabularySize: 258).train(pieces: [(Array("aaaa".utf8), 10)])
        #expect(result.merges.count == 2)
        #expect(result.merges[0].count == 30 && result.merges[1].count == 10)
        #expect(result.tokens.last == Array("aaaa".utf8))
    }

    @Test func trainedTokensAllEncodeToThemselves() throws {
        var rng = SystemRandomNumberGenerator()
        let words = (0 ..< 300).map { _ in (0 ..< Int.random(in: 2 ... 12, using: &rng)).map { _ in UInt8.random(in: 97 ... 102, using: &rng) } }
        let result = try BPETrainer(vocabularySize: 600).train(pieces: words.map { ($0, UInt64.random(in: 1 ... 50, using: &rng)) })
        let vocabulary = try Vocabulary.fromRanks(result.tokens)  // throws if a token is unreachable
        #expect(vocabulary.count == result.tokens.count)
    }

    @Test func countFilesRoundTripAndMerge() throws {
        let a = temporaryPath("a.counts"), b = temporaryPath("b.counts"), c = temporaryPath("c.counts")
        let textA = temporaryPath("a.txt"), textB = temporaryPath("b.jsonl")
        defer { for p in [a, b, c, textA, textB] { unlink(p) } }
        try writeFileAtomically(textA, Array("the cat and the hat\n".utf8))
        try writeFileAtomically(textB, Array("{\"text\": \"the dog\"}\n{\"skip\": 1}\n".utf8))
        let options = CountingOptions(preTokenizer: PreTokenizer(named: "tok")!, threads: 2, memoryBudget: 1 << 20)
        let ma = try countPieces(files: [CorpusFile(path: textA)], domain: "x", options: options, output: a)
        #expect(ma.pieces == 6 && ma.distinctPieces == 6)
        let mb = try countPieces(files: [CorpusFile(path: textB)], domain: "y", options: options, output: b)
        #expect(mb.statistics.documents == 1 && mb.statistics.linesWithoutField == 1)
        let merged = try mergeCountFiles([a, b], output: c)
        #expect(merged.domains == ["x", "y"])
        var counts: [String: UInt64] = [:]
        try readCounts(c) { counts[String(decoding: $0, as: UTF8.self)] = $1 }
        #expect(counts == ["the": 2, " cat": 1, " and": 1, " the": 1, " hat": 1, "\n": 1, " dog": 1])
    }

    @Test func jsonFieldExtractionHandlesEscapesAndNesting() throws {
        func field(_ line: String) throws -> String? {
            var out: [UInt8] = []
            let found = try Array(line.utf8).withUnsafeBufferPointer { try extractJSONStringField($0, field: Array("text".utf8), into: &out) }
            return found ? String(decoding: out, as: UTF8.self) : nil
        }
        #expect(try field(#"{"a": {"text": "inner"}, "text": "x\ny\u00e9\ud83d\ude00\"", "b": [1, true, null]}"#) == "x\nyé😀\"")
        #expect(try field(#"{"other": "x"}"#) == nil)
        #expect(throws: (any Error).self) { try field(#"{"text": "unterminated}"#) }
    }
}
