import CTokICU

/// HuggingFace's added-token extraction: tokens matched in the raw input
/// (`normalized` false) and then in each normalized stretch between them
/// (`normalized` true), leftmost and longest first, with `single_word`,
/// `lstrip` and `rstrip` applied to each match as `tokenizers` applies them.
struct AddedTokenMatcher: Sendable {
    let matcher: SpecialTokenMatcher
    let options: [UInt32: SpecialToken]
    /// No match can need an option: the plain loop serves it.
    let plain: Bool
    var isEmpty: Bool { matcher.isEmpty }

    /// `tokens` matched as `content`, or, for `normalized` ones, as their content normalized by `normalizer`.
    init(_ tokens: [SpecialToken], normalizer: Normalizer?) {
        var matched: [SpecialToken] = []
        for var t in tokens {
            if let normalizer, t.normalized {
                var content = t.content
                let bytes = content.withUTF8 { normalizer.apply($0) }
                if let bytes { content = String(decoding: bytes, as: UTF8.self) }
                t.content = content
            }
            matched.append(t)
        }
        matcher = SpecialTokenMatcher(matched)
        options = Dictionary(matched.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        plain = matched.allSatisfy { !$0.lstrip && !$0.rstrip && !$0.singleWord }
    }

    /// Calls `gap` with each stretch between matches and `token` with each match's id, in order.
    func forEach(in text: UnsafeBufferPointer<UInt8>, gap: (UnsafeBufferPointer<UInt8>) -> Void, token: (UInt32) -> Void) {
        let n = text.count
        var startOffset = 0, searchFrom = 0
        while let m = matcher.next(in: text, from: searchFrom) {
            searchFrom = m.start + m.length
            var start = m.start, stop = m.start + m.length
            if !plain, let t = options[m.id] {
                if t.singleWord {
                    let startSpace = start == 0 || !AddedTokenMatcher.isWord(before: start, in: text)
                    let stopSpace = stop == n || !AddedTokenMatcher.isWord(text.scalar(at: stop))
                    if !startSpace || !stopSpace { continue }
                }
                if t.lstrip {
                    var p = start
                    while p > 0 {
                        let q = CompiledPattern.previousBoundary(text, p, lower: 0)
                        guard text.scalar(at: q).isWhitespace else { break }
                        p = q
                    }
                    start = max(p, startOffset)
                }
                if t.rstrip {
                    while stop < n {
                        let s = text.scalar(at: stop)
                        guard s.isWhitespace else { break }
                        stop += s.length
                    }
                }
            }
            if startOffset < start { gap(UnsafeBufferPointer(rebasing: text[startOffset ..< start])) }
            token(m.id)
            startOffset = stop
        }
        if startOffset < n { gap(UnsafeBufferPointer(rebasing: text[startOffset ..< n])) }
    }

    /// Rust `regex`'s `\w` (what `tokenizers` tests `single_word` with):
    /// Alphabetic, marks, decimal digits, connector punctuation, joiners.
    static func isWord(_ s: Scalar) -> Bool {
        let v = s.value
        if v < 0x80 {
            return v == 0x5F || (v | 0x20 >= 0x61 && v | 0x20 <= 0x7A) || (v >= 0x30 && v <= 0x39)
        }
        if v == 0x200C || v == 0x200D { return true }
        if s.isIn(Category.mark | 1 << 9 | 1 << 22) { return true }
        return tok_icu_has_property(3, alphabeticProperty, v) != 0
    }

    static func isWord(before p: Int, in text: UnsafeBufferPointer<UInt8>) -> Bool {
        isWord(text.scalar(at: CompiledPattern.previousBoundary(text, p, lower: 0)))
    }

    static let alphabeticProperty: Int32 = {
        var value: Int32 = 0
        _ = tok_icu_property_kind("Alphabetic", &value)
        return value
    }()
}
