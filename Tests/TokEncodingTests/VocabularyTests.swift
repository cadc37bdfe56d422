import Testing
@testable import TokEncoding
import TokRuntime

struct VocabularyTests {
    @Test func mergesByLowestRankLeftmostFirst() throws {
        let v = try smallVocabulary()
        let t = Tokenizer(vocabulary: v, preTokenizer: PreTokenizer(named: "o200k")!)
        let ab = try #require(v.id(of: Array("ab".utf8)))
        let abc = try #require(v.id(of: Array("abc".utf8)))
        let aa = try #require(v.id(of: Array("aa".utf8)))
        #expect(t.encode("abc") == [abc])
        #expect(t.encode("abcab") == [abc, ab])
        // "aaa": the leftmost "aa" merges first.
        #expect(t.encode("aaa") == [aa, UInt32(UInt8(ascii: "a"))])
        #expect(t.encode("aaaaaaaaa") == [v.id(of: Array("aaaa".utf8))!, v.id(of: Array("aaaa".utf8))!, 97])
    }

    @Test func pairFilterHoldsEveryPairAndPassesFewOthers() {
        var rng = SplitMix(state: 7)
        var table = PairTable(minimumCapacity: 50_000)
        var present = Set<UInt64>()
        while present.count < 50_000 {
            let left = UInt32.random(in: 0 ..< 200_000, using: &rng), right = UInt32.random(in: 0 ..< 200_000, using: &rng)
            table.insert(left: left, right: right, rank: UInt32(present.count), result: 0)
            present.insert(UInt64(left) << 32 | UInt64(right))
        }
        let words = table.keys.withUnsafeBufferPointer { PairFilter.make(keys: $0, pairs: table.count) }
        let shift = UInt64(64 - words.count.trailingZeroBitCount)
        words.withUnsafeBufferPointer { w in
            #expect(present.allSatisfy { PairFilter.mayHold($0, words: w.baseAddress!, shift: shift) })
            var passed = 0, absent = 0
            while absent < 100_000 {
                let key = UInt64.random(in: 0 ..< 200_000, using: &rng) << 32 | UInt64.random(in: 0 ..< 200_000, using: &rng)
                if present.contains(key) { continue }
                absent += 1
                if PairFilter.mayHold(key, words: w.baseAddress!, shift: shift) { passed += 1 }
            }
            // About seven keys a word, two bits each: about 4% pass.
            #expect(passed < 8_000)
        }
    }

    @Test func bothKernelsGiveTheIdsOfNaiveMerging() throws {
        // Pieces of every length up to past the scan's limit, from an alphabet whose
        // bytes merge in chains and overlaps ("aaaa", " the", the bytes of 中).
        let v = try smallVocabulary()
        var rng = SplitMix(state: 1)
        let alphabet = Array("abc ahe中ing".utf8)
        for n in Array(2 ... 40) + (0 ..< 60).map({ _ in Int.random(in: 41 ... 400, using: &rng) }) {
            let piece = (0 ..< n).map { _ in alphabet.randomElement(using: &rng)! }
            let expected = naiveBytePairMerge(piece, v)
            var scratch = BytePairScratch()
            var byScan = ContiguousArray<UInt32>(), byTree = ContiguousArray<UInt32>(), byDispatch = ContiguousArray<UInt32>()
            piece.withUnsafeBufferPointer { p in
                withExtendedLifetime(v) {
                    v.tables.mergeByScan(p, scratch: &scratch, into: &byScan)
                    v.tables.mergeByTree(p, scratch: &scratch, into: &byTree)
                    v.tables.mergeBytePairs(p, scratch: &scratch, into: &byDispatch)
                }
            }
            #expect(Array(byScan) == expected, "scan, piece of \(n) bytes")
            #expect(Array(byTree) == expected, "tree, piece of \(n) bytes")
            #expect(Array(byDispatch) == expected, "piece of \(n) bytes")
        }
    }

    @Test func treeAgreesWithScanOnLongPieces() throws {
        // Long pieces against the scan (quadratic, so a few only).
        let v = try smallVocabulary()
        var rng = SplitMix(state: 4)
        let alphabet = Array("abc ahe中ing".utf8)
        for n in [4097, 8192 + 7, 12_000] {
            let piece = (0 ..< n).map { _ in alphabet.randomElement(using: &rng)! }
            var scratch = BytePairScratch()
            var byScan = ContiguousArray<UInt32>(), byTree = ContiguousArray<UInt32>()
            piece.withUnsafeBufferPointer { p in
                withExtendedLifetime(v) {
                    v.tables.mergeByScan(p, scratch: &scratch, into: &byScan)
                    v.tables.mergeByTree(p, scratch: &scratch, into: &byTree)
                }
            }
            #expect(byScan == byTree, "piece of \(n) bytes")
        }
    }

