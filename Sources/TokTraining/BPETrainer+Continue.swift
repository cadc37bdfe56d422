import Foundation
import TokEncoding

/// Pieces as a base vocabulary encodes them, with their counts: what a
/// training continued from that vocabulary (``BPEContinuation``) learns from.
/// Each word also carries its count in each of `domains` domains, so that the
/// merges can be credited to the domains whose text they save.
public struct ContinuationWords: Sendable {
    /// Every word's ids back to back; word `k` ends at `ends[k]`.
    public private(set) var symbols = ContiguousArray<UInt32>()
    public private(set) var ends = ContiguousArray<Int>()
    /// Each word's count in the training (the domains' counts scaled and added).
    public private(set) var counts = ContiguousArray<UInt64>()
    /// Word `k`'s count in domain `d` at `k * domains + d`.
    public private(set) var domainCounts = ContiguousArray<UInt64>()
    public let domains: Int

    public init(domains: Int) { self.domains = max(domains, 1) }

    public var count: Int { counts.count }

    /// Adds a word of two ids or more (one id has nothing to merge: not added).
    public mutating func append(_ ids: some Collection<UInt32>, count: UInt64, domainCounts perDomain: some Collection<UInt64>) {
        precondition(perDomain.count == domains, "a count for each domain")
        guard ids.count >= 2, count > 0 else { return }
        symbols.append(contentsOf: ids)
        ends.append(symbols.count)
        counts.append(count)
        domainCounts.append(contentsOf: perDomain)
    }
}

/// BPE continued from a base vocabulary: the base's tokens and merges stay as
/// they are, and each step adds one token, the merge of the two adjacent
/// tokens (base or new) with the highest count in the words, ranked after
/// every merge before it. Ties go to the smaller pair of ids, left id first.
/// A pair whose bytes are a token already is never merged (it would make a
/// token twice; a `tokenizer.json` whose merges do not reach some of its
/// tokens has such pairs).
///
/// The words are the base's encodings, and each step merges the pair in them
/// left to right, as `tokenizers` and tiktoken merge it: the counts stay those
/// of the text as the extended vocabulary encodes it. For a tiktoken base
/// (ranks), where any two tokens whose bytes make a token merge, this is
/// exact too: in a vocabulary whose tokens all encode to themselves, the
/// bytes of a stretch of a piece bounded by two token boundaries encode alone
/// as they do in the piece, so two adjacent tokens that make a token never
/// stand side by side once merging ends, and a new token's bytes encode alone
/// as the pair it was learned from. So every new token encodes to itself.
///
/// Steps can be taken in parts (``add(_:progress:)``); the tokens are the same
/// as when taken at once.
///
/// - Complexity: each step touches only the words that hold its pair.
public struct BPEContinuation {
    public let base: Vocabulary
    /// The id of the first new token: one past the base's largest id, special tokens included.
    public let firstId: UInt32
    /// The new tokens' bytes, in the order they were made (ids from ``firstId``).
    public private(set) var tokens: [[UInt8]] = []
    /// The merge each new token was made by, with its count and whether it was tied.
    public private(set) var merges: [BPETrainer.Merge] = []
    /// Per new token, its merge's count in each domain.
    public private(set) var domainCounts: [[UInt64]] = []
    /// No pair was left to merge.
    public private(set) var exhausted = false
    /// Whether two tokens' bytes may be merged at all (a superword stage's
    /// constraints); a pair it refuses is never merged.
    var mergeAllowed: (_ left: [UInt8], _ right: [UInt8]) -> Bool = { _, _ in true }

    var state = TrainingState()
    private let domainsPerWord: ContiguousArray<UInt64>
    private let domains: Int
    /// The bytes of every id, base and new (empty for ids with no token), and the ids of the new tokens' bytes.
    private var tokenBytes: [[UInt8]]
    private var newIds: [[UInt8]: UInt32] = [:]

    /// - Complexity: O(total word ids + base tokens).
    public init(base: Vocabulary, words: ContinuationWords) {
        self.base = base
        firstId = UInt32(base.idLimit)
        tokenBytes = (0 ..< base.idLimit).map { id in
            let bytes = id < base.count ? base.bytes(of: UInt32(id)) : []
            return !bytes.isEmpty && base.id(of: bytes) == UInt32(id) ? bytes : []
        }
        domains = words.domains
        domainsPerWord = words.domainCounts
        var start = 0
        for k in 0 ..< words.count {
            state.wordStart.append(start)
            state.wordLength.append(Int32(words.ends[k] - start))
            state.wordCount.append(words.counts[k])
            state.wordSeen.append(-1)
            start = words.ends[k]
        }
        state.symbols = words.symbols
        state.countAllPairs()
    }

