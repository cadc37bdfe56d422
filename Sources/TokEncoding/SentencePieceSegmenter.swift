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
    /// The other pairs of characters some merged piece holds side by side,
    /// keys `x << 32 | y` in a ``PairFilter``. It may say a pair is held when
    /// none is: the text is then not cut there, which changes no id.
    let otherPairs: ContiguousArray<UInt64>
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
        let keys = ContiguousArray(others)
        otherPairs = keys.withUnsafeBufferPointer { PairFilter.make(keys: $0, pairs: keys.count) }
        otherPairShift = UInt64(64 - otherPairs.count.trailingZeroBitCount)
        self.asciiPairs = asciiPairs
        let matcher = LongestMatcher(userDefined)
        self.userDefined = matcher
        userStarts = (0 ..< 256).map { matcher.mayStart(UInt8($0)) }
    }

    /// Whether some merged piece holds ASCII characters `x` then `y` (both below 128).
    @inline(__always)
    static func held(ascii pairs: UnsafeBufferPointer<UInt64>, _ x: Int, _ y: Int) -> Bool {
        let pair = x << 7 | y  // < 128 * 128: within the table
        return pairs[pair >> 6] >> UInt64(pair & 63) & 1 != 0
    }

    /// Whether some merged piece may hold character `x` then `y`.
    @inline(__always)
    func held(_ x: UInt32, _ y: UInt32, ascii: UnsafeBufferPointer<UInt64>, others: UnsafePointer<UInt64>) -> Bool {
        if x < 128 && y < 128 { return Self.held(ascii: ascii, Int(x), Int(y)) }
        return PairFilter.mayHold(UInt64(x) << 32 | UInt64(y), words: others, shift: otherPairShift)
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
        otherPairs.withUnsafeBufferPointer { otherPairs in
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
                        if start < j && !Self.held(ascii: asciiPairs, x, y) {
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
                if start < i && previousIsCharacter && isCharacter && !held(previous, c.value, ascii: asciiPairs, others: otherPairs.baseAddress!) {
                    body(start ..< i)
                    start = i
                }
                previous = c.value
                previousIsCharacter = isCharacter
                i += c.length
            }
        }
        }
        if start < n { body(start ..< n) }
    }
}
