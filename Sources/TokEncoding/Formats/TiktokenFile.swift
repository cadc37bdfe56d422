import Foundation

/// tiktoken's ranks file: one `base64 rank` line per token.
public enum TiktokenFile {
    /// Parses a ranks file into byte strings indexed by rank: nil for a rank
    /// the file skips, as tiktoken allows (an extended vocabulary's ranks
    /// resume after the base's special tokens).
    ///
    /// - Throws: an error naming the file and line for a malformed line or a
    ///   repeated rank.
    public static func read(_ data: [UInt8], path: String) throws -> [[UInt8]?] {
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
                  let decoded = canonicalBase64(fields[0]),
                  let rank = Int(String(decoding: fields[1], as: UTF8.self)), rank >= 0, rank < 10_000_000
            else { throw VocabularyError.malformed(path: path, line: line, reason: "expected 'base64 rank'") }
            if rank >= byRank.count { byRank.append(contentsOf: repeatElement(nil, count: rank + 1 - byRank.count)) }
            guard byRank[rank] == nil else { throw VocabularyError.malformed(path: path, line: line, reason: "rank \(rank) appears twice") }
            byRank[rank] = decoded
        }
        guard !byRank.isEmpty else { throw VocabularyError.malformed(path: path, line: nil, reason: "no tokens") }
        return byRank
    }

    /// The bytes of `text` in base64 as tiktoken's files write it (groups of
    /// four, `=` only at the end), or nil for anything else. Readers disagree
    /// on the rest: Python's decoder takes `5p=w=` as two bytes and Foundation's
    /// otherwise, so a token read from such a line could differ from the one
    /// tiktoken loads.
    ///
    /// - Complexity: O(n) in the length of `text`.
    static func canonicalBase64(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard !text.isEmpty, text.count % 4 == 0 else { return nil }
        let padding = text.last == 0x3D ? (text[text.endIndex - 2] == 0x3D ? 2 : 1) : 0
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3)
        var buffer: UInt32 = 0, bits = 0
        for c in text.dropLast(padding) {
            let value: UInt8
            switch c {
            case 0x41 ... 0x5A: value = c - 0x41         // A-Z
            case 0x61 ... 0x7A: value = c - 0x61 + 26    // a-z
            case 0x30 ... 0x39: value = c - 0x30 + 52    // 0-9
            case 0x2B: value = 62                        // +
            case 0x2F: value = 63                        // /
            default: return nil                          // '=' inside, or not base64
            }
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
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
