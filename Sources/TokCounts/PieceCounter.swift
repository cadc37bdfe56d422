import TokEncoding

#if canImport(Glibc)
import Glibc
#endif

/// Counts pieces: an open-addressing index over a ``PieceCounts``, so a new
/// piece costs one append to its flat arrays and no allocation.
///
/// - Complexity: `add` is O(n) expected in the piece's length.
struct PieceCounter {
    var entries = PieceCounts()
    var hashes = ContiguousArray<UInt32>()
    /// Entry index + 1; 0 is empty.
    var slots = ContiguousArray<UInt32>(repeating: 0, count: 1 << 16)

    var count: Int { entries.count }

    /// Bytes this table holds, roughly: the entries, their hashes, the slots.
    var memoryBytes: Int { entries.memoryBytes + hashes.capacity * 4 + slots.count * 4 }

    /// The slot of the `n` bytes at `p` (hashed to `h`), and whether they are there.
    func find(_ p: UnsafeRawPointer, _ n: Int, hash h: UInt64) -> (slot: Int, found: Bool) {
        let tag = UInt32(truncatingIfNeeded: h >> 32)
        return slots.withUnsafeBufferPointer { s in
            entries.bytes.withUnsafeBufferPointer { arena in
                OpenAddressing.probe(
                    home: Int(truncatingIfNeeded: h), mask: s.count - 1, isEmpty: { s[$0] == 0 },
                    matches: { i in
                        let e = Int(s[i]) - 1  // a slot holds an entry index + 1
                        return hashes[e] == tag && entries.length(e) == n
                            && (n == 0 || memcmp(arena.baseAddress! + entries.start(e), p, n) == 0)
                    })
            }
        }
    }

    mutating func add(_ p: UnsafeRawPointer, _ n: Int, count: UInt64 = 1) {
        let h = hashBytes(p, n)
        let tag = UInt32(truncatingIfNeeded: h >> 32)
        let (slot, found) = find(p, n, hash: h)
        if found {
            let e = Int(slots[slot]) - 1
            self.entries.counts[e] &+= count
            return
        }
        slots[slot] = UInt32(self.entries.count + 1)
        self.entries.append(UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: n), count: count)
        self.hashes.append(tag)
        if self.entries.count * 2 > slots.count { grow() }
    }

    private mutating func grow() {
        slots = ContiguousArray(repeating: 0, count: slots.count * 2)
        let entries = self.entries  // read only while the slots are rebuilt
        entries.bytes.withUnsafeBufferPointer { a in
            slots.withUnsafeMutableBufferPointer { s in
                for e in 0 ..< entries.count {
                    let h = hashBytes(a.baseAddress! + entries.start(e), entries.length(e))
                    let slot = OpenAddressing.probe(home: Int(truncatingIfNeeded: h), mask: s.count - 1,
                                                    isEmpty: { s[$0] == 0 }, matches: { _ in false }).slot
                    s[slot] = UInt32(e + 1)
                }
            }
        }
    }

    /// Entry indices ordered by their bytes (unsigned, shorter first on a common prefix).
    func sortedEntries() -> [Int] {
        entries.bytes.withUnsafeBufferPointer { a in
            let base = a.baseAddress ?? UnsafePointer(bitPattern: 1)!
            return (0 ..< entries.count).sorted { x, y in
                compareBytes(base + entries.start(x), entries.length(x), base + entries.start(y), entries.length(y)) < 0
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
