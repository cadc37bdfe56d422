import Testing
@testable import TokEncoding
import TokRuntime

struct BatchTests {
    /// ``Tokenizer/encodeBatch(_:threads:allowedSpecial:addSpecialTokens:)``
    /// gives each document's ids as one encode of it alone, whatever the
    /// threads and however the documents fall into runs (empty ones, one far
    /// longer than a run, many small ones); counts equal the ids' lengths.
    @Test func batchesEqualSinglesOnAnyThreads() throws {
        let specials = [SpecialToken(id: 1000, content: "<|bos|>"), SpecialToken(id: 1001, content: "<|eos|>")]
        let base = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "cl100k")!)
        let vocabulary = try Vocabulary.fromRanks((0 ..< base.vocabulary.count).map { base.vocabulary.bytes(of: UInt32($0)) },
                                                  specialTokens: specials)
        let bos = TemplateSpecial(name: "<|bos|>", ids: [1000], tokens: ["<|bos|>"])
        let t = Tokenizer(vocabulary: vocabulary, preTokenizer: base.preTokenizer,
                          postProcessor: .template(single: [.special(name: "<|bos|>", typeId: 0), .sequence(id: "A", typeId: 0)],
                                                   pair: [], specialTokens: [bos]))
        var rng = SplitMix(state: 11)
        let words = ["the", "ing", "中文", "  ", "\n", " \n", "x", "42", ";", "é", " ", "'s", "A", "<|eos|>"]
        var documents: [[UInt8]] = [[]]
        var long: [UInt8] = []
        while long.count < 300_000 { long += Array(words.randomElement(using: &rng)!.utf8) }
        documents.append(long)
        for _ in 0 ..< 2000 {
            var d: [UInt8] = []
            for _ in 0 ..< Int(rng.next() % 200) { d += Array(words.randomElement(using: &rng)!.utf8) }
            documents.append(d)
        }
        documents.append([])
        for allowed in [AllowedSpecial.none, .all] {
            for addSpecial in [false, true] {
                let singles = documents.map { d in
                    d.withUnsafeBufferPointer { Array(addSpecial ? [1000] : []) + Array(t.encode(bytes: $0, allowedSpecial: allowed)) }
                }
                for threads in [1, 3, 8] {
                    let (batch, counts) = withBuffers(documents) { buffers in
                        (t.encodeBatch(buffers, threads: threads, allowedSpecial: allowed, addSpecialTokens: addSpecial),
                         t.countBatch(buffers, threads: threads, allowedSpecial: allowed, addSpecialTokens: addSpecial))
                    }
                    #expect(batch.offsets.count == documents.count + 1 && batch.offsets.first == 0 && batch.offsets.last == batch.ids.count)
                    let split = (0 ..< documents.count).map { Array(batch.ids[batch.offsets[$0] ..< batch.offsets[$0 + 1]]) }
                    #expect(split == singles, "\(threads) threads, \(allowed), add \(addSpecial)")
                    #expect(counts == singles.map(\.count))
                }
            }
        }
        #expect(withBuffers([]) { t.encodeBatch($0, threads: 4).offsets } == [0])
    }

    private func withBuffers<R>(_ documents: [[UInt8]], _ body: (UnsafeBufferPointer<UnsafeBufferPointer<UInt8>>) -> R) -> R {
        let copies = documents.map { d -> UnsafeMutableBufferPointer<UInt8> in
            let b = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(d.count, 1))
            _ = b.initialize(from: d)
            return b
        }
        defer { copies.forEach { $0.deallocate() } }
        let buffers = zip(copies, documents).map { UnsafeBufferPointer(start: $0.0.baseAddress, count: $0.1.count) }
        return buffers.withUnsafeBufferPointer(body)
    }
}
