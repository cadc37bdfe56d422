/// Kinds of position where a text may be cut so that pre-tokenizing the two
/// sides apart gives exactly the pieces of pre-tokenizing it whole. Each
/// ``SplitRule`` states the kinds it honours; a ``PreTokenizer`` cuts only
/// where all its rules do. The property tests check every pattern against
/// cutting at every such position, on real text and random Unicode.
public struct SafeCuts: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// After a newline that follows a non-whitespace character and precedes a
    /// letter: no alternative runs a newline into a following letter (the
    /// letter alternatives exclude `\r\n` from their optional prefix), and the
    /// whitespace before the letter is the newline alone, so `$` and `(?!\S)`
    /// see the same thing at the cut as in the whole text.
    public static let newlineBeforeLetter = SafeCuts(rawValue: 1)
    /// Before a single space between two ASCII letters (`abc def`): the letter
    /// run ends at the space and ` def` is one piece. Keeps long lines cuttable.
    public static let spaceBetweenASCIILetters = SafeCuts(rawValue: 2)
}

extension SplitRule {
    /// Where this rule lets a stream be cut. All the hand-written rules end a
    /// piece at both kinds (a gap of DeepSeek's CJK and digit rules is split
    /// further by the rules after it, which cut there too).
    public var safeCuts: SafeCuts {
        // A superword piece runs across spaces.
        self == .superwords ? [.newlineBeforeLetter] : [.newlineBeforeLetter, .spaceBetweenASCIILetters]
    }
}

extension PreTokenizer {
    /// The cuts every rule of this pre-tokenizer honours.
    public var safeCuts: SafeCuts {
        // Compiled patterns, other behaviors and a prefix space promise no cut:
        // such a text is split whole.
        // Words of `sentencepiece` end before a space that follows anything else.
        if self == PreTokenizer.named["sentencepiece"] { return [.spaceBetweenASCIILetters] }
        guard let rules else { return [] }
        return rules.reduce(SafeCuts([.newlineBeforeLetter, .spaceBetweenASCIILetters])) { $0.intersection($1.safeCuts) }
    }

    /// The last position in `text[lower...upper]` where the text can be cut
    /// (see ``SafeCuts``), searching backwards from `upper`; nil if none.
    /// NFC never composes across either kind. An added token that holds such
    /// a newline or space is split by it: ``safeCut(in:lower:upper:keepingWhole:)``
    /// cuts around them.
    ///
    /// - Complexity: O(upper - lower).
    public func safeCut(in text: UnsafeBufferPointer<UInt8>, lower: Int, upper: Int) -> Int? {
        let kinds = safeCuts
        guard !kinds.isEmpty else { return nil }
        let spaces = kinds.contains(.spaceBetweenASCIILetters), newlines = kinds.contains(.newlineBeforeLetter)
        @inline(__always) func asciiLetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
        var p = min(upper, text.count - 2)
        while p >= max(lower, 2) {
            // 2 <= p <= count - 2: p - 2 and p + 1 are in the text.
            let b = text[p]
            if spaces && b == 0x20 && asciiLetter(text[p - 1]) && asciiLetter(text[p + 1]) { return p }
            if newlines && text[p - 1] == 0x0A {
                // Start of the scalar before the newline: step back over continuation bytes.
                var q = p - 2
                while q > 0 && q > p - 5 && text[q] & 0xC0 == 0x80 { q -= 1 }
                let before = text.scalar(at: q)
                let after = text.scalar(at: p)
                if q + before.length == p - 1 && !before.isWhitespace && after.isLetter { return p }
            }
            p -= 1
        }
        return nil
    }
}

/// Added tokens a cut must not split (``PreTokenizer/safeCut(in:lower:upper:keepingWhole:)``):
/// those whose bytes hold a space or a newline, where the pre-tokenizer's
/// cuts fall, and those that take in the white space beside a match.
public struct TokensKeptWhole: Sendable {
    /// Each token's bytes, and whether it takes in white space before and after a match.
    let tokens: [(bytes: [UInt8], before: Bool, after: Bool)]
    /// The longest token's bytes.
    let longest: Int

    public static let none = TokensKeptWhole([])

