import Foundation
import Testing
@testable import TokEncoding
import TokRuntime

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
        var truncated = BinaryFormat.write(t)
        truncated.removeLast(100)
        #expect(throws: VocabularyError.self) { try BinaryFormat.read(truncated, path: "x") }
        // One flipped bit anywhere is caught by the checksum.
        let whole = BinaryFormat.write(t)
        for position in stride(from: 0, to: whole.count, by: max(1, whole.count / 97)) {
            var damaged = whole
            damaged[position] ^= 0x10
            do {
                _ = try BinaryFormat.read(damaged, path: "x")
                Issue.record("a flipped bit at \(position) was not detected")
            } catch VocabularyError.corrupt(path: "x", reason: _) {
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    /// The fingerprint that datasets record to resume (``VocabularyFolder/fingerprint(_:)``)
    /// must stay the same from version to version; `tokenizer.bin` has a checksum of its own.
    @Test func fingerprintChecksumIsPinned() {
        let bytes = Array([[UInt8]](repeating: Array(0 ... 255), count: 3).joined()) + Array("tok".utf8)
        #expect(Checksum.of(bytes) == 0xB850_1256_B384_996B)
        #expect(TableChecksum.of(bytes) != Checksum.of(bytes))
    }

    @Test func tablesThatPassTheChecksumButPointOutsideAreRefused() throws {
        // A file written wrong (not damaged after): each index the kernel follows
        // unchecked, pushed out of range in turn, must fail the structural checks.
        let good = try smallVocabulary().storage
        let count = good.elements(of: .tokenOffsets, as: UInt32.self).count - 1
        func damaged(_ change: (TableStorage) -> Void) -> TableStorage {
            let copy = TableStorage(counts: Dictionary(uniqueKeysWithValues: TableID.allCases.map {
                ($0, good.bytes(of: $0).count / $0.elementSize)
            }), resultIsRank: good.view.resultIsRank) { id, memory in memory.copyMemory(from: good.bytes(of: id)) }
            change(copy)
            return copy
        }
        func mutable<T: FixedWidthInteger>(_ s: TableStorage, _ id: TableID, _: T.Type) -> UnsafeMutablePointer<T> {
            UnsafeMutablePointer(mutating: s.elements(of: id, as: T.self).baseAddress!)
        }
        let reader = BinaryFormat.Reader(data: UnsafeRawBufferPointer(start: nil, count: 0), path: "x")
        try BinaryFormat.check(damaged { _ in }, reader)
        let slots = good.elements(of: .lookupSlots, as: UInt64.self)
        let usedSlot = try #require(slots.firstIndex { $0 != 0 })
        let pairs = good.elements(of: .pairSlots, as: UInt64.self)
        let usedPair = try #require(pairs.firstIndex { $0 != PackedPairs.empty })
        let cases: [(String, (TableStorage) -> Void)] = [
            ("offsets out of order", { mutable($0, .tokenOffsets, UInt32.self)[1] = 1_000_000 }),
            ("a slot past the last token", { mutable($0, .lookupSlots, UInt64.self)[usedSlot] = UInt64(count + 1) }),
            ("a rank past the last merge", { mutable($0, .pairSlots, UInt64.self)[usedPair] |= 0x3F_FFFF }),
            ("a byte token past the last", { mutable($0, .byteTokens, UInt32.self)[7] = UInt32(count) }),
        ]
        for (what, change) in cases {
            #expect(throws: VocabularyError.self, "\(what)") { try BinaryFormat.check(damaged(change), reader) }
        }
    }

    @Test func binaryFileLoadsAsItsBytesRead() throws {
        let t = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "cl100k")!)
        let path = NSTemporaryDirectory() + "tok-format-\(getpid()).bin"
        defer { unlink(path) }
        let bytes = BinaryFormat.write(t)
        try writeFileAtomically(path, bytes)
        #expect(try BinaryFormat.load(path: path).encode(sample, allowedSpecial: .all) == t.encode(sample, allowedSpecial: .all))
        try writeFileAtomically(path, Array(bytes.dropLast(3)))
        #expect(throws: VocabularyError.self) { try BinaryFormat.load(path: path) }
        try writeFileAtomically(path, [])
        #expect(throws: VocabularyError.self) { try BinaryFormat.load(path: path) }
    }

    @Test func huggingFaceJSONRoundTrips() throws {
        let t = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "cl100k")!)
        let back = try HuggingFaceJSON.read(HuggingFaceJSON.write(t), path: "x")
        #expect(back.preTokenizer == t.preTokenizer)
        #expect(back.encode(sample, allowedSpecial: .all) == t.encode(sample, allowedSpecial: .all))
        #expect(HuggingFaceJSON.write(back) == HuggingFaceJSON.write(t))
    }

    @Test func huggingFaceJSONNamesWhatIsUnsupported() {
        let cases = [
            (#"{"model": {"type": "Unigram"}}"#, "Unigram"),
            (#"{"model": {"type": "BPE", "byte_fallback": true, "vocab": {}}}"#, "byte_fallback"),
            (#"{"normalizer": {"type": "BertNormalizer"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#, "BertNormalizer"),
            (#"{"pre_tokenizer": {"type": "Metaspace"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#, "Metaspace"),
            (#"{"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(?<=a)"}, "behavior": "Isolated"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#, "lookbehind"),
            (#"{"post_processor": {"type": "Custom"}, "pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#, "Custom"),
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
        let dir = uniqueTemporaryPath("folder")
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
        // A damaged fast form is detected and never used: the JSON is read and the fast form rewritten.
        var binary = try readFile(dir + "/tokenizer.bin")
        binary[binary.count / 2] ^= 0xFF
        try writeFileAtomically(dir + "/tokenizer.bin", binary)
        #expect(try VocabularyFolder.load(dir).encode(sample) == t.encode(sample))
        #expect(try BinaryFormat.read(try readFile(dir + "/tokenizer.bin"), path: "bin").encode(sample) == t.encode(sample))
    }

    @Test func atomicFileLeavesNothingWhenNotCommitted() throws {
        let path = uniqueTemporaryPath("atomic")
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
    @Test func staleTemporariesOfDeadProcessesAreRemovedAndNoOthers() throws {
        let folder = uniqueTemporaryPath("stale")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let dead = "out.bin.tmp-999999999-1"  // above any pid_max: no such process
        let kept = [
            "out.bin.tmp-1-2",  // pid 1 lives
            "out.bin.tmp-\(getpid())-3",  // this process
            "out.bin.tmp-99999999999-4",  // past Int32: names no process, kept
            "out.bin.tmp-x",  // no number
            "other.bin.tmp-999999999-5",  // another output's
            "out.bin",
        ]
        for name in [dead] + kept { try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/" + name)) }
        try FileManager.default.createDirectory(atPath: folder + "/out.bin.tmp-999999998-6", withIntermediateDirectories: false)
        let removed = TemporaryPaths.removeStale(besides: folder + "/out.bin")
        #expect(Set(removed) == [folder + "/" + dead, folder + "/out.bin.tmp-999999998-6"])
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: folder)) == Set(kept))
        // The folder was listed once: another output's temporaries come from that listing.
        #expect(TemporaryPaths.removeStale(besides: folder + "/other.bin") == [folder + "/other.bin.tmp-999999999-5"])
        #expect(TemporaryPaths.removeStale(besides: folder + "/out.bin").isEmpty)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: folder)) == Set(kept).subtracting(["other.bin.tmp-999999999-5"]))
    }
}
