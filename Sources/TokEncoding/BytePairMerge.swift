import CTokRuntime

// The BPE kernel: turns one piece (a run of bytes the pre-tokenizer produced and
// the vocabulary does not hold whole) into token ids by repeatedly merging the
// adjacent pair with the lowest rank, leftmost first on ties. This is tiktoken's
// rule and, with a HuggingFace merges list as the pair table, `tokenizers`' rule.
//
// Design (the measurements behind each choice, and the levers measured and not
// kept, are in docs/performance.md):
// - Short pieces, of up to 32 characters and `linearScanLimit` (128) bytes, use
//   a linear scan over a flat array of pair ranks, as tiktoken does: for the
//   2-30 byte pieces of ordinary text the whole state sits in a few cache
//   lines, and a merge scans at most the piece's parts (32, or up to 128
//   where a character is several byte parts).
// - Longer pieces (a Chinese sentence under o200k, a 70-letter run of base64,
//   a 1 MB run of one byte) use a tournament tree over pair positions:
//   O(n log n) where the scan would be O(n^2). Counting characters, not bytes,
//   keeps a Chinese clause of 30 characters (90 bytes, 30 parts where
//   characters enter whole) on the scan and sends 70 ASCII bytes to the tree.
//   Leaves are 32-bit pair ranks and inner nodes `rank << 32 | position` of
//   the winner, so a comparison needs no dependent load; parts need no
//   links, since the next part starts a token length further on; a merge walks
//   up only until a node is unchanged. 16 bytes per input byte in all.
// - Characters enter whole, or in the two tokens they end in alone, where no
//   neighbour can disturb their own merges (`CharacterTokens.swift` says why
//   the ids are the same): a Chinese character is one or two parts instead of
//   three, and its own merges are not made.
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

/// A thread's working memory for encoding: the kernel's buffers, reused so
/// that encoding allocates nothing per piece, and the thread's own caches of
/// long pieces and of pair lookups. A scratch serves one thread at a time; a
/// copy is a scratch of its own (its arrays are copied when first written).
/// The short pieces' cache is the tokenizer's, shared by all threads
/// (``SharedPieceCache``).
public struct BytePairScratch: Sendable {
    @usableFromInline var ids = ContiguousArray<UInt32>()
    /// The scan's pair values (pieces up to `linearScanLimit` bytes).
    @usableFromInline var ranks = ContiguousArray<UInt64>(repeating: 0, count: BPETables.linearScanLimit)
    /// The tree's pair ranks and its inner nodes (`rank << 32 | part` of the winner).
    @usableFromInline var leafRanks = ContiguousArray<UInt32>()
    @usableFromInline var winners = ContiguousArray<UInt64>()
    /// Pieces of 33 to 1,024 bytes this thread has encoded.
    @usableFromInline var longPieces: LongPieceCache
    /// Pair lookups this thread's merges have made.
    @usableFromInline var pairs: PairCache
    /// Cuts of up to 7 bytes of a SentencePiece model whose pieces share
    /// scores, and their one or two ids (``Tokenizer/encodeByScores``): keys
    /// the cut's bytes and length in a word, values its ids (8,192 entries, 128 KiB).
    @usableFromInline var shortPieces: PairCache
    /// A SentencePiece model's normalized text, kept from call to call: a
    /// new megabyte each time was a megabyte of fresh pages to fault in.
    @usableFromInline var normalized: [UInt8] = []

    /// - Parameter caching: whether this thread keeps its caches of long
    ///   pieces and of pair lookups (about 1.3 MiB, allocated at first use).
    ///   The ids do not depend on it; the speed does.
    public init(caching: Bool = true) {
        self.init(longPieceSlots: caching ? LongPieceCache.defaultSlots : 0,
                  pairEntries: caching ? PairCache.defaultEntries : 0)
    }

    /// A scratch whose thread caches have these sizes (0: off).
    init(longPieceSlots: Int, pairEntries: Int) {
        longPieces = LongPieceCache(slots: longPieceSlots)
        pairs = PairCache(entries: pairEntries)
        shortPieces = PairCache(entries: pairEntries > 0 ? 1 << 13 : 0)
    }

    /// The tree's buffers for pieces of this many bytes or more are the
    /// piece's own, not the scratch's (``BPETables/mergeByTree(_:scratch:into:)``).
    @usableFromInline static let keptBufferLimit = 1 << 20

