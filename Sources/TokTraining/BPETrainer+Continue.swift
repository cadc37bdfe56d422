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

/// How a vocabulary decides which two adjacent tokens merge, and so how new
/// merges join it.
public enum MergeRule: Sendable, Equatable {
    /// tiktoken's: two adjacent tokens merge when their bytes together are a
    /// token, the lowest rank (id) first and the leftmost among equals; a new
    /// token is made from every split of it into two tokens.
    case ranks
    /// HuggingFace's: only the listed pairs merge, in the list's order; a new
    /// token is made from the pair it was learned from.
    case mergesList

    public init(_ order: MergeOrder) {
        switch order {
        case .ranks: self = .ranks
        case .mergesList: self = .mergesList
        }
    }
}

/// BPE continued from a base vocabulary: the base's tokens and merges stay as
/// they are, and each step adds one token, the merge of the two adjacent
/// tokens (base or new) with the highest count in the words, ranked after
/// every merge before it. Ties go to the smaller pair of ids, left id first.
///
/// The words are the base's encodings, and each merge re-encodes exactly the
/// words it touches by the base's own rule (``MergeRule``), so the counts are
/// those of the text as the extended vocabulary encodes it. With `.ranks`
/// (tiktoken) a new token also merges from its other splits, and a new token
/// beside another can make an older token at once, as tiktoken's encoder
/// does. A pair whose bytes are a token already is never merged (it would
/// make a token twice). Every new token therefore encodes to itself: its
/// bytes stand alone as they stood in the word where its pair was counted.
///
/// Steps can be taken in parts (``add(_:progress:)``); the tokens are the same
/// as when taken at once.
public struct BPEContinuation {
    public let base: Vocabulary
    public let rule: MergeRule
    /// The id of the first new token: one past the base's largest id, special tokens included.
    public let firstId: UInt32
    /// Longest new token in bytes.
    public var maxTokenLength = Int.max
    /// The new tokens' bytes, in the order they were made (ids from ``firstId``).
    public private(set) var tokens: [[UInt8]] = []
    /// The merge each new token was learned from, with its count and whether it was tied.
    public private(set) var merges: [BPETrainer.Merge] = []
    /// Per new token, the counts of the merges that made it, per domain.
    public private(set) var domainCounts: [[UInt64]] = []
    /// No pair was left to merge.
    public private(set) var exhausted = false

    var state = TrainingState()
    private var domainsPerWord: ContiguousArray<UInt64>
    private let domains: Int
    private var store: TokenStore
    /// Pairs already looked up: the id they make, or ``noToken``.
    private var made: [UInt64: UInt32] = [:]
    private static let noToken = UInt32.max

