import Testing
import TokEncoding
@testable import TokBuild
@testable import TokTraining

struct BuildTests {
    func domain(_ name: String, _ words: [(String, UInt64)], bytes: Int, weight: Double = 1) throws -> DomainVocabulary {
        let result = try BPETrainer(vocabularySize: 256 + 40).train(pieces: words.map { (Array($0.0.utf8), $0.1) })
        return DomainVocabulary(name: name, weight: weight, trainingBytes: bytes, result: result)
    }

    @Test func selectionPutsPartsFirstAndSkipsDuplicates() throws {
        let a = try domain("a", [("hello", 50), ("help", 30), ("world", 20)], bytes: 1000)
        let b = try domain("b", [("hello", 10), ("中文", 40), ("wor", 5)], bytes: 200)
        for strategy in [MergeStrategy.share, .roundRobin] {
            let merge = BalancedMerge(domains: [a, b], strategy: strategy)
            let (tokens, from, parts) = merge.select(count: 12)
            #expect(tokens.count == 12 && Set(tokens).count == 12)
            #expect(from.count == 12 && parts.count == 12)
            for (k, t) in tokens.enumerated() {
                // Each token's parts are single bytes or come before it.
                #expect(parts[k].0 < k && parts[k].1 < k)
                if parts[k].0 >= 0 && parts[k].1 >= 0 { #expect(tokens[parts[k].0] + tokens[parts[k].1] == t) }
            }
            let (vocabulary, _, _) = try merge.build(bpeTokens: 12, specialTokens: [SpecialToken(id: 268, content: "<|e|>")])
            #expect(vocabulary.idLimit == 269 && vocabulary.unreachableTokens.isEmpty)
        }
    }

    @Test func shareFavoursTheSmallerDomainPerByte() throws {
        // Domain b has a fifth of the text: its tokens save a larger share of it.
        let a = try domain("a", [("alpha", 100), ("beta", 90)], bytes: 5000)
        let b = try domain("b", [("gamma", 40), ("delta", 30)], bytes: 1000)
        let (tokens, from, _) = BalancedMerge(domains: [a, b]).select(count: 4)
        #expect(from.first == 1, "\(tokens.map { String(decoding: $0, as: UTF8.self) })")
        #expect(BalancedMerge(domains: [a, b]).credit([Array("gamma".utf8), Array("zzz".utf8)]) == [1, 2])
    }

    @Test func tokenKinds() {
        #expect(TokenKind.of(Array(" the".utf8)) == .englishLatin)
        #expect(TokenKind.of(Array("中文".utf8)) == .chinese)
        #expect(TokenKind.of(Array("の中".utf8)) == .japanese)
        #expect(TokenKind.of(Array("한국".utf8)) == .korean)
        #expect(TokenKind.of(Array("123".utf8)) == .digitsMath)
        #expect(TokenKind.of(Array("    ".utf8)) == .codePunctuationWhitespace)
        #expect(TokenKind.of([0xE4, 0xB8]) == .fragments)
        #expect(TokenKind.of([0x41]) == .byteAndSpecial)
    }

    @Test func compressionRatios() {
        let c = Compression(bytes: 300, characters: 100, tokens: 50)
        #expect(c.bytesPerToken == 6 && c.charactersPerToken == 2)
    }
}
