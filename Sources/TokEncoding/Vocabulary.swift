/// A token that is never produced from plain text: it is matched in the input
/// only where the caller allows it, and decodes to its content.
public struct SpecialToken: Sendable, Hashable, Codable {
    public var id: UInt32
    public var content: String

    public init(id: UInt32, content: String) {
        self.id = id
        self.content = content
    }
}

/// How merges are ordered, which decides the ids a piece gets.
public enum MergeOrder: Sendable, Hashable {
    /// tiktoken: rank = id = merge priority; a piece found whole is one token.
    case ranks
    /// HuggingFace: the `merges` list decides; with `ignoreMerges` a piece found
    /// whole in the vocabulary is one token, without it merges always run.
    case mergesList(ignoreMerges: Bool)
}

public struct VocabularyError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A byte-level BPE vocabulary: flat token storage, the byte-string lookup table
/// and the merge table.
///
/// Token ids `0..<count` index `tokenBytes` through `tokenOffsets`. Special
/// tokens have their own ids (usually `>= count`).
public struct Vocabulary: Sendable {
    @usableFromInline var tokenBytes: ContiguousArray<UInt8>
    @usableFromInline var tokenOffsets: ContiguousArray<UInt32>
    /// Byte strings of the tokens BPE can produce -> id.
    @usableFromInline var lookup: ByteStringTable
    @usableFromInline var pairs: PairTable
    /// The token of each single byte.
    @usableFromInline var byteTokens: ContiguousArray<UInt32>
    /// Bit per token: a piece equal to this token's bytes may become this token
    /// directly (always, except under `mergesList(ignoreMerges: false)` for a
    /// token the merges do not reach).
    @usableFromInline var wholePieceAllowed: ContiguousArray<UInt64>
    public let mergeOrder: MergeOrder
    public let specialTokens: [SpecialToken]
    /// Tokens whose bytes the merges alone do not turn into the token itself.
    public let unreachableTokens: [UInt32]
    /// The pair value (as ``PairTable`` gives it) of every two single-byte tokens,
    /// indexed by `first << 8 | second`: a piece's initial pairs never hash.
    @usableFromInline let bytePairs: ContiguousArray<UInt64>
    @usableFromInline let specialIdsBelowCount: Set<UInt32>
    @usableFromInline let specialById: [UInt32: [UInt8]]

    /// Number of BPE token ids (specials not included unless they fall inside).
    @inlinable public var count: Int { tokenOffsets.count - 1 }

    /// One more than the largest id, special tokens included.
    public var idLimit: Int { max(count, (specialTokens.map { Int($0.id) }.max() ?? -1) + 1) }

    /// The bytes of BPE token `id`.
    public func bytes(of id: UInt32) -> [UInt8] {
        Array(tokenBytes[Int(tokenOffsets[Int(id)]) ..< Int(tokenOffsets[Int(id) + 1])])
    }

    /// The id of the BPE token whose bytes are `bytes`, if any.
    public func id(of bytes: [UInt8]) -> UInt32? {
        bytes.withUnsafeBytes { b in
            tokenBytes.withUnsafeBufferPointer { tb in
                tokenOffsets.withUnsafeBufferPointer { to in
                    lookup.find(b.baseAddress ?? UnsafeRawPointer(tb.baseAddress!), b.count,
                                bytes: tb.baseAddress!, offsets: to.baseAddress!)
                }
            }
        }
    }

    /// All merges ordered by priority.
    public var merges: [(left: UInt32, right: UInt32, rank: UInt32, result: UInt32)] { pairs.sortedMerges() }

    init(
        tokenBytes: ContiguousArray<UInt8>, tokenOffsets: ContiguousArray<UInt32>,
        lookup: ByteStringTable, pairs: PairTable, byteTokens: ContiguousArray<UInt32>,
        wholePieceAllowed: ContiguousArray<UInt64>, mergeOrder: MergeOrder,
        specialTokens: [SpecialToken], unreachableTokens: [UInt32]
    ) {
        self.tokenBytes = tokenBytes
        self.tokenOffsets = tokenOffsets
        self.lookup = lookup
        self.pairs = pairs
        self.byteTokens = byteTokens
        self.wholePieceAllowed = wholePieceAllowed
        self.mergeOrder = mergeOrder
        self.specialTokens = specialTokens
        self.unreachableTokens = unreachableTokens
        let count = tokenOffsets.count - 1
        self.specialIdsBelowCount = Set(specialTokens.map(\.id).filter { Int($0) < count })
        self.specialById = Dictionary(specialTokens.map { ($0.id, Array($0.content.utf8)) }, uniquingKeysWith: { a, _ in a })
        var bytePairs = ContiguousArray<UInt64>(repeating: UInt64.max, count: 65536)
        if pairs.count > 0 {
            for first in 0 ..< 256 {
                for second in 0 ..< 256 {
                    bytePairs[first << 8 | second] = pairs.lookup(byteTokens[first], byteTokens[second])
                }
            }
        }
        self.bytePairs = bytePairs
    }
}

