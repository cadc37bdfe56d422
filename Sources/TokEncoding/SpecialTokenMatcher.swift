/// Finds special tokens in text: leftmost first, longest at a position, as
/// `tokenizers` matches added tokens.
struct SpecialTokenMatcher: Sendable {
    /// Candidates by first byte, longest first.
    private var byFirstByte: [[(content: [UInt8], id: UInt32)]]
    let isEmpty: Bool

    init(_ tokens: [SpecialToken]) {
        var table = [[(content: [UInt8], id: UInt32)]](repeating: [], count: 256)
        for t in tokens where !t.content.isEmpty {
            let bytes = Array(t.content.utf8)
            table[Int(bytes[0])].append((bytes, t.id))
        }
        for b in 0 ..< 256 { table[b].sort { $0.content.count > $1.content.count } }
        byFirstByte = table
        isEmpty = tokens.isEmpty
    }

    /// The first special token at or after `from`: its start, length and id.
    func next(in text: UnsafeBufferPointer<UInt8>, from: Int) -> (start: Int, length: Int, id: UInt32)? {
        var i = from
        while i < text.count {
            let candidates = byFirstByte[Int(text[i])]
            for c in candidates where c.content.count <= text.count - i {
                if c.content.withUnsafeBufferPointer({ bytesEqual($0.baseAddress!, UnsafeRawPointer(text.baseAddress! + i), $0.count) }) {
                    return (i, c.content.count, c.id)
                }
            }
            i += 1
        }
        return nil
    }
}
