@testable import TokEncoding

/// A small ranks vocabulary: the 256 bytes, then merges learned by hand.
func smallVocabulary() throws -> Vocabulary {
    var tokens = (0 ..< 256).map { [UInt8($0)] }
    for t in ["ab", "abc", "aa", "aaaa", " t", "he", " the", "in", "ing"] { tokens.append(Array(t.utf8)) }
    tokens.append([0xE4, 0xB8])  // the first two bytes of 中, so that 中 is reachable
    tokens.append(Array("中".utf8))
    return try Vocabulary.fromRanks(tokens, specialTokens: [SpecialToken(id: UInt32(tokens.count), content: "<|end|>")])
}

func pieces(_ pattern: String, _ text: String) -> [String] {
    let pre = PreTokenizer(named: pattern)!
    var out: [String] = []
    var text = text
    text.withUTF8 { bytes in
        pre.forEachPiece(bytes) { r in out.append(String(decoding: bytes[r], as: UTF8.self)) }
    }
    return out
}

