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

/// A vocabulary with its pre-tokenizer and normalizer: the one encoder that
/// training, the CLI and library users share.
/// Scratches that outlive one call: at most a few per tokenizer, each 4 MiB
/// with its piece cache (``BytePairScratch/defaultPieceCacheEntries``).
final class ScratchPool: Sendable {
    private let free = Mutex<[BytePairScratch]>([])
    let pieceCacheEntries: Int
    static let kept = 16

    init(pieceCacheEntries: Int) { self.pieceCacheEntries = pieceCacheEntries }

    func take() -> BytePairScratch {
        free.withLock { $0.popLast() } ?? BytePairScratch(pieceCacheEntries: pieceCacheEntries)
    }

    func give(_ scratch: BytePairScratch) {
        free.withLock { if $0.count < ScratchPool.kept { $0.append(scratch) } }
    }

    private let shared = Mutex<PieceCacheStorage?>(nil)

    /// One piece cache for the workers of a parallel stream over `storage`'s
    /// vocabulary, kept for the next stream (nil when caches are off): each
    /// worker with a cache of its own met every piece of the text once, and
    /// the misses were paid once per worker.
    func sharedCache(for storage: TableStorage) -> PieceCacheStorage? {
        guard pieceCacheEntries > 0 else { return nil }
        return shared.withLock { kept in
            if let cache = kept, cache.owner == storage.serial { return cache }
            let cache = PieceCacheStorage(entries: pieceCacheEntries.roundedUpToPowerOfTwo)
            cache.owner = storage.serial
            kept = cache
            return cache
        }
    }
}

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
    /// Scratch buffers, piece caches included, kept warm between calls that
    /// bring none of their own (a server's short requests, a stream's blocks).
    private(set) var scratchPool = ScratchPool(pieceCacheEntries: BytePairScratch.defaultPieceCacheEntries)

    public init(vocabulary: Vocabulary, preTokenizer: PreTokenizer, normalizer: Normalizer = .none,
                postProcessor: PostProcessor = .none) {
        self.vocabulary = vocabulary
        self.preTokenizer = preTokenizer
        self.normalizer = normalizer
        self.postProcessor = postProcessor
        (rawAll, normalizedAll) = Tokenizer.matchers(vocabulary.specialTokens, normalizer)
        (rawOrdinary, normalizedOrdinary) = Tokenizer.matchers(vocabulary.specialTokens.filter { !$0.special }, normalizer)
    }

    static func matchers(_ tokens: [SpecialToken], _ normalizer: Normalizer) -> (AddedTokenMatcher, AddedTokenMatcher) {
        (AddedTokenMatcher(tokens.filter { !$0.normalized }, normalizer: nil),
         AddedTokenMatcher(tokens.filter(\.normalized), normalizer: normalizer.steps.isEmpty ? nil : normalizer))
    }

    /// This tokenizer with another vocabulary (same pipeline).
    public func with(vocabulary: Vocabulary) -> Tokenizer {
        Tokenizer(vocabulary: vocabulary, preTokenizer: preTokenizer, normalizer: normalizer, postProcessor: postProcessor)
            .withPieceCache(entries: pieceCacheEntries)
    }

    /// Entries of the piece cache each thread's scratch gets (64 bytes each; 0: none).
    public var pieceCacheEntries: Int { scratchPool.pieceCacheEntries }

    /// This tokenizer with `entries` piece-cache entries per thread (0 turns
    /// the cache off). The ids do not depend on it; the speed does.
    public func withPieceCache(entries: Int) -> Tokenizer {
        var copy = self
        copy.scratchPool = ScratchPool(pieceCacheEntries: max(entries, 0))
        return copy
    }

    /// A new scratch with this tokenizer's piece-cache size, for a thread of one's own.
    public func makeScratch() -> BytePairScratch { BytePairScratch(pieceCacheEntries: pieceCacheEntries) }

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
        let storage = vocabulary.storage
        guard let cache = scratch.pieceCache(for: storage) else {
            return withExtendedLifetime(storage) {
                let tables = vocabulary.tables
                let base = text.baseAddress!
                preTokenizer.forEachPiece(text) { piece in
                    tables.encodePiece(base + piece.lowerBound, piece.count, scratch: &scratch, into: &out)
                }
            }
        }
        let shared = scratch.sharedCache
        withExtendedLifetime((storage, cache, shared)) {
            encodeInBatches(text, tables: vocabulary.tables, cache: cache.view(sharing: shared), pairCache: cache.pairView,
                            scratch: &scratch, into: &out)
        }
    }

    /// Pieces taken ``PieceBatch/capacity`` at a time: every piece's cache entry
    /// is requested from memory first, then each is served in order, so the
    /// misses overlap instead of being waited out one after another.
    @inlinable
    func encodeInBatches(
        _ text: UnsafeBufferPointer<UInt8>, tables: BPETables, cache: PieceCacheView, pairCache: PairCacheView,
        scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        withUnsafeTemporaryAllocation(of: PieceKey.self, capacity: PieceBatch.capacity) { keys in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 4 * PieceBatch.capacity) { meta in
                var batch = PieceBatch(text: text, keys: keys.baseAddress!, meta: meta.baseAddress!)
                preTokenizer.forEachPiece(text) { piece in
                    if batch.add(piece) {
                        batch.flush(tables: tables, cache: cache, pairCache: pairCache, scratch: &scratch, into: &out)
                    }
                }
                batch.flush(tables: tables, cache: cache, pairCache: pairCache, scratch: &scratch, into: &out)
            }
        }
    }

    // MARK: Decoding

    /// The bytes of `ids`, appended to `out`.
    ///
    /// - Throws: ``DecodeError`` for an id that is neither a token nor a special token.
    public func decode(_ ids: some Collection<UInt32>, into out: inout [UInt8]) throws {
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
        pairCache: PairCacheView? = nil, into out: inout ContiguousArray<UInt32>
    ) {
        if let id = wholePiece(start, n, hash: hash ?? hashBytes(start, n)) {
            out.append(id)
        } else {
            mergeBytePairs(UnsafeBufferPointer(start: start, count: n), scratch: &scratch, pairCache: pairCache, into: &out)
        }
    }
}

