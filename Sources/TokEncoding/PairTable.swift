/// The merge table: an open-addressing map from an adjacent pair of token ids
/// to the merge's priority (its rank: lower merges first) and the token it makes.
///
/// For a tiktoken vocabulary the pairs are every split of every token into two
/// tokens, and a pair's rank is the rank of the token it makes, which is exactly
/// tiktoken's "merge the adjacent pair whose bytes have the lowest rank". For a
/// HuggingFace vocabulary they are its `merges` list, ranked by position.
/// This is the builder; ``PackedPairs`` is the form the encoder reads.
@usableFromInline
struct PairTable {
    /// `left << 32 | right`; `UInt64.max` marks an empty slot.
    var keys: ContiguousArray<UInt64>
    /// `rank << 32 | result`.
    var values: ContiguousArray<UInt64>
    private(set) var count = 0

    @usableFromInline static let empty = UInt64.max

    init(minimumCapacity: Int) {
        // Load factor at most 3/4: probes stay short and a 450k-merge table takes 16 MB.
        let capacity = OpenAddressing.capacity(for: minimumCapacity, load: 3, per: 4)
        keys = ContiguousArray(repeating: PairTable.empty, count: capacity)
        values = ContiguousArray(repeating: 0, count: capacity)
    }

    /// `rank << 32 | result` for the pair, or `UInt64.max` when it does not merge.
    ///
    /// - Complexity: O(1) expected.
    @inlinable @inline(__always)
    static func probe(
        keys: UnsafePointer<UInt64>, values: UnsafePointer<UInt64>, mask: Int, shift: UInt64,
        _ left: UInt32, _ right: UInt32
    ) -> UInt64 {
        let key = UInt64(left) << 32 | UInt64(right)
        // Every index is masked to the table size.
        let (slot, found) = OpenAddressing.probe(
            home: OpenAddressing.fibonacci(key, shift: shift), mask: mask,
            isEmpty: { keys[$0] == PairTable.empty }, matches: { keys[$0] == key })
        return found ? values[slot] : UInt64.max
    }

    func lookup(_ left: UInt32, _ right: UInt32) -> UInt64 {
        keys.withUnsafeBufferPointer { k in
            values.withUnsafeBufferPointer { v in
                PairTable.probe(keys: k.baseAddress!, values: v.baseAddress!, mask: k.count - 1,
                                shift: UInt64(64 - k.count.trailingZeroBitCount), left, right)
            }
        }
    }

    /// Adds a merge; a pair already present keeps its earlier (lower) rank.
    mutating func insert(left: UInt32, right: UInt32, rank: UInt32, result: UInt32) {
        let key = UInt64(left) << 32 | UInt64(right)
        let (slot, found) = keys.withUnsafeBufferPointer { k in
            OpenAddressing.probe(home: OpenAddressing.fibonacci(key, shift: UInt64(64 - k.count.trailingZeroBitCount)),
                                 mask: k.count - 1, isEmpty: { k[$0] == PairTable.empty }, matches: { k[$0] == key })
        }
        guard !found else { return }
        keys[slot] = key
        values[slot] = UInt64(rank) << 32 | UInt64(result)
        count += 1
    }
}

/// A blocked Bloom filter of the pair table's keys: each key sets two bits of
/// one 64-bit word. Most pairs the kernel asks for do not merge (every pair
/// left when a piece is done, most pairs of two Chinese characters), and a
/// probe of the pair table for them waits on memory: the table is 4 MiB for
/// o200k (``PackedPairs``), the filter 512 KiB. It never says no to a key it
/// holds. Its keys are `left << 32 | right`, as the pair cache's.
@usableFromInline
enum PairFilter {
    /// Words for `pairs` keys: about seven keys a word, so about 4% of the
    /// keys it does not hold pass.
    static func wordCount(pairs: Int) -> Int { max(pairs / 7, 1).roundedUpToPowerOfTwo }

    @inlinable @inline(__always)
    static func hash(_ key: UInt64) -> UInt64 { (key ^ key >> 29) &* 0xBF58_476D_1CE4_E5B9 }

    @inlinable @inline(__always)
    static func bits(_ h: UInt64) -> UInt64 { 1 << (h & 63) | 1 << (h >> 6 & 63) }

