import Foundation
import Testing
import TokCorpus
@testable import TokCounts
import TokEncoding

struct CountingTests {
    let tok = PreTokenizer(named: "tok")!

    func counts(_ path: String) throws -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        try PieceCounts(countFile: path).forEach { out[String(decoding: $0, as: UTF8.self)] = $1 }
        return out
    }

    @Test func countFilesRoundTripAndMerge() throws {
        let a = uniqueTemporaryPath("a.counts"), b = uniqueTemporaryPath("b.counts"), c = uniqueTemporaryPath("c.counts")
        let textA = uniqueTemporaryPath("a.txt"), textB = uniqueTemporaryPath("b.jsonl")
        defer { for p in [a, b, c, textA, textB] { unlink(p) } }
        try writeFileAtomically(textA, Array("the cat and the hat\n".utf8))
        try writeFileAtomically(textB, Array("{\"text\": \"the dog\"}\n{\"skip\": 1}\n".utf8))
        let options = CountingOptions(preTokenizer: tok, threads: 2, memoryBudget: 1 << 20)
        let ma = try countPieces(files: [CorpusFile(path: textA)], domain: "x", options: options, output: a)
        #expect(ma.pieces == 6 && ma.distinctPieces == 6)
        let mb = try countPieces(files: [CorpusFile(path: textB)], domain: "y", options: options, output: b)
        #expect(mb.statistics.documents == 1 && mb.statistics.linesWithoutField == 1)
        let merged = try mergeCountFiles([a, b], output: c)
        #expect(merged.domains == ["x", "y"])
        #expect(try counts(c) == ["the": 2, " cat": 1, " and": 1, " the": 1, " hat": 1, "\n": 1, " dog": 1])
        #expect(try CountFile.metadata(path: c) == merged)
    }

    @Test func countFileBytesIndependentOfThreadsBudgetAndOrder() throws {
        var rng = SplitMix(state: 5)
        let words = ["alpha", "beta", "中文", "gamma\n", "δ", " x", "42", "\n\n", "x_y", "   ", "tab\t"]
        var paths: [String] = []
        defer { for p in paths { unlink(p) } }
        for k in 0 ..< 3 {
            let path = uniqueTemporaryPath("in\(k).txt")
            paths.append(path)
            var text = ""
            while text.utf8.count < 200_000 { text += words.randomElement(using: &rng)! + " " }
            try writeFileAtomically(path, Array(text.utf8))
        }
        var outputs: [[UInt8]] = []
        for (threads, budget, order) in [(1, 1 << 30, [0, 1, 2]), (2, 1 << 16, [2, 0, 1]), (3, 1 << 12, [1, 2, 0])] {
            var options = CountingOptions(preTokenizer: tok, threads: threads, memoryBudget: budget)
            options.blockSize = 4096
            let out = uniqueTemporaryPath("out.counts")
            paths.append(out)
            _ = try countPieces(files: try expandCorpusInputs(order.map { paths[$0] }), domain: "d", options: options, output: out)
            outputs.append(try readFile(out))
        }
        #expect(outputs[0] == outputs[1] && outputs[1] == outputs[2])
    }

    @Test func pieceCountsHoldPiecesFlat() {
        var p = PieceCounts([(Array("ab".utf8), 3), ([], 1), (Array("中".utf8), 2)])
        #expect(p.count == 3 && p.total == 6)
        #expect(Array(p.ends) == [2, 2, 5] && p.piece(2) == Array("中".utf8) && p.length(1) == 0)
        p.append(Array("x".utf8), count: 4)
        #expect(p.piece(3) == [0x78] && p.counts.last == 4)
    }

    @Test func damagedCountFilesAreNamed() throws {
        let path = uniqueTemporaryPath("bad.counts")
        defer { unlink(path) }
        try writeFileAtomically(path, Array("TOKC\u{1}\0\0\0\u{5}".utf8))
        #expect(throws: CountFileError.self) { try PieceCounts(countFile: path) }
        #expect(throws: CountFileError.notACountFile(path: path)) { try CountFile.metadata(path: path) }
    }
}
