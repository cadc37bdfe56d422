import CTokRuntime

// The superword vocabularies' split: a piece is a stretch of a line up to the
// end of a sentence, so that BPE can merge across the spaces between words
// (SuperBPE's second stage) but never across a line break or a sentence end.
//
//   (?:[^\r\n.!?。！？]|[.!?](?!\s))+[.!?。！？]*[\r\n]*   a stretch, its closing punctuation and line break
//   |[.!?。！？]+[\r\n]*                                   punctuation that opens a segment
//   |[\r\n]+                                               line breaks alone
//
// ASCII `.!?` end a stretch only before whitespace (`e.g.`, `x.y` and `3.14`
// stay inside); the full-width `。！？` always do, since Chinese puts no space
// after them. Every alternative's tail is optional and greedy, so the regex
// never backtracks into the stretch and one forward scan finds its match.

extension SplitRule {
    /// The superword split's regex (the `superwords` pattern).
    static let superwordRegex =
        "(?:[^\\r\\n.!?\u{3002}\u{FF01}\u{FF1F}]|[.!?](?!\\s))+[.!?\u{3002}\u{FF01}\u{FF1F}]*[\\r\\n]*"
        + "|[.!?\u{3002}\u{FF01}\u{FF1F}]+[\\r\\n]*|[\\r\\n]+"
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// The length of a sentence-ending mark at `i` (`.!?` or `。！？`), or 0.
    @inlinable @inline(__always)
    func sentenceEndLength(at i: Int) -> Int {
        let b = self[i]
        if b == UInt8(ascii: ".") || b == UInt8(ascii: "!") || b == UInt8(ascii: "?") { return 1 }
        // 。 is E3 80 82, ！ EF BC 81, ？ EF BC 9F.
        guard b == 0xE3 || b == 0xEF, i + 2 < count else { return 0 }
        let (b1, b2) = (self[i + 1], self[i + 2])
        if b == 0xE3 { return b1 == 0x80 && b2 == 0x82 ? 3 : 0 }
        return b1 == 0xBC && (b2 == 0x81 || b2 == 0x9F) ? 3 : 0
    }

    /// ``SplitRule/superwords``: the match starting at `i` (never empty).
    @inlinable
    func matchSuperwordSpan(at i: Int) -> Int {
        @inline(__always) func isNewline(_ j: Int) -> Bool { self[j] == 0x0A || self[j] == 0x0D }
        var j = i
        // (?:[^\r\n.!?。！？]|[.!?](?!\s))+: only \n \r . ! ? and the lead bytes
        // of 。！？ (E3, EF) can stop it, and no character's other bytes are
        // among them, valid or not; so it skips to the next of those bytes,
        // sixteen at a time.
        let stops: UInt64 = 1 << 0x0A | 1 << 0x0D | 1 << 0x21 | 1 << 0x2E | 1 << 0x3F
        while j < count {
            if count - j >= 16 {
                let found = tok_superword_stops16(baseAddress! + j)  // j + 16 <= count
                guard found != 0 else {
                    j += 16
                    continue
                }
                j += found.trailingZeroBitCount
            }
            let b = self[j]
            guard b < 0x40 ? stops >> UInt64(b) & 1 != 0 : b == 0xE3 || b == 0xEF else {
                j += 1
                continue
            }
            if b == 0x0A || b == 0x0D { break }
            if b >= 0x80 {
                if sentenceEndLength(at: j) == 3 { break }
                j += 1
                continue
            }
            if j + 1 < count && scalar(at: j + 1).isWhitespace { break }
            j += 1
        }
        if j == i {
            // [.!?。！？]+ or [\r\n]+, whichever starts here.
            if isNewline(i) {
                while j < count && isNewline(j) { j += 1 }
                return j - i
            }
        }
        // [.!?。！？]* then [\r\n]*
        while j < count, case let mark = sentenceEndLength(at: j), mark > 0 { j += mark }
        while j < count && isNewline(j) { j += 1 }
        return j - i
    }
}
