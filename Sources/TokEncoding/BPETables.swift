/// The vocabulary's lookup tables as raw pointers, for the hot loops.
///
/// Copying a ``Vocabulary`` retains each of its arrays, and two threads
/// retaining the same arrays fight over their reference counts: with the
/// struct captured per piece, ARC took 45% of encoding time and made two
/// threads slower than one. This view is plain data, valid inside
/// ``Vocabulary/withTables(_:)``, and costs nothing to copy.
@usableFromInline
struct BPETables {
    @usableFromInline let tokenBytes: UnsafePointer<UInt8>
    @usableFromInline let tokenOffsets: UnsafePointer<UInt32>
    @usableFromInline let lookupSlots: UnsafePointer<UInt64>
    @usableFromInline let lookupMask: Int
    @usableFromInline let pairKeys: UnsafePointer<UInt64>
    @usableFromInline let pairValues: UnsafePointer<UInt64>
    @usableFromInline let pairMask: Int
    @usableFromInline let pairShift: UInt64
    @usableFromInline let byteTokens: UnsafePointer<UInt32>
    @usableFromInline let wholePieceAllowed: UnsafePointer<UInt64>
    @usableFromInline let bytePairs: UnsafePointer<UInt64>

    @usableFromInline
    init(tokenBytes: UnsafePointer<UInt8>, tokenOffsets: UnsafePointer<UInt32>, lookupSlots: UnsafePointer<UInt64>,
         lookupMask: Int, pairKeys: UnsafePointer<UInt64>, pairValues: UnsafePointer<UInt64>, pairMask: Int,
         pairShift: UInt64, byteTokens: UnsafePointer<UInt32>, wholePieceAllowed: UnsafePointer<UInt64>,
         bytePairs: UnsafePointer<UInt64>) {
        self.tokenBytes = tokenBytes
        self.tokenOffsets = tokenOffsets
        self.lookupSlots = lookupSlots
        self.lookupMask = lookupMask
        self.pairKeys = pairKeys
        self.pairValues = pairValues
        self.pairMask = pairMask
        self.pairShift = pairShift
        self.byteTokens = byteTokens
        self.wholePieceAllowed = wholePieceAllowed
        self.bytePairs = bytePairs
    }

    /// The pair value of two single bytes' tokens.
    @inlinable @inline(__always)
    func bytePair(_ first: UInt8, _ second: UInt8) -> UInt64 { bytePairs[Int(first) << 8 | Int(second)] }

    /// The id of the token whose bytes are the `n` bytes at `p`, or nil.
    ///
    /// - Complexity: O(n) expected.
    @inlinable @inline(__always)
    func find(_ p: UnsafeRawPointer, _ n: Int) -> UInt32? {
        ByteStringTable.probe(slots: lookupSlots, mask: lookupMask, p, n, bytes: tokenBytes, offsets: tokenOffsets)
    }

    /// The id of a piece that becomes one token whole, or nil.
    @inlinable @inline(__always)
    func wholePiece(_ p: UnsafeRawPointer, _ n: Int) -> UInt32? {
        guard let id = find(p, n), wholePieceAllowed[Int(id) >> 6] & (1 << UInt64(id & 63)) != 0 else { return nil }
        return id
    }

    /// `rank << 32 | result` for the pair, or `UInt64.max` when it does not merge.
    @inlinable @inline(__always)
    func pair(_ left: UInt32, _ right: UInt32) -> UInt64 {
        let key = UInt64(left) << 32 | UInt64(right)
        var i = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> pairShift)
        while true {
            // Keys and values are apart on purpose: most lookups miss (no merge), and
            // then only the 8 MB of keys is touched; interleaving them measured slower.
            let k = pairKeys[i]  // i < capacity: the hash is shifted down to log2(capacity) bits, then masked
            if k == key { return pairValues[i] }
            if k == PairTable.empty { return UInt64.max }
            i = (i + 1) & pairMask
        }
    }
}

extension Vocabulary {
    /// Calls `body` with raw views of the tables, valid for the call.
    @inlinable
    func withTables<R>(_ body: (BPETables) throws -> R) rethrows -> R {
        try tokenBytes.withUnsafeBufferPointer { bytes in
            try tokenOffsets.withUnsafeBufferPointer { offsets in
                try lookup.slots.withUnsafeBufferPointer { slots in
                    try pairs.keys.withUnsafeBufferPointer { keys in
                        try pairs.values.withUnsafeBufferPointer { values in
                            try byteTokens.withUnsafeBufferPointer { byteTokens in
                                try wholePieceAllowed.withUnsafeBufferPointer { allowed in
                                  try bytePairs.withUnsafeBufferPointer { bytePairs in
                                    try body(BPETables(
                                        tokenBytes: bytes.baseAddress!, tokenOffsets: offsets.baseAddress!,
                                        lookupSlots: slots.baseAddress!, lookupMask: lookup.mask,
                                        pairKeys: keys.baseAddress!, pairValues: values.baseAddress!,
                                        pairMask: pairs.keys.count - 1, pairShift: pairs.shift,
                                        byteTokens: byteTokens.baseAddress!, wholePieceAllowed: allowed.baseAddress!,
                                        bytePairs: bytePairs.baseAddress!))
                                  }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
