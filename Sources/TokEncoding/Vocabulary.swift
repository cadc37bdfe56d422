import TokRuntime
/// A token outside BPE (HuggingFace's added tokens): matched in the input
/// before the text is split, and decoding to its content. A `special` one is
/// matched only where the caller allows it; one that is not (`special`
/// false) always is, as in `tokenizers`.
public struct SpecialToken: Sendable, Hashable, Codable {
    public var id: UInt32
    public var content: String
    public var special: Bool
    /// Whitespace before a match is taken into the token.
    public var lstrip: Bool
    /// Whitespace after a match is taken into the token.
    public var rstrip: Bool
    /// Matched only where it is not inside a word.
    public var singleWord: Bool
    /// Matched in the normalized text (else in the raw input, before normalizing).
    public var normalized: Bool

    public init(id: UInt32, content: String, special: Bool = true, lstrip: Bool = false, rstrip: Bool = false,
                singleWord: Bool = false, normalized: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.singleWord = singleWord
        self.normalized = normalized
    }

    /// True when every option is the default of a plain special token.
    public var isPlain: Bool { special && !lstrip && !rstrip && !singleWord && !normalized }

    enum CodingKeys: String, CodingKey { case id, content, special, lstrip, rstrip, singleWord, normalized }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try c.decode(UInt32.self, forKey: .id), content: try c.decode(String.self, forKey: .content),
                  special: try c.decodeIfPresent(Bool.self, forKey: .special) ?? true,
                  lstrip: try c.decodeIfPresent(Bool.self, forKey: .lstrip) ?? false,
                  rstrip: try c.decodeIfPresent(Bool.self, forKey: .rstrip) ?? false,
                  singleWord: try c.decodeIfPresent(Bool.self, forKey: .singleWord) ?? false,
                  normalized: try c.decodeIfPresent(Bool.self, forKey: .normalized) ?? false)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(content, forKey: .content)
        // Options only when set, so plain vocabularies' manifests stay as they were.
        if !special { try c.encode(special, forKey: .special) }
        if lstrip { try c.encode(lstrip, forKey: .lstrip) }
        if rstrip { try c.encode(rstrip, forKey: .rstrip) }
        if singleWord { try c.encode(singleWord, forKey: .singleWord) }
        if normalized { try c.encode(normalized, forKey: .normalized) }
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

/// What can be wrong with a vocabulary or a vocabulary file. Each case carries
/// what a message needs; ``description`` is one line.
public enum VocabularyError: TokError, Equatable {
    case emptyToken(id: Int)
    case repeatedToken(id: Int)
    case noByteToken(UInt8)
    /// Tokens whose bytes the merges alone do not turn into the token.
    case unreachableTokens(count: Int, first: UInt32, bytes: [UInt8])
    case mergeOutsideVocabulary(rank: Int)
    case mergeMakesNoToken(rank: Int)
    /// More tokens or merges than the encoder's tables hold (``PackedPairs``).
    case tooLarge(tokens: Int, merges: Int)
    /// A file that is not what it should be; `line` when it is about one line.
    case malformed(path: String, line: Int?, reason: String)
    /// A construct tok does not support, named.
    case unsupported(path: String, construct: String)
    /// A fast-form file (`tokenizer.bin`) that fails its checksum or checks.
    case corrupt(path: String, reason: String)
    case notAVocabularyFolder(path: String, reason: String)
    /// An error about the contents of the file at `path`.
    indirect case inFile(path: String, VocabularyError)

