/// The merge table: an open-addressing map from an adjacent pair of token ids
/// to the merge's priority (its rank: lower merges first) and the token it makes.
///
/// For a tiktoken vocabulary the pairs are every split of every token into two
/// tokens, and a pair's rank is the rank of the token it makes, which is exactly
/// tiktoken's "merge the adjacent pair whose bytes have the lowest rank". For a
/// HuggingFace vocabulary they are its `merges` list, ranked by position.
public struct PairTable: Sendable {
    /// `left << 32 | right`; `UInt64.max` marks an empty slot.
    @usableFromInline var keys: ContiguousArray<UInt64>
    /// `rank << 32 | result`.
    @usableFromInline var values: ContiguousArray<UInt64>
    @usableFromInline var shift: UInt64
    public private(set) var count: Int

    @usableFromInline static let empty = UInt64.max

    init(keys: ContiguousArray<UInt64>, values: ContiguousArray<UInt64>, count: Int) {
        precondition(keys.count == values.count && keys.count.nonzeroBitCount == 1)
        self.keys = keys
        self.values = values
        self.count = count
        self.shift = UInt64(64 - keys.count.trailingZeroBitCount)
    }

    init(minimumCapacity: Int) {
        // Load factor at most 3/4: probes stay short and a 450k-merge table takes 16 MB.
        var capacity = 16
        while capacity * 3 < minimumCapacity * 4 { capacity <<= 1 }
        self.init(
            keys: ContiguousArray(repeating: PairTable.empty, count: capacity),
            values: ContiguousArray(repeating: 0, count: capacity), count: 0)
    }

    @inlinable @inline(__always)
    func slot(_ key: UInt64) -> Int {
        // Fibonacci hashing: the top bits of key * 2^64/phi.
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// `rank << 32 | result` for the pair, or `UInt64.max` when the pair does not merge.
    ///
    /// - Complexity: O(1) expected.
    @inlinable @inline(__always)
    func lookup(_ left: UInt32, _ right: UInt32) -> UInt64 {
        let key = UInt64(left) << 32 | UInt64(right)
        let mask = keys.count - 1
        var i = slot(key)
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == PairTable.empty { return UInt64.max }
            i = (i + 1) & mask
        }
    }

    /// Adds a merge; a pair already present keeps its earlier (lower) rank.
    mutating func insert(left: UInt32, right: UInt32, rank: UInt32, result: UInt32) {
        let key = UInt64(left) << 32 | UInt64(right)
        let mask = keys.count - 1
        var i = slot(key)
        while keys[i] != PairTable.empty {
            if keys[i] == key { return }
            i = (i + 1) & mask
        }
        keys[i] = key
        values[i] = UInt64(rank) << 32 | UInt64(result)
        count += 1
    }

    /// All merges as `(left, right, rank, result)`, ordered by rank, then left, then right.
    public func sortedMerges() -> [(left: UInt32, right: UInt32, rank: UInt32, result: UInt32)] {
        var all: [(left: UInt32, right: UInt32, rank: UInt32, result: UInt32)] = []
        all.reserveCapacity(count)
        for i in keys.indices where keys[i] != PairTable.empty {
            all.append((UInt32(keys[i] >> 32), UInt32(truncatingIfNeeded: keys[i]),
                        UInt32(values[i] >> 32), UInt32(truncatingIfNeeded: values[i])))
        }
        all.sort { ($0.rank, $0.left, $0.right) < ($1.rank, $1.left, $1.right) }
        return all
    }
}
