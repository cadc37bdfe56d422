// The BPE kernel: turns one piece (a run of bytes the pre-tokenizer produced and
// the vocabulary does not hold whole) into token ids by repeatedly merging the
// adjacent pair with the lowest rank, leftmost first on ties. This is tiktoken's
// rule and, with a HuggingFace merges list as the pair table, `tokenizers`' rule.
//
// Performance notes (2-core x86_64, release build):
// - Short pieces use a linear scan over a flat array of pair ranks, as tiktoken
//   does: for the 2-30 byte pieces of ordinary text the scan beats a heap, since
//   the whole state sits in a few cache lines.
// - Long pieces (a Chinese sentence under o200k, a 1 MB run of one byte) use a
//   min-heap of `rank << 32 | position` with lazy invalidation over a linked
//   list of parts: O(n log n), where the scan would be O(n^2).
// - Pair ranks come from an integer-keyed hash table (`PairTable`), not from
//   hashing byte slices.

/// Reusable buffers for the kernel, so that encoding allocates nothing per piece.
public struct BytePairScratch: Sendable {
    @usableFromInline var ids = ContiguousArray<UInt32>()
    @usableFromInline var ranks = ContiguousArray<UInt64>()
    @usableFromInline var next = ContiguousArray<Int32>()
    @usableFromInline var prev = ContiguousArray<Int32>()
    @usableFromInline var heap = ContiguousArray<UInt64>()

    public init() {}
}

extension Vocabulary {
    /// Pieces up to this many bytes use the linear scan.
    @usableFromInline static let linearScanLimit = 48

    /// Appends the ids of `piece` (one or more bytes) by merges alone.
    ///
    /// - Complexity: O(n^2) worst case for n <= `linearScanLimit`, else O(n log n).
    @inlinable
    func mergeBytePairs(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        if piece.count == 1 {
            out.append(byteTokens[Int(piece[0])])
        } else if piece.count <= Vocabulary.linearScanLimit {
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
        scratch.ids.removeAll(keepingCapacity: true)
        scratch.ranks.removeAll(keepingCapacity: true)
        for b in piece { scratch.ids.append(byteTokens[Int(b)]) }
        for k in 0 ..< n - 1 { scratch.ranks.append(pairs.lookup(scratch.ids[k], scratch.ids[k + 1])) }
        var m = n
        scratch.ids.withUnsafeMutableBufferPointer { ids in
            scratch.ranks.withUnsafeMutableBufferPointer { ranks in
                while m > 1 {
                    // ranks[k] = rank << 32 | result for the pair (ids[k], ids[k + 1]);
                    // comparing whole words compares ranks first, and `<` keeps the leftmost.
                    var best = 0
                    var bestValue = ranks[0]
                    for k in 1 ..< m - 1 where ranks[k] < bestValue {
                        bestValue = ranks[k]
                        best = k
                    }
                    if bestValue == UInt64.max { break }
                    ids[best] = UInt32(truncatingIfNeeded: bestValue)
                    // Remove part best + 1: shift the tails left by one.
                    var k = best + 1
                    while k < m - 1 {
                        ids[k] = ids[k + 1]
                        if k < m - 2 { ranks[k] = ranks[k + 1] }
                        k += 1
                    }
                    m -= 1
                    if best < m - 1 { ranks[best] = pairs.lookup(ids[best], ids[best + 1]) }
                    if best > 0 { ranks[best - 1] = pairs.lookup(ids[best - 1], ids[best]) }
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: ids[0 ..< m]))
            }
        }
    }

    @inlinable
    func mergeByHeap(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        let n = piece.count
        scratch.ids.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        scratch.prev.removeAll(keepingCapacity: true)
        scratch.heap.removeAll(keepingCapacity: true)
        for (k, b) in piece.enumerated() {
            scratch.ids.append(byteTokens[Int(b)])
            scratch.next.append(k + 1 < n ? Int32(k + 1) : -1)
            scratch.prev.append(Int32(k - 1))
        }
        for k in 0 ..< n - 1 {
            let value = pairs.lookup(scratch.ids[k], scratch.ids[k + 1])
            if value != UInt64.max { scratch.heap.append((value >> 32) << 32 | UInt64(k)) }
        }
        let dead = UInt32.max
        var heap = MinHeap(storage: scratch.heap)
        scratch.heap = []  // keep the buffer uniquely referenced by the heap
        heap.heapify()
        scratch.ids.withUnsafeMutableBufferPointer { ids in
            scratch.next.withUnsafeMutableBufferPointer { next in
                scratch.prev.withUnsafeMutableBufferPointer { prev in
                    while let top = heap.popMin() {
                        let pos = Int(top & 0xFFFF_FFFF)
                        let rank = top >> 32
                        let right = Int(next[pos])
                        // A stale entry: its left part was merged away, or the pair changed.
                        guard ids[pos] != dead, right >= 0 else { continue }
                        let value = pairs.lookup(ids[pos], ids[right])
                        guard value >> 32 == rank else { continue }
                        ids[pos] = UInt32(truncatingIfNeeded: value)
                        ids[right] = dead
                        let after = Int(next[right])
                        next[pos] = Int32(after)
                        if after >= 0 { prev[after] = Int32(pos) }
                        let before = Int(prev[pos])
                        if before >= 0 {
                            let v = pairs.lookup(ids[before], ids[pos])
                            if v != UInt64.max { heap.push((v >> 32) << 32 | UInt64(before)) }
                        }
                        if after >= 0 {
                            let v = pairs.lookup(ids[pos], ids[after])
                            if v != UInt64.max { heap.push((v >> 32) << 32 | UInt64(pos)) }
                        }
                    }
                }
                var k = 0
                while k >= 0 {
                    out.append(ids[k])
                    k = Int(next[k])
                }
            }
        }
        scratch.heap = heap.storage
    }
}

/// A binary min-heap of packed integers.
@usableFromInline
struct MinHeap {
    @usableFromInline var storage: ContiguousArray<UInt64>

    @inlinable init(storage: ContiguousArray<UInt64>) { self.storage = storage }

    @inlinable mutating func heapify() {
        var i = storage.count / 2 - 1
        while i >= 0 {
            siftDown(i)
            i -= 1
        }
    }

    @inlinable mutating func push(_ value: UInt64) {
        storage.append(value)
        var i = storage.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard storage[i] < storage[parent] else { break }
            storage.swapAt(i, parent)
            i = parent
        }
    }

    @inlinable mutating func popMin() -> UInt64? {
        guard let last = storage.popLast() else { return nil }
        guard !storage.isEmpty else { return last }
        let top = storage[0]
        storage[0] = last
        siftDown(0)
        return top
    }

    @inlinable mutating func siftDown(_ start: Int) {
        var i = start
        let n = storage.count
        while true {
            let l = 2 * i + 1
            guard l < n else { return }
            var smallest = l
            if l + 1 < n && storage[l + 1] < storage[l] { smallest = l + 1 }
            guard storage[smallest] < storage[i] else { return }
            storage.swapAt(i, smallest)
            i = smallest
        }
    }
}