    public var description: String {
        switch self {
        case .emptyToken(let id): return "token \(id) is empty"
        case .repeatedToken(let id): return "token \(id) repeats the bytes of another token"
        case .noByteToken(let b):
            let hex = "0x" + String(b, radix: 16, uppercase: true)
            return b >= 0xF5 || b == 0xC0 || b == 0xC1
                ? "no token for the single byte \(hex), which never occurs in UTF-8; tok encodes any bytes, so it needs one"
                : "no token for the single byte \(hex)"
        case .unreachableTokens(let count, let first, let bytes):
            return "\(count) tokens do not encode to themselves (first: id \(first), bytes \(bytes))"
        case .mergeOutsideVocabulary(let rank): return "merge \(rank) names an id outside the vocabulary"
        case .mergeMakesNoToken(let rank): return "merge \(rank) makes a byte string that is not in the vocabulary"
        case .tooLarge(let tokens, let merges):
            return "\(tokens) tokens and \(merges) merges: tok holds at most \(PackedPairs.idLimit - 1) tokens and \(PackedPairs.rankLimit) merges"
        case .malformed(let path, let line, let reason): return "\(path)\(line.map { ":\($0)" } ?? ""): \(reason)"
        case .unsupported(let path, let construct): return "\(path): unsupported: \(construct)"
        case .corrupt(let path, let reason): return "\(path): damaged (\(reason))"
        case .notAVocabularyFolder(let path, let reason): return "\(path): not a vocabulary folder (\(reason))"
        case .inFile(let path, let error): return "\(path): \(error)"
        }
    }
}

/// A byte-level BPE vocabulary: flat token storage, the byte-string lookup table
/// and the merge table, all in one ``TableStorage``.
///
/// Token ids `0..<count` index the token bytes through their offsets. Special
/// tokens have their own ids (usually `>= count`).
public struct Vocabulary: Sendable {
    @usableFromInline let storage: TableStorage
    public let mergeOrder: MergeOrder
    public let specialTokens: [SpecialToken]
    /// Tokens whose bytes the merges alone do not turn into the token itself.
    public let unreachableTokens: [UInt32]
    /// Number of merges in the pair table.
    let pairCount: Int
    @usableFromInline let specialIdsBelowCount: Set<UInt32>
    @usableFromInline let specialById: [UInt32: [UInt8]]
    /// Per byte, whether the vocabulary lacks its token (only bytes that never
    /// occur in UTF-8 may be missing); empty when none is. Such a byte is
    /// encoded as U+FFFD, which is what it decodes to.
    public let bytesWithoutToken: [Bool]

    static func neverInUTF8(_ b: UInt8) -> Bool { b == 0xC0 || b == 0xC1 || b >= 0xF5 }
    static let replacementCharacter: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// The raw tables for the hot loops; valid while this vocabulary (its storage) lives.
    @inlinable var tables: BPETables { storage.view }

    /// Number of BPE token ids (specials not included unless they fall inside).
    /// A SentencePiece vocabulary's kernel has tokens of its own past them
    /// (SentencePieceModel.swift), which no encoding returns.
    public let count: Int

    /// One more than the largest id, special tokens included.
    public var idLimit: Int { max(count, (specialTokens.map { Int($0.id) }.max() ?? -1) + 1) }

    /// The bytes of BPE token `id`.
    public func bytes(of id: UInt32) -> [UInt8] {
        let t = tables
        return Array(UnsafeBufferPointer(start: t.tokenBytes + Int(t.tokenOffsets[Int(id)]), count: t.tokenLength(id)))
    }

    /// The id of the BPE token whose bytes are `bytes`, if any.
    public func id(of bytes: [UInt8]) -> UInt32? {
        withExtendedLifetime(storage) {
            bytes.withUnsafeBytes { b in tables.find(b.baseAddress ?? UnsafeRawPointer(tables.tokenBytes), b.count) }
        }
    }

    /// All merges as `(left, right, rank, result)`, ordered by rank, then left, then right.
    public var merges: [(left: UInt32, right: UInt32, rank: UInt32, result: UInt32)] {
        let slots = storage.elements(of: .pairSlots, as: UInt64.self)
        let results = storage.elements(of: .mergeResults, as: UInt32.self)
        var all: [(left: UInt32, right: UInt32, rank: UInt32, result: UInt32)] = []
        all.reserveCapacity(pairCount)
        for word in slots where word != PackedPairs.empty {
            let rank = UInt32(word & 0x3F_FFFF)
            all.append((UInt32(word >> 43), UInt32(word >> 22 & 0x1F_FFFF), rank,
                        mergeOrder == .ranks ? rank : results[Int(rank)]))
        }
        all.sort { ($0.rank, $0.left, $0.right) < ($1.rank, $1.left, $1.right) }
        return all
    }

