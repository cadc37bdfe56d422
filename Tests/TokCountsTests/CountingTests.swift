import Foundation
import Testing
import TokCorpus
@testable import TokCounts
import TokEncoding
import TokRuntime

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
        try writeFileAtomically(path, Array("TOKC\u{2}\0\0\0\u{5}".utf8))
        #expect(throws: CountFileError.truncated(path: path)) { try PieceCounts(countFile: path) }
        try writeFileAtomically(path, Array("TOKC".utf8))
        #expect(throws: CountFileError.notACountFile(path: path)) { try CountFile.metadata(path: path) }
    }

    /// A budget below the pieces' cost drops the rarest first, whole count classes
    /// before the one that is cut; the same file and budget always keep the same pieces;
    /// a budget that fits keeps the file as it is.
    @Test func aBudgetDropsTheRarestPiecesDeterministically() throws {
        let path = uniqueTemporaryPath("budget.counts")
        defer { unlink(path) }
        var pieces = PieceCounts()
        for k in 0 ..< 300 { pieces.append(Array("r\(k)".utf8), count: 1) }   // 300 rare pieces, 3 bytes or so
        for k in 0 ..< 100 { pieces.append(Array("m\(k)".utf8), count: 5) }
        for k in 0 ..< 10 { pieces.append(Array("c\(k)".utf8), count: 1000) }
        pieces.append([0x41], count: 1)                                        // a single byte: always kept
        _ = try writeCountFile(pieces, metadata: CountMetadata(domains: ["x"], pattern: "tok", regexes: [], sources: [],
                                                                statistics: CorpusStatistics(), pieces: 0, distinctPieces: 0), to: path)
        let cost = { (_: UnsafeBufferPointer<UInt8>) in 100 }
        let (all, none) = try PieceCounts.load(countFile: path, budget: 410 * 100, cost: cost)
        let file = try PieceCounts(countFile: path)
        #expect(none == nil && all == file)
        // Room for 60 pieces: every count-1 piece goes, then part of the count-5 class.
        let (kept, reduction) = try PieceCounts.load(countFile: path, budget: 60 * 100, cost: cost)
        let r = try #require(reduction)
        #expect(r.distinctPieces == 410 && r.droppedPieces == 410 - (kept.count - 1))
        #expect(r.countThreshold == 5 && r.keptEstimatedBytes <= 6000 && r.keptEstimatedBytes > 5000)
        #expect(r.droppedMass == 300 + 5 * UInt64(100 - (kept.count - 11)))
        var keptCounts: [UInt64: Int] = [:]
        kept.forEach { _, c in keptCounts[c, default: 0] += 1 }
        #expect(keptCounts[1] == 1 && keptCounts[1000] == 10 && keptCounts[5]! > 35 && keptCounts[5]! <= 50)
        let (again, _) = try PieceCounts.load(countFile: path, budget: 60 * 100, cost: cost)
        #expect(again == kept)
    }

    /// Counting a corpus in parts, each told what the parts before it held out,
    /// gives the held-out text and counts of counting it whole.
    @Test func heldOutTextCountedInPartsEqualsCountedWhole() throws {
        let files = (0 ..< 3).map { uniqueTemporaryPath("part\($0).txt") }
        let outputs = (0 ..< 5).map { uniqueTemporaryPath("part\($0).counts") }
        defer { for p in files + outputs { unlink(p); unlink(CountFile.heldOutPath(p)) } }
        for (k, f) in files.enumerated() {
            let docs = (0 ..< 400).map { "document \(k)-\($0): " + String(repeating: "word\($0 % 7) ", count: $0 % 13 + 1) }
            try writeFileAtomically(f, Array(docs.joined(separator: "\n\n").utf8))
        }
        let options = CountingOptions(preTokenizer: tok, threads: 2, memoryBudget: 1 << 20)
        let parts = try files.map { try holdOutCandidates(files: [CorpusFile(path: $0)], perMille: 100, options: options) }
        #expect(parts.allSatisfy { !$0.isEmpty })
        let capacity = parts[0].reduce(0, +) + 30     // fills in the first part; later parts hold only what still fits
        let before = HoldOut.alreadyHeld(candidateSizes: parts, capacity: capacity)
        #expect(before[0] == 0 && before[1] > 0)
        let whole = HoldOut(perMille: 100, capacity: capacity)
        _ = try countPieces(files: files.map(CorpusFile.init), domain: "x", options: options, output: outputs[3], holdOut: whole)
        var text: [UInt8] = []
        for k in 0 ..< 3 {
            let part = HoldOut(perMille: 100, capacity: capacity, alreadyHeld: before[k])
            _ = try countPieces(files: [CorpusFile(path: files[k])], domain: "x", options: options, output: outputs[k], holdOut: part)
            try writeFileAtomically(CountFile.heldOutPath(outputs[k]), part.text)
            text += part.text
        }
        #expect(text == whole.text && whole.text.count <= capacity)
        let merged = try mergeCountFiles(Array(outputs[0 ..< 3]), output: outputs[4], heldOutText: true)
        #expect(merged.heldOut == HeldOutRecord(perMille: 100, capacity: capacity, alreadyHeld: 0, text: whole.text,
                                                documents: whole.documents))
        let (mergedPieces, wholePieces) = (try PieceCounts(countFile: outputs[4]), try PieceCounts(countFile: outputs[3]))
        #expect(mergedPieces == wholePieces)
        #expect(try CountFile.heldOutText(outputs[4], metadata: merged) == whole.text)
        // A held-out text that is not the count file's is refused, whatever its size.
        try writeFileAtomically(CountFile.heldOutPath(outputs[4]), Array(whole.text.dropLast()))
        #expect(throws: CountFileError.self) { try CountFile.heldOutText(outputs[4], metadata: merged) }
        try writeFileAtomically(CountFile.heldOutPath(outputs[4]), whole.text.reversed())
        #expect(throws: CountFileError.heldOutChanged(path: CountFile.heldOutPath(outputs[4]))) {
            try CountFile.heldOutText(outputs[4], metadata: merged)
        }
    }
}