/// Up to `capacity` pieces waiting for their cache entries (see
/// ``Tokenizer/encodeInBatches(_:tables:cache:scratch:into:)``).
@usableFromInline
struct PieceBatch {
    @usableFromInline static let capacity = 128
    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline let end: UnsafePointer<UInt8>
    /// Piece j's cache key; for a hit found in step 2, word 0 then holds the
    /// entry's head instead (``PieceCacheView/appendIfUnchanged(slot:head:into:)``).
    @usableFromInline let keys: UnsafeMutablePointer<PieceKey>
    /// `meta[4j ..< 4j + 4]`: piece j's start, length, cache slot, and the
    /// hash of a short piece the cache does not hold (-1 when it does).
    @usableFromInline let meta: UnsafeMutablePointer<Int>
    @usableFromInline var count = 0

    @inlinable
    init(text: UnsafeBufferPointer<UInt8>, keys: UnsafeMutablePointer<PieceKey>, meta: UnsafeMutablePointer<Int>) {
        base = text.baseAddress!
        end = base + text.count
        self.keys = keys
        self.meta = meta
    }

    /// Adds a piece; true when the batch is full.
    @inlinable @inline(__always)
    mutating func add(_ piece: Range<Int>) -> Bool {
        meta[4 * count] = piece.lowerBound  // count < capacity: flushed when it reaches it
        meta[4 * count + 1] = piece.count
        count += 1
        return count == PieceBatch.capacity
    }

