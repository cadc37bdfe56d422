/// Linear probing over a power-of-two table: the one probe loop behind the
/// byte-string table, the pair table, the piece counter and the trainer's pair
/// index. Each caller says what an empty slot is and what a match is; the
/// closures are inlined away.
@usableFromInline
package enum OpenAddressing {
    /// Walks the slots from `home` until one matches or is empty.
    ///
    /// - Returns: the slot index, and whether it matched (else it is empty).
    /// - Complexity: O(1) expected at the load factors the tables keep.
    @inlinable @inline(__always)
    package static func probe(
        home: Int, mask: Int, isEmpty: (Int) -> Bool, matches: (Int) -> Bool
    ) -> (slot: Int, found: Bool) {
        var i = home & mask
        while true {
            if isEmpty(i) { return (i, false) }
            if matches(i) { return (i, true) }
            i = (i + 1) & mask
        }
    }

    /// The smallest power of two, at least 16, that holds `count` keys at no
    /// more than `numerator / denominator` load.
    @inlinable
    package static func capacity(for count: Int, load numerator: Int = 1, per denominator: Int = 2) -> Int {
        var capacity = 16
        while capacity * numerator < count * denominator { capacity <<= 1 }
        return capacity
    }

    /// Fibonacci hashing: the top `64 - shift` bits of `key * 2^64 / phi`.
    @inlinable @inline(__always)
    package static func fibonacci(_ key: UInt64, shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }
}
