// The BPE kernel: turns one piece (a run of bytes the pre-tokenizer produced and
// the vocabulary does not hold whole) into token ids by repeatedly merging the
// adjacent pair with the lowest rank, leftmost first on ties. This is tiktoken's
// rule and, with a HuggingFace merges list as the pair table, `tokenizers`' rule.
//
// Performance notes (2-core x86_64, release build):
// - Short pieces use a linear scan over a flat array of pair ranks, as tiktoken
//   does: for the 2-30 byte pieces of ordinary text the scan beats a tree, since
//   the whole state sits in a few cache lines. 24, 32 and 48 bytes as the limit
//   measured the same within noise on Chinese and English.
// - Long pieces (a Chinese sentence under o200k, a 1 MB run of one byte) use a
//   tournament tree of `rank << 32 | position` over a linked list of parts:
//   O(n log n), where the scan would be O(n^2). It replaced a binary heap with
//   lazy invalidation (stale entries piled up: zh 15.2 -> 17.9 MB/s), and
//   stopping the walk up at the first unchanged node halved the cost of 1 MB of
//   Han (127 -> 61 ms/MB; zh 18.7 -> 21 MB/s).
// - Pair ranks come from an integer-keyed hash table (`PairTable`), not from
//   hashing byte slices; a piece's first pairs (two single bytes) come from a
//   65,536-entry table. Keys and values are separate arrays: most lookups miss,
//   and interleaving them (one cache line per hit) measured slower.
// - The tables are reached through raw pointers (`BPETables`): capturing the
//   `Vocabulary` struct per piece retained its arrays, which took 45% of the
//   time and made two threads slower than one.

/// Reusable buffers for the kernel, so that encoding allocates nothing per piece.
public struct BytePairScratch: Sendable {
    @usableFromInline var ids = ContiguousArray<UInt32>()
    @usableFromInline var ranks = ContiguousArray<UInt64>()
    @usableFromInline var links = ContiguousArray<Int32>()
    @usableFromInline var tree = ContiguousArray<UInt64>()

    public init() {}

    /// Makes room for a piece of `n` bytes (the tree takes 2 x n rounded up to a power of two).
    @inlinable
    mutating func reserve(_ n: Int) {
        if ids.count < n {
            let capacity = max(n, 64).roundedUpToPowerOfTwo
            ids = ContiguousArray(repeating: 0, count: capacity)
            ranks = ContiguousArray(repeating: 0, count: capacity)
            links = ContiguousArray(repeating: 0, count: 2 * capacity)
            tree = ContiguousArray(repeating: 0, count: 2 * capacity)
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
    @usableFromInline static let linearScanLimit = 32

    /// Appends the ids of `piece` (one or more bytes) by merges alone.
    ///
    /// - Complexity: O(n^2) worst case for n <= `linearScanLimit`, else O(n log n).
    @inlinable
    func mergeBytePairs(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        if piece.count == 1 {
            out.append(byteTokens[Int(piece[0])])
        } else if piece.count <= BPETables.linearScanLimit {
            mergeByScan(piece, scratch: &scratch, into: &out)
        } else {
            mergeByHeap(piece, scratch: &scratch, into: &out)
        }
    }

    @inlinable
    func mergeByScan(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        let n = piece.count
        scratch.reserve(n)
        scratch.ids.withUnsafeMutableBufferPointer { idsBuffer in
            scratch.ranks.withUnsafeMutableBufferPointer { ranksBuffer in
                // reserve(n) made both at least n long.
                let ids = idsBuffer.baseAddress!, ranks = ranksBuffer.baseAddress!
                for k in 0 ..< n { ids[k] = byteTokens[Int(piece[k])] }
                for k in 0 ..< n - 1 { ranks[k] = bytePair(piece[k], piece[k + 1]) }
                var m = n
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
                    if best < m - 1 { ranks[best] = pair(ids[best], ids[best + 1]) }
                    if best > 0 { ranks[best - 1] = pair(ids[best - 1], ids[best]) }
                }
                out.append(contentsOf: UnsafeBufferPointer(start: ids, count: m))
            }
        }
    }

    @inlinable
    func mergeByHeap(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        // A tournament tree over pair positions: the root is always the leftmost
        // lowest-ranked live pair, a merge rewrites three leaves, and no stale
        // entries pile up as they do in a heap with lazy invalidation.
        let n = piece.count
        scratch.reserve(n)
        let size = n.roundedUpToPowerOfTwo
        let dead = UInt32.max
        scratch.ids.withUnsafeMutableBufferPointer { idsBuffer in
            scratch.links.withUnsafeMutableBufferPointer { linksBuffer in
                scratch.tree.withUnsafeMutableBufferPointer { treeBuffer in
                    // reserve(n) sized ids >= n, links >= 2n, tree >= 2 * size (capacity >= size).
                    let ids = idsBuffer.baseAddress!
                    let next = linksBuffer.baseAddress!, prev = next + n
                    let tree = treeBuffer.baseAddress!  // tree[1] is the root, leaf k at size + k
                    for k in 0 ..< n {
                        ids[k] = byteTokens[Int(piece[k])]
                        next[k] = k + 1 < n ? Int32(k + 1) : -1
                        prev[k] = Int32(k - 1)
                    }
                    @inline(__always) func leaf(_ left: Int, _ right: Int) -> UInt64 {
                        let value = pair(ids[left], ids[right])
                        return value == UInt64.max ? value : (value >> 32) << 32 | UInt64(left)
                    }
                    // Leaf k holds rank << 32 | k for the pair starting at part k, or max.
                    for k in 0 ..< size {
                        var value = UInt64.max
                        if k < n - 1 {
                            value = bytePair(piece[k], piece[k + 1])
                            if value != UInt64.max { value = (value >> 32) << 32 | UInt64(k) }
                        }
                        tree[size + k] = value
                    }
                    var node = size - 1
                    while node >= 1 {
                        tree[node] = min(tree[2 * node], tree[2 * node + 1])
                        node -= 1
                    }
                    @inline(__always) func set(_ k: Int, _ value: UInt64) {
                        var i = size + k
                        tree[i] = value
                        while i > 1 {
                            i >>= 1
                            let m = min(tree[2 * i], tree[2 * i + 1])
                            if tree[i] == m { break }  // unchanged here, so unchanged above
                            tree[i] = m
                        }
                    }
                    while tree[1] != UInt64.max {
                        let pos = Int(tree[1] & 0xFFFF_FFFF)
                        let right = Int(next[pos])
                        ids[pos] = UInt32(truncatingIfNeeded: pair(ids[pos], ids[right]))
                        ids[right] = dead
                        set(right, UInt64.max)
                        let after = Int(next[right])
                        next[pos] = Int32(after)
                        if after >= 0 { prev[after] = Int32(pos) }
                        set(pos, after >= 0 ? leaf(pos, after) : UInt64.max)
                        let before = Int(prev[pos])
                        if before >= 0 { set(before, leaf(before, pos)) }
                    }
                    var k = 0
                    while k >= 0 {
                        out.append(ids[k])
                        k = Int(next[k])
                    }
                }
            }
        }
    }
}