// MARK: - Building

extension Vocabulary {
    /// A tiktoken-style vocabulary: `tokens[rank]` is the byte string of rank
    /// `rank`. Merges are re-derived from the ranks: every split of a token into
    /// two tokens merges at the token's rank.
    ///
    /// Fails when a byte string repeats, a single byte has no token, or a token
    /// does not encode to itself.
    ///
    /// - Complexity: O(total token bytes) expected.
    public static func fromRanks(
        _ tokens: [[UInt8]], specialTokens: [SpecialToken] = [], allowUnreachable: Bool = false
    ) throws -> Vocabulary {
        var storage = Storage(tokens: tokens.map { $0 })
        try storage.indexAll(tokens.indices.map { _ in true })
        var splits: [(left: UInt32, right: UInt32, id: UInt32)] = []
        storage.bytes.withUnsafeBufferPointer { tb in
            storage.offsets.withUnsafeBufferPointer { to in
                for id in tokens.indices {
                    let start = Int(to[id]), end = Int(to[id + 1])
                    guard end - start >= 2 else { continue }
                    for split in start + 1 ..< end {
                        guard let left = storage.lookup.find(tb.baseAddress! + start, split - start,
                                                             bytes: tb.baseAddress!, offsets: to.baseAddress!),
                              let right = storage.lookup.find(tb.baseAddress! + split, end - split,
                                                              bytes: tb.baseAddress!, offsets: to.baseAddress!)
                        else { continue }
                        splits.append((left, right, UInt32(id)))
                    }
                }
            }
        }
        var pairs = PairTable(minimumCapacity: splits.count)
        for s in splits { pairs.insert(left: s.left, right: s.right, rank: s.id, result: s.id) }
        let vocabulary = try storage.finish(pairs: pairs, mergeOrder: .ranks, specialTokens: specialTokens)
        if !allowUnreachable, let first = vocabulary.unreachableTokens.first {
            throw VocabularyError(
                "\(vocabulary.unreachableTokens.count) tokens do not encode to themselves (first: id \(first), bytes \(vocabulary.bytes(of: first)))")
        }
        return vocabulary
    }

    /// A HuggingFace-style vocabulary: `tokens[id]` is the byte string of `id`
    /// (nil for an id the vocabulary skips), `mergeable[id]` says whether BPE can
    /// produce it (false for entries that are not byte-level strings), and
    /// `merges` is the merges list in priority order as pairs of ids. As in
    /// `tokenizers`, a pair listed twice keeps its last position.
    public static func fromMerges(
        tokens: [[UInt8]?], mergeable: [Bool], merges: [(UInt32, UInt32)], ignoreMerges: Bool,
        specialTokens: [SpecialToken] = []
    ) throws -> Vocabulary {
        var storage = Storage(tokens: tokens.map { $0 ?? [] })
        try storage.indexAll(zip(tokens, mergeable).map { $0.0 != nil && $0.1 })
        var lastRank: [UInt64: Int] = [:]
        lastRank.reserveCapacity(merges.count)
        for (rank, pair) in merges.enumerated() { lastRank[UInt64(pair.0) << 32 | UInt64(pair.1)] = rank }
        var pairs = PairTable(minimumCapacity: lastRank.count)
        for (rank, (left, right)) in merges.enumerated() {
            guard lastRank[UInt64(left) << 32 | UInt64(right)] == rank else { continue }
            guard Int(left) < tokens.count, Int(right) < tokens.count else {
                throw VocabularyError("merge \(rank) names an id outside the vocabulary")
            }
            let merged = storage.tokenBytes(Int(left)) + storage.tokenBytes(Int(right))
            guard let result = storage.find(merged) else {
                throw VocabularyError("merge \(rank) makes a byte string that is not in the vocabulary")
            }
            pairs.insert(left: left, right: right, rank: UInt32(rank), result: result)
        }
        return try storage.finish(pairs: pairs, mergeOrder: .mergesList(ignoreMerges: ignoreMerges),
                                  specialTokens: specialTokens)
    }

