import CTokRuntime

// The BPE kernel: turns one piece (a run of bytes the pre-tokenizer produced and
// the vocabulary does not hold whole) into token ids by repeatedly merging the
// adjacent pair with the lowest rank, leftmost first on ties. This is tiktoken's
// rule and, with a HuggingFace merges list as the pair table, `tokenizers`' rule.
//
// Design (the measurements behind each choice, and the levers measured and not
// kept, are in docs/performance.md):
// - Short pieces, up to `linearScanLimit` (128 bytes), use a linear scan over a
//   flat array of pair ranks, as tiktoken does: for the 2-30 byte pieces of
//   ordinary text the whole state sits in a few cache lines, and the scan's
//   work stays bounded at 128 steps per byte.
// - Longer pieces (a Chinese sentence under o200k, a 1 MB run of one byte) use a
//   tournament tree over pair positions: O(n log n) where the scan would be
//   O(n^2). Leaves are 32-bit pair ranks and inner nodes `rank << 32 | position`
//   of the winner, so a comparison needs no dependent load; parts need no
//   links, since the next part starts a token length further on; a merge walks
//   up only until a node is unchanged. 16 bytes per input byte in all.
// - Characters enter whole where no neighbour can disturb their own merges
//   (`CharacterTokens.swift` says why the ids are the same): a Chinese
//   character is one part instead of three, and its two merges are not made.
// - Pair ranks come from an integer-keyed table, one 64-bit word a merge
//   (`PackedPairs`: left, right and rank); a piece's first pairs of two single
//   bytes from a 65,536-entry table. In a ranks (tiktoken) vocabulary a merge's
//   result is the token whose id is the pair's rank, so that lookup is skipped.
// - Most pairs the kernel asks for do not merge (every pair left when a piece
//   is done; most pairs of two Chinese characters), and a probe of the pair
//   table waits on memory. So, in order: a character token's slot carries a
//   32-bit filter of its right partners (``BPETables/partnerBit(_:)``), which
//   answers a first pair of two characters from the slot just read; the pair
//   filter (`PairFilter`, a blocked Bloom filter) answers most other pairs that
//   do not merge; the thread's pair cache, small enough to stay near the core
//   while the piece cache sweeps L2, holds only pairs the filter lets through;
//   then the pair table.
// - Loads are requested before any is read, so their misses overlap: a piece's
//   first pairs together (`firstParts`, `pairIfNear`), and after a merge both
//   new pairs' lines (`prefetchPair`: pair cache, filter word, table slot).
// - The tables are reached through raw pointers (`BPETables`), never through
//   the `Vocabulary` struct, so nothing is retained per piece; the large ones
//   live on 2 MiB pages.
// - Memory decides: a read that misses the core's caches costs ten times one
//   that hits, and the large tables are several MiB. Around the kernel
//   (`Tokenizer.encodePieces`), the piece cache and the batches of pieces whose
//   lines are requested first keep most pieces from reaching it at all.
/// Reusable buffers for the kernel, so that encoding allocates nothing per piece.
public struct BytePairScratch: Sendable {
    @usableFromInline var ids = ContiguousArray<UInt32>()
    /// The scan's pair values (pieces up to `linearScanLimit` bytes).
    @usableFromInline var ranks = ContiguousArray<UInt64>(repeating: 0, count: BPETables.linearScanLimit)
    /// The tree's leaves (pair ranks) and its inner nodes (`rank << 32 | leaf` of the winner).
    @usableFromInline var leafRanks = ContiguousArray<UInt32>()
    @usableFromInline var winners = ContiguousArray<UInt64>()

    /// The piece cache (``PieceCacheStorage``); nil when disabled.
    @usableFromInline var pieceCache: PieceCacheStorage?
    /// A cache whose entries this scratch uses instead of its own, shared with
    /// the other workers of a stream (``ScratchPool/sharedCache(for:)``).
    @usableFromInline var sharedCache: PieceCacheStorage? = nil

    /// Entries of the piece cache by default: 65,536 lines of 64 bytes, 4 MiB
    /// per thread (see the performance notes above for the sizes measured).
    public static let defaultPieceCacheEntries = 1 << 16

    /// - Parameter pieceCacheEntries: the piece cache's size in 64-byte
    ///   entries (rounded up to a power of two); 0 disables it.
    public init(pieceCacheEntries: Int = BytePairScratch.defaultPieceCacheEntries) {
        if pieceCacheEntries > 0 { pieceCache = PieceCacheStorage(entries: pieceCacheEntries.roundedUpToPowerOfTwo) }
    }

