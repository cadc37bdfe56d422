import CTokICU
import TokRuntime

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

/// What is wrong with a vocabulary's special tokens, or with a request for them.
public enum SpecialTokenError: TokError, Equatable {
    /// An empty text (`id`: its id, when it has one yet).
    case empty(id: UInt32?)
    /// A text given twice (`ids`: its two ids, when it has some yet).
    case repeatedContent(content: String, ids: [UInt32]?)
    case repeatedId(id: UInt32, contents: [String])
    /// A special token on the id of a BPE token: an id that would decode two ways.
    case collision(content: String, id: UInt32, token: [UInt8])
    case idTooLarge(content: String, id: UInt32, limit: Int, tokenCount: Int)
    case unknown(names: [String], known: [String])

    public var description: String {
        func quoted(_ s: String) -> String { HuggingFaceJSON.jsonString(s) }
        switch self {
        case .empty(let id): return "special token \(id.map { "\($0) " } ?? "")is empty"
        case .repeatedContent(let content, let ids):
            return "special token \(quoted(content)) appears twice" + (ids.map { " (ids \($0[0]) and \($0[1]))" } ?? "")
        case .repeatedId(let id, let contents):
            return "special tokens \(contents.map(quoted).joined(separator: " and ")) have the same id \(id)"
        case .collision(let content, let id, let token):
            return "special token \(quoted(content)) has id \(id), which is the BPE token \(quoted(String(decoding: token, as: UTF8.self)))"
        case .idTooLarge(let content, let id, let limit, let tokenCount):
            return "special token \(quoted(content)) has id \(id): special tokens take ids below \(limit) (the \(tokenCount) BPE tokens, the special tokens and at most \(SpecialToken.unusedIdAllowance) unused ids)"
        case .unknown(let names, let known):
            let list = known.isEmpty ? "it has none" : "it has " + known.prefix(8).map(quoted).joined(separator: ", ") + (known.count > 8 ? ", ..." : "")
            return "no special token \(names.map(quoted).joined(separator: ", ")) in this vocabulary (\(list))"
        }
    }
}

extension SpecialToken {
    /// How many ids after the BPE tokens special tokens may leave unused
    /// (tiktoken's o200k leaves 18, cl100k 16): a bound on the id range, so
    /// that a stray id cannot make a vocabulary of millions of empty ids.
    public static let unusedIdAllowance = 1024

    /// One more than the largest id special tokens may take beside `tokenCount` BPE tokens.
    public static func idLimit(tokenCount: Int, specialTokens: Int) -> Int {
        tokenCount + specialTokens + unusedIdAllowance
    }

    /// Checks `tokens` as the special tokens of a vocabulary of `tokenCount`
    /// BPE tokens: each non-empty, no content or id twice, every id below
    /// ``idLimit(tokenCount:specialTokens:)``, and, unless `insideVocabulary`
    /// allows them (HuggingFace's added tokens that are also vocab entries,
    /// which ``HuggingFaceJSON`` checks against the vocab itself), none on
    /// the id of a BPE token (`tokenBytes` gives a token's bytes).
    ///
    /// - Throws: ``SpecialTokenError``.
    public static func check(_ tokens: [SpecialToken], tokenCount: Int, insideVocabulary: Bool,
                             tokenBytes: (Int) -> [UInt8]) throws {
        try checkContents(tokens.map(\.content), ids: tokens.map(\.id))
        var byId: [UInt32: String] = [:]
        let limit = idLimit(tokenCount: tokenCount, specialTokens: tokens.count)
        for t in tokens {
            if let other = byId[t.id] { throw SpecialTokenError.repeatedId(id: t.id, contents: [other, t.content]) }
            byId[t.id] = t.content
            guard Int(t.id) < limit else {
                throw SpecialTokenError.idTooLarge(content: t.content, id: t.id, limit: limit, tokenCount: tokenCount)
            }
            if !insideVocabulary && Int(t.id) < tokenCount {
                throw SpecialTokenError.collision(content: t.content, id: t.id, token: tokenBytes(Int(t.id)))
            }
        }
    }

    /// Checks special tokens' texts before a vocabulary is made of them (as
    /// `tok train` and `tok build` take them): none empty, none twice.
    /// `ids` are their ids, when they have some yet.
    public static func checkContents(_ contents: [String], ids: [UInt32]? = nil) throws {
        // Keyed by bytes, as the matcher compares them (Swift's `==` joins canonically equal texts).
        var seen: [[UInt8]: Int] = [:]
        for (k, content) in contents.enumerated() {
            guard !content.isEmpty else { throw SpecialTokenError.empty(id: ids?[k]) }
            if let first = seen.updateValue(k, forKey: Array(content.utf8)) {
                throw SpecialTokenError.repeatedContent(content: content, ids: ids.map { [$0[first], $0[k]] })
            }
        }
    }
}

extension AllowedSpecial {
    /// Throws ``SpecialTokenError/unknown(names:known:)`` when `.only` names a
    /// text that is none of `vocabulary`'s special tokens: a misspelt name
    /// would otherwise leave that token's text to be encoded as ordinary text.
    public func check(against vocabulary: Vocabulary) throws {
        guard case .only(let names) = self else { return }
        let known = Set(vocabulary.specialTokens.map { Array($0.content.utf8) })
        let unknown = names.filter { !known.contains(Array($0.utf8)) }.sorted()
        guard unknown.isEmpty else {
            throw SpecialTokenError.unknown(names: unknown, known: vocabulary.specialTokens.sorted { $0.id < $1.id }.map(\.content))
        }
    }
}