    /// A buffer's length for `n` elements: a power of two below
    /// ``keptBufferLimit`` (so buffers are reused from piece to piece) and
    /// exact above it (a direct call of the scan on a longer piece).
    @inlinable
    static func bufferLength(_ n: Int) -> Int { n < keptBufferLimit ? max(n, 64).roundedUpToPowerOfTwo : n }

    /// Makes room for a piece of `n` bytes in `ids`.
    @inlinable
    mutating func reserve(_ n: Int) {
        if ids.count < n {
            ids = ContiguousArray(repeating: 0, count: BytePairScratch.bufferLength(n))
            leafRanks = []
            winners = []
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
    /// Pieces of up to ``scanCharacterLimit`` characters and up to
    /// ``linearScanLimit`` bytes use the linear scan; longer ones the tree.
    @usableFromInline static let linearScanLimit = 128
    @usableFromInline static let scanCharacterLimit = 32

    /// The characters of `piece` (its bytes that do not continue one): about
    /// its first parts, as many or fewer where characters enter whole.
    @inlinable @inline(__always)
    static func characters(_ piece: UnsafeBufferPointer<UInt8>) -> Int {
        var count = 0
        for b in piece where b & 0xC0 != 0x80 { count &+= 1 }  // at most the piece's length
        return count
    }

    /// Appends the ids of `piece` (one or more bytes) by merges alone.
    ///
    /// - Complexity: O(n^2) worst case on the scan (n <= `linearScanLimit`), else
    ///   O(n (log n + L)) time for a longest token of L bytes; memory: at
    ///   most 12 bytes per byte, and for a piece of a MiB or more 12 bytes per
    ///   first part (a byte, or a character that enters whole: Han under
    ///   o200k has a part for every three bytes).
    @inlinable
    func mergeBytePairs(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        if piece.count == 1 {
            out.append(byteTokens[Int(piece[0])])
        } else if piece.count <= BPETables.scanCharacterLimit
                    || (piece.count <= BPETables.linearScanLimit && BPETables.characters(piece) <= BPETables.scanCharacterLimit) {
            mergeByScan(piece, scratch: &scratch, into: &out)
        } else {
            mergeByTree(piece, scratch: &scratch, into: &out)
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
    /// parts in order: single bytes, or characters whole or in the two parts
    /// they end in where ``characterToken(_:_:_:)`` allows (CharacterTokens.swift). `pairBefore`
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
            var secondId: UInt32 = 0, secondLength = 0  // a character's second part
            if b >= 0xC2 && characterMask >= 0, let c = characterToken(piece, k, n) {
                if c.firstLength == 0 {
                    (id, length, partners) = (c.id, c.length, c.partners)
                } else {
                    (id, length, secondId, secondLength) = (c.id, c.firstLength, c.second, c.length - c.firstLength)
                }
            }
            let pairBefore = k == 0 ? UInt64.max
                : length == 1 && previousByte >= 0 ? bytePair(UInt8(previousByte), b)
                : previousPartners & BPETables.partnerBit(id) == 0 ? UInt64.max
                : pairIfNear(previousId, id, pairCache)
            part(k, id, length, pairBefore)
            previousId = id
            previousByte = length == 1 ? Int(b) : -1
            previousPartners = partners
            k += length
            if secondLength > 0 {
                // A character's two parts do not merge: merged alone, it ends in them.
                part(k, secondId, secondLength, UInt64.max)
                previousId = secondId
                previousByte = secondLength == 1 ? Int(piece[k]) : -1  // the part is within the character: k < n
                k += secondLength
            }
        }
    }

    @inlinable
    func mergeByScan(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        let n = piece.count
        scratch.reserve(n)
        if scratch.ranks.count < n { scratch.ranks = ContiguousArray(repeating: 0, count: n) }  // a direct call on a long piece
        scratch.pairs.withView(for: self) { pairCache in
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
                    m = scanMerges(ids: ids, ranks: ranks, count: m, pairCache: pairCache, limit: UInt64(rankLimit) << 32)
                    out.append(contentsOf: UnsafeBufferPointer(start: ids, count: m))
                }
            }
        }
    }