    /// The piece cache, ready for the vocabulary `storage`: this scratch's own
    /// (a copy of a scratch shares its cache until it is used, then gets a
    /// fresh one) and emptied if it held another vocabulary's ids.
    @inlinable
    mutating func pieceCache(for storage: TableStorage) -> PieceCacheStorage? {
        if pieceCache == nil { return nil }
        if !isKnownUniquelyReferenced(&pieceCache) {
            pieceCache = PieceCacheStorage(entries: pieceCache!.count)
        }
        let own = pieceCache!
        if own.owner != storage.serial {
            if own.owner != 0 { own.clear() }
            own.owner = storage.serial
        }
        return own
    }

    /// Makes room for a piece of `n` bytes: 16 bytes per byte, rounded up to a
    /// power of two below 1 MiB (so buffers are reused) and exact above it.
    @inlinable
    mutating func reserve(_ n: Int) {
        if ids.count < n {
            let capacity = n < 1 << 20 ? max(n, 64).roundedUpToPowerOfTwo : n
            ids = ContiguousArray(repeating: 0, count: capacity)
            leafRanks = []
            winners = []
        }
    }

    @inlinable
    mutating func reserveTree(_ n: Int) {
        reserve(n)
        if leafRanks.count < n {
            leafRanks = ContiguousArray(repeating: 0, count: ids.count)
            winners = ContiguousArray(repeating: 0, count: ids.count)
        }
    }
}

extension Int {
    @usableFromInline var roundedUpToPowerOfTwo: Int {
        var p = 1
        while p < self { p <<= 1 }
        return p
    }
}

extension BPETables {
    /// Pieces up to this many bytes use the linear scan.
    @usableFromInline static let linearScanLimit = 128

    /// Appends the ids of `piece` (one or more bytes) by merges alone.
    ///
    /// - Complexity: O(n^2) worst case for n <= `linearScanLimit`, else
    ///   O(n (log n + L)) time for a longest token of L bytes, and 12n bytes.
    @inlinable
    func mergeBytePairs(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, pairCache: PairCacheView? = nil,
        into out: inout ContiguousArray<UInt32>
    ) {
        if piece.count == 1 {
            out.append(byteTokens[Int(piece[0])])
        } else if piece.count <= BPETables.linearScanLimit {
            mergeByScan(piece, scratch: &scratch, pairCache: pairCache, into: &out)
        } else {
            mergeByTree(piece, scratch: &scratch, pairCache: pairCache, into: &out)
        }
    }

    /// ``pair(_:_:)`` through `cache` when there is one (it must be this vocabulary's).
    @inlinable @inline(__always)
    func pair(_ left: UInt32, _ right: UInt32, _ cache: PairCacheView?) -> UInt64 {
        guard let cache else { return pair(left, right) }
        let key = UInt64(left) << 32 | UInt64(right)
        guard PairFilter.mayHold(key, words: pairFilter, shift: pairFilterShift) else { return UInt64.max }
        let e = cache.entry(for: key)
        if e[0] == key { return e[1] }
        let value = pairInTable(left, right)  // the filter has let it through
        e[0] = key
        e[1] = value
        return value
    }

    /// The pair's home slot in the pair table, where its probe starts.
    @inlinable @inline(__always)
    func pairHome(_ left: UInt32, _ right: UInt32) -> UnsafePointer<UInt64> {
        pairSlots + OpenAddressing.fibonacci(PackedPairs.key(left, right), shift: pairShift)  // < pair slots
    }

    /// Requests the lines a lookup of the pair will read: its pair-cache
    /// entry, its filter word and its home slot in the pair table.
    @inlinable @inline(__always)
    func prefetchPair(_ left: UInt32, _ right: UInt32, _ cache: PairCacheView?) {
        let key = UInt64(left) << 32 | UInt64(right)
        if let cache { tok_prefetch(cache.entry(for: key)) }
        tok_prefetch(pairFilter + Int(truncatingIfNeeded: PairFilter.hash(key) >> pairFilterShift))
        tok_prefetch(pairHome(left, right))
    }

    /// The pair's value if the pair cache holds it or the filter rules it
    /// out; else nil, and its slot in the pair table is requested from
    /// memory, for ``pair(_:_:_:)`` to read later.
    @inlinable @inline(__always)
    func pairIfNear(_ left: UInt32, _ right: UInt32, _ cache: PairCacheView?) -> UInt64? {
        let key = UInt64(left) << 32 | UInt64(right)
        guard PairFilter.mayHold(key, words: pairFilter, shift: pairFilterShift) else { return UInt64.max }
        if let cache, case let e = cache.entry(for: key), e[0] == key {
            return e[1]
        }
        tok_prefetch(pairHome(left, right))
        return nil
    }

