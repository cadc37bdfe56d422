import CTokICU

/// Splits text into pieces: a sequence of ``SplitRule``s, each applied to every
/// piece of the one before with HuggingFace's `Isolated` behaviour (a match is a
/// piece, and so is the text between two matches).
public struct PreTokenizer: Sendable, Hashable {
    public let rules: [SplitRule]

    public init(rules: [SplitRule]) {
        precondition(!rules.isEmpty, "a pre-tokenizer needs at least one split")
        tok_icu_ensure_classes()
        self.rules = rules
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
    ]

    /// The project's default pattern for mixed zh/en/code/math text.
    public static let defaultName = "tok"

    /// The pattern named `name` (`cl100k`, `o200k`, `tok`, ...).
    public init?(named name: String) {
        guard let p = PreTokenizer.named[name] else { return nil }
        self = p
    }

    /// The name this pre-tokenizer is known by, or `custom`.
    public var name: String {
        PreTokenizer.named.first { $0.value == self }?.key ?? rules.map(\.rawValue).joined(separator: "+")
    }

    /// The regex strings, one per split, that this pre-tokenizer is exactly equivalent to.
    public var regexes: [String] { rules.map(\.regex) }

    /// Calls `body` with the byte range of each piece of `text`, in order. The
    /// pieces tile `text` exactly.
    ///
    /// - Complexity: O(n) in the length of `text`.
    @inlinable
    public func forEachPiece(_ text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        // One split: a loop with the matcher chosen once, outside it, so that it
        // inlines (the general loop below dispatches on the rule per match;
        // split and its closure measured 14% of English encoding time, and this
        // loop 2-4% faster in all).
        if rules.count == 1 {
            switch rules[0] {
            case .o200k: return text.forEachMatch(body) { $0.matchO200K(at: $1, separateHan: false) }
            case .tok: return text.forEachMatch(body) { $0.matchO200K(at: $1, separateHan: true) }
            case .cl100k: return text.forEachMatch(body) { $0.matchCL100K(at: $1, maxDigits: 3, possessiveForm: true) }
            case .llama3: return text.forEachMatch(body) { $0.matchCL100K(at: $1, maxDigits: 3, possessiveForm: false) }
            case .qwen2: return text.forEachMatch(body) { $0.matchCL100K(at: $1, maxDigits: 1, possessiveForm: false) }
            default: break
            }
        }
        split(text, offset: 0, rule: 0, body)
    }

    @inlinable
    func split(_ text: UnsafeBufferPointer<UInt8>, offset: Int, rule index: Int, _ body: (Range<Int>) -> Void) {
        let rule = rules[index]
        let last = index == rules.count - 1
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
    /// order: ``PreTokenizer``'s split with one rule, the rule inlined.
    @inlinable @inline(__always)
    func forEachMatch(_ body: (Range<Int>) -> Void, _ match: (Self, Int) -> Int) {
        var i = 0, gapStart = 0
        while i < count {
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