    @Test func aGiantPieceMergesInBuffersGivenBackAfterIt() throws {
        // A 3 MB piece of one Han character: the tree path, in buffers of its own
        // (a piece of 1 MiB or more), which the scratch does not keep afterwards.
        let v = try smallVocabulary()
        let piece = Array(String(repeating: "中", count: 1 << 20).utf8)
        var scratch = BytePairScratch()
        var ids = ContiguousArray<UInt32>()
        piece.withUnsafeBufferPointer { p in withExtendedLifetime(v) { v.tables.mergeBytePairs(p, scratch: &scratch, into: &ids) } }
        #expect(ids == ContiguousArray(repeating: v.id(of: Array("中".utf8))!, count: 1 << 20))
        let held = scratch.ids.capacity * 4 + scratch.leafRanks.capacity * 4 + scratch.winners.capacity * 8 + scratch.ranks.capacity * 8
        #expect(held < piece.count / 8, "\(held) bytes of scratch kept after a \(piece.count)-byte piece")
    }

    @Test func longSingleByteRunMergesLeftmostIntoTheLongestToken() throws {
        // A run of one byte is one piece; "a", "aa" and "aaaa" are tokens, so
        // leftmost-first merging gives "aaaa" tokens and then the remainder's
        // "aa" and "a". Short runs are checked against naive merging, 1 MB runs
        // (the tree kernel) against that rule.
        let v = try smallVocabulary()
        let t = Tokenizer(vocabulary: v, preTokenizer: PreTokenizer(named: "o200k")!)
        let a = try #require(v.id(of: [97])), aa = try #require(v.id(of: [97, 97]))
        let aaaa = try #require(v.id(of: [97, 97, 97, 97]))
        func encode(_ n: Int) -> [UInt32] {
            [UInt8](repeating: 97, count: n).withUnsafeBufferPointer { Array(t.encode(bytes: $0)) }
        }
        for n in Array(1 ... 140) + [255, 256, 257, 1001] {
            #expect(encode(n) == naiveBytePairMerge([UInt8](repeating: 97, count: n), v), "a run of \(n) bytes")
        }
        for (remainder, tail) in [(0, []), (3, [aa, a])] as [(Int, [UInt32])] {
            let n = (1 << 20) + remainder
            #expect(encode(n) == [UInt32](repeating: aaaa, count: 1 << 18) + tail, "a run of \(n) bytes")
        }
    }

    @Test func rejectsBrokenVocabularies() {
        var tokens = (0 ..< 256).map { [UInt8($0)] }
        #expect(throws: VocabularyError.self) { try Vocabulary.fromRanks(tokens + [[97]]) }  // repeats a byte
        #expect(throws: VocabularyError.self) { try Vocabulary.fromRanks(Array(tokens.dropLast())) }  // byte 255 missing
        tokens.append(Array("abc".utf8))  // "abc" with no "ab" or "bc": merges never reach it
        #expect(throws: VocabularyError.self) { try Vocabulary.fromRanks(tokens) }
    }

    @Test func specialTokensOnlyWhenAllowed() throws {
        let v = try smallVocabulary()
        let t = Tokenizer(vocabulary: v, preTokenizer: PreTokenizer(named: "tok")!)
        let end = v.specialTokens[0].id
        #expect(!t.encode("x<|end|>y").contains(end))
        #expect(t.encode("x<|end|>y", allowedSpecial: .all).contains(end))
        #expect(try t.decode(t.encode("x<|end|>y", allowedSpecial: .all)) == Array("x<|end|>y".utf8))
    }

    @Test func randomBytesRoundTrip() throws {
        let v = try smallVocabulary()
        var rng = SplitMix(state: 2)
        for name in PreTokenizer.named.keys.sorted() {
            let t = Tokenizer(vocabulary: v, preTokenizer: PreTokenizer(named: name)!)
            for _ in 0 ..< 50 {
                let bytes = (0 ..< Int.random(in: 0 ... 300, using: &rng)).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
                let ids = bytes.withUnsafeBufferPointer { t.encode(bytes: $0) }
                #expect(try t.decode(ids) == bytes)
            }
        }
    }