    /// False only when `key` is not in the table the filter was made from.
    @inlinable @inline(__always)
    static func mayHold(_ key: UInt64, words: UnsafePointer<UInt64>, shift: UInt64) -> Bool {
        let h = hash(key)
        let b = bits(h)
        // h >> shift < the word count, a power of two (shift = 64 - log2 of it; a shift of 64 gives 0).
        return words[Int(truncatingIfNeeded: h >> shift)] & b == b
    }

    /// The filter of `keys` (a pair table's slots; empty ones are skipped).
    static func make(keys: UnsafeBufferPointer<UInt64>, pairs: Int) -> ContiguousArray<UInt64> {
        let count = wordCount(pairs: pairs)
        let shift = UInt64(64 - count.trailingZeroBitCount)
        var words = ContiguousArray<UInt64>(repeating: 0, count: count)
        for key in keys where key != PairTable.empty {
            let h = hash(key)
            words[Int(truncatingIfNeeded: h >> shift)] |= bits(h)
        }
        return words
    }
}

/// The pair table as the encoder reads it: one word a merge,
/// `left << 43 | right << 22 | rank` (ids below 2^21 - 1, ranks below 2^22),
/// in an open-addressing table at up to 7/8 load, with the result of each
/// rank in a separate array (`results`, empty for a ranks vocabulary, whose
/// merge of rank r makes token r).
///
/// One word a merge instead of a 64-bit key and a 64-bit value: o200k's
/// 446,189 merges take 4 MiB instead of 16, a found pair costs one cache line
/// instead of two, and `tokenizer.bin` loads 12 MiB less. The higher load
/// lengthens only the probes of absent pairs, which ``PairFilter`` mostly
/// answers first.
@usableFromInline
enum PackedPairs {
    /// Ids must be below this (all ones marks an empty slot).
    static let idLimit = (1 << 21) - 1
    static let rankLimit = 1 << 22
    @usableFromInline static let empty = UInt64.max

    /// The key a slot's word holds above its rank.
    @inlinable @inline(__always)
    static func key(_ left: UInt32, _ right: UInt32) -> UInt64 { UInt64(left) << 21 | UInt64(right) }

    /// The slots and results of `table` (ids and ranks below the limits).
    static func make(_ table: PairTable, resultIsRank: Bool) -> (slots: ContiguousArray<UInt64>, results: ContiguousArray<UInt32>) {
        let capacity = OpenAddressing.capacity(for: table.count, load: 7, per: 8)
        let shift = UInt64(64 - capacity.trailingZeroBitCount)
        var slots = ContiguousArray<UInt64>(repeating: empty, count: capacity)
        var results = ContiguousArray<UInt32>()
        for (key, value) in zip(table.keys, table.values) where key != PairTable.empty {
            let k = PackedPairs.key(UInt32(key >> 32), UInt32(truncatingIfNeeded: key))
            let rank = Int(value >> 32)
            precondition(rank < rankLimit && Int(key >> 32) < idLimit && Int(key & 0xFFFF_FFFF) < idLimit)
            let (slot, _) = slots.withUnsafeBufferPointer { w in
                OpenAddressing.probe(home: OpenAddressing.fibonacci(k, shift: shift), mask: capacity - 1,
                                     isEmpty: { w[$0] == empty }, matches: { _ in false })
            }
            slots[slot] = k << 22 | UInt64(rank)
            if !resultIsRank {
                // A rank no merge has (a SentencePiece model's scores can skip some)
                // gets token 0: never read, and in range for tokenizer.bin's check.
                if results.count <= rank { results.append(contentsOf: repeatElement(0, count: rank + 1 - results.count)) }
                results[rank] = UInt32(truncatingIfNeeded: value)
            }
        }
        return (slots, results)
    }

    /// The word of the pair's merge, or nil.
    ///
    /// - Complexity: O(1) expected.
    @inlinable @inline(__always)
    static func find(_ left: UInt32, _ right: UInt32, slots: UnsafePointer<UInt64>, mask: Int, shift: UInt64) -> UInt64? {
        let k = key(left, right)
        // Every index is masked to the table size.
        let (slot, found) = OpenAddressing.probe(
            home: OpenAddressing.fibonacci(k, shift: shift), mask: mask,
            isEmpty: { slots[$0] == empty }, matches: { slots[$0] >> 22 == k })
        return found ? slots[slot] : nil
    }
}
