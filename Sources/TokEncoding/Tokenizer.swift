import Synchronization
import TokRuntime
import CTokRuntime

/// Which special tokens `encode` recognises in its input.
public enum AllowedSpecial: Sendable, Hashable {
    /// None: special-token text is encoded as ordinary text.
    case none
    case all
    case only(Set<String>)
}

public struct DecodeError: TokError {
    public var id: UInt32
    public var position: Int
    public var description: String { "token id \(id) at position \(position) is not in the vocabulary" }
}

/// Scratches kept warm between the calls that bring none of their own (a
/// server's short requests, a stream's blocks): at most ``kept``, each
/// with its thread caches (``BytePairScratch``).
final class ScratchPool: Sendable {
    private let free = Mutex<[BytePairScratch]>([])
    static let kept = 16
    /// The sizes of the thread caches of the scratches it makes.
    let longPieceSlots: Int, pairEntries: Int

    /// A pool for a tokenizer with `pieceCacheEntries` in its shared cache:
    /// thread caches of their default sizes, smaller beside a small shared
    /// cache (a long-piece slot per 16 entries, a pair per entry) so that a
    /// tiny cache evicts every kind of piece, and none beside none.
    init(pieceCacheEntries entries: Int) {
        longPieceSlots = entries > 0 ? min(LongPieceCache.defaultSlots, max(entries / 16, 4)) : 0
        pairEntries = entries > 0 ? min(PairCache.defaultEntries, max(entries, 4)) : 0
    }

    func make() -> BytePairScratch { BytePairScratch(longPieceSlots: longPieceSlots, pairEntries: pairEntries) }

    func take() -> BytePairScratch {
        free.withLock { $0.popLast() } ?? make()
    }

    func give(_ scratch: BytePairScratch) {
        free.withLock { if $0.count < ScratchPool.kept { $0.append(scratch) } }
    }
}

/// A vocabulary with its pre-tokenizer and normalizer: the one encoder that
/// training, the CLI and library users share.
public struct Tokenizer: Sendable {
    public let vocabulary: Vocabulary
    public let preTokenizer: PreTokenizer
    public let normalizer: Normalizer
    /// What `encode(..., addSpecialTokens: true)` puts around the ids.
    public let postProcessor: PostProcessor
    /// Added tokens matched in the raw text, and in the normalized text: all of them,
    /// and those that are not `special` (always matched).
    let rawAll: AddedTokenMatcher, normalizedAll: AddedTokenMatcher
    let rawOrdinary: AddedTokenMatcher, normalizedOrdinary: AddedTokenMatcher
    /// The added tokens a block of a stream must not end inside (special or not:
    /// whether one is matched depends on the call).
    public let tokensKeptWhole: TokensKeptWhole
    /// The cache of short pieces every encode with this tokenizer uses, on
    /// every thread and from every copy of it (nil: off). It holds ids of
    /// `vocabulary` alone: a tokenizer made with another vocabulary gets a
    /// cache of its own. The caches a thread keeps for itself are in its
    /// scratch (``BytePairScratch``).
    @usableFromInline private(set) var pieceCache: SharedPieceCache? = SharedPieceCache(entries: Tokenizer.defaultPieceCacheEntries)
    private(set) var scratchPool = ScratchPool(pieceCacheEntries: Tokenizer.defaultPieceCacheEntries)

    /// A SentencePiece vocabulary's own normalizer, cuts, ids and decoding (nil: byte-level BPE).
    public let sentencePiece: SentencePiece?
    /// A superword vocabulary's tables for encoding its pieces from their words (nil: another vocabulary).
    @usableFromInline let superwordTables: SuperwordTables?

    public init(vocabulary: Vocabulary, preTokenizer: PreTokenizer, normalizer: Normalizer = .none,
                postProcessor: PostProcessor = .none, sentencePiece: SentencePiece? = nil) {
        self.init(vocabulary: vocabulary, preTokenizer: preTokenizer, normalizer: normalizer, postProcessor: postProcessor,
                  sentencePiece: sentencePiece, superwordTables: nil)
    }