    /// - Complexity: O(total word ids) to start, and O(base tokens) to copy the base's bytes.
    public init(base: Vocabulary, words: ContinuationWords) {
        self.base = base
        rule = MergeRule(base.mergeOrder)
        firstId = UInt32(base.idLimit)
        store = TokenStore(base: base)
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
    /// `progress` gets the tokens added by this call and `n`.
    ///
    /// - Complexity: each token touches only the words that hold one of its splits.
    public mutating func add(_ n: Int, progress: (Int, Int) -> Void = { _, _ in }) {
        let wanted = tokens.count + n
        let startCount = tokens.count
        while tokens.count < wanted {
            guard let (key, count, tied) = popBest(), count >= 1 else {
                exhausted = true
                break
            }
            let left = UInt32(key >> 32), right = UInt32(truncatingIfNeeded: key)
            let bytes = store.bytes(left) + store.bytes(right)
            if self.store.id(of: bytes[...]) != nil {
                state.pairs.counts[state.pairs.find(key)!] = TrainingState.neverMerged
                continue
            }
            let id = firstId + UInt32(tokens.count)
            self.store.append(bytes)
            tokens.append(bytes)
            merges.append(BPETrainer.Merge(left: left, right: right, count: count, tied: tied))
            domainCounts.append([UInt64](repeating: 0, count: domains))
            let ways = rule == .ranks ? splits(of: bytes) : [key]
            for split in ways { made[split] = id }
            apply(id, splits: ways)
            if (tokens.count - startCount) % 1000 == 0 { progress(tokens.count - startCount, n) }
        }
    }

    /// The pair with the highest count, as ``TrainingState/popBest(tokenLength:maxLength:)`` finds it.
    private mutating func popBest() -> (UInt64, UInt64, Bool)? {
        // A copy of the offsets, released on return: appending to the store then copies nothing.
        let offsets = store.offsets
        return state.popBest(tokenLength: { offsets[Int($0) + 1] - offsets[Int($0)] }, maxLength: maxTokenLength)
    }

    /// Every way `bytes` splits into two tokens there are now, as pair keys.
    private func splits(of bytes: [UInt8]) -> [UInt64] {
        (1 ..< bytes.count).compactMap { p in
            guard let left = store.id(of: bytes[..<p]), let right = store.id(of: bytes[p...]) else { return nil }
            return UInt64(left) << 32 | UInt64(right)
        }
    }

    /// The token two adjacent tokens make under the rule, if any.
    private mutating func token(_ a: UInt32, _ b: UInt32) -> UInt32? {
        let key = UInt64(a) << 32 | UInt64(b)
        if let id = made[key] { return id == BPEContinuation.noToken ? nil : id }
        guard rule == .ranks else { return nil }  // a merges list merges only what it lists
        let id = store.id(of: (store.bytes(a) + store.bytes(b))[...])
        made[key] = id ?? BPEContinuation.noToken
        return id
    }

    /// Re-encodes every word holding a split of the new token `id`, from its
    /// current ids by the rule, keeping the pair counts and the heap exact.
    private mutating func apply(_ id: UInt32, splits: [UInt64]) {
        state.step += 1
        var words: [UInt32] = []
        for split in splits { if let e = state.pairs.find(split) { words.append(contentsOf: state.pairs.words[e]) } }
        words.sort()
        var changed: [Int] = []
        var pending: [UInt32] = []
        for w32 in words {
            let w = Int(w32)
            guard state.wordSeen[w] != state.step else { continue }
            state.wordSeen[w] = state.step
            let start = state.wordStart[w], c = Int64(state.wordCount[w])
            var n = Int(state.wordLength[w])
            // The token each adjacent pair makes (noToken: none). The word was
            // fully merged before `id` existed, so only the splits of `id` make one.
            pending.removeAll(keepingCapacity: true)
            for k in start ..< start + n - 1 {
                pending.append(splits.contains(UInt64(state.symbols[k]) << 32 | UInt64(state.symbols[k + 1])) ? id : BPEContinuation.noToken)
            }
            guard pending.contains(id) else { continue }  // a word the pair has left since
            while true {
                // The lowest token, leftmost among equals: tiktoken's and HuggingFace's order.
                var best = -1, lowest = BPEContinuation.noToken
                for k in pending.indices where pending[k] < lowest {
                    best = k
                    lowest = pending[k]
                }
                guard best >= 0 else { break }
                let s = start + best
                if best > 0 { adjust(state.symbols[s - 1], state.symbols[s], by: -c, word: w32, changed: &changed) }
                adjust(state.symbols[s], state.symbols[s + 1], by: -c, word: w32, changed: &changed)
                if best + 2 < n { adjust(state.symbols[s + 1], state.symbols[s + 2], by: -c, word: w32, changed: &changed) }
                state.symbols[s] = lowest
                // s + 1 < start + n: the pair at `best` is inside the word.
                for k in s + 1 ..< start + n - 1 { state.symbols[k] = state.symbols[k + 1] }
                n -= 1
                pending.remove(at: best)
                if best > 0 {
                    adjust(state.symbols[s - 1], lowest, by: c, word: w32, changed: &changed)
                    pending[best - 1] = token(state.symbols[s - 1], lowest) ?? BPEContinuation.noToken
                }
                if best < n - 1 {
                    adjust(lowest, state.symbols[s + 1], by: c, word: w32, changed: &changed)
                    pending[best] = token(lowest, state.symbols[s + 1]) ?? BPEContinuation.noToken
                }
                if lowest >= firstId {
                    let index = Int(lowest - firstId)
                    for d in 0 ..< domains { domainCounts[index][d] &+= domainsPerWord[w * domains + d] }
                }
            }
            state.wordLength[w] = Int32(n)
        }
        for split in splits { if let e = state.pairs.find(split) { state.pairs.words[e] = [] } }
        changed.sort()
        var previous = -1
        for e in changed where e != previous {
            previous = e
            if state.pairs.counts[e] > 0 { state.heap.push(count: state.pairs.counts[e], key: state.pairs.keys[e]) }
        }
    }

    /// Adds `delta` to the count of the pair (a, b) in word `word`; a pair that
    /// gains is noted for the heap.
    private mutating func adjust(_ a: UInt32, _ b: UInt32, by delta: Int64, word: UInt32, changed: inout [Int]) {
        let e = state.pairs.entry(UInt64(a) << 32 | UInt64(b))
        state.pairs.counts[e] += delta
        if delta > 0 {
            state.pairs.addWord(e, word)
            changed.append(e)
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
        let specialIds = Set(specials.map { Int($0.id) })
        // The base's ids, then (when tokens are added) its special and unused ids up to the first new one.
        let baseIds = added.isEmpty ? base.count : Int(firstId)
        switch base.mergeOrder {
        case .ranks:
            var ranked: [[UInt8]?] = (0 ..< baseIds).map { id in
                guard id < base.count, !specialIds.contains(id) else { return nil }
                let bytes = base.bytes(of: UInt32(id))
                return !bytes.isEmpty && base.id(of: bytes) == UInt32(id) ? bytes : nil
            }
            ranked.append(contentsOf: added.map { $0 })
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

/// The bytes of every token, base and new, by id, and the id of any bytes.
private struct TokenStore {
    let base: Vocabulary
    var bytes = ContiguousArray<UInt8>()
    var offsets = ContiguousArray<Int>([0])
    var added: [[UInt8]: UInt32] = [:]

    /// The base's ids up to its `idLimit`; ids that hold no token (special, unused) are empty.
    init(base: Vocabulary) {
        self.base = base
        for id in 0 ..< base.idLimit {
            let token = id < base.count ? base.bytes(of: UInt32(id)) : []
            if !token.isEmpty && base.id(of: token) == UInt32(id) { bytes.append(contentsOf: token) }
            offsets.append(bytes.count)
        }
    }

    func length(_ id: UInt32) -> Int { offsets[Int(id) + 1] - offsets[Int(id)] }

    func bytes(_ id: UInt32) -> [UInt8] { Array(bytes[offsets[Int(id)] ..< offsets[Int(id) + 1]]) }

    func id(of token: ArraySlice<UInt8>) -> UInt32? {
        let whole = Array(token)
        return base.id(of: whole) ?? added[whole]
    }

    mutating func append(_ token: [UInt8]) {
        added[token] = UInt32(offsets.count - 1)
        bytes.append(contentsOf: token)
        offsets.append(bytes.count)
    }
}