    /// The tokens of `tokens` a cut could split. A token matched in the
    /// normalized text is kept whole by its own bytes in the raw text.
    public init(_ tokens: [SpecialToken]) {
        self.tokens = tokens.compactMap { t in
            let bytes = Array(t.content.utf8)
            let spaced = bytes.count >= 2 && bytes.contains { $0 == 0x20 || $0 == 0x0A }
            guard !bytes.isEmpty, spaced || t.lstrip || t.rstrip else { return nil }
            return (bytes, t.lstrip, t.rstrip)
        }
        longest = self.tokens.map(\.bytes.count).max() ?? 0
    }

    public var isEmpty: Bool { tokens.isEmpty }

    /// Whether a cut at `p` splits a token's match, or a match from the white
    /// space it takes in. A match running past the text's end counts: the
    /// rest may come with the next bytes.
    ///
    /// - Complexity: O(tokens x longest^2), once a cut.
    func splits(_ text: UnsafeBufferPointer<UInt8>, at p: Int) -> Bool {
        for (bytes, before, after) in tokens {
            let n = bytes.count
            // A match at s: split when s < p < s + n, or at its end when it takes in what follows, or at its start when it takes in what precedes.
            for s in max(p - n, 0) ... p {
                guard s < p && p < s + n || after && s + n == p || before && s == p else { continue }
                let available = min(n, text.count - s)
                var k = 0
                while k < available && text[s + k] == bytes[k] { k += 1 }  // s + k < text.count: k < available
                if k == available { return true }
            }
        }
        return false
    }
}

extension PreTokenizer {
    /// ``safeCut(in:lower:upper:)`` at a position that splits none of `kept`'s tokens.
    ///
    /// - Complexity: O(upper - lower), and ``TokensKeptWhole/splits(_:at:)`` per cut tried.
    public func safeCut(in text: UnsafeBufferPointer<UInt8>, lower: Int, upper: Int, keepingWhole kept: TokensKeptWhole) -> Int? {
        var upper = upper
        while let cut = safeCut(in: text, lower: lower, upper: upper) {
            guard !kept.isEmpty, kept.splits(text, at: cut) else { return cut }
            upper = cut - 1
        }
        return nil
    }
}

/// The one streaming loop of encoding and counting: reads an input in blocks
/// into a buffer and hands on the longest prefix that ends where the
/// pre-tokenizer may cut (all that is left at the end of the input), carrying
/// the rest into the next block. Memory stays near the block size unless the
/// input has no cut for a long stretch (Chinese without line breaks), which
/// grows the buffer until one comes.
public struct BlockCutter {
    public let preTokenizer: PreTokenizer
    public let blockSize: Int
    /// Added tokens no block ends inside (an encoder's; none for counting).
    public let kept: TokensKeptWhole
    /// The bytes read and not yet consumed.
    public private(set) var buffer: [UInt8] = []
    public private(set) var atEnd = false
    private var searchedUpTo = 0

    public init(preTokenizer: PreTokenizer, blockSize: Int, keepingWhole kept: TokensKeptWhole = .none) {
        self.preTokenizer = preTokenizer
        self.blockSize = blockSize
        self.kept = kept
    }

    /// Reads until a prefix of ``buffer`` can be handed on and returns its
    /// length: 0 once the input is exhausted. `preferred` may pick a cut of
    /// its own in the buffer (searching from the given position), such as the
    /// end of a document.
    public mutating func nextBlock(
        read: (inout [UInt8], Int) throws -> Bool,
        preferred: ((UnsafeBufferPointer<UInt8>, Int) -> Int?)? = nil
    ) throws -> Int {
        while true {
            if !atEnd { atEnd = try !read(&buffer, blockSize) }
            if buffer.isEmpty { return 0 }
            let lower = searchedUpTo
            let cut: Int? = buffer.withUnsafeBufferPointer { b in
                if atEnd { return b.count }
                if let preferred, let p = preferred(b, max(lower, 2)) { return p }
                return preTokenizer.safeCut(in: b, lower: max(lower, 1), upper: b.count - 1, keepingWhole: kept)
            }
            if let cut, cut > 0 {
                searchedUpTo = 0
                return cut
            }
            // A cut found later may lie just before the end searched, or a kept token's length before it.
            searchedUpTo = max(buffer.count - 8 - 2 * kept.longest, 0)
        }
    }

    /// Drops the first `n` bytes of ``buffer``, once handed on.
    public mutating func consume(_ n: Int) { buffer.removeSubrange(0 ..< n) }
}