    /// With a superword vocabulary's tables as `tokenizer.bin` kept them (nil: made here if it needs them).
    init(vocabulary: Vocabulary, preTokenizer: PreTokenizer, normalizer: Normalizer, postProcessor: PostProcessor,
         sentencePiece: SentencePiece?, superwordTables stored: SuperwordTables?) {
        self.vocabulary = vocabulary
        self.preTokenizer = preTokenizer
        self.normalizer = normalizer
        self.postProcessor = postProcessor
        self.sentencePiece = sentencePiece
        superwordTables = Tokenizer.usesSuperwordTables(vocabulary, preTokenizer, sentencePiece)
            ? stored ?? SuperwordTables(vocabulary) : nil
        (rawAll, normalizedAll) = Tokenizer.matchers(vocabulary.specialTokens, normalizer)
        (rawOrdinary, normalizedOrdinary) = Tokenizer.matchers(vocabulary.specialTokens.filter { !$0.special }, normalizer)
        tokensKeptWhole = TokensKeptWhole(vocabulary.specialTokens)
    }

    /// Whether a tokenizer encodes its pieces from their words (``SuperwordTables``).
    static func usesSuperwordTables(_ vocabulary: Vocabulary, _ preTokenizer: PreTokenizer, _ sentencePiece: SentencePiece?) -> Bool {
        preTokenizer.rules == [.superwords] && vocabulary.mergeOrder == .ranks && sentencePiece == nil
    }

    static func matchers(_ tokens: [SpecialToken], _ normalizer: Normalizer) -> (AddedTokenMatcher, AddedTokenMatcher) {
        (AddedTokenMatcher(tokens.filter { !$0.normalized }, normalizer: nil),
         AddedTokenMatcher(tokens.filter(\.normalized), normalizer: normalizer.steps.isEmpty ? nil : normalizer))
    }

    /// This tokenizer with another vocabulary (same pipeline).
    public func with(vocabulary: Vocabulary) -> Tokenizer {
        Tokenizer(vocabulary: vocabulary, preTokenizer: preTokenizer, normalizer: normalizer, postProcessor: postProcessor,
                  sentencePiece: sentencePiece)
            .withPieceCache(entries: pieceCacheEntries)
    }

    /// The piece cache's entries by default: 131,072 halves of 32 bytes and
    /// 32,768 lines of 64 (``SharedPieceCache``), 6 MiB.
    public static let defaultPieceCacheEntries = SharedPieceCache.defaultEntries

    /// The piece cache's entries for long jobs over large texts (`tok encode`,
    /// an encoding loaded from Python): 524,288 halves and 131,072 lines, 24
    /// MiB, paid for page by page as they fill. On 20 MB of English, with
    /// 64-byte entries, a quarter as many missed 45% more pieces (180,000
    /// against 125,000 of 4.6 million).
    public static let largePieceCacheEntries = 1 << 19

    /// Entries of the piece cache (its halves, 32 bytes each, with a line of
    /// 64 bytes for every four; 0: none), shared by every thread.
    public var pieceCacheEntries: Int { pieceCache?.count ?? 0 }

    /// This tokenizer with a piece cache of its own of `entries` entries
    /// (rounded up to a power of two; 0 turns off every cache, the threads'
    /// included, and a tiny one makes them tiny too). The ids do not depend
    /// on it; the speed does.
    public func withPieceCache(entries: Int) -> Tokenizer {
        var copy = self
        copy.pieceCache = entries > 0 ? SharedPieceCache(entries: entries) : nil
        copy.scratchPool = ScratchPool(pieceCacheEntries: max(entries, 0))
        return copy
    }

    /// A new scratch, for a thread of one's own, with thread caches sized as
    /// this tokenizer's piece cache asks. Any scratch works with any tokenizer.
    public func makeScratch() -> BytePairScratch { scratchPool.make() }

    /// Runs `body` with a scratch from this tokenizer's pool (a new one when
    /// all are in use) and gives it back afterwards.
    public func withScratch<R>(_ body: (inout BytePairScratch) throws -> R) rethrows -> R {
        var scratch = scratchPool.take()
        defer { scratchPool.give(scratch) }
        return try body(&scratch)
    }

    // MARK: Encoding

    /// Encodes `text` and returns its ids.
    public func encode(_ text: String, allowedSpecial: AllowedSpecial = .none) -> [UInt32] {
        var text = text
        return text.withUTF8 { Array(encode(bytes: $0, allowedSpecial: allowedSpecial)) }
    }

