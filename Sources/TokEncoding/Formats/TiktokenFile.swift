import Foundation

/// tiktoken's ranks file: one `base64 rank` line per token.
public enum TiktokenFile {
    /// Parses a ranks file into byte strings indexed by rank.
    ///
    /// - Throws: an error naming the file and line for a malformed line, a
    ///   repeated or missing rank.
    public static func read(_ data: [UInt8], path: String) throws -> [[UInt8]] {
        var byRank: [[UInt8]?] = []
        var line = 0
        var start = 0
        while start < data.count {
            line += 1
            var end = start
            while end < data.count && data[end] != 0x0A { end += 1 }
            var fields = data[start ..< end].split(separator: 0x20)
            if let last = fields.last, last.last == 0x0D { fields[fields.count - 1] = last.dropLast() }
            start = end + 1
            if fields.isEmpty { continue }
            guard fields.count == 2,
                  let decoded = Data(base64Encoded: Data(fields[0])),
                  let rank = Int(String(decoding: fields[1], as: UTF8.self)), rank >= 0, rank < 10_000_000
            else { throw VocabularyError.malformed(path: path, line: line, reason: "expected 'base64 rank'") }
            if rank >= byRank.count { byRank.append(contentsOf: repeatElement(nil, count: rank + 1 - byRank.count)) }
            guard byRank[rank] == nil else { throw VocabularyError.malformed(path: path, line: line, reason: "rank \(rank) appears twice") }
            byRank[rank] = [UInt8](decoded)
        }
        guard !byRank.isEmpty else { throw VocabularyError.malformed(path: path, line: nil, reason: "no tokens") }
        if let missing = byRank.firstIndex(where: { $0 == nil }) {
            throw VocabularyError.malformed(path: path, line: nil, reason: "rank \(missing) is missing (ranks must be 0..<n)")
        }
        return byRank.map { $0! }
    }

    /// The ranks file of `vocabulary`'s BPE tokens.
    public static func write(_ vocabulary: Vocabulary) -> [UInt8] {
        var out: [UInt8] = []
        for id in 0 ..< vocabulary.count {
            let bytes = vocabulary.bytes(of: UInt32(id))
            guard !bytes.isEmpty, vocabulary.id(of: bytes) == UInt32(id) else { continue }
            out.append(contentsOf: Data(bytes).base64EncodedData())
            out.append(0x20)
            out.append(contentsOf: String(id).utf8)
            out.append(0x0A)
        }
        return out
    }

    /// The special tokens tiktoken defines for its published encodings.
    public static func standardSpecialTokens(pattern: String) -> [SpecialToken] {
        switch pattern {
        case "r50k": return [SpecialToken(id: 50256, content: "<|endoftext|>")]
        case "cl100k":
            return [
                SpecialToken(id: 100257, content: "<|endoftext|>"), SpecialToken(id: 100258, content: "<|fim_prefix|>"),
                SpecialToken(id: 100259, content: "<|fim_middle|>"), SpecialToken(id: 100260, content: "<|fim_suffix|>"),
                SpecialToken(id: 100276, content: "<|endofprompt|>"),
            ]
        case "o200k":
            return [SpecialToken(id: 199999, content: "<|endoftext|>"), SpecialToken(id: 200018, content: "<|endofprompt|>")]
        default: return []
        }
    }
}
