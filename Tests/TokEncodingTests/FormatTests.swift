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
        let back = try BinaryFormat.read(BinaryFormat.write(t), path: "x").tokenizer
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
        #expect(try BinaryFormat.load(path: path).tokenizer.encode(sample, allowedSpecial: .all) == t.encode(sample, allowedSpecial: .all))
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
            (#"{"pre_tokenizer": {"type": "BertPreTokenizer"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#, "BertPreTokenizer"),
            (#"{"pre_tokenizer": {"type": "Metaspace", "replacement": "_"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#, "Metaspace"),
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

    /// Base64 as tiktoken writes it decodes as Python does; anything else, on
    /// which decoders disagree (`5p=w=` is two bytes to Python), is refused.
    @Test func tiktokenBase64IsCanonicalOnly() throws {
        func decode(_ text: String) -> [UInt8]? { TiktokenFile.canonicalBase64(ArraySlice(text.utf8)) }
        #expect(decode("5pw=") == [0xE6, 0x9C])
        #expect(decode("IQ==") == [0x21])
        #expect(decode("IR==") == [0x21])  // unused low bits ignored, as Python does
        #expect(decode("aW5n") == Array("ing".utf8))
        #expect(decode("L2FjY3VtdWxhdG9y") == Array("/accumulator".utf8))
        for bad in ["5p=w=", "5p=w", "aW5=n", "I=Q==", "A===", "====", "aW5", "aW5n=", "aW-n", ""] {
            #expect(decode(bad) == nil, "\(bad)")
        }
        for k in 0 ..< 300 {  // every length of a group's tail, every byte
            let bytes = (0 ..< 1 + k % 6).map { UInt8(truncatingIfNeeded: k &* 37 &+ $0 &* 101) }
            #expect(decode(Data(bytes).base64EncodedString()) == bytes)
        }
        #expect(throws: (any Error).self) { try TiktokenFile.read(Array("YQ== 0\n5p=w= 1\n".utf8), path: "r.tiktoken") }
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
        #expect(try BinaryFormat.read(try readFile(dir + "/tokenizer.bin"), path: "bin").tokenizer.encode(sample) == t.encode(sample))
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

    @Test func fileChecksumEqualsTheBytesChecksum() throws {
        let path = uniqueTemporaryPath("checksum")
        defer { unlink(path) }
        var rng = SplitMix(state: 5)
        for size in [0, 1, 31, 32, 33, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, (1 << 20) + 100, 3 << 20] {
            let bytes = (0 ..< size).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
            try writeFileAtomically(path, bytes)
            #expect(try Checksum.ofFile(path) == Checksum.of(bytes), "\(size) bytes")
        }
    }

    /// The stamps lie outside the checksum: written in later, they leave the file valid.
    @Test func binaryStampsAreOutsideTheChecksum() throws {
        let t = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "tok")!)
        let source = BinarySource(json: 11, manifest: 22)
        var stamp = FileStamp()
        stamp.inode = 7
        stamp.changed = 9
        let bytes = BinaryFormat.write(t, source: source, stamps: [stamp, .none])
        #expect(BinaryFormat.write(t, source: source) != bytes)
        let loaded = try BinaryFormat.read(bytes, path: "x")
        #expect(loaded.source == source && loaded.stamps == [stamp, .none])
        // A flipped bit in the source is caught; one in the stamps only makes them differ.
        var damaged = bytes
        damaged[9] ^= 1
        #expect(throws: VocabularyError.self) { try BinaryFormat.read(damaged, path: "x") }
        damaged = bytes
        damaged[BinaryFormat.stampsOffset + 8] ^= 1
        #expect(try BinaryFormat.read(damaged, path: "x").stamps != [stamp, .none])
    }

    /// A fast form from another folder, or one restored beside another JSON,
    /// is never used: the vocabulary is the JSON's.
    @Test func fastFormOfAnotherJSONIsNotUsed() throws {
        let a = uniqueTemporaryPath("a"), b = uniqueTemporaryPath("b")
        defer { for d in [a, b] { try? FileManager.default.removeItem(atPath: d) } }
        let small = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "tok")!)
        let bytesOnly = Tokenizer(vocabulary: try Vocabulary.fromRanks((0 ..< 256).map { [UInt8($0)] }),
                                  preTokenizer: PreTokenizer(named: "tok")!)
        try VocabularyFolder.save(small, to: a, source: "test")
        try VocabularyFolder.save(bytesOnly, to: b, source: "test")
        let text = "the abc aaaa"
        #expect(small.encode(text) != bytesOnly.encode(text))
        // b's fast form in a, newer than a's JSON.
        try writeFileAtomically(a + "/tokenizer.bin", try readFile(b + "/tokenizer.bin"))
        #expect(try VocabularyFolder.load(a).encode(text) == small.encode(text))
        // Rewritten from a's JSON: it now loads as a's.
        #expect(try BinaryFormat.load(path: a + "/tokenizer.bin").tokenizer.encode(text) == small.encode(text))
        // b's JSON restored into a with its old time: a's fast form is newer, and not b's.
        try writeFileAtomically(a + "/tokenizer.json", try readFile(b + "/tokenizer.json"))
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, a + "/tokenizer.json", &times, 0) == 0)
        #expect(try VocabularyFolder.load(a).encode(text) == bytesOnly.encode(text))
        #expect(try VocabularyFolder.fingerprint(a) == VocabularyFolder.fingerprint(b))
    }

    /// Stamps equal to the files' let a load skip reading them; a file changed
    /// in place (same size, its time set back) has another stamp and is read.
    @Test func matchingStampsSkipTheChecksums() throws {
        let dir = uniqueTemporaryPath("stamps")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "tok")!)
        let other = Tokenizer(vocabulary: try Vocabulary.fromRanks((0 ..< 256).map { [UInt8($0)] }),
                              preTokenizer: PreTokenizer(named: "tok")!)
        try VocabularyFolder.save(t, to: dir, source: "test")
        let jsonPath = dir + "/tokenizer.json", binaryPath = dir + "/tokenizer.bin"
        // Written just now: no stamps yet (they would not be settled).
        #expect(try BinaryFormat.load(path: binaryPath).stamps == [.none, .none])
        let stamps = [FileStamp(path: jsonPath), FileStamp(path: dir + "/manifest.json")]
        BinaryFormat.writeStamps(stamps, path: binaryPath, binary: .none)  // not the file read: left alone
        #expect(try BinaryFormat.load(path: binaryPath).stamps == [.none, .none])
        BinaryFormat.writeStamps(stamps, path: binaryPath, binary: FileStamp(path: binaryPath))
        #expect(try BinaryFormat.load(path: binaryPath).stamps == stamps)
        // Another vocabulary's fast form stamped with this folder's files: taken on their word, unread.
        try writeFileAtomically(binaryPath, BinaryFormat.write(other, source: BinarySource(json: 0, manifest: 0), stamps: stamps))
        #expect(try VocabularyFolder.load(dir).encode(sample) == other.encode(sample))
        // The JSON rewritten in place with the same bytes and its time set back: only the status change differs.
        usleep(50_000)  // past the file system clock's tick
        let json = try readFile(jsonPath)
        let fd = open(jsonPath, O_WRONLY)
        #expect(json.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, 0) } == json.count)
        close(fd)
        let modified = timespec(tv_sec: Int(stamps[0].modified / 1_000_000_000), tv_nsec: Int(stamps[0].modified % 1_000_000_000))
        var times = [modified, modified]
        #expect(utimensat(AT_FDCWD, jsonPath, &times, 0) == 0)
        let now = FileStamp(path: jsonPath)
        #expect(now.inode == stamps[0].inode && now.size == stamps[0].size && now.modified == stamps[0].modified)
        #expect(now != stamps[0])
        #expect(try VocabularyFolder.load(dir).encode(sample) == t.encode(sample))
        #expect(try BinaryFormat.load(path: binaryPath).source.json == Checksum.of(json))
    }

    @Test func stampsSettleAfterTwoSeconds() {
        var stamp = FileStamp()
        #expect(stamp.isSettled)
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        stamp.changed = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
        #expect(!stamp.isSettled)
        stamp.changed -= UInt64(FileStamp.settled + 1) * 1_000_000_000
        #expect(stamp.isSettled)
    }

    @Test func folderWithoutJSONIsRefused() throws {
        let dir = uniqueTemporaryPath("nojson")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try VocabularyFolder.save(Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "tok")!),
                                  to: dir, source: "test")
        unlink(dir + "/tokenizer.json")
        #expect(throws: VocabularyError.notAVocabularyFolder(path: dir, reason: "no tokenizer.json")) {
            try VocabularyFolder.load(dir)
        }
    }

    /// Only a folder tok wrote (or an empty one) is replaced; anything else is refused and left as it was.
    @Test func foldersReplaceOnlyWhatTokMade() throws {
        let root = uniqueTemporaryPath("replace")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let t = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "tok")!)
        let files = FileManager.default
        // Missing folders above are created.
        try VocabularyFolder.save(t, to: root + "/deep/v", source: "test")
        try writeFileAtomically(root + "/deep/v/training.json", Array("{}".utf8))
        try files.createDirectory(atPath: root + "/deep/v/heldout", withIntermediateDirectories: false)
        try writeFileAtomically(root + "/deep/v/heldout/en.txt", Array("held out".utf8))
        try VocabularyFolder.save(t, to: root + "/deep/v", source: "again")
        #expect(Set(try files.contentsOfDirectory(atPath: root + "/deep/v")) == ["tokenizer.json", "manifest.json", "tokenizer.bin"])
        #expect(try files.contentsOfDirectory(atPath: root + "/deep") == ["v"])
        // An empty folder is taken.
        try files.createDirectory(atPath: root + "/empty", withIntermediateDirectories: false)
        try VocabularyFolder.save(t, to: root + "/empty", source: "test")
        #expect(fileExists(root + "/empty/tokenizer.json"))
        // Refused: a file, a folder with other files, a tok folder with a file added, a folder holding an input.
        try writeFileAtomically(root + "/file", Array("mine".utf8))
        try files.createDirectory(atPath: root + "/thesis/sub", withIntermediateDirectories: true)
        try writeFileAtomically(root + "/thesis/thesis.txt", Array("mine".utf8))
        try writeFileAtomically(root + "/deep/v/notes.txt", Array("mine".utf8))
        try files.createDirectory(atPath: root + "/corpus", withIntermediateDirectories: false)
        try writeFileAtomically(root + "/corpus/a.txt", Array("text".utf8))
        let cases: [(String, [String], String)] = [
            (root + "/file", [], "a file is there, not a vocabulary folder"),
            (root + "/thesis", [], "it holds sub, which tok did not write"),
            (root + "/deep/v", [], "it holds notes.txt, which tok did not write"),
            (root + "/corpus", [root + "/corpus/a.txt"], "it holds the input " + root + "/corpus/a.txt"),
            (root + "/corpus", [root + "/corpus"], "it is the input " + root + "/corpus"),
            (root + "/empty", [root + "/empty/tokenizer.json"], "it holds the input " + root + "/empty/tokenizer.json"),
        ]
        for (path, inputs, reason) in cases {
            let before = try snapshot(root)
            #expect(throws: FileError.notReplaced(path: path, reason: reason)) {
                try VocabularyFolder.save(t, to: path, source: "test", protecting: inputs)
            }
            #expect(try snapshot(root) == before, "\(path)")
        }
        // A link to a vocabulary folder: the folder is replaced, the link kept.
        #expect(symlink(root + "/empty", root + "/link") == 0)
        try VocabularyFolder.save(t, to: root + "/link", source: "through the link")
        var st = stat()
        #expect(lstat(root + "/link", &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK)
        #expect(try VocabularyFolder.readManifest(root + "/empty")?.source == "through the link")
    }

    /// Every file under `root` with its bytes, and every folder.
    func snapshot(_ root: String) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for case let name as String in FileManager.default.enumerator(atPath: root)! {
            out[name] = isDirectory(root + "/" + name) ? [] : try readFile(root + "/" + name)
        }
        return out
    }

    /// One rule for every output file: folders created, links followed, the mode kept.
    @Test func atomicFileFollowsLinksKeepsModesAndCreatesFolders() throws {
        let root = uniqueTemporaryPath("outputs")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try writeFileAtomically(root + "/a/b/out.txt", Array("one".utf8))
        #expect(try readFile(root + "/a/b/out.txt") == Array("one".utf8))
        chmod(root + "/a/b/out.txt", 0o600)
        #expect(symlink("b/out.txt", root + "/a/link") == 0)
        try writeFileAtomically(root + "/a/link", Array("two".utf8))
        var st = stat()
        #expect(lstat(root + "/a/link", &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK)
        #expect(try readFile(root + "/a/b/out.txt") == Array("two".utf8))
        #expect(stat(root + "/a/b/out.txt", &st) == 0 && st.st_mode & 0o777 == 0o600)
        // A file dropped uncommitted takes the folders it created with it, and no others.
        do {
            let f = try AtomicFile(root + "/x/y/z.txt")
            try f.write(Array("partial".utf8))
        }
        #expect(!fileExists(root + "/x"))
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: root + "/a/b")) == ["out.txt"])
    }
}
