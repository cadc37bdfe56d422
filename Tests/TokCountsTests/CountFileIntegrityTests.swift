import Foundation
import Testing
import TokCorpus
@testable import TokCounts
import TokEncoding
import TokRuntime

/// Count files are refused, never read wrong: damage anywhere, entries out of
/// order, an older format, a side file or held-out text from another run.
struct CountFileIntegrityTests {
    let tok = PreTokenizer(named: "tok")!

    /// Counts `text` into a new count file (with document frequencies when asked).
    func countFile(_ text: String, name: String = "c.counts", documents: Bool = false) throws -> String {
        let input = uniqueTemporaryPath("in.txt"), output = uniqueTemporaryPath(name)
        defer { unlink(input) }
        try writeFileAtomically(input, Array(text.utf8))
        var options = CountingOptions(preTokenizer: tok, threads: 1, memoryBudget: 1 << 24)
        options.documentFrequencies = documents
        _ = try countPieces(files: [CorpusFile(path: input)], domain: "x", options: options, output: output)
        return output
    }

    func remove(_ paths: String...) {
        for p in paths { unlink(p); unlink(CountFile.documentsPath(p)); unlink(CountFile.heldOutPath(p)) }
    }

    /// Every single-bit flip anywhere in a count file (header, entries,
    /// metadata, checksums, trailer) is refused by every reader with a
    /// ``CountFileError``, and a merge with it writes nothing.
    @Test func everyBitFlipIsRefused() throws {
        let path = try countFile("the cat and the hat\n\nsat on 42 mats, 中文 too\n")
        let flipped = uniqueTemporaryPath("flipped.counts"), merged = uniqueTemporaryPath("merged.counts")
        defer { remove(path, flipped, merged) }
        let good = try readFile(path)
        let entriesLength = try CountFile.Layout(path: path).entriesLength
        #expect(good.count > 400 && entriesLength > 60)
        for bit in 0 ..< good.count * 8 {
            var bytes = good
            bytes[bit / 8] ^= 1 << UInt8(bit % 8)
            try writeFileAtomically(flipped, bytes)
            #expect(throws: CountFileError.self, "bit \(bit)") { try PieceCounts(countFile: flipped) }
            if bit / 8 >= entriesLength || bit / 8 < 8 {
                #expect(throws: CountFileError.self, "bit \(bit)") { try CountFile.metadata(path: flipped) }
            }
            if bit % 61 == 0 {
                #expect(throws: CountFileError.self, "bit \(bit)") { _ = try mergeCountFiles([path, flipped], output: merged) }
                #expect(!fileExists(merged))
            }
        }
        #expect(try PieceCounts(countFile: path).count > 10)
    }

    /// Flips in a file of several chunks are found in the chunk they fall in.
    @Test func flipsInAnyChunkOfALargeFileAreRefused() throws {
        var pieces = PieceCounts()
        let filler = String(repeating: "x", count: 250)
        for k in 0 ..< 5_000 { pieces.append(Array((String(format: "piece%08d", k) + filler).utf8), count: UInt64(k % 97 + 1)) }
        let path = uniqueTemporaryPath("large.counts"), flipped = uniqueTemporaryPath("flipped.counts")
        defer { remove(path, flipped) }
        _ = try writeCountFile(pieces, metadata: CountMetadata(domains: ["x"], pattern: "tok", regexes: [], sources: [],
                                                                statistics: CorpusStatistics(), pieces: 0, distinctPieces: 0), to: path)
        let good = try readFile(path)
        let layout = try CountFile.Layout(path: path)
        #expect(layout.chunkChecksums.count == 2)
        #expect(try PieceCounts(countFile: path) == pieces)
        var rng = SplitMix(state: 29)
        let chunkBits = CountFile.chunk * 8
        for k in 0 ..< 16 {
            // Half in each chunk.
            let bit = k % 2 == 0 ? Int.random(in: 0 ..< chunkBits, using: &rng) : Int.random(in: chunkBits ..< layout.entriesLength * 8, using: &rng)
            var bytes = good
            bytes[bit / 8] ^= 1 << UInt8(bit % 8)
            try writeFileAtomically(flipped, bytes)
            #expect(throws: CountFileError.self, "bit \(bit)") { try PieceCounts(countFile: flipped) }
        }
    }