    /// Adds up to `n` new tokens; fewer when no pair is left (``exhausted``).
    /// `progress` gets the tokens added by this call and `n`, every thousand.
    public mutating func add(_ n: Int, progress: (Int, Int) -> Void = { _, _ in }) {
        let wanted = tokens.count + n
        let startCount = tokens.count
        while tokens.count < wanted {
            guard let (key, count, tied) = state.popBest(tokenLength: { _ in 0 }, maxLength: .max), count >= 1 else {
                exhausted = true
                break
            }
            let left = UInt32(key >> 32), right = UInt32(truncatingIfNeeded: key)
            let bytes = tokenBytes[Int(left)] + tokenBytes[Int(right)]
            if base.id(of: bytes) != nil || newIds[bytes] != nil || !mergeAllowed(tokenBytes[Int(left)], tokenBytes[Int(right)]) {
                state.pairs.counts[state.pairs.find(key)!] = TrainingState.neverMerged
                continue
            }
            let id = firstId + UInt32(tokens.count)
            tokenBytes.append(bytes)
            newIds[bytes] = id
            tokens.append(bytes)
            merges.append(BPETrainer.Merge(left: left, right: right, count: count, tied: tied))
            var perDomain = [UInt64](repeating: 0, count: domains)
            let (domains, domainsPerWord) = (self.domains, self.domainsPerWord)
            state.merge(key: key, into: id) { word, times in
                for d in 0 ..< domains { perDomain[d] &+= UInt64(times) &* domainsPerWord[word * domains + d] }
            }
            domainCounts.append(perDomain)
            if (tokens.count - startCount) % 1000 == 0 { progress(tokens.count - startCount, n) }
        }
    }

    /// The base with the first `k` new tokens (all when nil), ranked after
    /// the base's merges: tiktoken ranks (the new ids) for a ranks base, the
    /// merges list with the new merges after it for a HuggingFace one. Base
    /// ids and bytes are those of the base; with no new token it is the base.
    ///
    /// - Throws: ``VocabularyError`` if a new token does not encode to itself (a bug, not bad input).
    public func vocabulary(tokens k: Int? = nil) throws -> Vocabulary {
        let added = Array(tokens.prefix(k ?? tokens.count))
        let specials = base.specialTokens
        // The base's ids, then (when tokens are added) its special and unused ids up to the first new one.
        let baseIds = added.isEmpty ? base.count : Int(firstId)
        switch base.mergeOrder {
        case .ranks:
            let ranked = tokenBytes.prefix(baseIds).map { $0.isEmpty ? nil : $0 } + added.map { $0 }
            return try Vocabulary.fromRanks(withGaps: ranked, specialTokens: specials)
        case .mergesList(let ignoreMerges):
            let content = Dictionary(specials.map { (Int($0.id), Array($0.content.utf8)) }, uniquingKeysWith: { a, _ in a })
            var tokens: [[UInt8]?] = []
            var mergeable: [Bool] = []
            for id in 0 ..< baseIds {
                // An id the base holds as text (a special token in its vocab, a string that is not byte-level) stays text.
                let bytes = id < base.count ? base.bytes(of: UInt32(id)) : []
                tokens.append(bytes.isEmpty ? content[id] : bytes)
                mergeable.append(!bytes.isEmpty && base.id(of: bytes) == UInt32(id))
            }
            tokens.append(contentsOf: added.map { $0 })
            mergeable.append(contentsOf: added.map { _ in true })
            let list = base.merges.map { ($0.left, $0.right) } + merges.prefix(added.count).map { ($0.left, $0.right) }
            let vocabulary = try Vocabulary.fromMerges(tokens: tokens, mergeable: mergeable, merges: list,
                                                       ignoreMerges: ignoreMerges, specialTokens: specials)
            let unreachable = vocabulary.unreachableTokens.filter { $0 >= firstId }
            if let first = unreachable.first {
                throw VocabularyError.unreachableTokens(count: unreachable.count, first: first, bytes: vocabulary.bytes(of: first))
            }
            return vocabulary
        }
    }
}

extension TrainingState {
    /// No words yet: a continued training puts in its own.
    init() {}
}
