/// SentencePiece's precompiled normalization rules (`precompiled_charsmap`):
/// a darts-clone double-array trie whose keys are the byte sequences a rule
/// replaces and whose values are offsets into a block of NUL-terminated
/// replacements. The blob is `trie size (u32 LE) | trie units | replacements`.
///
/// A unit is 32 bits: bit 8 says a leaf hangs below it, bits 0-7 and 31 are
/// its label, and bits 10-31 (shifted left by 8 more when bit 9 is set) the
/// offset of its children; a leaf's low 31 bits are its value.
public struct SentencePieceCharsmap: Sendable, Hashable {
    let units: [UInt32]
    let replacements: [UInt8]

    /// Reads a charsmap; nil for an empty one (no rules).
    ///
    /// - Throws: a reason when the blob is not one.
    init?(_ blob: [UInt8]) throws {
        guard !blob.isEmpty else { return nil }
        guard blob.count > 4 else { throw ProtoReader.Malformed(reason: "its precompiled_charsmap is broken (\(blob.count) bytes)") }
        let trieBytes = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        guard trieBytes < blob.count - 4 + 1, trieBytes % 4 == 0, trieBytes >= 4 else {
            throw ProtoReader.Malformed(reason: "its precompiled_charsmap's trie (\(trieBytes) bytes) does not fit its \(blob.count) bytes")
        }
        var units = [UInt32](repeating: 0, count: trieBytes / 4)
        for k in units.indices {
            let p = 4 + 4 * k
            units[k] = UInt32(blob[p]) | UInt32(blob[p + 1]) << 8 | UInt32(blob[p + 2]) << 16 | UInt32(blob[p + 3]) << 24
        }
        self.units = units
        replacements = Array(blob[(4 + trieBytes)...])
    }

    /// The longest rule matching a prefix of `text[start..<end]`: its length
    /// and the replacement's range in ``replacements``; nil when none does.
    ///
    /// - Complexity: O(length of the longest key that is a prefix).
    func longestMatch(_ text: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> (length: Int, replacement: Range<Int>)? {
        units.withUnsafeBufferPointer { u in
            var best: (length: Int, value: Int)? = nil
            var node = Int(SentencePieceCharsmap.offset(u[0]))
            var i = start
            while i < end {
                let c = Int(text[i])  // start <= i < end <= text.count
                node ^= c
                guard node < u.count else { break }
                let unit = u[node]
                if SentencePieceCharsmap.label(unit) != UInt32(c) { break }
                node ^= Int(SentencePieceCharsmap.offset(unit))
                if unit >> 8 & 1 == 1 {
                    guard node < u.count else { break }
                    best = (i + 1 - start, Int(u[node] & 0x7FFF_FFFF))
                }
                i += 1
            }
            guard let best, best.value < replacements.count else { return nil }
            var stop = best.value
            while stop < replacements.count && replacements[stop] != 0 { stop += 1 }
            return (best.length, best.value ..< stop)
        }
    }

    static func label(_ unit: UInt32) -> UInt32 { unit & (1 << 31 | 0xFF) }
    static func offset(_ unit: UInt32) -> UInt32 { (unit >> 10) << ((unit & (1 << 9)) >> 6) }
}