    @Test func decodeRejectsUnknownIds() throws {
        let t = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "tok")!)
        #expect(throws: DecodeError.self) { try t.decode([1, 2, 99999]) }
    }

    @Test func specialTokensAreCheckedAgainstTheRanks() throws {
        let bytes = (0 ..< 256).map { [UInt8($0)] }
        func make(_ specials: [SpecialToken]) throws -> Vocabulary { try Vocabulary.fromRanks(bytes, specialTokens: specials) }
        #expect(throws: SpecialTokenError.collision(content: "<e>", id: 97, token: [97])) {
            try make([SpecialToken(id: 97, content: "<e>")])
        }
        #expect(throws: SpecialTokenError.repeatedContent(content: "<a>", ids: [256, 257])) {
            try make([SpecialToken(id: 256, content: "<a>"), SpecialToken(id: 257, content: "<a>")])
        }
        #expect(throws: SpecialTokenError.repeatedId(id: 256, contents: ["<a>", "<b>"])) {
            try make([SpecialToken(id: 256, content: "<a>"), SpecialToken(id: 256, content: "<b>")])
        }
        #expect(throws: SpecialTokenError.empty(id: 256)) { try make([SpecialToken(id: 256, content: "")]) }
        #expect(throws: SpecialTokenError.idTooLarge(content: "<far>", id: 10_000_000, limit: 256 + 1 + 1024, tokenCount: 256)) {
            try make([SpecialToken(id: 10_000_000, content: "<far>")])
        }
        // The last id allowed, leaving 1,024 unused.
        #expect(try make([SpecialToken(id: 256 + 1024, content: "<far>")]).idLimit == 256 + 1025)
        // Texts before they have ids, as train and build take them.
        #expect(throws: SpecialTokenError.repeatedContent(content: "<a>", ids: nil)) { try SpecialToken.checkContents(["<a>", "<b>", "<a>"]) }
        #expect("\(SpecialTokenError.repeatedContent(content: "<a>", ids: nil))" == #"special token "<a>" appears twice"#)
    }

    @Test func allowedSpecialNamesOnlyTheVocabularysTokens() throws {
        let v = try smallVocabulary()
        try AllowedSpecial.only(["<|end|>"]).check(against: v)
        try AllowedSpecial.all.check(against: v)
        #expect(throws: SpecialTokenError.unknown(names: ["<|nope|>"], known: ["<|end|>"])) {
            try AllowedSpecial.only(["<|end|>", "<|nope|>"]).check(against: v)
        }
    }

    /// tokenizers gives an added token the id after the vocab and the added tokens
    /// before it, whatever the file says: tok takes a file only where the two agree.
    @Test func addedTokensTakeTheIdsTokenizersGivesThem() throws {
        let bytes = (0 ..< 256).map { "\(HuggingFaceJSON.jsonString(ByteLevel.encode([UInt8($0)]))): \($0)" }
        func file(_ added: String, entries: String = "\"xy\": 256") -> [UInt8] {
            Array(("{\"added_tokens\": [\(added)], \"pre_tokenizer\": {\"type\": \"ByteLevel\"}, "
                + "\"model\": {\"type\": \"BPE\", \"vocab\": {\(bytes.joined(separator: ", ")), \(entries)}, \"merges\": []}}").utf8)
        }
        func token(_ id: Int, _ content: String) -> String { "{\"id\": \(id), \"content\": \"\(content)\"}" }
        let good = try HuggingFaceJSON.read(file(token(257, "<a>") + ", " + token(256, "xy") + ", " + token(258, "<b>")), path: "t.json")
        #expect(good.vocabulary.specialTokens.map(\.id) == [257, 256, 258])
        let refused: [(String, String?, String)] = [
            (token(97, "<e>"), nil, "added token \"<e>\" has id 97, but tokenizers gives it 257"),
            (token(258, "<e>"), nil, "added token \"<e>\" has id 258, but tokenizers gives it 257"),
            (token(-1, "<e>"), nil, "added token \"<e>\" has id -1, but tokenizers gives it 257"),
            (token(257, "<a>") + ", " + token(258, "<a>"), nil, "added token \"<a>\" appears twice (ids 257 and 258)"),
            (token(257, ""), nil, "added token 257 is empty"),
            // A gap in the vocab: the next id after its 257 entries is the entry at 257.
            (token(257, "<e>"), "\"xy\": 257", "added token \"<e>\" has id 257, which is the vocab entry \"xy\""),
            ("", "\"xy\": 256, \"far\": 10000000", "vocab entry \"far\" has id 10000000: the 258 entries' ids must be below 1282"),
        ]
        for (added, entries, message) in refused {
            do {
                _ = try HuggingFaceJSON.read(entries.map { file(added, entries: $0) } ?? file(added), path: "t.json")
                Issue.record("accepted \(added)")
            } catch {
                #expect("\(error)".hasPrefix("t.json: " + message), "\(error)")
            }
        }
    }

    /// An id no token has (a gap in a HuggingFace vocab) is an error, not nothing.
    @Test func decodeRejectsIdsInAGap() throws {
        var tokens: [[UInt8]?] = (0 ..< 256).map { [UInt8($0)] }
        tokens.append(nil)
        tokens.append(Array("xy".utf8))
        let v = try Vocabulary.fromMerges(tokens: tokens, mergeable: tokens.map { $0 != nil && $0!.count == 1 },
                                          merges: [], ignoreMerges: false)
        let t = Tokenizer(vocabulary: v, preTokenizer: PreTokenizer(named: "tok")!)
        #expect(try t.decode([257]) == Array("xy".utf8))
        #expect(throws: DecodeError.self) { try t.decode([97, 256]) }
    }
}
