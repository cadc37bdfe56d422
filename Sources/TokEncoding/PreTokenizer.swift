import CTokICU
import CTokRuntime

/// What a split does with the matches of its pattern: HuggingFace's
/// `SplitDelimiterBehavior`.
public enum SplitBehavior: String, Sendable, Hashable, CaseIterable {
    /// Every match is a piece, and so is the text between two matches.
    case isolated = "Isolated"
    /// Matches are dropped; the text between them stays.
    case removed = "Removed"
    /// A match joins the piece before it.
    case mergedWithPrevious = "MergedWithPrevious"
    /// A match joins the piece after it.
    case mergedWithNext = "MergedWithNext"
    /// Runs of matches are one piece, and runs of the rest another.
    case contiguous = "Contiguous"
}

/// Where a split's matches come from: a hand-written rule (the fast path for
/// the known patterns) or a compiled pattern (any other regex).
public enum SplitPattern: Sendable, Hashable {
    case rule(SplitRule)
    case compiled(CompiledPattern)

    /// A pattern from a HuggingFace regex: the hand-written rule when one is
    /// exactly equivalent, else compiled.
    public init(huggingFaceRegex regex: String) throws {
        if let rule = SplitRule(huggingFaceRegex: regex) { self = .rule(rule) } else { self = .compiled(try CompiledPattern(regex)) }
    }

    /// The regex as HuggingFace `tokenizers` must be given it.
    public var huggingFaceRegex: String {
        switch self {
        case .rule(let r): return r.huggingFaceRegex
        case .compiled(let c): return c.source
        }
    }

    /// The regex as tiktoken and Python `regex` read it.
    public var regex: String {
        switch self {
        case .rule(let r): return r.regex
        case .compiled(let c): return c.source
        }
    }
}

/// One step of a pre-tokenizer: a pattern, what to do with its matches, and
/// whether matches and the rest swap roles first (`invert`).
public struct Split: Sendable, Hashable {
    public var pattern: SplitPattern
    public var behavior: SplitBehavior
    public var invert: Bool
    /// The literal text, when HuggingFace's file gave the pattern as `{"String": ...}`.
    public var literal: String?

    public init(_ pattern: SplitPattern, behavior: SplitBehavior = .isolated, invert: Bool = false, literal: String? = nil) {
        self.pattern = pattern
        self.behavior = behavior
        self.invert = invert
        self.literal = literal
    }

    /// True for the common case the fast paths serve: a hand-written rule, `Isolated`, not inverted.
    var isPlainRule: Bool {
        if case .rule = pattern, behavior == .isolated, !invert { return true }
        return false
    }
}

/// Cuts text into the pieces the kernel merges apart: a pre-tokenizer, or a
/// SentencePiece vocabulary's segmenter.
@usableFromInline
protocol PieceSplitter {
    /// Calls `body` with the byte range of each piece of `text`, in order; the pieces tile `text`.
    func forEachPiece(_ text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void)
    /// ``forEachPiece(_:_:)``, with the pieces a 64-byte window decides given
    /// together: `window(i, ends)` for the pieces that start at `i` and end
    /// at each bit `k` of `ends` (`i + k`; the first ends at the lowest bit,
    /// each of the others where the one before ends).
    func forEachPiece(_ text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void, window: (Int, UInt64) -> Void)
}

extension PieceSplitter {
    @inlinable
    func forEachPiece(_ text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void, window: (Int, UInt64) -> Void) {
        forEachPiece(text, body)
    }
}

/// Splits text into pieces: a sequence of ``Split``s, each applied to every
/// piece of the one before (HuggingFace's `Sequence` of `Split`s, with
/// `ByteLevel`'s own split when it uses its regex).
public struct PreTokenizer: Sendable, Hashable, PieceSplitter {
    public let splits: [Split]
    /// `ByteLevel`'s `add_prefix_space`: a segment that does not start with a
    /// space gets one before it is split.
    public let addPrefixSpace: Bool
    /// Every split is a plain hand-written rule: the loops below serve it.
    @usableFromInline let fastPath: Bool

    public init(splits: [Split], addPrefixSpace: Bool = false) {
        precondition(!splits.isEmpty, "a pre-tokenizer needs at least one split")
        tok_ensure_unicode_classes()
        self.splits = splits
        self.addPrefixSpace = addPrefixSpace
        self.fastPath = splits.allSatisfy(\.isPlainRule)
    }

    public init(rules: [SplitRule]) {
        self.init(splits: rules.map { Split(.rule($0)) })
    }

    /// A pre-tokenizer of one regex (HuggingFace semantics), `Isolated`.
    public init(regex: String) throws {
        self.init(splits: [Split(try SplitPattern(huggingFaceRegex: regex))])
    }

    /// The hand-written rules, when every split is one with `Isolated` and no
    /// inversion and no prefix space is added; else nil.
    public var rules: [SplitRule]? {
        guard !addPrefixSpace else { return nil }
        var out: [SplitRule] = []
        for split in splits {
            guard split.isPlainRule, case .rule(let r) = split.pattern else { return nil }
            out.append(r)
        }
        return out
    }

    /// The named patterns a vocabulary can record.
    public static let named: [String: PreTokenizer] = [
        "r50k": PreTokenizer(rules: [.r50k]),
        "cl100k": PreTokenizer(rules: [.cl100k]),
        "llama3": PreTokenizer(rules: [.llama3]),
        "qwen2": PreTokenizer(rules: [.qwen2]),
        "o200k": PreTokenizer(rules: [.o200k]),
        "tok": PreTokenizer(rules: [.tok]),
        "deepseek-v3": PreTokenizer(rules: [.deepseekDigits, .deepseekCJK, .deepseekWords]),
        // Words as sentencepiece's trainer cuts them: each starts at a run of spaces (SentencePiece training counts with it).
        "sentencepiece": try! PreTokenizer(regex: " +[^ ]*|[^ ]+"),
        "superwords": PreTokenizer(rules: [.superwords]),
    ]