    /// Calls `part(start, id, length, pairBefore)` for each of `piece`'s first
    /// parts in order: single bytes, or whole characters where
    /// ``characterToken(_:_:_:)`` allows (CharacterTokens.swift). `pairBefore`
    /// is the pair value of the part before and this one (`UInt64.max` for the
    /// first part); two single bytes take it from the byte-pair table. It is
    /// nil when only the pair table knows it (``pairIfNear(_:_:_:)``): its
    /// slot is on its way, so that looking several up after the walk
    /// overlaps their misses.
    @inlinable @inline(__always)
    func firstParts(
        _ piece: UnsafePointer<UInt8>, _ n: Int, pairCache: PairCacheView?,
        _ part: (_ start: Int, _ id: UInt32, _ length: Int, _ pairBefore: UInt64?) -> Void
    ) {
        var k = 0, previousId: UInt32 = 0, previousByte = -1  // the previous part's byte, when it is one byte
        // The right partners of the previous part when it is a whole character, else all ones.
        var previousPartners = UInt32.max
        while k < n {
            let b = piece[k]  // k < n
            var id = byteTokens[Int(b)], length = 1, partners = UInt32.max
            if b >= 0xC2 && characterMask >= 0, let whole = characterToken(piece, k, n) { (id, length, partners) = whole }
            let pairBefore = k == 0 ? UInt64.max
                : length == 1 && previousByte >= 0 ? bytePair(UInt8(previousByte), b)
                : previousPartners & BPETables.partnerBit(id) == 0 ? UInt64.max
                : pairIfNear(previousId, id, pairCache)
            part(k, id, length, pairBefore)
            previousId = id
            previousByte = length == 1 ? Int(b) : -1
            previousPartners = partners
            k += length
        }
    }

    @inlinable
    func mergeByScan(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, pairCache: PairCacheView? = nil,
        into out: inout ContiguousArray<UInt32>
    ) {
        let n = piece.count
        scratch.reserve(n)
        if scratch.ranks.count < n { scratch.ranks = ContiguousArray(repeating: 0, count: n) }  // a direct call on a long piece
        scratch.ids.withUnsafeMutableBufferPointer { idsBuffer in
            scratch.ranks.withUnsafeMutableBufferPointer { ranksBuffer in
                // reserve(n) made ids at least n long, and ranks is at least n long.
                let ids = idsBuffer.baseAddress!, ranks = ranksBuffer.baseAddress!
                var m = 0
                var pending: UInt64 = 0  // bit j: the pair (ids[j], ids[j + 1]) is still to be read
                firstParts(piece.baseAddress!, n, pairCache: pairCache) { _, id, _, pairBefore in
                    ids[m] = id  // m parts <= the bytes before this part < n
                    if m > 0 {
                        if let value = pairBefore {
                            ranks[m - 1] = value
                        } else if m - 1 < 64 {
                            pending |= 1 << UInt64(m - 1)
                        } else {  // a direct call on a piece longer than the scan's limit
                            ranks[m - 1] = pair(ids[m - 1], id, pairCache)
                        }
                    }
                    m += 1
                }
                while pending != 0 {
                    let j = pending.trailingZeroBitCount
                    pending &= pending - 1
                    ranks[j] = pair(ids[j], ids[j + 1], pairCache)
                }
                while m > 1 {
                    // ranks[k] = rank << 32 | result for the pair (ids[k], ids[k + 1]);
                    // comparing whole words compares ranks first, and `<` keeps the leftmost.
                    var best = 0
                    var bestValue = ranks[0]
                    var k = 1
                    while k < m - 1 {
                        if ranks[k] < bestValue {
                            bestValue = ranks[k]
                            best = k
                        }
                        k += 1
                    }
                    if bestValue == UInt64.max { break }
                    ids[best] = UInt32(truncatingIfNeeded: bestValue)
                    // Remove part best + 1 and the pair that started there.
                    k = best + 1
                    while k < m - 1 {
                        ids[k] = ids[k + 1]
                        ranks[k] = ranks[k + 1]  // k + 1 <= m - 1 < n: in the buffer, stale past m - 2
                        k += 1
                    }
                    m -= 1
                    // Both new pairs' lines are requested before either is read: a
                    // mispredicted branch in the first lookup would otherwise hold
                    // back the second's loads until the first's had arrived.
                    if best < m - 1 { prefetchPair(ids[best], ids[best + 1], pairCache) }
                    if best > 0 { prefetchPair(ids[best - 1], ids[best], pairCache) }
                    if best < m - 1 { ranks[best] = pair(ids[best], ids[best + 1], pairCache) }
                    if best > 0 { ranks[best - 1] = pair(ids[best - 1], ids[best], pairCache) }
                }
                out.append(contentsOf: UnsafeBufferPointer(start: ids, count: m))
            }
        }
    }

