import Foundation
import Testing
import TokCorpus
@testable import TokCounts
import TokEncoding
import TokRuntime

/// Count files are refused, never read wrong: damage anywhere, entries out of
/// order, an older format, held-out text from another run.
struct CountFileIntegrityTests {
    let tok = PreTokenizer(named: "tok")!

    /// Counts `text` into a new count file.
    func countFile(_ text: String, name: String = "c.counts") throws -> String {
        let input = uniqueTemporaryPath("in.txt"), output = uniqueTemporaryPath(name)
        defer { unlink(input) }
        try writeFileAtomically(input, Array(text.utf8))
        let options = CountingOptions(preTokenizer: tok, threads: 1, memoryBudget: 1 << 24)
        _ = try countPieces(files: [CorpusFile(path: input)], domain: "x", options: options, output: output)
        return output
    }

    func remove(_ paths: String...) {
        for p in paths { unlink(p); unlink(CountFile.heldOutPath(p)) }
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

    /// Metadata with a key this tok does not know (a field an older tok wrote)
    /// reads as the same metadata: such a key is ignored, not refused.
    @Test func anUnknownMetadataKeyIsIgnored() throws {
        let path = try countFile("one two\n\nthree\n")
        defer { remove(path) }
        let metadata = try CountFile.metadata(path: path)
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(metadata)) as! [String: Any]
        object["documentFrequencies"] = ["bytes": 120, "checksum": "0123456789abcdef"]
        let json = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        #expect(try JSONDecoder().decode(CountMetadata.self, from: json) == metadata)
    }
}
