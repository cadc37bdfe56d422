import Testing
@testable import TokEncoding

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
        var streamed = ContiguousArray<UInt32>()
        var offset = 0
        try t.encodeStream(blockSize: 10_000, threads: 2, read: { buffer, n in
            let end = min(offset + n, text.count)
            buffer += text[offset ..< end]
            defer { offset = end }
            return end > offset
        }, emit: { ids, _ in streamed += ids })
        #expect(streamed == whole)
    }

    @Test func safeCutsSplitNothingThePatternsJoin() {
        for name in PreTokenizer.named.keys.sorted() {
            let pre = PreTokenizer(named: name)!
            let text = Array("a;\nb  x\nc\n\nd \ne 'll\n's\u{3000}\nf ab cd, e f  g's h 'll ſ x\u{301} 中 文 12 ab\n".utf8)
            var boundaries = Set<Int>()
            text.withUnsafeBufferPointer { b in pre.forEachPiece(b) { boundaries.insert($0.lowerBound) } }
            text.withUnsafeBufferPointer { b in
                var upper = b.count - 1
                while let cut = Tokenizer.safeCut(in: b, lower: 1, upper: upper) {
                    #expect(boundaries.contains(cut), "\(name) cut at \(cut)")
                    upper = cut - 1
                }
            }
        }
    }
}