    @inlinable
    mutating func flush(
        tables: BPETables, cache: PieceCacheView, pairCache: PairCacheView, scratch: inout BytePairScratch,
        into out: inout ContiguousArray<UInt32>
    ) {
        // 1. Request every short piece's cache line.
        for j in 0 ..< count {
            let n = meta[4 * j + 1]
            guard n <= pieceCacheMaxBytes else { continue }
            let key = PieceKey(base + meta[4 * j], n, end: end)
            let slot = key.slot(n, cache.shift)
            keys[j] = key
            meta[4 * j + 2] = slot
            tok_prefetch(cache.entries + slot * 8)
        }
        // 2. For each that misses, request its slot in the vocabulary's lookup
        // table. Hits before the batch's first miss are served here already.
        var served = 0
        for j in 0 ..< count {
            let n = meta[4 * j + 1]
            if n > pieceCacheMaxBytes {
                // A long piece (a Chinese clause): its hash for step 3, and the
                // lines its two lookups will read, requested now so that the
                // batch's misses overlap.
                guard n <= PieceCacheView.longMaxBytes else { continue }
                let h = hashBytes(base + meta[4 * j], n)
                meta[4 * j + 3] = Int(bitPattern: UInt(h))
                tok_prefetch(cache.longHome(hash: h))
                tok_prefetch(tables.lookupSlot(hash: h))
                continue
            }
            let head = cache.holds(keys[j], n, slot: meta[4 * j + 2])
            guard head == 0 else {
                if served == j && cache.appendIfUnchanged(slot: meta[4 * j + 2], head: head, into: &out) {
                    served = j + 1
                    continue
                }
                // A hit: its head, for step 3 to see that the entry is unchanged.
                keys[j].w0 = head
                meta[4 * j + 3] = -1
                continue
            }
            // A miss's hash, kept for step 3 (-1: a hit, so a hash of all ones is
            // only ever recomputed).
            let h = hashBytes(base + meta[4 * j], n)
            meta[4 * j + 3] = Int(bitPattern: UInt(h))
            tok_prefetch(tables.lookupSlot(hash: h))
        }
        // 3. Serve the rest in order.
        for j in served ..< count {
            let start = base + meta[4 * j], n = meta[4 * j + 1]
            guard n <= pieceCacheMaxBytes else {
                guard n <= PieceCacheView.longMaxBytes else {
                    tables.encodePiece(start, n, scratch: &scratch, pairCache: pairCache, into: &out)
                    continue
                }
                let h = UInt64(UInt(bitPattern: meta[4 * j + 3]))  // step 2
                if cache.lookUpLong(start, n, hash: h, into: &out) { continue }
                let before = out.count
                tables.encodePiece(start, n, hash: h, scratch: &scratch, pairCache: pairCache, into: &out)
                out.withUnsafeBufferPointer { ids in
                    cache.storeLong(start, n, hash: h, ids: UnsafeBufferPointer(rebasing: ids[before...]))
                }
                continue
            }
            let slot = meta[4 * j + 2]
            // A hit in step 2 still holds if the entry's head has not changed
            // (an earlier piece of this batch, or another thread, may have taken
            // the entry since: its sequence number moved).
            if meta[4 * j + 3] == -1 {
                if cache.appendIfUnchanged(slot: slot, head: keys[j].w0, into: &out) { continue }
                keys[j] = PieceKey(start, n, end: end)
            }
            let key = keys[j]
            let h = meta[4 * j + 3] == -1 ? hashBytes(start, n) : UInt64(UInt(bitPattern: meta[4 * j + 3]))
            let before = out.count
            tables.encodePiece(start, n, hash: h, scratch: &scratch, pairCache: pairCache, into: &out)
            let made = out.count - before
            if made <= pieceCacheMaxIds {
                out.withUnsafeBufferPointer { ids in
                    cache.store(key, n, slot: slot, ids: UnsafeBufferPointer(rebasing: ids[before...]))
                }
            }
        }
        count = 0
    }
}