    /// Encodes any bytes, invalid UTF-8 included, and returns the ids.
    public func encode(bytes: UnsafeBufferPointer<UInt8>, allowedSpecial: AllowedSpecial = .none) -> ContiguousArray<UInt32> {
        var out = ContiguousArray<UInt32>()
        out.reserveCapacity(bytes.count / 3)
        withScratch { encode(bytes, allowedSpecial: allowedSpecial, scratch: &$0, into: &out) }
        return out
    }

    /// Encodes `text` as HuggingFace's `encode(text, add_special_tokens=True)`
    /// does: every added token matched, and the post-processor's special
    /// tokens put around the ids.
    public func encode(_ text: String, addSpecialTokens: Bool, allowedSpecial: AllowedSpecial = .all) -> [UInt32] {
        var text = text
        return text.withUTF8 { bytes in
            let ids = encode(bytes: bytes, allowedSpecial: allowedSpecial)
            return Array(addSpecialTokens ? postProcessor.apply(to: ids) : ids)
        }
    }

    /// Appends the ids of `text` to `out`. Special tokens are matched only
    /// where `allowedSpecial` allows them; added tokens that are not special
    /// always are, as in `tokenizers`.
    ///
    /// - Complexity: O(n log n) in the length of `text` at worst; O(n) for text
    ///   whose pieces are short.
    public func encode(
        _ text: UnsafeBufferPointer<UInt8>, allowedSpecial: AllowedSpecial,
        scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        let raw: AddedTokenMatcher, normalized: AddedTokenMatcher
        switch allowedSpecial {
        case .none: (raw, normalized) = (rawOrdinary, normalizedOrdinary)
        case .all: (raw, normalized) = (rawAll, normalizedAll)
        case .only(let names):
            (raw, normalized) = Tokenizer.matchers(
                vocabulary.specialTokens.filter { !$0.special || names.contains($0.content) }, normalizer)
        }
        if raw.isEmpty && normalized.isEmpty { return encodeOrdinary(text, scratch: &scratch, into: &out) }
        raw.forEach(in: text, gap: { gap in
            if let sentencePiece {
                return encodeSentencePiece(gap, sentencePiece, atStart: gap.baseAddress == text.baseAddress,
                                           scratch: &scratch, into: &out)
            }
            if normalized.isEmpty { return encodeOrdinary(gap, scratch: &scratch, into: &out) }
            // Normalized added tokens are matched in the normalized text.
            let n = normalizer.apply(gap)
            func split(_ t: UnsafeBufferPointer<UInt8>) {
                normalized.forEach(in: t, gap: { encodeNormalized($0, scratch: &scratch, into: &out) },
                                   token: { out.append($0) })
            }
            if let n { n.withUnsafeBufferPointer { split($0) } } else { split(gap) }
        }, token: { out.append($0) })
    }

    /// Appends the ids of `text`, matching no special tokens.
    public func encodeOrdinary(
        _ text: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        guard !text.isEmpty else { return }
        if let sentencePiece { return encodeSentencePiece(text, sentencePiece, scratch: &scratch, into: &out) }
        if let normalized = normalizer.apply(text) {
            return normalized.withUnsafeBufferPointer { encodeNormalized($0, scratch: &scratch, into: &out) }
        }
        encodeNormalized(text, scratch: &scratch, into: &out)
    }

    /// Text already normalized: the prefix space, if any, then the pieces.
    func encodeNormalized(
        _ text: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        guard !text.isEmpty else { return }
        let missing = vocabulary.bytesWithoutToken
        if !missing.isEmpty, text.contains(where: { missing[Int($0)] }) {
            // Bytes the vocabulary has no token for (never in UTF-8): U+FFFD in their place.
            var replaced: [UInt8] = []
            replaced.reserveCapacity(text.count + 16)
            for b in text { if missing[Int(b)] { replaced += Vocabulary.replacementCharacter } else { replaced.append(b) } }
            return replaced.withUnsafeBufferPointer { encodeNormalized($0, scratch: &scratch, into: &out) }
        }
        if preTokenizer.addPrefixSpace && text[0] != 0x20 {
            let spaced = [0x20] + Array(text)
            return spaced.withUnsafeBufferPointer { encodePieces($0, scratch: &scratch, into: &out) }
        }
        encodePieces(text, scratch: &scratch, into: &out)
    }

    @inlinable
    func encodePieces(
        _ text: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        if let superwordTables { return encodeSuperwords(text, tables: superwordTables, scratch: &scratch, into: &out) }
        encodePieces(text, splitter: preTokenizer, scratch: &scratch, into: &out)
    }

