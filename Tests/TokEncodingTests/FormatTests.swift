import Foundation
import Testing
@testable import TokEncoding

struct FormatTests {
    let sample = "The quick brown fox, 中文混合 text; x = 42\n\tinding the abc aaaa <|end|>"

    @Test func byteLevelTableIsABijection() {
        let all = (0 ..< 256).map { UInt8($0) }
        #expect(ByteLevel.decode(ByteLevel.encode(all)) == all)
        #expect(Set(ByteLevel.scalarForByte).count == 256)
        #expect(ByteLevel.encode([0x20]) == "Ġ")
    }

    @Test func binaryFormRoundTrips() throws {
        let t = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "deepseek-v3")!)
        let back = try BinaryFormat.read(BinaryFormat.write(t), path: "x")
        #expect(back.preTokenizer == t.preTokenizer)
        #expect(back.encode(sample, allowedSpecial: .all) == t.encode(sample, allowedSpecial: .all))
        #expect(back.vocabulary.specialTokens == t.vocabulary.specialTokens)
        var damaged = BinaryFormat.write(t)
        damaged.removeLast(100)
        #expect(throws: VocabularyError.self) { try BinaryFormat.read(damaged, path: "x") }
    }

    @Test func huggingFaceJSONRoundTrips() throws {
        let t = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "cl100k")!)
        let back = try HuggingFaceJSON.read(HuggingFaceJSON.write(t), path: "x")
        #expect(back.preTokenizer == t.preTokenizer)
        #expect(back.encode(sample, allowedSpecial: .all) == t.encode(sample, allowedSpecial: .all))
        #expect(HuggingFaceJSON.write(back) == HuggingFaceJSON.write(t) || back.vocabulary.mergeOrder != t.vocabulary.mergeOrder)
    }

    @Test func huggingFaceJSONNamesWhatIsUnsupported() {
        let cases = [
            (#"{"model": {"type": "Unigram"}}"#, "Unigram"),
            (#"{"model": {"type": "BPE", "byte_fallback": true, "vocab": {}}}"#, "byte_fallback"),
            (#"{"normalizer": {"type": "Lowercase"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#, "Lowercase"),
            ("not json", "not valid JSON"),
        ]
        for (json, word) in cases {
            do {
                _ = try HuggingFaceJSON.read(Array(json.utf8), path: "t.json")
                Issue.record("accepted \(json)")
            } catch {
                #expect("\(error)".contains(word), "\(error)")
                #expect("\(error)".hasPrefix("t.json"))
            }
        }
    }

    @Test func tiktokenFileRoundTripsAndReportsLines() throws {
        let v = try smallVocabulary()
        let tokens = try TiktokenFile.read(TiktokenFile.write(v), path: "r")
        #expect(tokens.count == v.count)
        #expect(tokens[257] == Array("abc".utf8))
        do {
            _ = try TiktokenFile.read(Array("YQ== 0\nnot-base64!\n".utf8), path: "r.tiktoken")
            Issue.record("accepted a bad line")
        } catch {
            #expect("\(error)".hasPrefix("r.tiktoken:2:"))
        }
    }

    @Test func folderSavesAndLoadsBothForms() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-test-\(UInt32.random(in: 0 ... .max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "tok")!)
        try VocabularyFolder.save(t, to: dir, source: "test")
        #expect(try VocabularyFolder.load(dir).encode(sample) == t.encode(sample))
        let manifest = try #require(try VocabularyFolder.readManifest(dir))
        #expect(manifest.pattern == "tok" && manifest.mergeOrder == "ranks" && manifest.size == t.vocabulary.idLimit)
        // Without the fast form, the JSON is read and the ranks re-derived.
        try FileManager.default.removeItem(atPath: dir + "/tokenizer.bin")
        let fromJSON = try VocabularyFolder.load(dir)
        #expect(fromJSON.vocabulary.mergeOrder == .ranks)
        #expect(fromJSON.encode(sample) == t.encode(sample))
        #expect(fileExists(dir + "/tokenizer.bin"))
    }

    @Test func atomicFileLeavesNothingWhenNotCommitted() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tok-atomic-\(UInt32.random(in: 0 ... .max))").path
        do {
            let f = try AtomicFile(path)
            try f.write(Array("partial".utf8))
        }
        #expect(!fileExists(path))
        let f = try AtomicFile(path)
        try f.write(Array("whole".utf8))
        try f.commit()
        #expect(try readFile(path) == Array("whole".utf8))
        try FileManager.default.removeItem(atPath: path)
    }
}
