/// An open-addressing map from byte strings to token ids. Keys are not copied:
/// they live in the vocabulary's flat token storage, and a slot holds the id
/// plus the upper half of the key's hash, so a probe rarely touches the bytes
/// of a key that does not match.
///
/// Slot layout: `hash >> 32 << 32 | (id + 1)`; 0 is empty. Capacity is a power
/// of two at least twice the key count, so probe runs stay short. This is the
/// builder; the finished slots move into the vocabulary's ``TableStorage``.
@usableFromInline
struct ByteStringTable {
    var slots: ContiguousArray<UInt64>

    init(minimumCapacity: Int) {
        slots = ContiguousArray(repeating: 0, count: OpenAddressing.capacity(for: minimumCapacity))
    }

    @inlinable @inline(__always)
    static func hash(_ p: UnsafeRawPointer, _ n: Int) -> UInt64 { hashBytes(p, n) }
}

/// A fast, deterministic hash of `n` bytes at `p`: the same on every
/// little-endian machine, since tables hashed with it are stored on disk, and
/// it decides which documents are held out. Shared by every byte-string table.
@inlinable @inline(__always)
package func hashBytes(_ p: UnsafeRawPointer, _ n: Int) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: n)
    var i = 0
    while i + 8 <= n {
        h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        i += 8
    }
    let rest = n - i
    if rest > 0 {
        var w: UInt64 = 0
        var k = 0
        if rest >= 4 {
            w = UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt32.self))
            k = 4
        }
        while k < rest {
            w |= UInt64(p.load(fromByteOffset: i + k, as: UInt8.self)) << (8 * UInt64(k))
            k += 1
        }
        h = (h ^ w) &* 0x94D0_49BB_1331_11EB
    }
    h ^= h >> 32
    h &*= 0xD6E8_FEB8_6659_FD93
    h ^= h >> 32
    return h
}

extension ByteStringTable {
    /// The lookup, on raw storage: the id stored for the `n` bytes at `p`, or nil.
    ///
    /// - Complexity: O(n) expected.
    @inlinable @inline(__always)
    static func probe(
        slots: UnsafePointer<UInt64>, mask: Int, _ p: UnsafeRawPointer, _ n: Int,
        bytes: UnsafePointer<UInt8>, offsets: UnsafePointer<UInt32>
    ) -> UInt32? {
        probe(slots: slots, mask: mask, p, n, hash: hash(p, n), bytes: bytes, offsets: offsets)
    }

    /// The lookup with the key's hash (``hashBytes(_:_:)``) already known.
    @inlinable @inline(__always)
    static func probe(
        slots: UnsafePointer<UInt64>, mask: Int, _ p: UnsafeRawPointer, _ n: Int, hash h: UInt64,
        bytes: UnsafePointer<UInt8>, offsets: UnsafePointer<UInt32>
    ) -> UInt32? {
        let tag = h & 0xFFFF_FFFF_0000_0000
        // Slots are masked to the table size; an id in a slot indexes `offsets` (checked at load).
        let (slot, found) = OpenAddressing.probe(
            home: Int(truncatingIfNeeded: h), mask: mask, isEmpty: { slots[$0] == 0 },
            matches: { i in
                let s = slots[i]
                guard s & 0xFFFF_FFFF_0000_0000 == tag else { return false }
                let id = Int(s & 0xFFFF_FFFF) - 1
                let start = Int(offsets[id]), end = Int(offsets[id + 1])
                return end - start == n && bytesEqual(bytes + start, p, n)
            })
        return found ? UInt32(truncatingIfNeeded: slots[slot] & 0xFFFF_FFFF) - 1 : nil
    }

    func find(_ p: UnsafeRawPointer, _ n: Int, bytes: UnsafePointer<UInt8>, offsets: UnsafePointer<UInt32>) -> UInt32? {
        slots.withUnsafeBufferPointer { s in
            ByteStringTable.probe(slots: s.baseAddress!, mask: s.count - 1, p, n, bytes: bytes, offsets: offsets)
        }
    }

    /// Inserts `id` for its bytes; returns false if the bytes are present already.
    mutating func insert(id: UInt32, bytes: UnsafePointer<UInt8>, offsets: UnsafePointer<UInt32>) -> Bool {
        let start = Int(offsets[Int(id)]), n = Int(offsets[Int(id) + 1]) - start
        if find(bytes + start, n, bytes: bytes, offsets: offsets) != nil { return false }
        let h = ByteStringTable.hash(bytes + start, n)
        let slot = slots.withUnsafeBufferPointer { s in
            OpenAddressing.probe(home: Int(truncatingIfNeeded: h), mask: s.count - 1,
                                 isEmpty: { s[$0] == 0 }, matches: { _ in false }).slot
        }
        slots[slot] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(id + 1)
        return true
    }
}

@usableFromInline
func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if UnsafeRawPointer(a).loadUnaligned(fromByteOffset: i, as: UInt64.self)
            != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
        i += 8
    }
    while i < n {
        if a[i] != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}