    /// Storage under construction.
    struct Storage {
        var bytes: ContiguousArray<UInt8> = []
        var offsets: ContiguousArray<UInt32> = [0]
        var lookup: ByteStringTable
        var indexed: [Bool] = []

        init(tokens: [[UInt8]]) {
            bytes.reserveCapacity(tokens.reduce(0) { $0 + $1.count })
            offsets.reserveCapacity(tokens.count + 1)
            for t in tokens {
                bytes.append(contentsOf: t)
                offsets.append(UInt32(bytes.count))
            }
            lookup = ByteStringTable(minimumCapacity: tokens.count)
        }

        func tokenBytes(_ id: Int) -> [UInt8] { Array(bytes[Int(offsets[id]) ..< Int(offsets[id + 1])]) }

        func find(_ key: [UInt8]) -> UInt32? {
            key.withUnsafeBytes { k in
                bytes.withUnsafeBufferPointer { tb in
                    offsets.withUnsafeBufferPointer { to in
                        lookup.find(k.baseAddress!, k.count, bytes: tb.baseAddress!, offsets: to.baseAddress!)
                    }
                }
            }
        }

        mutating func indexAll(_ include: [Bool]) throws {
            indexed = include
            let bytes = self.bytes, offsets = self.offsets
            try bytes.withUnsafeBufferPointer { tb in
                try offsets.withUnsafeBufferPointer { to in
                    for id in include.indices where include[id] {
                        guard to[id + 1] > to[id] else { throw VocabularyError("token \(id) is empty") }
                        guard lookup.insert(id: UInt32(id), bytes: tb.baseAddress!, offsets: to.baseAddress!) else {
                            throw VocabularyError("token \(id) repeats the bytes of another token")
                        }
                    }
                }
            }
        }

        func finish(pairs: PairTable, mergeOrder: MergeOrder, specialTokens: [SpecialToken]) throws -> Vocabulary {
            var byteTokens = ContiguousArray<UInt32>(repeating: 0, count: 256)
            for b in 0 ..< 256 {
                guard let id = find([UInt8(b)]) else {
                    throw VocabularyError("no token for the single byte \(b)")
                }
                byteTokens[b] = id
            }
            let tokenCount = offsets.count - 1
            var allowed = ContiguousArray<UInt64>(repeating: 0, count: (tokenCount + 63) / 64)
            for id in indexed.indices where indexed[id] { allowed[id >> 6] |= 1 << UInt64(id & 63) }
            let vocabulary = Vocabulary(
                tokenBytes: bytes, tokenOffsets: offsets, lookup: lookup, pairs: pairs, byteTokens: byteTokens,
                wholePieceAllowed: allowed, mergeOrder: mergeOrder, specialTokens: specialTokens,
                unreachableTokens: [])
            // Every token must encode to itself by merges alone; record those that do not.
            var unreachable: [UInt32] = []
            var scratch = BytePairScratch()
            var out = ContiguousArray<UInt32>()
            vocabulary.withTables { tables in
                for id in indexed.indices where indexed[id] {
                    out.removeAll(keepingCapacity: true)
                    let start = Int(tables.tokenOffsets[id]), end = Int(tables.tokenOffsets[id + 1])
                    tables.mergeBytePairs(UnsafeBufferPointer(start: tables.tokenBytes + start, count: end - start),
                                          scratch: &scratch, into: &out)
                    if out.count != 1 || out[0] != UInt32(id) { unreachable.append(UInt32(id)) }
                }
            }
            if case .mergesList(ignoreMerges: false) = mergeOrder {
                for id in unreachable { allowed[Int(id) >> 6] &= ~(1 << UInt64(id & 63)) }
            }
            return Vocabulary(
                tokenBytes: bytes, tokenOffsets: offsets, lookup: lookup, pairs: pairs, byteTokens: byteTokens,
                wholePieceAllowed: allowed, mergeOrder: mergeOrder, specialTokens: specialTokens,
                unreachableTokens: unreachable)
        }
    }
}
