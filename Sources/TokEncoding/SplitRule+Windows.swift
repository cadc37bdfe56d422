import CTokRuntime

// The pieces of ASCII text decided 64 bytes at a time, from bit masks of the
// bytes' classes, instead of a match per piece: for the o200k family (o200k,
// `tok`) and the cl100k family (cl100k, Llama 3, Qwen2).
//
// Why: the matchers in `SplitRule+Matchers.swift` take one branch per piece
// on what kind of piece starts there, and real text's pieces come in no order
// the CPU can predict. On 20 MB of the same sentence repeated (every branch
// predicted) the cl100k matcher ran at 771 MB/s; on English and code, with the
// same number of pieces per byte, at 441 and 494 MB/s.
//
// Every rule below is the regex's (quoted beside it), restated for ASCII as
// which bytes start a piece; `Tests/TokEncodingTests/PreTokenizerTests.swift`
// checks the pieces against `matchO200K` and `matchCL100K` on random strings
// of the bytes that matter, and the oracle tests check both against `regex`.

extension UnsafeBufferPointer where Element == UInt8 {
    /// The pieces of the o200k family (`cl100k` false) or the cl100k family
    /// that start in the 64 bytes at `i`, which a piece starts at (`i + 64 <=
    /// count`): bit k set when one starts at byte `i + k`, and the last bit
    /// decided. `maxDigits` is the longest run of digits a piece holds. Bytes
    /// past the first that is not ASCII are not looked at; a window with fewer
    /// than 16 ASCII bytes decides nothing (limit 0).
    ///
    /// - Complexity: O(1): a few dozen word operations, plus a step per
    ///   apostrophe, per newline before spaces, and per three digits of a run
    ///   longer than three.
    @inlinable @inline(__always)
    func windowStarts(at i: Int, cl100k: Bool, maxDigits: Int) -> (starts: UInt64, limit: Int) {
        var c = tok_ascii_classes()
        tok_classify64(baseAddress! + i, &c)  // i + 64 <= count
        let asciiCount = c.high.trailingZeroBitCount
        guard asciiCount >= 16 else { return (1, 0) }
        let valid: UInt64 = asciiCount == 64 ? ~0 : (1 &<< UInt64(asciiCount)) &- 1
        let upper = c.upper & valid, lower = c.lower & valid, letter = upper | lower
        let digit = c.digit & valid
        let space = c.space & valid, blank = space | (c.otherSpace & valid), newline = c.newline & valid
        let white = blank | newline
        let punct = valid & ~(letter | digit | white)
        // Bit k of `before(x)` is bit k - 1 of x: the byte before. Nothing is
        // before byte 0, where a piece starts whatever came earlier.
        @inline(__always) func before(_ x: UInt64) -> UInt64 { x &<< 1 }

        // ` ?[^\s\p{L}\p{N}]+[\r\n/]*` (cl100k: `[\r\n]*`): after a run of
        // punctuation, the newlines (and slashes) that follow are its piece's.
        // A slash so taken may have begun a run of its own, whose rest then
        // begins anew: so repeat.
        let trailing = cl100k ? newline : newline | (c.slash & valid)
        var taken: UInt64 = 0
        while true {
            let p = punct & ~taken
            let seeds = before(p) & ~p & newline & ~taken
            guard seeds != 0 else { break }
            // Each seed fills forward through `trailing` (a Kogge-Stone fill).
            var fill = seeds, through = trailing
            fill |= through & (fill &<< 1); through &= through &<< 1
            fill |= through & (fill &<< 2); through &= through &<< 2
            fill |= through & (fill &<< 4); through &= through &<< 4
            fill |= through & (fill &<< 8); through &= through &<< 8
            fill |= through & (fill &<< 16); through &= through &<< 16
            fill |= through & (fill &<< 32)
            taken |= fill
        }

        // o200k: `(?i:'s|'t|'re|'ve|'m|'ll|'d)?` right after a piece's letters is
        // the piece's. cl100k: `'(?i:[sdmt]|ll|ve|re)` is a piece of its own
        // where an apostrophe starts one (first in a punctuation run, and no
        // space before it to take it). Either way what follows starts the next.
        var contracted: UInt64 = 0, afterContraction: UInt64 = 0
        var apostrophes = c.apostrophe & valid
            & (cl100k ? ~before(punct & ~taken) & ~before(space) : before(letter))
        while apostrophes != 0 {
            let k = apostrophes.trailingZeroBitCount
            apostrophes &= apostrophes &- 1
            guard k + 3 < asciiCount else { break }  // the suffix's bytes are in the window
            // o200k: the letter before must end a piece's letters, not be a contraction's.
            if !cl100k && contracted & (1 &<< UInt64(k &- 1)) != 0 { continue }  // k >= 1: a letter is before it
            let n = contractionSuffix(at: i + k + 1, caseInsensitive: true)
            guard n > 0 else { continue }
            // cl100k keeps the apostrophe a start (of its piece); o200k's is inside one.
            contracted |= ((1 &<< UInt64(n + 1)) &- 1) &<< UInt64(k) & (cl100k ? ~(1 &<< UInt64(k)) : ~0)
            afterContraction |= 1 &<< UInt64(k + n + 1)
        }
        let ownPunct = punct & ~taken & ~contracted
        let punctRuns = ownPunct & ~before(ownPunct)

        // `[^\r\n\p{L}\p{N}]?[U]*[W]+...|[^\r\n\p{L}\p{N}]?[U]+[W]*...` (cl100k:
        // `[^\r\n\p{L}\p{N}]?+\p{L}+`): in ASCII, o200k splits a letter run
        // before each capital after a small letter. A run's first letter takes
        // the byte before it when that byte starts a piece and is a space, a
        // tab, or punctuation alone before the letters (a run of two or more is
        // one piece, and a space before punctuation takes it: ` ?[^\s\p{L}\p{N}]+`).
        let letterRuns = letter & ~before(letter) & ~contracted
        let loneBefore = punctRuns & ~before(ownPunct) & ~before(space)
        let prefixed = letterRuns & (before(blank) | before(loneBefore))
        var starts = (letterRuns & ~prefixed) | (prefixed &>> 1) | afterContraction
        if !cl100k { starts |= upper & before(lower) & ~contracted }

        // `\p{N}{1,3}`: a digit run in threes from its start.
        if maxDigits == 1 {
            starts |= digit
        } else {
            var third = digit & ~before(digit)
            starts |= third
            let threeDigits = digit & before(digit) & before(before(digit))
            while true {
                third = (third &<< 3) & threeDigits
                guard third != 0 else { break }
                starts |= third
            }
        }

        // Punctuation runs, from the space before them when there is one.
        let spaced = punctRuns & before(space)
        starts |= (punctRuns & ~spaced) | (spaced &>> 1)

        // `\s*[\r\n]+|\s+(?!\S)|\s+`: white space starts a piece where its run
        // starts (after any newlines taken above), after the run's last
        // newline, and at its last byte before anything else (a newline there
        // ends the piece before).
        let ownWhite = white & ~taken
        starts |= ownWhite & ~before(ownWhite)
        starts |= blank & ((valid & ~white) &>> 1)
        var newlinesBeforeBlanks = newline & (blank &>> 1)
        while newlinesBeforeBlanks != 0 {
            let m = newlinesBeforeBlanks.trailingZeroBitCount
            newlinesBeforeBlanks &= newlinesBeforeBlanks &- 1
            let end = m + 1 + (~(blank &>> UInt64(m + 1))).trailingZeroBitCount
            // Only the blanks after the run's last newline start a piece.
            if end < asciiCount && white & (1 &<< UInt64(end)) == 0 { starts |= 1 &<< UInt64(m + 1) }
        }
        starts &= ~(taken | contracted)

        // Decided up to four bytes before the window's ASCII end (a
        // contraction looks three ahead), and before a white-space run that
        // reaches it: where that run ends decides its inner starts.
        var limit = asciiCount - 4
        if white & (1 &<< UInt64(asciiCount - 1)) != 0 {
            let other = ~white & valid
            limit = Swift.min(limit, other == 0 ? 0 : 64 - other.leadingZeroBitCount)
        }
        return (starts | 1, limit)
    }

    /// Calls `window(i, ends)` with the pieces the window at `i` decides
    /// (``windowStarts(at:cl100k:maxDigits:)``; see
    /// ``PieceSplitter/forEachPiece(_:_:window:)``) and returns how far they
    /// reach: 0 when the window decides none.
    @inlinable @inline(__always)
    func windowPieces(at i: Int, cl100k: Bool, maxDigits: Int, _ window: (Int, UInt64) -> Void) -> Int {
        let (starts, limit) = windowStarts(at: i, cl100k: cl100k, maxDigits: maxDigits)
        // Pieces that end at a start in (0, limit].
        let ends = starts & ~1 & ((UInt64(2) &<< UInt64(limit)) &- 1)
        guard ends != 0 else { return 0 }
        window(i, ends)
        return 64 - ends.leadingZeroBitCount - 1
    }
}