    /// The scan's merges on `count` parts whose ids and pair values
    /// (`rank << 32 | result`, `UInt64.max` for a pair that does not merge)
    /// are in place: merges the leftmost lowest-ranked pair until none is
    /// left, and returns how many parts remain (at the front of `ids`).
    /// Pairs of value `limit` or more are not merged (the default: all are).
    @inlinable @inline(__always)
    func scanMerges(ids: UnsafeMutablePointer<UInt32>, ranks: UnsafeMutablePointer<UInt64>, count: Int,
                    pairCache: PairCacheView?, limit: UInt64 = .max) -> Int {
        var m = count
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
            if bestValue >= limit || bestValue == UInt64.max { break }
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
        return m
    }

    /// The long-piece path: a tournament tree over the piece's first parts
    /// (``firstParts(_:_:pairCache:_:)``) whose root is always the leftmost
    /// lowest-ranked live pair. A merge leaves its right part `dead`, so the
    /// live part after (or before) a part is the next live one in order and
    /// no links are stored. A leaf holds two parts' pairs, so per part there
    /// are 4 bytes of ids, 4 of pair ranks and 4 of inner nodes.
    ///
    /// Pieces of ``BytePairScratch/keptBufferLimit`` bytes or more get buffers
    /// of their own, given back when done: the scratch does not keep 12 bytes
    /// per byte of a piece met once, and the buffers' pages beyond the parts
    /// (two thirds of them for Han under o200k, whose characters enter whole)
    /// are never touched, so never take memory.
    @inlinable
    func mergeByTree(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        let n = piece.count
        let kept = n < BytePairScratch.keptBufferLimit
        if kept {
            scratch.reserve(n)
            if scratch.leafRanks.count <= n { scratch.leafRanks = ContiguousArray(repeating: 0, count: scratch.ids.count + 1) }
        }
        scratch.pairs.withView(for: self) { pairCache in
            guard kept else {
                // Written before they are read: parts and ranks by treeLeaves, nodes by mergeTree.
                let ids = UnsafeMutablePointer<UInt32>.allocate(capacity: n)
                let rank = UnsafeMutablePointer<UInt32>.allocate(capacity: n + 1)
                defer {
                    ids.deallocate()
                    rank.deallocate()
                }
                let m = treeLeaves(piece, ids: ids, rank: rank, pairCache: pairCache)
                let node = UnsafeMutablePointer<UInt64>.allocate(capacity: BPETables.treeNodes(m))
                defer { node.deallocate() }
                return mergeTree(m, bytes: n, ids: ids, rank: rank, node: node, pairCache: pairCache, into: &out)
            }
            let m = scratch.ids.withUnsafeMutableBufferPointer { ids in
                scratch.leafRanks.withUnsafeMutableBufferPointer { rank in
                    treeLeaves(piece, ids: ids.baseAddress!, rank: rank.baseAddress!, pairCache: pairCache)  // n and n + 1 long at least
                }
            }
            if scratch.winners.count < BPETables.treeNodes(m) {
                scratch.winners = ContiguousArray(repeating: 0, count: BytePairScratch.bufferLength(BPETables.treeNodes(m)))
            }
            scratch.ids.withUnsafeMutableBufferPointer { ids in
                scratch.leafRanks.withUnsafeMutableBufferPointer { rank in
                    scratch.winners.withUnsafeMutableBufferPointer { node in
                        // Each is as long as treeLeaves and mergeTree need.
                        mergeTree(m, bytes: n, ids: ids.baseAddress!, rank: rank.baseAddress!, node: node.baseAddress!,
                                  pairCache: pairCache, into: &out)
                    }
                }
            }
        }
    }

    /// The tree's leaves for `m` parts (two parts' pairs a leaf), which is
    /// also how many inner nodes ``mergeTree(_:bytes:ids:rank:node:pairCache:into:)``
    /// needs room for (node 0 is unused).
    @inlinable
    static func treeNodes(_ m: Int) -> Int { (m + 1) / 2 }