    /// The project's default pattern for mixed zh/en/code/math text.
    public static let defaultName = "tok"

    /// The pattern named `name` (`cl100k`, `o200k`, `tok`, ...).
    public init?(named name: String) {
        guard let p = PreTokenizer.named[name] else { return nil }
        self = p
    }

    /// The name this pre-tokenizer is known by, `custom` for compiled patterns, or its rules joined by `+`.
    public var name: String {
        if let known = PreTokenizer.named.first(where: { $0.value == self })?.key { return known }
        guard let rules else { return "custom" }
        return rules.map(\.rawValue).joined(separator: "+")
    }

    /// The regex strings, one per split, that this pre-tokenizer is exactly equivalent to.
    public var regexes: [String] { splits.map(\.pattern.regex) }

    /// Calls `body` with the byte range of each piece of `text`, in order. The
    /// pieces tile `text` exactly.
    ///
    /// - Complexity: O(n) in the length of `text`.
    @inlinable
    public func forEachPiece(_ text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        forEachPiece(text, body) { i, ends in
            var e = ends, last = i
            while e != 0 {
                let end = i + e.trailingZeroBitCount
                body(last ..< end)
                last = end
                e &= e &- 1
            }
        }
    }

    /// ``forEachPiece(_:_:)`` with the pieces of a window given together
    /// (``PieceSplitter/forEachPiece(_:_:window:)``).
    @inlinable
    func forEachPiece(_ text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void, window: (Int, UInt64) -> Void) {
        // One split: a loop with the matcher chosen once, outside it, so that it
        // inlines (the general loop below dispatches on the rule per match;
        // split and its closure measured 14% of English encoding time, and this
        // loop 2-4% faster in all).
        guard fastPath else {
            // One compiled split, Isolated: its segments are the pieces.
            if splits.count == 1, case .compiled(let compiled) = splits[0].pattern, splits[0].behavior == .isolated,
               !splits[0].invert {
                return compiled.forEachSegment(text) { r, _ in if !r.isEmpty { body(r) } }
            }
            return splitGeneral(text, offset: 0, index: 0, body)
        }
        if splits.count == 1, case .rule(let rule) = splits[0].pattern {
            switch rule {
            case .o200k:
                return text.forEachMatch(windows: (cl100k: false, maxDigits: 3), body, window: window) { $0.matchO200K(at: $1, separateHan: false) }
            case .tok:
                return text.forEachMatch(windows: (cl100k: false, maxDigits: 1), body, window: window) { $0.matchO200K(at: $1, separateHan: true) }
            case .cl100k:
                return text.forEachMatch(windows: (cl100k: true, maxDigits: 3), body, window: window) {
                    $0.matchCL100K(at: $1, maxDigits: 3, possessiveForm: true)
                }
            case .llama3:
                return text.forEachMatch(windows: (cl100k: true, maxDigits: 3), body, window: window) {
                    $0.matchCL100K(at: $1, maxDigits: 3, possessiveForm: false)
                }
            case .qwen2:
                return text.forEachMatch(windows: (cl100k: true, maxDigits: 1), body, window: window) {
                    $0.matchCL100K(at: $1, maxDigits: 1, possessiveForm: false)
                }
            default: break
            }
        }
        split(text, offset: 0, rule: 0, body)
    }


    @inlinable
    func split(_ text: UnsafeBufferPointer<UInt8>, offset: Int, rule index: Int, _ body: (Range<Int>) -> Void) {
        guard case .rule(let rule) = splits[index].pattern else { return }
        let last = index == splits.count - 1
        @inline(__always) func emit(_ start: Int, _ end: Int) {
            if last {
                body(offset + start ..< offset + end)
            } else {
                split(UnsafeBufferPointer(rebasing: text[start ..< end]), offset: offset + start, rule: index + 1, body)
            }
        }
        var i = 0, gapStart = 0
        let n = text.count
        while i < n {
            let length = rule.matchLength(text, at: i)
            if length > 0 {
                if gapStart < i { emit(gapStart, i) }
                emit(i, i + length)
                i += length
                gapStart = i
            } else {
                i += text.scalar(at: i).length
            }
        }
        if gapStart < n { emit(gapStart, n) }
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// Calls `body` with each match of `match` and each gap between matches, in
    /// order: ``PreTokenizer``'s split with one rule, the rule inlined. With
    /// `windows` (the o200k or cl100k family's), ASCII text is cut 64 bytes at
    /// a time (``windowPieces(at:cl100k:maxDigits:_:)``), the rest by `match`.
    @inlinable @inline(__always)
    func forEachMatch(
        windows: (cl100k: Bool, maxDigits: Int)? = nil, _ body: (Range<Int>) -> Void,
        window: (Int, UInt64) -> Void, _ match: (Self, Int) -> Int
    ) {
        var i = 0, gapStart = 0
        while i < count {
            if let windows, gapStart == i, count - i >= 64,
               case let reach = windowPieces(at: i, cl100k: windows.cl100k, maxDigits: windows.maxDigits, window),
               reach > 0 {
                i += reach
                gapStart = i
                continue
            }
            let length = match(self, i)
            if length > 0 {
                if gapStart < i { body(gapStart ..< i) }
                body(i ..< i + length)
                i += length
                gapStart = i
            } else {
                i += scalar(at: i).length
            }
        }
        if gapStart < count { body(gapStart ..< count) }
    }
}
