import Foundation
import Testing
@testable import TokEncoding
import TokRuntime

struct ParallelTests {
    @Test func parallelAndStreamedEncodingEqualOneThread() throws {
        let t = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "cl100k")!)
        var rng = SplitMix(state: 3)
        let words = ["the", "ing", "中文", "  ", "\n", "\n\n", " \n", "x", "42", ";", "\t", "é", "\u{3000}", " ", "'s", "A"]
        var text: [UInt8] = []
        while text.count < 600_000 { text += Array(words.randomElement(using: &rng)!.utf8) }
        let whole = text.withUnsafeBufferPointer { t.encode(bytes: $0) }
        for threads in [2, 3, 8] {
            #expect(text.withUnsafeBufferPointer { t.encodeInParallel($0, threads: threads) } == whole)
        }
        // Blocks far smaller than the text: many in flight, taken by workers out of order.
        for threads in [1, 2, 3] {
            var streamed = ContiguousArray<UInt32>()
            var emittedBytes = 0
            var offset = 0
            try t.encodeStream(blockSize: 10_000, chunkSize: 10_000, threads: threads, read: { buffer, n in
                let end = min(offset + n, text.count)
                buffer += text[offset ..< end]
                defer { offset = end }
                return end > offset
            }, emit: { ids, bytes in
                #expect(Array(bytes) == Array(text[emittedBytes ..< emittedBytes + bytes.count]))
                emittedBytes += bytes.count
                streamed += ids
            })
            #expect(streamed == whole, "\(threads) threads")
            #expect(emittedBytes == text.count)
        }
    }

    /// Added tokens that a cut could split (a space or a newline inside, or
    /// the white space beside a match taken in) are found whole in every
    /// block and part: streamed and parallel ids equal the whole text's.
    @Test func noCutSplitsAnAddedToken() throws {
        let base = try smallVocabulary()
        var specials = base.specialTokens
        let next = specials.map(\.id).max()! + 1
        specials += [SpecialToken(id: next, content: "a b"), SpecialToken(id: next + 1, content: "x\ny"),
                     SpecialToken(id: next + 2, content: "Lq", special: false, lstrip: true),
                     SpecialToken(id: next + 3, content: "Rq", special: false, rstrip: true)]
        let vocabulary = try Vocabulary.fromRanks((0 ..< 256).map { [UInt8($0)] }, specialTokens: specials)
        let t = Tokenizer(vocabulary: vocabulary, preTokenizer: PreTokenizer(named: "cl100k")!)
        #expect(t.tokensKeptWhole.tokens.count == 4)
        var rng = SplitMix(state: 11)
        let words = ["a", " b", "a b", "x", "\ny", "x\ny", "\nLq", " Lq", "Rq", " b", "\nthe", "z", " ", "\n"]
        var text: [UInt8] = []
        while text.count < 120_000 { text += Array(words.randomElement(using: &rng)!.utf8) }
        let whole = text.withUnsafeBufferPointer { t.encode(bytes: $0, allowedSpecial: .all) }
        #expect(whole.contains(next) && whole.contains(next + 1) && whole.contains(next + 2) && whole.contains(next + 3))
        for threads in [2, 5] {
            #expect(text.withUnsafeBufferPointer { t.encodeInParallel($0, threads: threads, allowedSpecial: .all) } == whole)
        }
        for (threads, block) in [(1, 1_000), (1, 4_096), (3, 2_000)] {
            var streamed = ContiguousArray<UInt32>()
            var offset = 0
            try t.encodeStream(blockSize: block, chunkSize: block, threads: threads, allowedSpecial: .all, read: { buffer, n in
                let end = min(offset + n, text.count)
                buffer += text[offset ..< end]
                defer { offset = end }
                return end > offset
            }, emit: { ids, _ in streamed += ids })
            #expect(streamed == whole, "\(threads) threads, blocks of \(block)")
        }
    }

    /// Every way of encoding on several threads gives one thread's ids, on
    /// real text of each domain: parts of one text (``Tokenizer/encodeInParallel(_:threads:allowedSpecial:)``),
    /// a stream's blocks, and units encoded alone by pipeline workers with
    /// scratches of their own (lines, as `tok encode --lines` does, and
    /// documents, as a dataset does), all through the tokenizer's one piece cache.
    @Test func everyParallelPathGivesOneThreadsIds() throws {
        let vocabulary = try smallVocabulary()
        for (label, text) in ParallelTests.propertyTexts() {
            try ParallelTests.expectEveryParallelPathGivesOneThreadsIds(
                text, label, Tokenizer(vocabulary: vocabulary, preTokenizer: PreTokenizer(named: "o200k")!))
        }
    }

    /// The same with a tiny piece cache (4 and 64 entries: the workers
    /// overwrite each other's entries all the time, and their long-piece
    /// caches of 4 slots empty themselves as often) on text whose pieces repeat.
    @Test func everyParallelPathGivesOneThreadsIdsThroughATinyPieceCache() throws {
        let base = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "cl100k")!)
        let text = PieceCacheTests.repetitiveText(bytes: 200_000)
        for entries in [4, 64] {
            try ParallelTests.expectEveryParallelPathGivesOneThreadsIds(
                text, "\(entries) entries", base.withPieceCache(entries: entries))
        }
    }

    /// Expects `t` on three threads to give one thread's ids on `text`, by
    /// each path: parts, a stream, and lines and documents encoded alone.
    static func expectEveryParallelPathGivesOneThreadsIds(_ text: [UInt8], _ label: String, _ t: Tokenizer) throws {
        let one = t.withPieceCache(entries: 0)  // one thread, no caches at all
        let whole = text.withUnsafeBufferPointer { one.encode(bytes: $0) }
        let parts = text.withUnsafeBufferPointer { t.encodeInParallel($0, threads: 3) }
        #expect(firstDifference(parts, whole) == nil, "\(label): parts")
        let streamed = try ParallelTests.stream(text, tokenizer: t, chunkSize: 8_192, threads: 3)
        #expect(firstDifference(streamed, whole) == nil, "\(label): stream")
        let lines = text.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        let documents = stride(from: 0, to: text.count, by: 5_000).map { Array(text[$0 ..< min($0 + 5_000, text.count)]) }
        for (kind, units) in [("lines", lines), ("documents", documents)] {
            let alone = units.map { u in u.withUnsafeBufferPointer { one.encode(bytes: $0) } }
            let ids = try ParallelTests.encodeAlone(units, tokenizer: t, threads: 3)
            let wrong = units.indices.filter { ids[$0] != alone[$0] }
            #expect(wrong.isEmpty, "\(label): \(kind) \(wrong.prefix(5)) of \(units.count) differ")
        }
    }

    /// Where two id sequences first differ, nil when they are equal: what a
    /// failure should say, rather than both sequences whole.
    static func firstDifference(_ a: ContiguousArray<UInt32>, _ b: ContiguousArray<UInt32>) -> Int? {
        if let k = a.indices.first(where: { $0 < b.count && a[$0] != b[$0] }) { return k }
        return a.count == b.count ? nil : min(a.count, b.count)
    }

    /// The ids of `text` read by ``Tokenizer/encodeStream(blockSize:chunkSize:threads:allowedSpecial:read:emit:)``.
    static func stream(_ text: [UInt8], tokenizer t: Tokenizer, chunkSize: Int, threads: Int) throws -> ContiguousArray<UInt32> {
        var streamed = ContiguousArray<UInt32>()
        var offset = 0
        try t.encodeStream(chunkSize: chunkSize, threads: threads, read: { buffer, n in
            let end = min(offset + n, text.count)
            buffer += text[offset ..< end]
            defer { offset = end }
            return end > offset
        }, emit: { ids, _ in streamed += ids })
        return streamed
    }

    /// Each unit encoded alone by `threads` pipeline workers, each with a
    /// scratch of its own, in batches of 16 units: the ids of each unit, in order.
    static func encodeAlone(_ units: [[UInt8]], tokenizer t: Tokenizer, threads: Int) throws -> [ContiguousArray<UInt32>] {
        var scratches = (0 ..< threads).map { _ in t.makeScratch() }
        var next = 0
        var all: [ContiguousArray<UInt32>] = []
        try inOrderedPipeline(workers: &scratches, item: { (units: [[UInt8]](), ids: [ContiguousArray<UInt32>]()) },
                              produce: { item in
            item.units = Array(units[next ..< min(next + 16, units.count)])
            next += item.units.count
            return !item.units.isEmpty
        }, work: { scratch, item in
            item.ids = item.units.map { unit in
                var ids = ContiguousArray<UInt32>()
                unit.withUnsafeBufferPointer { t.encode($0, allowedSpecial: .none, scratch: &scratch, into: &ids) }
                return ids
            }
        }, consume: { item in all += item.ids })
        return all
    }

    struct Stop: Error {}

    @Test func aFailingReadOrEmitStopsTheParallelStream() {
        let t = Tokenizer(vocabulary: try! smallVocabulary(), preTokenizer: PreTokenizer(named: "cl100k")!)
        let text = Array(String(repeating: "the ing 42;\n", count: 50_000).utf8)
        for failingRead in [false, true] {
            var offset = 0, emitted = 0
            #expect(throws: Stop.self) {
                try t.encodeStream(chunkSize: 4_096, threads: 2, read: { buffer, n in
                    if failingRead && offset > 100_000 { throw Stop() }
                    let end = min(offset + n, text.count)
                    buffer += text[offset ..< end]
                    defer { offset = end }
                    return end > offset
                }, emit: { _, _ in
                    emitted += 1
                    if !failingRead && emitted == 5 { throw Stop() }
                })
            }
            #expect(failingRead ? emitted > 0 : emitted == 5)
        }
    }

    /// Real text of the four domains (the test corpora when scripts/test made
    /// them, else a built-in sample of each) and seeded random Unicode.
    static func propertyTexts() -> [(String, [UInt8])] {
        var texts: [(String, [UInt8])] = []
        let root = ProcessInfo.processInfo.environment["TOK_TEST_CORPORA"] ?? "corpora/test-small"
        for domain in ["zh", "en", "code", "math"] {
            let folder = root + "/" + domain
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
            var text: [UInt8] = []
            for f in files where text.count < 150_000 { text += (try? readFile(folder + "/" + f)) ?? [] }
            texts.append((domain, Array(text.prefix(150_000))))
        }
        texts.append(("sample", Array("a;\nb  x\nc\n\nd \ne 'll\n's\u{3000}\nf ab cd, e f  g's h 'll ſ x\u{301} 中 文 12 ab\n使用Python的\nfor i in range(10):\n    x = $\\frac{a}{b}$\n".utf8)))
        var rng = SplitMix(state: 7)
        let spice = Array("abcXYZ 中文字\n\r\t  \u{3000}\u{301}'s'LL12٣;.,(){}$\\/é".unicodeScalars)
        var random = ""
        for _ in 0 ..< 40_000 {
            random.unicodeScalars.append(Bool.random(using: &rng) ? spice.randomElement(using: &rng)!
                                         : Unicode.Scalar(UInt32.random(in: 0x20 ... 0x2FFF, using: &rng)) ?? "x")
        }
        texts.append(("random", Array(random.utf8)))
        return texts
    }

    @Test func cuttingAtSafeCutsNeverChangesThePieces() {
        let texts = ParallelTests.propertyTexts()
        for name in PreTokenizer.named.keys.sorted() {
            let pre = PreTokenizer(named: name)!
            for (label, text) in texts {
                text.withUnsafeBufferPointer { b in
                    var whole: [Range<Int>] = []
                    pre.forEachPiece(b) { whole.append($0) }
                    // Every safe cut, from the end backwards, then the segments between them.
                    var cuts: [Int] = [b.count]
                    while let cut = pre.safeCut(in: b, lower: 1, upper: cuts.last! - 1) { cuts.append(cut) }
                    cuts.append(0)
                    cuts.reverse()
                    var parts: [Range<Int>] = []
                    for k in 0 ..< cuts.count - 1 where cuts[k] < cuts[k + 1] {
                        let offset = cuts[k]
                        pre.forEachPiece(UnsafeBufferPointer(rebasing: b[cuts[k] ..< cuts[k + 1]])) {
                            parts.append(offset + $0.lowerBound ..< offset + $0.upperBound)
                        }
                    }
                    #expect(cuts.count > 2 || b.count < 1000, "\(name) \(label): no cut found")
                    #expect(parts == whole, "\(name) \(label): \(cuts.count - 2) cuts")
                }
            }
        }
    }
}
