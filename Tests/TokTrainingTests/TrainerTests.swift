import Foundation
import Testing
import TokCounts
@testable import TokEncoding
@testable import TokTraining
import TokRuntime

struct TrainerTests {
    @Test func trainerMergesMostFrequentPairFirstWithDocumentedTies() throws {
        // "ab" occurs 5 times, "bc" 3 times: ab first; then "abc" (3), then ties break to smaller ids.
        let pieces = PieceCounts([(Array("abc".utf8), 3), (Array("ab".utf8), 2), (Array("xy".utf8), 1), (Array("zw".utf8), 1)])
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
        let result = try BPETrainer(vocabularySize: 258).train(pieces: PieceCounts([(Array("aaaa".utf8), 10)]))
        #expect(result.merges.count == 2)
        #expect(result.merges[0].count == 30 && result.merges[1].count == 10)
        #expect(result.tokens.last == Array("aaaa".utf8))
    }

    @Test func trainedTokensAllEncodeToThemselves() throws {
        var rng = SplitMix(state: 11)
        let words = (0 ..< 300).map { _ in (0 ..< Int.random(in: 2 ... 12, using: &rng)).map { _ in UInt8.random(in: 97 ... 102, using: &rng) } }
        let result = try BPETrainer(vocabularySize: 600).train(pieces: PieceCounts(words.map { ($0, UInt64.random(in: 1 ... 50, using: &rng)) }))
        let vocabulary = try Vocabulary.fromRanks(result.tokens)  // throws if a token is unreachable
        #expect(vocabulary.count == result.tokens.count)
    }
}

struct TrainingEntryPointTests {
    @Test func trainsFromACorpusAndWritesTheFolder() throws {
        let text = uniqueTemporaryPath("train.txt"), output = uniqueTemporaryPath("vocab")
        defer {
            unlink(text)
            try? FileManager.default.removeItem(atPath: output)
        }
        try writeFileAtomically(text, Array(String(repeating: "the cat and the hat sat on the mat\n", count: 50).utf8))
        let options = TrainingOptions(vocabularySize: 270, counting: CountingOptions(preTokenizer: PreTokenizer(named: "tok")!, threads: 2))
        let summary = try trainVocabulary(inputs: [text], options: options, output: output)
        #expect(summary.vocabularySize == 270 && summary.merges == 14)
        let tokenizer = try VocabularyFolder.load(output)
        #expect(tokenizer.encode(" the").count == 1)
        #expect(fileExists(output + "/training.json"))
    }

    @Test func refusesEmptyInputAndTooSmallSizes() throws {
        let empty = uniqueTemporaryPath("empty.txt"), output = uniqueTemporaryPath("vocab")
        defer { unlink(empty) }
        try writeFileAtomically(empty, [])
        let counting = CountingOptions(preTokenizer: PreTokenizer(named: "tok")!, threads: 1)
        #expect(throws: TrainingError.noText(inputs: [empty])) {
            try trainVocabulary(inputs: [empty], options: TrainingOptions(vocabularySize: 300, counting: counting), output: output)
        }
        #expect(!fileExists(output))
        #expect(throws: TrainingError.sizeTooSmall(size: 100, reserved: 256)) {
            try BPETrainer(vocabularySize: 100).train(pieces: PieceCounts([(Array("ab".utf8), 1)]))
        }
    }
}

struct TokenLengthCapTests {
    @Test func aPairTooLongIsNeverMergedAndTheNextOneIs() throws {
        // xy and yz tie at 10 (xy has the smaller ids); then (xy, z) would be 3 bytes: skipped for good, and pq follows.
        let pieces = PieceCounts([(Array("xyz".utf8), 10), (Array("pq".utf8), 3)])
        var capped = BPETrainer(vocabularySize: 256 + 4)
        capped.maxTokenLength = 2
        let result = try capped.train(pieces: pieces)
        #expect(result.merges.map { String(decoding: result.tokens[Int($0.left)] + result.tokens[Int($0.right)], as: UTF8.self) } == ["xy", "pq"])
        #expect(result.merges.map(\.count) == [10, 3] && result.merges.map(\.tied) == [true, false])
        let free = try BPETrainer(vocabularySize: 256 + 4).train(pieces: pieces)
        #expect(free.tokens.dropFirst(256).map { String(decoding: $0, as: UTF8.self) } == ["xy", "xyz", "pq"])
    }

    @Test func aNeverMergedPairStaysOffTheHeapAsItsCountsChange() throws {
        // (ab, c) is blocked at 3 bytes; merging (c, d) and then (c, e) takes its occurrences away (its count falls
        // further below zero) and makes (ab, cd) and (ab, ce), blocked in turn; (d, e) is merged last.
        let pieces = PieceCounts([(Array("abcd".utf8), 40), (Array("abce".utf8), 30), (Array("cd".utf8), 1), (Array("de".utf8), 2)])
        var trainer = BPETrainer(vocabularySize: 256 + 10)
        trainer.maxTokenLength = 2
        let result = try trainer.train(pieces: pieces)
        let made = result.tokens.dropFirst(256)
        #expect(made.allSatisfy { $0.count <= 2 })
        #expect(made.map { String(decoding: $0, as: UTF8.self) } == ["ab", "cd", "ce", "de"])
        #expect(TrainingState.neverMerged < -(Int64(1) << 61))
    }
}