    /// Entries whose checksums hold but whose order does not (a writer's
    /// fault) are refused as they are read.
    @Test func entriesOutOfOrderOrRepeatedAreRefused() throws {
        let path = uniqueTemporaryPath("order.counts")
        defer { remove(path) }
        for keys in [["b", "a"], ["a", "a"], ["ab", "a"]] {
            let writer = try CountFile.Writer(path: path)
            for key in keys { try Array(key.utf8).withUnsafeBufferPointer { try writer.add($0, count: 1) } }
            _ = try writer.finish(metadata: nil)
            #expect(throws: CountFileError.damaged(path: path, what: "pieces out of order or repeated")) {
                try PieceCounts(countFile: path)
            }
        }
    }

    /// A count file of format 1 (no checksums) is refused with one line saying to count again.
    @Test func anOlderFormatIsRefused() throws {
        let path = uniqueTemporaryPath("old.counts")
        defer { remove(path) }
        // Format 1: one entry ("a" once), the end, no metadata.
        try writeFileAtomically(path, Array("TOKC".utf8) + [1, 0, 0, 0, 1, 1, 0x61, 0, 0, 0, 0, 0] + Array("TOKC".utf8))
        #expect(throws: CountFileError.otherFormat(path: path, version: 1)) { try PieceCounts(countFile: path) }
        #expect(throws: CountFileError.otherFormat(path: path, version: 1)) { try CountFile.metadata(path: path) }
        #expect(CountFileError.otherFormat(path: path, version: 1).description
                == "\(path): a count file of format 1, which has no checksums: count it again with this tok")
    }

    /// Counting writes the side file first and the count file last: killed
    /// between the two renames, a new side file meets the old count file, and
    /// the pair is refused. A side file the count file does not record is not read.
    @Test func aSideFileFromAnotherRunIsRefused() throws {
        let old = try countFile("one two\n\nthree\n", name: "old.counts", documents: true)
        let new = try countFile("four five six\n\nseven\n", name: "new.counts", documents: true)
        let plain = try countFile("eight\n", name: "plain.counts")
        let merged = uniqueTemporaryPath("merged.counts")
        defer { remove(old, new, plain, merged) }
        #expect(try CountFile.documentFrequencies(of: old) == CountFile.documentsPath(old))
        let oldDocuments = try readFile(CountFile.documentsPath(old))
        // The old count file with the new run's side file.
        try writeFileAtomically(CountFile.documentsPath(old), try readFile(CountFile.documentsPath(new)))
        let mismatch = CountFileError.documentsMismatch(path: CountFile.documentsPath(old), countFile: old)
        #expect(throws: mismatch) { try CountFile.documentFrequencies(of: old) }
        #expect(throws: mismatch) { _ = try mergeCountFiles([old, new], output: merged) }
        #expect(!fileExists(merged) && !fileExists(CountFile.documentsPath(merged)))
        // Missing altogether: none, and a merge has none either.
        unlink(CountFile.documentsPath(old))
        #expect(try CountFile.documentFrequencies(of: old) == nil)
        #expect(try mergeCountFiles([old, new], output: merged).documentFrequencies == nil)
        unlink(merged)
        // Put back, the pair merges, and the merged file records its own side file.
        try writeFileAtomically(CountFile.documentsPath(old), oldDocuments)
        let both = try mergeCountFiles([old, new], output: merged)
        #expect(try CountFile.documentFrequencies(of: merged, metadata: both) == CountFile.documentsPath(merged))
        // A count file that recorded none ignores a stray side file.
        try writeFileAtomically(CountFile.documentsPath(plain), oldDocuments)
        #expect(try CountFile.documentFrequencies(of: plain) == nil)
        #expect(try mergeCountFiles([plain, new], output: merged).documentFrequencies == nil)
    }
}
