import Foundation
import TokCounts
import TokEncoding
import TokRuntime

/// Where a superword vocabulary switches from ordinary BPE to superwords, and
/// how long its superwords may be: what `--superwords` and `--max-words` ask.
public struct SuperwordOptions: Sendable, Hashable, Codable {
    /// The transition point: ids (the 256 bytes included, special tokens not)
    /// learned as ordinary BPE before the first superword.
    public enum Transition: Sendable, Hashable, Codable {
        case ids(Int)
        /// ``SuperwordOptions/autoShare`` of the BPE ids.
        case auto
    }

    public var transition: Transition
    /// Most whitespace-separated words in one token.
    public var maxWords: Int

    public init(transition: Transition, maxWords: Int = SuperwordOptions.defaultMaxWords) {
        self.transition = transition
        self.maxWords = maxWords
    }

    /// SuperBPE's limit, which keeps multi-word tokens to phrases (` of the`,
    /// ` in order to`) rather than whole clauses that recur only in boilerplate.
    public static let defaultMaxWords = 4

    /// The share of the BPE ids that `auto` learns as ordinary BPE (the curve
    /// over the transition point in docs/quality.md).
    public static let autoShare = 0.8

    /// The transition point for a vocabulary of `bpeIds` ids besides its special
    /// tokens (the 256 bytes included).
    public func transitionIds(bpeIds: Int) -> Int {
        switch transition {
        case .ids(let t): return t
        case .auto: return 256 + Int((Double(bpeIds - 256) * SuperwordOptions.autoShare).rounded())
        }
    }
}

/// What can stop a superword training.
public enum SuperwordError: TokError, Equatable {
    /// The transition point is not between the 256 bytes and the vocabulary's size.
    case transitionOutOfRange(transition: Int, bpeIds: Int)

    public var description: String {
        switch self {
        case .transitionOutOfRange(let t, let n):
            return "--superwords \(t) must be above 256 and at most the \(n) ids besides the special tokens"
        }
    }
}

/// The second stage of a superword vocabulary (SuperBPE, Liu et al. 2025): BPE
/// continued from an ordinary vocabulary (the first stage, a ranks
/// vocabulary) on superword pieces, stretches of a line up to a sentence end
/// (``SplitRule/superwords``), so that merges may cross the spaces between
/// words.
///
/// Each piece is first encoded whole by the first stage, as the finished
/// vocabulary's encoder will encode it: every first-stage merge ranks before
/// every superword, so BPE over the piece makes the first stage's tokens
/// before any superword, and the continuation (``BPEContinuation``) counts the
/// pairs of exactly the text the vocabulary will see. A merge is refused when
/// its token would hold more than ``maxWords`` words, join two digits (numbers
/// stay one digit a token, as the `tok` pattern makes them), or run past a
/// colon into whitespace (`Answer: ...` keeps its prompt apart from the
/// answer, SuperBPE's rule).
public struct SuperwordStage: Sendable {
    public var maxWords: Int

    public init(maxWords: Int = SuperwordOptions.defaultMaxWords) { self.maxWords = maxWords }

    /// The new tokens and their merges, ranked after the first stage's.
    public struct Result: Sendable {
        public var tokens: [[UInt8]]
        public var merges: [BPETrainer.Merge]
        public var seconds: Double
    }

    /// Learns up to `count` superword tokens on top of `base` from `pieces`
    /// (superword pieces with their counts); fewer when no pair is left.
    ///
    /// - Complexity: encoding the pieces once, then each merge touches only the
    ///   pieces that hold its pair.
    public func train(base: Vocabulary, pieces: PieceCounts, count: Int,
                      progress: (Int, Int) -> Void = { _, _ in }) -> Result {
        let started = Date()
        var words = ContinuationWords(domains: 1)
        var scratch = BytePairScratch()
        var ids = ContiguousArray<UInt32>()
        pieces.forEach { piece, n in
            ids.removeAll(keepingCapacity: true)
            base.encodePiece(piece, scratch: &scratch, into: &ids)
            words.append(ids, count: n, domainCounts: CollectionOfOne(n))
        }
        var continuation = BPEContinuation(base: base, words: words)
        let maxWords = self.maxWords
        continuation.mergeAllowed = { SuperwordStage.allows($0, $1, maxWords: maxWords) }
        continuation.add(count, progress: progress)
        return Result(tokens: continuation.tokens, merges: continuation.merges, seconds: Date().timeIntervalSince(started))
    }

    /// The first stage's pieces: each superword piece cut by `preTokenizer`
    /// (the vocabulary's ordinary pattern), with its count. Learning the first
    /// stage from them, not from the text cut by the pattern alone, keeps every
    /// first-stage token inside one superword piece, so that each encodes to
    /// itself under the superword split (the pattern alone joins a sentence's
    /// last mark to a line break and the slashes after it, `.\n//`, or a Chinese
    /// full stop to the next clause, `。我们`).
    ///
    /// - Complexity: O(total piece bytes); memory O(distinct pieces).
    public static func firstStagePieces(_ pieces: PieceCounts, preTokenizer: PreTokenizer) -> PieceCounts {
        var counts: [[UInt8]: UInt64] = [:]
        pieces.forEach { piece, n in
            preTokenizer.forEachPiece(piece) { counts[Array(piece[$0]), default: 0] += n }
        }
        return PieceCounts(counts.map { ($0.key, $0.value) }.sorted { $0.0.lexicographicallyPrecedes($1.0) })
    }

    /// Memory the stage takes for one superword piece: its words' ids (4
    /// bytes a token, about one token in 4 bytes of text before the first
    /// superword), each id's entry in its pair's list of words, the piece's
    /// bytes and counts, and its share of the pair table: 96 bytes and 8 a
    /// byte. Per byte, not per character as ``BPETrainer/memoryCost(of:)``:
    /// the first stage has already merged the characters.
    public static func memoryCost(of piece: UnsafeBufferPointer<UInt8>) -> Int { 96 + 8 * piece.count }

    /// Whether `left` and `right` may become one superword token.
    static func allows(_ left: [UInt8], _ right: [UInt8], maxWords: Int) -> Bool {
        guard let last = left.last, let first = right.first else { return false }
        @inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        if isDigit(last) && isDigit(first) { return false }
        if last == UInt8(ascii: ":") && isSpace(first) { return false }
        return wordCount(left + right) <= maxWords
    }

    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    /// Runs of non-whitespace bytes in `bytes`.
    static func wordCount(_ bytes: [UInt8]) -> Int {
        var n = 0, inWord = false
        for b in bytes {
            let space = isSpace(b)
            if !space && !inWord { n += 1 }
            inWord = !space
        }
        return n
    }
}