    /// The long-piece path: a tournament tree over byte positions whose root is
    /// always the leftmost lowest-ranked live pair. A part is the token starting
    /// at a position; the part after it starts its byte length further on, and
    /// the positions inside it hold `dead`, so no links are stored: 4 bytes of
    /// ids, 4 of leaf ranks and 8 of inner nodes per byte.
    @inlinable
    func mergeByTree(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, pairCache: PairCacheView? = nil,
        into out: inout ContiguousArray<UInt32>
    ) {
        let n = piece.count
        scratch.reserveTree(n)
        let dead = UInt32.max, none = UInt32.max
        scratch.ids.withUnsafeMutableBufferPointer { idsBuffer in
            scratch.leafRanks.withUnsafeMutableBufferPointer { leafBuffer in
                scratch.winners.withUnsafeMutableBufferPointer { winnerBuffer in
                    // reserveTree(n) made all three at least n long. Leaf k (node n + k)
                    // is the pair starting at byte k; inner nodes are 1 ..< n.
                    let ids = idsBuffer.baseAddress!, rank = leafBuffer.baseAddress!
                    let node = winnerBuffer.baseAddress!
                    // A whole character's inner positions are dead from the start.
                    var last = 0
                    firstParts(piece.baseAddress!, n, pairCache: pairCache) { k, id, length, pairBefore in
                        ids[k] = id  // k + length <= n
                        for d in 1 ..< length {
                            ids[k + d] = dead
                            rank[k + d] = none
                        }
                        if k > 0 {
                            // last < k: the part before, whose id is set.
                            let value = pairBefore ?? pair(ids[last], id, pairCache)
                            rank[last] = UInt32(truncatingIfNeeded: value >> 32)
                        }
                        last = k
                    }
                    rank[last] = none
                    // A node's value is `rank << 32 | leaf`: comparing values compares
                    // ranks, then positions, so the minimum is the leftmost lowest rank.
                    @inline(__always) func value(_ i: Int) -> UInt64 {
                        i >= n ? UInt64(rank[i - n]) << 32 | UInt64(i - n) : node[i]
                    }
                    var i = n - 1
                    while i >= 1 {
                        node[i] = min(value(2 * i), value(2 * i + 1))
                        i -= 1
                    }
                    @inline(__always) func set(_ k: Int, _ r: UInt32) {
                        rank[k] = r
                        var i = (n + k) >> 1
                        while i >= 1 {
                            let m = min(value(2 * i), value(2 * i + 1))
                            if node[i] == m { break }  // unchanged here, so unchanged above
                            node[i] = m
                            i >>= 1
                        }
                    }
                    @inline(__always) func pairRank(_ left: Int, _ right: Int) -> UInt32 {
                        UInt32(truncatingIfNeeded: pair(ids[left], ids[right], pairCache) >> 32)
                    }
                    while true {
                        let top = node[1]  // n > linearScanLimit, so node 1 is an inner node
                        guard top >> 32 != UInt64(none) else { break }
                        let pos = Int(top & 0xFFFF_FFFF)
                        let right = pos + tokenLength(ids[pos])
                        let after = right + tokenLength(ids[right])
                        // A ranks vocabulary's merge makes the token of id `rank`: no lookup.
                        ids[pos] = resultIsRank ? UInt32(truncatingIfNeeded: top >> 32)
                            : UInt32(truncatingIfNeeded: pair(ids[pos], ids[right], pairCache))
                        ids[right] = dead
                        // The part before: back over the dead bytes of its token (at most its length).
                        var before = pos - 1
                        while before >= 0 && ids[before] == dead { before -= 1 }
                        // Both new pairs' lines first, as in the scan.
                        if after < n { prefetchPair(ids[pos], ids[after], pairCache) }
                        if before >= 0 { prefetchPair(ids[before], ids[pos], pairCache) }
                        set(right, none)
                        set(pos, after < n ? pairRank(pos, after) : none)
                        if before >= 0 { set(before, pairRank(before, pos)) }
                    }
                    var k = 0
                    while k < n {
                        out.append(ids[k])
                        k += tokenLength(ids[k])
                    }
                }
            }
        }
    }
}