    /// The ids of the pieces `splitter` cuts `text` into.
    @inlinable
    func encodePieces<Splitter: PieceSplitter>(
        _ text: UnsafeBufferPointer<UInt8>, splitter: Splitter, scratch: inout BytePairScratch,
        into out: inout ContiguousArray<UInt32>
    ) {
        let storage = vocabulary.storage, tables = vocabulary.tables
        guard let pieceCache else {
            return withExtendedLifetime(storage) {
                let base = text.baseAddress!
                splitter.forEachPiece(text) { piece in
                    tables.encodePiece(base + piece.lowerBound, piece.count, scratch: &scratch, into: &out)
                }
            }
        }
        withExtendedLifetime((storage, pieceCache)) {
            encodeInBatches(text, splitter: splitter, tables: tables, cache: pieceCache.view, scratch: &scratch, into: &out)
        }
    }

    /// Pieces taken about ``PieceBatch/capacity`` at a time: every piece's cache entry
    /// is requested from memory first, then each is served in order, so the
    /// misses overlap instead of being waited out one after another.
    @inlinable
    func encodeInBatches<Splitter: PieceSplitter>(
        _ text: UnsafeBufferPointer<UInt8>, splitter: Splitter, tables: BPETables, cache: PieceCacheView,
        scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        scratch.longPieces.prepare(for: tables)
        PieceBatch.with(text: text) { batch in
            splitter.forEachPiece(text, { piece in
                if batch.add(piece) { batch.flush(tables: tables, cache: cache, scratch: &scratch, into: &out) }
            }, window: { i, ends in
                if batch.add(window: i, ends: ends) { batch.flush(tables: tables, cache: cache, scratch: &scratch, into: &out) }
            })
            batch.flush(tables: tables, cache: cache, scratch: &scratch, into: &out)
        }
    }

    // MARK: Decoding

    /// The bytes of `ids`, appended to `out`.
    ///
    /// - Throws: ``DecodeError`` for an id that is neither a token nor a special token.
    public func decode(_ ids: some Collection<UInt32>, into out: inout [UInt8]) throws {
        if let sentencePiece { return try sentencePiece.decode(ids, vocabulary: vocabulary, into: &out) }
        let vocabulary = self.vocabulary
        try withExtendedLifetime(vocabulary.storage) {
            let tables = vocabulary.tables
            for (position, id) in ids.enumerated() {
                // An id in a gap of a HuggingFace vocab has no bytes: no token, not an empty one.
                if Int(id) < tables.tokenCount && tables.tokenLength(id) > 0
                    && (vocabulary.specialIdsBelowCount.isEmpty || !vocabulary.specialIdsBelowCount.contains(id)) {
                    // id < tokenCount, so its offsets exist.
                    out.append(contentsOf: UnsafeBufferPointer(
                        start: tables.tokenBytes + Int(tables.tokenOffsets[Int(id)]), count: tables.tokenLength(id)))
                } else if let special = vocabulary.specialById[id] {
                    out.append(contentsOf: special)
                } else {
                    throw DecodeError(id: id, position: position)
                }
            }
        }
    }

    /// The bytes of `ids`.
    public func decode(_ ids: some Collection<UInt32>) throws -> [UInt8] {
        var out: [UInt8] = []
        try decode(ids, into: &out)
        return out
    }
}

extension Vocabulary {
    /// Appends the ids of one piece (bytes the pre-tokenizer already split
    /// off): the whole-piece token if there is one, else the merges.
    public func encodePiece(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        guard !piece.isEmpty else { return }
        withExtendedLifetime(storage) {
            tables.encodePiece(piece.baseAddress!, piece.count, scratch: &scratch, into: &out)
        }
    }
}

extension BPETables {
    /// The whole-piece token of the `n` bytes at `start` if there is one, else
    /// the merges; `hash` is their ``hashBytes(_:_:)`` when already known.
    @inlinable @inline(__always)
    func encodePiece(
        _ start: UnsafePointer<UInt8>, _ n: Int, hash: UInt64? = nil, scratch: inout BytePairScratch,
        into out: inout ContiguousArray<UInt32>
    ) {
        if let id = wholePiece(start, n, hash: hash ?? hashBytes(start, n)) {
            out.append(id)
        } else {
            mergeBytePairs(UnsafeBufferPointer(start: start, count: n), scratch: &scratch, into: &out)
        }
    }
}
