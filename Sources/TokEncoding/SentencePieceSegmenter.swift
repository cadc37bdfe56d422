/// Cuts normalized SentencePiece text (tok's form: a space for `▁`) into
/// pieces that can be merged apart with exactly the ids of merging the
/// whole text, as SentencePiece and `tokenizers` (with Metaspace's `split`
/// off) do.
///
/// Why a cut is exact. Between characters x and y, a merge across the cut
/// would make a piece holding the two characters "xy" side by side. If no
/// piece that a merge makes holds "xy", no merge ever crosses the cut; the
/// merges on each side then happen in the same order as in the whole text
/// (the best pair on one side is never changed by a merge on the other), so
/// each side ends as it would have. The cuts taken are those between two
/// ASCII characters no merged piece holds side by side (`o(` in code, `}{`
/// in LaTeX, where words run on without spaces), beside a space (before it
/// unless "x " is in some piece, after it unless " y" is), around a byte no
/// merged piece holds, and around every user-defined piece (which never
/// merges). With Metaspace's `split` on, `tokenizers` cuts before
/// every space: ``splitBeforeEverySpace``.
struct SentencePieceSegmenter: Sendable, Hashable, PieceSplitter {
    /// Per byte: ``space``, ``isolated``, ``userStart`` bits.
    let byteFlags: [UInt8]
    static let space: UInt8 = 1, isolated: UInt8 = 2, userStart: UInt8 = 4
    /// Characters a space may not be cut from: those "x " (`before`) or " y" (`after`) that some merged piece holds.
    let keepBefore: CharacterSet, keepAfter: CharacterSet
    /// Bit `x << 7 | y`: some merged piece holds ASCII characters x then y.
    let keepPair: [UInt64]
    let userDefined: LongestMatcher

    /// A set of characters: a bit per ASCII character, a hash set for the rest.
    struct CharacterSet: Sendable, Hashable {
        var ascii: [UInt64] = [0, 0]
        var others: Set<UInt32> = []

        mutating func insert(_ c: UInt32) {
            if c < 128 { ascii[Int(c) >> 6] |= 1 << UInt64(c & 63) } else { others.insert(c) }
        }

        @inline(__always) func containsASCII(_ b: UInt8) -> Bool { ascii[Int(b) >> 6] >> UInt64(b & 63) & 1 != 0 }
    }

    /// The segmenter for a vocabulary whose merges make `merged` (the bytes
    /// of each piece a merge makes, in tok's form) and whose user-defined
    /// pieces are `userDefined`.
    init(merged: [[UInt8]], userDefined: [[UInt8]], splitBeforeEverySpace: Bool = false) {
        var keepBefore = CharacterSet(), keepAfter = CharacterSet()
        var inMerged = [Bool](repeating: false, count: 128)
        var keepPair = [UInt64](repeating: 0, count: 128 * 128 / 64)
        for piece in merged {
            var previous: UInt32? = nil
            piece.withUnsafeBufferPointer { p in
                var i = 0
                while i < p.count {
                    let c = p.scalar(at: i)
                    if c.value < 128 { inMerged[Int(c.value)] = true }
                    if let previous {
                        if previous < 128 && c.value < 128 && !(splitBeforeEverySpace && c.value == 0x20) {
                            let pair = Int(previous) << 7 | Int(c.value)
                            keepPair[pair >> 6] |= 1 << UInt64(pair & 63)
                        }
                        if c.value == 0x20 { keepBefore.insert(previous) }
                        if previous == 0x20 { keepAfter.insert(c.value) }
                    }
                    previous = c.value
                    i += c.length
                }
            }
        }
        if splitBeforeEverySpace { keepBefore = CharacterSet() }
        self.keepBefore = keepBefore
        self.keepAfter = keepAfter
        self.keepPair = keepPair
        self.userDefined = LongestMatcher(userDefined)
        var flags = [UInt8](repeating: 0, count: 256)
        flags[0x20] |= SentencePieceSegmenter.space
        for b in 0 ..< 128 where !inMerged[b] && b != 0x20 { flags[b] |= SentencePieceSegmenter.isolated }
        for b in 0 ..< 256 where self.userDefined.mayStart(UInt8(b)) { flags[b] |= SentencePieceSegmenter.userStart }
        byteFlags = flags
    }

    /// Calls `body` with each piece's byte range, in order; they tile `text`.
    ///
    /// - Complexity: O(n); a user-defined piece's first byte costs a hash
    ///   lookup per length such pieces have.
    func forEachPiece(_ text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        let n = text.count
        var start = 0, i = 0
        byteFlags.withUnsafeBufferPointer { flags in
            keepPair.withUnsafeBufferPointer { keepPair in
            while i < n {
                let b = text[i]  // i < n
                let f = flags[Int(b)]
                if f & SentencePieceSegmenter.userStart != 0, case let m = userDefined.match(text, at: i), m > 0 {
                    if start < i { body(start ..< i) }
                    body(i ..< i + m)
                    i += m
                    start = i
                    continue
                }
                // start < i, so i - 1 >= 0; both bytes ASCII, so the pair is below 128 * 128.
                if start < i && b < 0x80 && text[i - 1] < 0x80,
                   case let pair = Int(text[i - 1]) << 7 | Int(b), keepPair[pair >> 6] >> UInt64(pair & 63) & 1 == 0 {
                    body(start ..< i)
                    start = i
                }
                if f == 0 {
                    i += 1
                    continue
                }
                if f & SentencePieceSegmenter.isolated != 0 {
                    if start < i { body(start ..< i) }
                    body(i ..< i + 1)
                    i += 1
                    start = i
                    continue
                }
                if f & SentencePieceSegmenter.space != 0 {
                    if start < i && mayCut(before: text, i) {
                        body(start ..< i)
                        start = i
                    }
                    if i + 1 < n && mayCut(after: text, i + 1) {
                        body(start ..< i + 1)
                        start = i + 1
                    }
                }
                i += 1
            }
            }
        }
        if start < n { body(start ..< n) }
    }

    /// Whether the character ending at `i` (before a space) allows a cut there.
    @inline(__always)
    func mayCut(before text: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        let b = text[i - 1]  // i > start >= 0
        if b < 0x80 { return !keepBefore.containsASCII(b) }
        if keepBefore.others.isEmpty { return true }
        var j = i - 1
        while j > 0 && text[j] & 0xC0 == 0x80 && i - j < 4 { j -= 1 }
        return !keepBefore.others.contains(text.scalar(at: j).value)
    }

    /// Whether the character starting at `i` (after a space) allows a cut there.
    @inline(__always)
    func mayCut(after text: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        let b = text[i]  // i < n
        if b < 0x80 { return !keepAfter.containsASCII(b) }
        return !keepAfter.others.contains(text.scalar(at: i).value)
    }
}