    /// Writes `piece`'s first parts to `ids` and the rank of the pair each
    /// starts to `rank` (`UInt32.max`: none, for the last part and the one
    /// past it), with room for a part a byte (and one more rank), and
    /// returns how many parts there are.
    @inlinable
    func treeLeaves(
        _ piece: UnsafeBufferPointer<UInt8>, ids: UnsafeMutablePointer<UInt32>, rank: UnsafeMutablePointer<UInt32>,
        pairCache: PairCacheView?
    ) -> Int {
        var m = 0
        firstParts(piece.baseAddress!, piece.count, pairCache: pairCache) { _, id, _, pairBefore in
            ids[m] = id  // m parts <= the bytes before this part < n
            if m > 0 {
                let value = pairBefore ?? pair(ids[m - 1], id, pairCache)
                rank[m - 1] = UInt32(truncatingIfNeeded: value >> 32)
            }
            m += 1
        }
        rank[m - 1] = UInt32.max
        rank[m] = UInt32.max  // m <= n: the one more
        return m
    }

    /// Merges the `m` parts of a piece of `bytes` bytes in `ids` (their
    /// pairs' ranks in `rank`, `m + 1` of them) with the tree's inner nodes in
    /// `node` (room for ``treeNodes(_:)``), and appends the ids left.
    @inlinable
    func mergeTree(
        _ m: Int, bytes: Int, ids: UnsafeMutablePointer<UInt32>, rank: UnsafeMutablePointer<UInt32>,
        node: UnsafeMutablePointer<UInt64>, pairCache: PairCacheView?, into out: inout ContiguousArray<UInt32>
    ) {
        guard m > 1 else { return out.append(ids[0]) }
        let dead = UInt32.max, none = UInt32.max
        // The live part after live part k: a token's length further on when
        // every part is a byte (ASCII), else past the parts merged into k.
        let partsAreBytes = m == bytes
        @inline(__always) func next(_ k: Int) -> Int {
            if partsAreBytes { return k + tokenLength(ids[k]) }
            var j = k + 1
            while j < m && ids[j] == dead { j += 1 }
            return j
        }
        // Leaf g (node leaves + g) is the better of the pairs starting at parts
        // 2g and 2g + 1 (< m + 1: rank has one more); inner nodes are 1 ..< leaves.
        // A value is `rank << 32 | part`: comparing values compares ranks,
        // then positions, so the minimum is the leftmost lowest rank.
        let leaves = BPETables.treeNodes(m)
        @inline(__always) func value(_ i: Int) -> UInt64 {
            guard i >= leaves else { return node[i] }
            let k = 2 * (i - leaves)
            return min(UInt64(rank[k]) << 32 | UInt64(k), UInt64(rank[k + 1]) << 32 | UInt64(k + 1))
        }
        var i = leaves - 1
        while i >= 1 {
            node[i] = min(value(2 * i), value(2 * i + 1))
            i -= 1
        }
        @inline(__always) func set(_ k: Int, _ r: UInt32) {
            rank[k] = r
            var i = (leaves + k >> 1) >> 1
            while i >= 1 {
                let v = min(value(2 * i), value(2 * i + 1))
                if node[i] == v { break }  // unchanged here, so unchanged above
                node[i] = v
                i >>= 1
            }
        }
        @inline(__always) func pairRank(_ left: Int, _ right: Int) -> UInt32 {
            UInt32(truncatingIfNeeded: pair(ids[left], ids[right], pairCache) >> 32)
        }
        while true {
            let top = leaves > 1 ? node[1] : value(1)  // one leaf: it is the root
            guard top >> 32 < UInt64(rankLimit) else { break }  // none is UInt32.max: never below the limit
            let pos = Int(top & 0xFFFF_FFFF)
            // The live parts after pos and after that one (a pair's right part
            // is live, so right < m).
            let right = next(pos), after = next(right)
            // A ranks vocabulary's merge makes the token of id `rank`: no lookup.
            ids[pos] = resultIsRank ? UInt32(truncatingIfNeeded: top >> 32)
                : UInt32(truncatingIfNeeded: pair(ids[pos], ids[right], pairCache))
            ids[right] = dead
            // The part before: back over the parts merged into it.
            var before = pos - 1
            while before >= 0 && ids[before] == dead { before -= 1 }
            // Both new pairs' lines first, as in the scan.
            if after < m { prefetchPair(ids[pos], ids[after], pairCache) }
            if before >= 0 { prefetchPair(ids[before], ids[pos], pairCache) }
            set(right, none)
            set(pos, after < m ? pairRank(pos, after) : none)
            if before >= 0 { set(before, pairRank(before, pos)) }
        }
        for k in 0 ..< m where ids[k] != dead { out.append(ids[k]) }
    }
}
