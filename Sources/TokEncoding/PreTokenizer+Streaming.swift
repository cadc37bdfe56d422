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
    /// NFC never composes across either kind. A special token containing such
    /// a newline or space is not found across a cut.
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

/// The one streaming loop of encoding and counting: reads an input in blocks
/// into a buffer and hands on the longest prefix that ends where the
/// pre-tokenizer may cut (all that is left at the end of the input), carrying
/// the rest into the next block. Memory stays near the block size unless the
/// input has no cut for a long stretch (Chinese without line breaks), which
/// grows the buffer until one comes.
public struct BlockCutter {
    public let preTokenizer: PreTokenizer
    public let blockSize: Int
    /// The bytes read and not yet consumed.
    public private(set) var buffer: [UInt8] = []
    public private(set) var atEnd = false
    private var searchedUpTo = 0

    public init(preTokenizer: PreTokenizer, blockSize: Int) {
        self.preTokenizer = preTokenizer
        self.blockSize = blockSize
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
                return preTokenizer.safeCut(in: b, lower: max(lower, 1), upper: b.count - 1)
            }
            if let cut, cut > 0 {
                searchedUpTo = 0
                return cut
            }
            searchedUpTo = max(buffer.count - 8, 0)
        }
    }

    /// Drops the first `n` bytes of ``buffer``, once handed on.
    public mutating func consume(_ n: Int) { buffer.removeSubrange(0 ..< n) }
}