    init(storage: TableStorage, pairCount: Int, mergeOrder: MergeOrder, specialTokens: [SpecialToken],
         unreachableTokens: [UInt32], count: Int? = nil) {
        self.storage = storage
        self.count = count ?? storage.view.tokenCount
        self.pairCount = pairCount
        self.mergeOrder = mergeOrder
        self.specialTokens = specialTokens
        self.unreachableTokens = unreachableTokens
        let count = self.count
        self.specialIdsBelowCount = Set(specialTokens.map(\.id).filter { Int($0) < count })
        self.specialById = Dictionary(specialTokens.map { ($0.id, Array($0.content.utf8)) }, uniquingKeysWith: { a, _ in a })
        let view = storage.view
        var missing = [Bool](repeating: false, count: 256)
        for b in 0 ..< 256 {
            let id = view.byteTokens[b]
            missing[b] = view.tokenLength(id) != 1 || view.tokenBytes[Int(view.tokenOffsets[Int(id)])] != UInt8(b)
        }
        self.bytesWithoutToken = missing.contains(true) ? missing : []
    }

    /// This vocabulary with only the ids below `limit` its own: the tokens
    /// past them are the kernel's (a SentencePiece vocabulary's prefixes of
    /// characters and the like), never returned and never decoded.
    func keepingIds(below limit: Int) -> Vocabulary {
        Vocabulary(storage: storage, pairCount: pairCount, mergeOrder: mergeOrder, specialTokens: specialTokens,
                   unreachableTokens: unreachableTokens.filter { Int($0) < limit }, count: limit)
    }

    /// A vocabulary from finished tables; the byte-pair table is derived here.
    init(tokenBytes: ContiguousArray<UInt8>, tokenOffsets: ContiguousArray<UInt32>, lookup: ByteStringTable,
         pairs: PairTable, byteTokens: ContiguousArray<UInt32>, wholePieceAllowed: ContiguousArray<UInt64>,
         mergeOrder: MergeOrder, specialTokens: [SpecialToken], unreachableTokens: [UInt32]) {
        var bytePairs = ContiguousArray<UInt64>(repeating: UInt64.max, count: 65536)
        if pairs.count > 0 {
            for first in 0 ..< 256 {
                for second in 0 ..< 256 {
                    bytePairs[first << 8 | second] = pairs.lookup(byteTokens[first], byteTokens[second])
                }
            }
        }
        let characters = CharacterTokenTable(tokenBytes: tokenBytes, tokenOffsets: tokenOffsets, pairs: pairs,
                                             byteTokens: byteTokens, bytePairs: bytePairs)
        let filter = pairs.keys.withUnsafeBufferPointer { PairFilter.make(keys: $0, pairs: pairs.count) }
        let packed = PackedPairs.make(pairs, resultIsRank: mergeOrder == .ranks)
        func copy<T>(_ array: ContiguousArray<T>, _ into: UnsafeMutableRawBufferPointer) {
            array.withUnsafeBytes { into.copyMemory(from: $0) }
        }
        let arrays: [TableID: Int] = [
            .tokenBytes: tokenBytes.count, .tokenOffsets: tokenOffsets.count, .lookupSlots: lookup.slots.count,
            .pairSlots: packed.slots.count, .mergeResults: packed.results.count, .byteTokens: byteTokens.count,
            .wholePieceAllowed: wholePieceAllowed.count, .bytePairs: bytePairs.count,
            .characterSlots: characters.slots.count, .characterMasks: characters.masks.count,
            .pairFilter: filter.count,
        ]
        let storage = TableStorage(counts: arrays, resultIsRank: mergeOrder == .ranks) { id, memory in
            switch id {
            case .tokenBytes: copy(tokenBytes, memory)
            case .tokenOffsets: copy(tokenOffsets, memory)
            case .lookupSlots: copy(lookup.slots, memory)
            case .pairSlots: copy(packed.slots, memory)
            case .mergeResults: copy(packed.results, memory)
            case .byteTokens: copy(byteTokens, memory)
            case .wholePieceAllowed: copy(wholePieceAllowed, memory)
            case .bytePairs: copy(bytePairs, memory)
            case .characterSlots: copy(characters.slots, memory)
            case .characterMasks: copy(characters.masks, memory)
            case .pairFilter: copy(filter, memory)
            }
        }
        self.init(storage: storage, pairCount: pairs.count, mergeOrder: mergeOrder, specialTokens: specialTokens,
                  unreachableTokens: unreachableTokens)
    }
}

