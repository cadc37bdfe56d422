#if canImport(Glibc)
import Glibc
#endif

/// Finds special tokens in text: leftmost first, longest at a position, as
/// `tokenizers` matches added tokens.
struct SpecialTokenMatcher: Sendable {
    /// Candidates by first byte, longest first.
    private var byFirstByte: [[(content: [UInt8], id: UInt32)]]
    /// The byte every token begins with, when they all begin with the same
    /// one (`<` for most vocabularies): the text is then searched with
    /// `memchr`, at memory speed, instead of a look at every byte.
    private let sharedFirstByte: UInt8?
    let isEmpty: Bool

    init(_ tokens: [SpecialToken]) {
        var table = [[(content: [UInt8], id: UInt32)]](repeating: [], count: 256)
        for t in tokens where !t.content.isEmpty {
            let bytes = Array(t.content.utf8)
            table[Int(bytes[0])].append((bytes, t.id))
        }
        for b in 0 ..< 256 { table[b].sort { $0.content.count > $1.content.count } }
        byFirstByte = table
        let firsts = (0 ..< 256).filter { !table[$0].isEmpty }
        sharedFirstByte = firsts.count == 1 ? UInt8(firsts[0]) : nil
        isEmpty = tokens.isEmpty
    }

    /// The first special token at or after `from`: its start, length and id.
    func next(in text: UnsafeBufferPointer<UInt8>, from: Int) -> (start: Int, length: Int, id: UInt32)? {
        var i = from
        while i < text.count {
            if let first = sharedFirstByte {
                // i < text.count: at least one byte to search.
                guard let found = memchr(text.baseAddress! + i, Int32(first), text.count - i) else { return nil }
                i = UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - text.baseAddress!
            }
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
