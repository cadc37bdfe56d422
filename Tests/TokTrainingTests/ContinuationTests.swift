import Testing
import TokCounts
@testable import TokEncoding
@testable import TokTraining
import TokRuntime

struct ContinuationTests {
    /// Words of the letters a-d (few letters: tokens split many ways, as ranks vocabularies' do).
    static func randomPieces(seed: UInt64, count: Int = 400) -> PieceCounts {
        var rng = SplitMix(state: seed)
        var seen = Set<[UInt8]>()
        var pieces: [(bytes: [UInt8], count: UInt64)] = []
        while pieces.count < count {
            let word = (0 ..< Int.random(in: 2 ... 14, using: &rng)).map { _ in UInt8.random(in: 97 ... 100, using: &rng) }
            if seen.insert(word).inserted { pieces.append((word, UInt64.random(in: 1 ... 40, using: &rng))) }
        }
        return PieceCounts(pieces.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) })
    }

    /// The pieces as `base` encodes them, and the pieces kept as words (two ids or more), in order.
    static func words(_ base: Vocabulary, _ pieces: PieceCounts) -> (ContinuationWords, [[UInt8]]) {
        var words = ContinuationWords(domains: 1)
        var kept: [[UInt8]] = []
        var scratch = BytePairScratch(caching: false)
        for k in 0 ..< pieces.count {
            var ids = ContiguousArray<UInt32>()
            let piece = pieces.piece(k)
            piece.withUnsafeBufferPointer { base.encodePiece($0, scratch: &scratch, into: &ids) }
            if ids.count >= 2 { kept.append(piece) }
            words.append(ids, count: pieces.counts[k], domainCounts: [pieces.counts[k]])
        }
        return (words, kept)
    }

    static func encode(_ v: Vocabulary, _ bytes: [UInt8]) -> [UInt32] {
        var scratch = BytePairScratch(caching: false)
        var ids = ContiguousArray<UInt32>()
        bytes.withUnsafeBufferPointer { v.encodePiece($0, scratch: &scratch, into: &ids) }
        return Array(ids)
    }

    @Test func aMergesListBaseContinuesExactlyAsTrainingOnWouldHave() throws {
        let pieces = ContinuationTests.randomPieces(seed: 3)
        let full = try BPETrainer(vocabularySize: 256 + 150).train(pieces: pieces)
        let k = 50
        let base = try Vocabulary.fromMerges(tokens: full.tokens.prefix(256 + k).map { Optional($0) }, mergeable: [Bool](repeating: true, count: 256 + k),
                                             merges: full.merges.prefix(k).map { ($0.left, $0.right) }, ignoreMerges: false)
        var continuation = BPEContinuation(base: base, words: ContinuationTests.words(base, pieces).0)
        continuation.add(100)
        // Up to the first token training from scratch makes twice (a continuation never does), the same merges.
        var made = Set(full.tokens.prefix(256 + k))
        let comparable = full.tokens.dropFirst(256 + k).prefix { made.insert($0).inserted }.count
        #expect(comparable > 40)
        #expect(Array(continuation.merges.prefix(comparable)) == Array(full.merges.dropFirst(k).prefix(comparable)))
        let extended = try continuation.vocabulary()
        #expect(extended.mergeOrder == .mergesList(ignoreMerges: false) && extended.unreachableTokens.isEmpty)
        #expect(extended.idLimit == 256 + k + continuation.tokens.count)
    }

    @Test func aRanksBaseIsReencodedExactlyAndItsSpecialTokenKeepsItsId() throws {
        let pieces = ContinuationTests.randomPieces(seed: 7)
        let scratch = try BPETrainer(vocabularySize: 256 + 40).train(pieces: pieces)
        // A ranks base with a special token after its tokens, as `tok build` makes: new ids follow the special one.
        let special = SpecialToken(id: 296, content: "<|end|>")
        let base = try Vocabulary.fromRanks(scratch.tokens, specialTokens: [special])
        let (words, kept) = ContinuationTests.words(base, pieces)
        var continuation = BPEContinuation(base: base, words: words)
        #expect(continuation.firstId == 297)
        continuation.add(60)
        #expect(continuation.tokens.count == 60)
        let extended = try continuation.vocabulary()  // throws if a token does not encode to itself
        #expect(extended.idLimit == 297 + 60 && extended.specialTokens == [special])
        #expect(extended.id(of: Array("<|end|>".utf8)) == nil)
        for id in 0 ..< 296 { #expect(extended.bytes(of: UInt32(id)) == base.bytes(of: UInt32(id))) }
        for (j, token) in continuation.tokens.enumerated() { #expect(ContinuationTests.encode(extended, token) == [UInt32(297 + j)]) }
        // Every word is what the extended vocabulary's encoder makes of its piece: each merge re-encoded exactly.
        let state = continuation.state
        for (w, piece) in kept.enumerated() {
            let start = state.wordStart[w]
            let ids = Array(state.symbols[start ..< start + Int(state.wordLength[w])])
            #expect(ids == ContinuationTests.encode(extended, piece), "word \(w)")
        }
        // ... and the pair counts are those of the words.
        var recount: [UInt64: Int64] = [:]
        for w in state.wordStart.indices {
            let start = state.wordStart[w], n = Int(state.wordLength[w])
            for i in start ..< start + n - 1 { recount[UInt64(state.symbols[i]) << 32 | UInt64(state.symbols[i + 1]), default: 0] += Int64(state.wordCount[w]) }
        }
        for (e, key) in state.pairs.keys.enumerated() where state.pairs.counts[e] != TrainingState.neverMerged {
            #expect(state.pairs.counts[e] == recount[key] ?? 0)
        }
    }

    @Test func tokensAddedInPartsAreTheTokensAddedAtOnce() throws {
        let pieces = ContinuationTests.randomPieces(seed: 11)
        let base = try Vocabulary.fromRanks((0 ..< 256).map { [UInt8($0)] })
        let words = ContinuationTests.words(base, pieces).0
        var once = BPEContinuation(base: base, words: words)
        once.add(90)
        var parts = BPEContinuation(base: base, words: words)
        for n in [1, 9, 30, 50] { parts.add(n) }
        #expect(parts.tokens == once.tokens && parts.merges == once.merges && parts.domainCounts == once.domainCounts)
    }

    @Test func aPairWhoseBytesAreATokenAlreadyIsNeverMerged() throws {
        // "abc" is a token, but its merges (b c first) leave "abc" as [a, bc]: merging (a, bc) would make "abc" twice.
        let tokens = (0 ..< 256).map { [UInt8($0)] } + [Array("bc".utf8), Array("ab".utf8), Array("abc".utf8)]
        let a = UInt32(97), b = UInt32(98), c = UInt32(99)
        let base = try Vocabulary.fromMerges(tokens: tokens.map { Optional($0) }, mergeable: tokens.map { _ in true },
                                             merges: [(b, c), (a, b), (257, c)], ignoreMerges: false)
        let pieces = PieceCounts([(Array("abc".utf8), 50), (Array("xy".utf8), 1)])
        var continuation = BPEContinuation(base: base, words: ContinuationTests.words(base, pieces).0)
        continuation.add(5)
        #expect(continuation.tokens == [Array("xy".utf8)] && continuation.exhausted)
    }
}
