/// One regex split, implemented by hand.
///
/// Each rule is exactly equivalent to the regex string ``regex``: that string is
/// what a vocabulary records and what HuggingFace `tokenizers` (`Split`,
/// `Isolated`) and `tiktoken` (`pat_str`) run, and the test suite checks the
/// equivalence against them and Python `regex` on real and random text. No regex
/// engine runs here: each rule walks the bytes once, with the backtracking the
/// regex would do worked out in advance.
public enum SplitRule: String, Sendable, CaseIterable, Hashable {
    /// GPT-2 / r50k_base.
    case r50k
    /// cl100k_base as tiktoken 0.14 writes it (possessive form).
    case cl100k
    /// cl100k_base as Llama 3's `tokenizer.json` writes it; differs at the end of
    /// a segment that ends in whitespace with a newline.
    case llama3
    /// Qwen2 / Qwen2.5 / Qwen3: cl100k's older form with single digits.
    case qwen2
    /// o200k_base.
    case o200k
    /// The project's default: o200k with Han runs kept apart from other letters
    /// (each may take one leading punctuation or space, as o200k's letter runs
    /// do) and digits one by one. The measurements are in docs/building.md.
    case tok
    /// DeepSeek-V3's three splits, applied in sequence.
    case deepseekDigits = "deepseek-digits"
    case deepseekCJK = "deepseek-cjk"
    case deepseekWords = "deepseek-words"
    /// Superword vocabularies: a stretch of a line up to a sentence end, spaces
    /// included (`SplitRule+Superwords.swift`).
    case superwords

    /// The regex this rule is equivalent to.
    public var regex: String {
        switch self {
        case .r50k:
            return #"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"#
        case .cl100k:
            return #"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"#
        case .llama3:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .qwen2:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .o200k:
            return [
                #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
                #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
                #"\p{N}{1,3}"#, #" ?[^\s\p{L}\p{N}]+[\r\n/]*"#, #"\s*[\r\n]+"#, #"\s+(?!\S)"#, #"\s+"#,
            ].joined(separator: "|")
        case .tok:
            return [
                #"[^\r\n\p{L}\p{N}]?["# + SplitRule.hanClass + "]+",
                #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^"# + SplitRule.hanClass + #"]]*[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^"# + SplitRule.hanClass + #"]]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
                #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^"# + SplitRule.hanClass + #"]]+[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^"# + SplitRule.hanClass + #"]]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
                #"\p{N}"#, #" ?[^\s\p{L}\p{N}]+[\r\n/]*"#, #"\s*[\r\n]+"#, #"\s+(?!\S)"#, #"\s+"#,
            ].joined(separator: "|")
        case .deepseekDigits:
            return #"\p{N}{1,3}"#
        case .deepseekCJK:
            return "[\u{4E00}-\u{9FA5}\u{3040}-\u{309F}\u{30A0}-\u{30FF}]+"
        case .deepseekWords:
            return "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
        case .superwords:
            return SplitRule.superwordRegex
        }
    }

    /// The same regex as HuggingFace `tokenizers` (Oniguruma) must be given it.
    /// Oniguruma reads `{1,3}+` as a repeated interval, not a possessive one, so
    /// cl100k's tiktoken spelling would make digit runs unbounded there.
    public var huggingFaceRegex: String {
        switch self {
        case .cl100k:
            return #"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"#
        default: return regex
        }
    }

    /// Han ideographs by code point range (CJK Unified, Extension A, compatibility
    /// ideographs, and the supplementary ideographic planes), written as
    /// ranges of literal characters so that every engine reads the same set
    /// whatever its Unicode version. (Escaped here: U+F900 is canonically
    /// equivalent to U+8C48, and an NFC-normalizing editor would silently turn
    /// the range into one that swallows Hangul.)
    static let hanClass = "\u{3400}-\u{4DBF}\u{4E00}-\u{9FFF}\u{F900}-\u{FAFF}\u{20000}-\u{323AF}"

    /// Other spellings of the same regexes found in published `tokenizer.json` files.
    static let aliases: [String: SplitRule] = [
        // GPT-2's ByteLevel `use_regex` pattern.
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: .r50k,
    ]

    /// The rule that a `tokenizer.json` Split with exactly this regex means to
    /// HuggingFace `tokenizers`, if one is implemented.
    public init?(huggingFaceRegex regex: String) {
        if let rule = SplitRule.allCases.first(where: { $0.huggingFaceRegex.utf8.elementsEqual(regex.utf8) }) {
            self = rule
        } else if let rule = SplitRule.aliases.first(where: { $0.key.utf8.elementsEqual(regex.utf8) })?.value {
            self = rule
        } else {
            return nil
        }
    }

    /// True when every position of any input is covered by some match, so a
    /// split never leaves a gap and tiktoken (which drops gaps) agrees with
    /// HuggingFace's `Isolated` split (which keeps them).
    public var coversEverything: Bool {
        switch self {
        case .deepseekDigits, .deepseekCJK, .deepseekWords: return false
        default: return true
        }
    }
}

extension SplitRule {
    /// The length in bytes of the match that the regex finds starting exactly at
    /// `i`, or 0 when no match starts there. `text` is the whole segment: its end
    /// is the regex's `$` and the end its lookaheads see.
    @inlinable
    func matchLength(_ text: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        switch self {
        case .r50k: return text.matchR50K(at: i)
        case .cl100k: return text.matchCL100K(at: i, maxDigits: 3, possessiveForm: true)
        case .llama3: return text.matchCL100K(at: i, maxDigits: 3, possessiveForm: false)
        case .qwen2: return text.matchCL100K(at: i, maxDigits: 1, possessiveForm: false)
        case .o200k: return text.matchO200K(at: i, separateHan: false)
        case .tok: return text.matchO200K(at: i, separateHan: true)
        case .deepseekDigits: return text.matchNumbers(at: i, max: 3)
        case .deepseekCJK: return text.matchDeepSeekCJK(at: i)
        case .deepseekWords: return text.matchDeepSeekWords(at: i)
        case .superwords: return text.matchSuperwordSpan(at: i)
        }
    }
}