// MARK: - Building

extension Vocabulary {
    /// A tiktoken-style vocabulary: `tokens[rank]` is the byte string of rank
    /// `rank`. Merges are re-derived from the ranks: every split of a token into
    /// two tokens merges at the token's rank.
    ///
    /// Fails when a byte string repeats, a single byte has no token, a token
    /// does not encode to itself, or a special token is not as
    /// ``SpecialToken/check(_:tokenCount:insideVocabulary:tokenBytes:)`` requires
    /// (none on a rank's id).
    ///
    /// - Complexity: O(total token bytes) expected.
    public static func fromRanks(
        _ tokens: [[UInt8]], specialTokens: [SpecialToken] = [], allowUnreachable: Bool = false
    ) throws -> Vocabulary {
        try SpecialToken.check(specialTokens, tokenCount: tokens.count, insideVocabulary: false) { tokens[$0] }
        return try fromRanks(withGaps: tokens.map { $0 }, specialTokens: specialTokens, allowUnreachable: allowUnreachable)
    }

    /// A tiktoken-style vocabulary whose ranks may skip ids: `tokens[rank]` is
    /// nil for an id that holds no BPE token, a special token's or an unused
    /// one (an extended vocabulary's new ranks follow the base's special
    /// tokens). A special token's id keeps its text, as a `tokenizer.json`
    /// vocab lists it; it is never a merge's part or result.
    ///
    /// Fails as ``fromRanks(_:specialTokens:allowUnreachable:)`` does, and when
    /// a special token sits on a rank that holds a token.
    public static func fromRanks(
        withGaps tokens: [[UInt8]?], specialTokens: [SpecialToken] = [], allowUnreachable: Bool = false
    ) throws -> Vocabulary {
        try SpecialToken.check(specialTokens, tokenCount: tokens.count, insideVocabulary: true) { tokens[$0] ?? [] }
        for s in specialTokens where Int(s.id) < tokens.count {
            if let bytes = tokens[Int(s.id)] { throw SpecialTokenError.collision(content: s.content, id: s.id, token: bytes) }
        }
        let specialText = Dictionary(specialTokens.map { (Int($0.id), Array($0.content.utf8)) }, uniquingKeysWith: { a, _ in a })
        var storage = Storage(tokens: tokens.enumerated().map { $0.element ?? specialText[$0.offset] ?? [] })
        try storage.indexAll(tokens.map { $0 != nil })
        var splits: [(left: UInt32, right: UInt32, id: UInt32)] = []
        storage.bytes.withUnsafeBufferPointer { tb in
            storage.offsets.withUnsafeBufferPointer { to in
                for id in tokens.indices where tokens[id] != nil {
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
            throw VocabularyError.unreachableTokens(
                count: vocabulary.unreachableTokens.count, first: first, bytes: vocabulary.bytes(of: first))
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
        try SpecialToken.check(specialTokens, tokenCount: tokens.count, insideVocabulary: true) { tokens[$0] ?? [] }
        var storage = Storage(tokens: tokens.map { $0 ?? [] })
        try storage.indexAll(zip(tokens, mergeable).map { $0.0 != nil && $0.1 })
        var lastRank: [UInt64: Int] = [:]
        lastRank.reserveCapacity(merges.count)
        for (rank, pair) in merges.enumerated() { lastRank[UInt64(pair.0) << 32 | UInt64(pair.1)] = rank }
        var pairs = PairTable(minimumCapacity: lastRank.count)
        for (rank, (left, right)) in merges.enumerated() {
            guard lastRank[UInt64(left) << 32 | UInt64(right)] == rank else { continue }
            guard Int(left) < tokens.count, Int(right) < tokens.count else {
                throw VocabularyError.mergeOutsideVocabulary(rank: rank)
            }
            let merged = storage.tokenBytes(Int(left)) + storage.tokenBytes(Int(right))
            guard let result = storage.find(merged) else {
                throw VocabularyError.mergeMakesNoToken(rank: rank)
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
                        guard to[id + 1] > to[id] else { throw VocabularyError.emptyToken(id: id) }
                        guard lookup.insert(id: UInt32(id), bytes: tb.baseAddress!, offsets: to.baseAddress!) else {
                            throw VocabularyError.repeatedToken(id: id)
                        }
                    }
                }
            }
        }

        /// `wholeAlways`: tokens the merges never make that a piece of their
        /// bytes becomes all the same (SentencePiece's user-defined pieces).
        func finish(pairs: PairTable, mergeOrder: MergeOrder, specialTokens: [SpecialToken],
                    wholeAlways: Set<UInt32> = []) throws -> Vocabulary {
            var byteTokens = ContiguousArray<UInt32>(repeating: 0, count: 256)
            for b in 0 ..< 256 {
                if let id = find([UInt8(b)]) {
                    byteTokens[b] = id
                } else if Vocabulary.neverInUTF8(UInt8(b)), find(Vocabulary.replacementCharacter) != nil, let question = find([0x3F]) {
                    // A byte no UTF-8 text has (DeepSeek-LLM/Coder/V2 drop all 13): the encoder
                    // writes U+FFFD in its place before splitting, so the kernel never meets it;
                    // the table holds a placeholder.
                    byteTokens[b] = question
                } else {
                    throw VocabularyError.noByteToken(UInt8(b))
                }
            }
            let tokenCount = offsets.count - 1
            let highestRank = pairs.values.reduce(0) { max($0, Int($1 >> 32)) }  // empty slots hold 0
            guard tokenCount < PackedPairs.idLimit, highestRank < PackedPairs.rankLimit else {
                throw VocabularyError.tooLarge(tokens: tokenCount, merges: pairs.count)
            }
            var allowed = ContiguousArray<UInt64>(repeating: 0, count: (tokenCount + 63) / 64)
            for id in indexed.indices where indexed[id] { allowed[id >> 6] |= 1 << UInt64(id & 63) }
            let vocabulary = Vocabulary(
                tokenBytes: bytes, tokenOffsets: offsets, lookup: lookup, pairs: pairs, byteTokens: byteTokens,
                wholePieceAllowed: allowed, mergeOrder: mergeOrder, specialTokens: specialTokens,
                unreachableTokens: [])
            // Every token must encode to itself by merges alone; record those that do not.
            var unreachable: [UInt32] = []
            var scratch = BytePairScratch(caching: false)  // each token once: nothing to cache
            var out = ContiguousArray<UInt32>()
            withExtendedLifetime(vocabulary) {
                let tables = vocabulary.tables
                for id in indexed.indices where indexed[id] {
                    out.removeAll(keepingCapacity: true)
                    let start = Int(tables.tokenOffsets[id])
                    tables.mergeBytePairs(UnsafeBufferPointer(start: tables.tokenBytes + start, count: tables.tokenLength(UInt32(id))),
                                          scratch: &scratch, into: &out)
                    if (out.count != 1 || out[0] != UInt32(id)) && !wholeAlways.contains(UInt32(id)) {
                        unreachable.append(UInt32(id))
                    }
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
