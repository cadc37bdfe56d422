import TokEncoding

/// Counts pieces (byte strings): an open-addressing table whose keys live in
/// one byte arena, so a new piece costs one append and no allocation.
///
/// - Complexity: `add` is O(n) expected in the piece's length.
struct PieceCounter {
    var arena = ContiguousArray<UInt8>()
    var starts = ContiguousArray<Int>()
    var lengths = ContiguousArray<UInt32>()
    var counts = ContiguousArray<UInt64>()
    var hashes = ContiguousArray<UInt32>()
    /// Entry index + 1; 0 is empty.
    var slots = ContiguousArray<UInt32>(repeating: 0, count: 1 << 16)
    var mask = (1 << 16) - 1

    var count: Int { counts.count }

    /// Bytes this table holds, roughly: the arena, the per-entry arrays, the slots.
    var memoryBytes: Int { arena.capacity + counts.count * 24 + slots.count * 4 }

    mutating func add(_ p: UnsafeRawPointer, _ n: Int, count: UInt64 = 1) {
        let h = ByteStringTable.hash(p, n)
        let tag = UInt32(truncatingIfNeeded: h >> 32)
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let slot = slots[i]
            if slot == 0 { break }
            let e = Int(slot) - 1
            if hashes[e] == tag && Int(lengths[e]) == n {
                let equal = arena.withUnsafeBufferPointer { a in
                    n == 0 || memcmp(a.baseAddress! + starts[e], p, n) == 0
                }
                if equal {
                    counts[e] &+= count
                    return
                }
            }
            i = (i + 1) & mask
        }
        slots[i] = UInt32(counts.count + 1)
        starts.append(arena.count)
        lengths.append(UInt32(n))
        counts.append(count)
        hashes.append(tag)
        arena.append(contentsOf: UnsafeRawBufferPointer(start: p, count: n))
        if counts.count * 2 > slots.count { grow() }
    }

    private mutating func grow() {
        slots = ContiguousArray(repeating: 0, count: slots.count * 2)
        mask = slots.count - 1
        arena.withUnsafeBufferPointer { a in
            for e in counts.indices {
                let h = ByteStringTable.hash(a.baseAddress! + starts[e], Int(lengths[e]))
                var i = Int(truncatingIfNeeded: h) & mask
                while slots[i] != 0 { i = (i + 1) & mask }
                slots[i] = UInt32(e + 1)
            }
        }
    }

    func bytes(_ e: Int) -> UnsafeBufferPointer<UInt8> {
        arena.withUnsafeBufferPointer { UnsafeBufferPointer(rebasing: $0[starts[e] ..< starts[e] + Int(lengths[e])]) }
    }

    /// Entry indices ordered by their bytes (unsigned, shorter first on a common prefix).
    func sortedEntries() -> [Int] {
        arena.withUnsafeBufferPointer { a in
            let base = a.baseAddress ?? UnsafePointer(bitPattern: 1)!
            return counts.indices.sorted { x, y in
                compareBytes(base + starts[x], Int(lengths[x]), base + starts[y], Int(lengths[y])) < 0
            }
        }
    }
}

@inline(__always)
func compareBytes(_ a: UnsafePointer<UInt8>, _ n: Int, _ b: UnsafePointer<UInt8>, _ m: Int) -> Int {
    let c = memcmp(a, b, min(n, m))
    if c != 0 { return Int(c) }
    return n - m
}

#if canImport(Glibc)
import Glibc
#endif
