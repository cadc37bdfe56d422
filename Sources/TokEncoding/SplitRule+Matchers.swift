// The hand-written matchers behind `SplitRule`. Each function returns the length
// of the leftmost-first match starting at `i`, or 0; `self` is the whole segment.
// Comments quote the regex alternative each block implements.

extension UnsafeBufferPointer where Element == UInt8 {
    // MARK: Shared pieces

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` after the apostrophe at `i - 1`: the suffix
    /// length, or 0. Case-insensitive matching includes U+017F (ſ), which every
    /// engine folds to `s`.
    @inlinable
    func contractionSuffix(at i: Int, caseInsensitive: Bool) -> Int {
        guard i < count else { return 0 }
        let fold: UInt8 = caseInsensitive ? 0x20 : 0
        let c = self[i] | fold
        @inline(__always) func next(_ b: UInt8) -> Bool { i + 1 < count && self[i + 1] | fold == b }
        switch c {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"): return 1
        case UInt8(ascii: "l"): return next(UInt8(ascii: "l")) ? 2 : 0
        case UInt8(ascii: "v"), UInt8(ascii: "r"): return next(UInt8(ascii: "e")) ? 2 : 0
        default:
            if caseInsensitive, self[i] == 0xC5, i + 1 < count, self[i + 1] == 0xBF { return 2 }
            return 0
        }
    }

    /// The contraction starting with an apostrophe at `i`, if any: its length.
    @inlinable
    func contraction(at i: Int, caseInsensitive: Bool) -> Int {
        guard i < count, self[i] == UInt8(ascii: "'") else { return 0 }
        let n = contractionSuffix(at: i + 1, caseInsensitive: caseInsensitive)
        return n == 0 ? 0 : n + 1
    }

    /// End of the run of scalars from `i` that satisfy `belongs`.
    @inlinable @inline(__always)
    func runEnd(from i: Int, _ belongs: (Scalar) -> Bool) -> Int {
        var j = i
        while j < count {
            let s = scalar(at: j)
            guard belongs(s) else { break }
            j += s.length
        }
        return j
    }

    /// End of at most `max` consecutive `\p{N}` from `i`.
    @inlinable
    func numberRunEnd(from i: Int, max: Int) -> Int {
        var j = i, n = 0
        while j < count && n < max {
            let s = scalar(at: j)
            guard s.isNumber else { break }
            j += s.length
            n += 1
        }
        return j
    }

    /// `\p{N}{1,max}` at `i`.
    @inlinable
    func matchNumbers(at i: Int, max: Int) -> Int { numberRunEnd(from: i, max: max) - i }

    /// The whitespace alternatives at `i`, where a `\s` starts. Three spellings
    /// exist; all begin from the maximal whitespace run `[i, end)`:
    /// - legacy `\s*[\r\n]+|\s+(?!\S)|\s+`
    /// - cl100k `\s++$|\s*[\r\n]|\s+(?!\S)|\s`
    /// - r50k `\s++$|\s+(?!\S)|\s`
    @inlinable
    func matchWhitespace(at i: Int, atEndTakesAll: Bool, newlineRule: Bool) -> Int {
        var j = i, lastStart = i, afterNewline = -1
        while j < count {
            let s = scalar(at: j)
            guard s.isWhitespace else { break }
            lastStart = j
            j += s.length
            if s.isNewline { afterNewline = j }
        }
        if atEndTakesAll && j == count { return j - i }  // \s++$
        if newlineRule && afterNewline > 0 { return afterNewline - i }  // \s*[\r\n]+ ends after the last newline
        if j == count { return j - i }  // \s+(?!\S) at the end
        // \s+(?!\S) gives back the last scalar, unless that leaves nothing: then \s / \s+.
        return lastStart > i ? lastStart - i : j - i
    }

    // MARK: r50k

    @inlinable
    func matchR50K(at i: Int) -> Int {
        // 's|'t|'re|'ve|'m|'ll|'d
        let c = scalar(at: i)
        if c.value == 0x27 {
            let n = contraction(at: i, caseInsensitive: false)
            if n > 0 { return n }
        }
        // ` ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+`
        var start = i
        var s = c
        if c.value == 0x20, i + 1 < count {
            let d = scalar(at: i + 1)
            if !d.isWhitespace { start = i + 1; s = d }
        }
        if s.isLetter { return runEnd(from: start) { $0.isLetter } - i }
        if s.isNumber { return runEnd(from: start) { $0.isNumber } - i }
        if !s.isWhitespace {
            return runEnd(from: start) { !$0.isWhitespace && !$0.isLetter && !$0.isNumber } - i
        }
        return matchWhitespace(at: i, atEndTakesAll: true, newlineRule: false)
    }

    // MARK: cl100k family

    @inlinable
    func matchCL100K(at i: Int, maxDigits: Int, possessiveForm: Bool) -> Int {
        if self[i] < 0x80, let n = matchCL100KASCII(at: i, maxDigits: maxDigits, possessiveForm: possessiveForm) {
            return n
        }
        let c = scalar(at: i)
        // '(?i:[sdmt]|ll|ve|re)
        if c.value == 0x27 {
            let n = contraction(at: i, caseInsensitive: true)
            if n > 0 { return n }
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if c.isLetter { return runEnd(from: i) { $0.isLetter } - i }
        let next = i + c.length
        if !c.isNewline && !c.isNumber && next < count && scalar(at: next).isLetter {
            return runEnd(from: next) { $0.isLetter } - i
        }
        // \p{N}{1,3}
        if c.isNumber { return numberRunEnd(from: i, max: maxDigits) - i }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        var start = i
        if c.value == 0x20, next < count {
            let d = scalar(at: next)
            if !d.isWhitespace && !d.isLetter && !d.isNumber { start = next }
        }
        if start != i || !c.isWhitespace {
            let end = runEnd(from: start) { !$0.isWhitespace && !$0.isLetter && !$0.isNumber }
            return runEnd(from: end) { $0.isNewline } - i
        }
        return matchWhitespace(at: i, atEndTakesAll: possessiveForm, newlineRule: true)
    }

    // MARK: o200k and tok

    /// Han by code point range, as `SplitRule.hanClass` spells it.
    @inlinable @inline(__always)
    static func isHan(_ v: UInt32) -> Bool {
        (v >= 0x4E00 && v <= 0x9FFF) || (v >= 0x3400 && v <= 0x4DBF)
            || (v >= 0xF900 && v <= 0xFAFF) || (v >= 0x20000 && v <= 0x323AF)
    }

    @inlinable
    func matchO200K(at i: Int, separateHan: Bool) -> Int {
        if self[i] < 0x80, let n = matchO200KASCII(at: i, maxDigits: separateHan ? 1 : 3) { return n }
        let c = scalar(at: i)
        let prefixed = !c.isNewline && !c.isLetter && !c.isNumber && i + c.length < count
        // [^\r\n\p{L}\p{N}]?[Han]+ (tok only)
        if separateHan {
            if Self.isHan(c.value) { return runEnd(from: i) { Self.isHan($0.value) } - i }
            if prefixed && Self.isHan(scalar(at: i + c.length).value) {
                return runEnd(from: i + c.length) { Self.isHan($0.value) } - i
            }
        }
        @inline(__always) func upper(_ s: Scalar) -> Bool {
            s.isIn(Category.upperish) && !(separateHan && Self.isHan(s.value))
        }
        @inline(__always) func lower(_ s: Scalar) -> Bool {
            s.isIn(Category.lowerish) && !(separateHan && Self.isHan(s.value))
        }
        // [^\r\n\p{L}\p{N}]?[U]*[W]+(?i:'s|...)?  then  [^\r\n\p{L}\p{N}]?[U]+[W]*(?i:'s|...)?
        // Each tries with the optional prefix first, then without.
        if prefixed, let end = upperStarLowerPlus(from: i + c.length, upper, lower) { return end - i }
        if let end = upperStarLowerPlus(from: i, upper, lower) { return end - i }
        if prefixed, let end = upperPlusLowerStar(from: i + c.length, upper, lower) { return end - i }
        if let end = upperPlusLowerStar(from: i, upper, lower) { return end - i }
        // \p{N}{1,3} (tok: \p{N})
        if c.isNumber { return numberRunEnd(from: i, max: separateHan ? 1 : 3) - i }
        // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
        var start = i
        let next = i + c.length
        if c.value == 0x20, next < count {
            let d = scalar(at: next)
            if !d.isWhitespace && !d.isLetter && !d.isNumber { start = next }
        }
        if start != i || !c.isWhitespace {
            let end = runEnd(from: start) { !$0.isWhitespace && !$0.isLetter && !$0.isNumber }
            return runEnd(from: end) { $0.isNewline || $0.value == 0x2F } - i
        }
        return matchWhitespace(at: i, atEndTakesAll: false, newlineRule: true)
    }

    // MARK: ASCII fast paths

    @inlinable @inline(__always) static func isASCIILetter(_ b: UInt8) -> Bool { (b | 0x20) &- 97 < 26 }
    @inlinable @inline(__always) static func isASCIIDigit(_ b: UInt8) -> Bool { b &- 48 < 10 }
    /// `\s` for a byte below 0x80.
    @inlinable @inline(__always) static func isASCIISpace(_ b: UInt8) -> Bool { b == 0x20 || b &- 9 < 5 }
    /// `[^\s\p{L}\p{N}]` for a byte below 0x80.
    @inlinable @inline(__always) static func isASCIIOther(_ b: UInt8) -> Bool {
        !isASCIISpace(b) && !isASCIILetter(b) && !isASCIIDigit(b)
    }

    /// `\p{N}{1,max}` at the ASCII digit at `i`; nil when the run stops short
    /// of `max` at a byte that is not ASCII (it might be a digit).
    @inlinable @inline(__always)
    func matchDigitsASCII(at i: Int, max: Int) -> Int? {
        var j = i + 1
        while j < count && j - i < max && Self.isASCIIDigit(self[j]) { j += 1 }
        if j - i < max && j < count && self[j] >= 0x80 { return nil }
        return j - i
    }

    /// The alternatives both families end with, at `i` where no letter or
    /// digit alternative matched: ` ?[^\s\p{L}\p{N}]+` then newlines (and
    /// slashes, for o200k), else the whitespace alternatives.
    @inlinable @inline(__always)
    func matchPunctuationOrSpaceASCII(at i: Int, trailingSlash: Bool, atEndTakesAll: Bool) -> Int? {
        let c = self[i], next = i + 1
        let start = c == 0x20 && next < count && Self.isASCIIOther(self[next]) ? next : i
        guard start != i || !Self.isASCIISpace(c) else {
            return matchWhitespaceASCII(at: i, atEndTakesAll: atEndTakesAll)
        }
        var j = start
        while j < count {
            let b = self[j]
            if b >= 0x80 { return nil }
            if !Self.isASCIIOther(b) { break }
            j += 1
        }
        while j < count && (self[j] == 0x0A || self[j] == 0x0D || (trailingSlash && self[j] == 0x2F)) { j += 1 }
        return j - i
    }

    /// `matchO200K` where the match is decided by ASCII bytes alone (at least
    /// 95% of English, code and mathematics): the same length, from plain byte
    /// comparisons instead of decoding and classifying each code point. Nil as
    /// soon as a byte the decision depends on is not ASCII; the general path
    /// then decides.
    @inlinable @inline(__always)
    func matchO200KASCII(at i: Int, maxDigits: Int) -> Int? {
        let n = count
        let c = self[i]
        // U = [A-Z] and W = [a-z] in ASCII: U*W+ or U+W* from `s`, then a contraction.
        @inline(__always) func letters(from s: Int) -> Int? {
            var j = asciiRunEnd(from: s, first: 0x41, count: 26)
            if j < n && self[j] &- 97 < 26 { j = asciiRunEnd(from: j + 1, first: 0x61, count: 26) }
            if j < n && self[j] >= 0x80 { return nil }  // the run might go on
            return j + contraction(at: j, caseInsensitive: true) - i
        }
        if Self.isASCIILetter(c) { return letters(from: i) }
        // \p{N}{1,3} (tok: \p{N})
        if Self.isASCIIDigit(c) { return matchDigitsASCII(at: i, max: maxDigits) }
        let next = i + 1
        if next < n && c != 0x0A && c != 0x0D {
            // [^\r\n\p{L}\p{N}]?[U]*[W]+... with the prefix (tok: or a Han run).
            let d = self[next]
            if d >= 0x80 { return nil }
            if Self.isASCIILetter(d) { return letters(from: next) }
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`, then \s*[\r\n]+|\s+(?!\S)|\s+
        return matchPunctuationOrSpaceASCII(at: i, trailingSlash: true, atEndTakesAll: false)
    }

    /// The end of the run of bytes in `first ..< first + count` (ASCII) from
    /// `j`, eight bytes a step: a word's end is found without a branch per
    /// letter, whose last turn the CPU mispredicts at every word. With
    /// `foldingCase`, each byte is or-ed with 0x20 first (`a-z` then takes
    /// both cases, and no other byte enters the range).
    ///
    /// Pre-tokenizer alone (`tok-bench`, o200k, best of 4 interleaved):
    /// English 288 -> 343 MB/s, code 357 -> 393, mathematics 285 -> 306.
    @inlinable @inline(__always)
    func asciiRunEnd(from j: Int, first: UInt8, count: UInt8, foldingCase: Bool = false) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        var j = j
        while j + 8 <= self.count {
            // j + 8 <= count: the eight bytes are in the buffer.
            let x = UnsafeRawPointer(baseAddress! + j).loadUnaligned(as: UInt64.self) | (foldingCase ? 0x2020_2020_2020_2020 : 0)
            // With each byte's high bit set, subtracting borrows within the byte
            // only, and the high bit stays set exactly when the low seven bits
            // are at least the bound; a byte of 0x80 or more is never in the run.
            let t = x | highs
            let atLeastFirst = t &- ones &* UInt64(first), atLeastEnd = t &- ones &* UInt64(first + count)
            let outside = ~(atLeastFirst & ~atLeastEnd & ~x) & highs
            if outside != 0 { return j + outside.trailingZeroBitCount >> 3 }
            j += 8
        }
        while j < self.count && (self[j] | (foldingCase ? 0x20 : 0)) &- first < count { j += 1 }
        return j
    }

    /// `matchWhitespace(at:atEndTakesAll:newlineRule: true)` over a run of ASCII
    /// whitespace; nil when the run stops at a byte that is not ASCII.
    @inlinable @inline(__always)
    func matchWhitespaceASCII(at i: Int, atEndTakesAll: Bool) -> Int? {
        // A run of spaces (indentation) and then no whitespace: all but the last
        // space, which the next piece may take (`\s+(?!\S)`), or the one space.
        let spacesEnd = asciiRunEnd(from: i, first: 0x20, count: 1)
        if spacesEnd < count, case let b = self[spacesEnd], b < 0x80, !Self.isASCIISpace(b) {
            return spacesEnd - i > 1 ? spacesEnd - 1 - i : 1
        }
        var j = i, lastStart = i, afterNewline = -1
        while j < count {
            let b = self[j]
            if b >= 0x80 { return nil }
            guard Self.isASCIISpace(b) else { break }
            lastStart = j
            j += 1
            if b == 0x0A || b == 0x0D { afterNewline = j }
        }
        if atEndTakesAll && j == count { return j - i }
        if afterNewline > 0 { return afterNewline - i }
        if j == count { return j - i }
        return lastStart > i ? lastStart - i : j - i
    }

    /// `matchCL100K` decided by ASCII bytes alone, as ``matchO200KASCII(at:maxDigits:)``.
    @inlinable @inline(__always)
    func matchCL100KASCII(at i: Int, maxDigits: Int, possessiveForm: Bool) -> Int? {
        let n = count
        let c = self[i]
        @inline(__always) func letters(from s: Int) -> Int? {
            let j = asciiRunEnd(from: s, first: 0x61, count: 26, foldingCase: true)
            return j < n && self[j] >= 0x80 ? nil : j - i
        }
        // '(?i:[sdmt]|ll|ve|re)
        if c == 0x27 {
            let k = contraction(at: i, caseInsensitive: true)
            if k > 0 { return k }
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if Self.isASCIILetter(c) { return letters(from: i) }
        let next = i + 1
        let digit = Self.isASCIIDigit(c)
        if c != 0x0A && c != 0x0D && !digit && next < n {
            let d = self[next]
            if d >= 0x80 { return nil }
            if Self.isASCIILetter(d) { return letters(from: next) }
        }
        // \p{N}{1,3}
        if digit { return matchDigitsASCII(at: i, max: maxDigits) }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`, then \s++$|\s*[\r\n]|\s+(?!\S)|\s
        return matchPunctuationOrSpaceASCII(at: i, trailingSlash: false, atEndTakesAll: possessiveForm)
    }

    /// `[U]*[W]+` then an optional contraction, from `s`; nil when it fails.
    @inlinable @inline(__always)
    func upperStarLowerPlus(
        from s: Int, _ upper: (Scalar) -> Bool, _ lower: (Scalar) -> Bool
    ) -> Int? {
        // U* runs greedily; W+ then needs a W at the run's end, or gives back
        // the run down to its last W (Lm, Lo and M are in both sets).
        var j = s, lastLowerEnd = -1
        while j < count {
            let t = scalar(at: j)
            guard upper(t) else { break }
            j += t.length
            if lower(t) { lastLowerEnd = j }
        }
        var end: Int
        if j < count, lower(scalar(at: j)) {
            end = runEnd(from: j, lower)
        } else if lastLowerEnd >= 0 {
            end = lastLowerEnd
        } else {
            return nil
        }
        end += contraction(at: end, caseInsensitive: true)
        return end
    }

    /// `[U]+[W]*` then an optional contraction, from `s`; nil when it fails.
    @inlinable @inline(__always)
    func upperPlusLowerStar(
        from s: Int, _ upper: (Scalar) -> Bool, _ lower: (Scalar) -> Bool
    ) -> Int? {
        let u = runEnd(from: s, upper)
        guard u > s else { return nil }
        var end = runEnd(from: u, lower)
        end += contraction(at: end, caseInsensitive: true)
        return end
    }

    // MARK: DeepSeek-V3

    @inlinable
    func matchDeepSeekCJK(at i: Int) -> Int {
        @inline(__always) func cjk(_ s: Scalar) -> Bool {
            (s.value >= 0x4E00 && s.value <= 0x9FA5) || (s.value >= 0x3040 && s.value <= 0x30FF)
        }
        return runEnd(from: i, cjk) - i
    }

    @inlinable
    func matchDeepSeekWords(at i: Int) -> Int {
        @inline(__always) func asciiPunct(_ b: UInt8) -> Bool {
            (b >= 0x21 && b <= 0x2F) || (b >= 0x3A && b <= 0x40) || (b >= 0x5B && b <= 0x60)
                || (b >= 0x7B && b <= 0x7E)
        }
        @inline(__always) func asciiLetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
        let c = scalar(at: i)
        // [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+
        if c.value < 0x80, asciiPunct(UInt8(c.value)), i + 1 < count, asciiLetter(self[i + 1]) {
            var j = i + 1
            while j < count && asciiLetter(self[j]) { j += 1 }
            return j - i
        }
        // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
        let letterOrMark = Category.letter | Category.mark
        let next = i + c.length
        if !c.isNewline && !c.isIn(Category.letter | Category.punctuation | Category.symbol),
           next < count, scalar(at: next).isIn(letterOrMark) {
            return runEnd(from: next) { $0.isIn(letterOrMark) } - i
        }
        if c.isIn(letterOrMark) { return runEnd(from: i) { $0.isIn(letterOrMark) } - i }
        // ` ?[\p{P}\p{S}]+[\r\n]*`
        let punctOrSymbol = Category.punctuation | Category.symbol
        var start = i
        if c.value == 0x20, next < count, scalar(at: next).isIn(punctOrSymbol) { start = next }
        if scalar(at: start).isIn(punctOrSymbol) {
            let end = runEnd(from: start) { $0.isIn(punctOrSymbol) }
            return runEnd(from: end) { $0.isNewline } - i
        }
        if c.isWhitespace { return matchWhitespace(at: i, atEndTakesAll: false, newlineRule: true) }
        return 0
    }
}
