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
/// each side ends as it would have. So the text is cut between every two
/// characters that no merged piece holds side by side: beside most spaces,
/// between `o` and `(` in code, `}` and `{` in LaTeX, and between most
/// Chinese characters, which run on without spaces (a piece is then a word
/// or two, and the piece cache holds it). User-defined pieces (which never
/// merge) are cut around. With Metaspace's `split` on, `tokenizers` cuts
/// before every space: ``splitBeforeEverySpace``.
struct SentencePieceSegmenter: Sendable, Hashable, PieceSplitter {
    /// Bit `x << 7 | y`: some merged piece holds ASCII characters x then y.
    let asciiPairs: [UInt64]
    /// The other pairs of characters some merged piece holds side by side: a
    /// blocked Bloom filter, two bits of one word a pair (``pairBits(_:_:shift:)``),
    /// about four pairs a word. It may say a pair is held when none is (about
    /// one in seventy): the text is then not cut there, which changes no id.
    let otherPairs: [UInt64]
    let otherPairShift: UInt64
    /// Per byte: whether a user-defined piece may start with it.
    let userStarts: [Bool]
    let userDefined: LongestMatcher

    /// The segmenter for a vocabulary whose merges make `merged` (the bytes
    /// of each piece a merge makes, in tok's form) and whose user-defined
    /// pieces are `userDefined`.
    init(merged: [[UInt8]], userDefined: [[UInt8]], splitBeforeEverySpace: Bool = false) {
        var asciiPairs = [UInt64](repeating: 0, count: 128 * 128 / 64)
        var others = Set<UInt64>()
        for piece in merged {
            piece.withUnsafeBufferPointer { p in
                var i = 0
                var previous: UInt32? = nil
                while i < p.count {
                    let c = p.scalar(at: i)
                    if let x = previous, !(splitBeforeEverySpace && c.value == 0x20) {
                        if x < 128 && c.value < 128 {
                            let pair = Int(x) << 7 | Int(c.value)
                            asciiPairs[pair >> 6] |= 1 << UInt64(pair & 63)
                        } else {
                            others.insert(UInt64(x) << 32 | UInt64(c.value))
                        }
                    }
                    previous = c.value
                    i += c.length
                }
            }
        }
        let words = OpenAddressing.capacity(for: others.count, load: 4, per: 1)
        let shift = UInt64(64 - words.trailingZeroBitCount)
        var otherPairs = [UInt64](repeating: 0, count: words)
        for pair in others {
            let (word, bits) = Self.pairBits(UInt32(pair >> 32), UInt32(truncatingIfNeeded: pair), shift: shift)
            otherPairs[word] |= bits
        }
        self.asciiPairs = asciiPairs
        self.otherPairs = otherPairs
        otherPairShift = shift
        let matcher = LongestMatcher(userDefined)
        self.userDefined = matcher
        userStarts = (0 ..< 256).map { matcher.mayStart(UInt8($0)) }
    }

    /// A pair of characters' word in ``otherPairs`` and its two bits there.
    @inline(__always)
    static func pairBits(_ x: UInt32, _ y: UInt32, shift: UInt64) -> (word: Int, bits: UInt64) {
        let key = UInt64(x) << 32 | UInt64(y)
        let h = (key ^ key >> 29) &* 0xBF58_476D_1CE4_E5B9
        return (Int(truncatingIfNeeded: h >> shift), 1 << (h & 63) | 1 << (h >> 6 & 63))
    }

    /// Whether some merged piece may hold character `x` then `y`.
    @inline(__always)
    func held(_ x: UInt32, _ y: UInt32) -> Bool {
        if x < 128 && y < 128 {
            let pair = Int(x) << 7 | Int(y)
            return asciiPairs[pair >> 6] >> UInt64(pair & 63) & 1 != 0
        }
        let (word, bits) = Self.pairBits(x, y, shift: otherPairShift)
        return otherPairs[word] & bits == bits  // word < count: the hash's top bits, as many as the count's
    }

    /// Calls `body` with each piece's byte range, in order; they tile `text`.
    ///
    /// - Complexity: O(n); a user-defined piece's first byte costs a hash
    ///   lookup per length such pieces have.
    func forEachPiece(_ text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        let n = text.count
        var start = 0, i = 0
        // The character ending at i, when it is one (not an invalid byte, not the end of a user-defined piece).
        var previous: UInt32 = 0, previousIsCharacter = false
        let anyUserDefined = !userDefined.isEmpty
        asciiPairs.withUnsafeBufferPointer { asciiPairs in
            while i < n {
                let b = text[i]  // i < n
                if anyUserDefined && userStarts[Int(b)], case let m = userDefined.match(text, at: i), m > 0 {
                    if start < i { body(start ..< i) }
                    body(i ..< i + m)
                    i += m
                    start = i
                    previousIsCharacter = false
                    continue
                }
                if b < 0x80 && previousIsCharacter && previous < 0x80 && !anyUserDefined {
                    // A run of ASCII after ASCII: the pair table alone (pair < 128 * 128).
                    var x = Int(previous), j = i
                    while j < n, case let y = Int(text[j]), y < 0x80 {
                        let pair = x << 7 | y
                        if asciiPairs[pair >> 6] >> UInt64(pair & 63) & 1 == 0 && start < j {
                            body(start ..< j)
                            start = j
                        }
                        x = y
                        j += 1
                    }
                    previous = UInt32(x)
                    i = j
                    continue
                }
                let c = b < 0x80 ? Scalar(value: UInt32(b), length: 1) : text.multiByteScalar(at: i, lead: b)
                // A byte that is no character (length 1 past ASCII) is cut from neither side.
                let isCharacter = b < 0x80 || c.length > 1
                if start < i && previousIsCharacter && isCharacter && !held(previous, c.value) {
                    body(start ..< i)
                    start = i
                }
                previous = c.value
                previousIsCharacter = isCharacter
                i += c.length
            }
        }
        if start < n { body(start ..< n) }
    }
}
