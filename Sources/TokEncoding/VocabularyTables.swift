import Synchronization
import TokRuntime

/// The tables a vocabulary encodes with, in the order they are stored. This
/// list is the one description of them: the storage allocates them by it, and
/// `tokenizer.bin` writes and reads them by it.
@usableFromInline
enum TableID: Int, CaseIterable, Sendable {
    /// Every token's bytes, back to back.
    case tokenBytes
    /// `tokenOffsets[id] ..< tokenOffsets[id + 1]` are token `id`'s bytes.
    case tokenOffsets
    /// The byte-string table's slots (``ByteStringTable``).
    case lookupSlots
    /// The pair table's slots and each rank's result (``PackedPairs``).
    case pairSlots, mergeResults
    /// The token of each single byte.
    case byteTokens
    /// Bit per token: a piece equal to the token's bytes may become the token
    /// directly (always, except under `mergesList(ignoreMerges: false)` for a
    /// token the merges do not reach).
    case wholePieceAllowed
    /// The pair value of every two single-byte tokens, indexed by
    /// `first << 8 | second`: a piece's first pairs never hash.
    case bytePairs
    /// Characters that may enter the merges as their token or their two
    /// parts, and the bytes they may stand beside (``CharacterTokenTable``).
    case characterSlots, characterMasks
    /// A filter of the pair table's keys (``PairFilter``): most pairs the
    /// kernel asks for do not merge, and the filter says so from the core's
    /// own cache instead of a probe of the pair table in memory.
    case pairFilter

    @usableFromInline var elementSize: Int {
        switch self {
        case .tokenBytes: return 1
        case .tokenOffsets, .byteTokens, .mergeResults: return 4
        case .lookupSlots, .pairSlots, .wholePieceAllowed, .bytePairs, .characterSlots, .characterMasks,
             .pairFilter:
            return 8
        }
    }
}

/// The tables of one vocabulary, in one allocation (in 2 MiB pages, see
/// ``HugePages``) that lives exactly as long as this object, each table at a
/// multiple of 64 bytes. Immutable once made, so sharing it between threads is
/// safe; the kernel reaches it through ``BPETables``, derived once.
///
/// One allocation, not one a table: `tokenizer.bin` is read straight into it
/// (its tables lie at the same 64-byte offsets in the file), and the small
/// tables the kernel reads at random (token bytes, the pair filter, the
/// byte-pair table) sit in huge pages too.
@usableFromInline
final class TableStorage: @unchecked Sendable {
    /// Per table (indexed by `TableID.rawValue`): its memory and element count.
    let tables: [(memory: UnsafeMutableRawPointer, count: Int)]
    /// The allocation the tables lie in, and its size in bytes.
    private let arena: UnsafeMutableRawPointer, arenaBytes: Int
    @usableFromInline let view: BPETables

    /// Takes each table's contents from `fill`, which is given the table and an
    /// uninitialized buffer of `counts[table]` elements to fill.
    /// `resultIsRank`: every merge makes the token whose id is its rank (a
    /// tiktoken ranks vocabulary), so the kernel need not look the result up.
    convenience init(counts: [TableID: Int], resultIsRank: Bool,
                     fill: (TableID, UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        var offsets: [(offset: Int, count: Int)] = [], end = 0
        for id in TableID.allCases {
            let start = TableStorage.aligned(end)
            offsets.append((start, counts[id] ?? 0))
            end = start + (counts[id] ?? 0) * id.elementSize
        }
        let arena = HugePages.allocate(bytes: end)
        do {
            for (id, t) in zip(TableID.allCases, offsets) {
                try fill(id, UnsafeMutableRawBufferPointer(start: arena + t.offset, count: t.count * id.elementSize))
            }
        } catch {
            HugePages.release(arena, bytes: end)
            throw error
        }
        self.init(adopting: arena, bytes: end, tables: offsets, resultIsRank: resultIsRank)
    }

    /// Tables lie at multiples of this many bytes (a cache line).
    static let alignment = 64

    static func aligned(_ offset: Int) -> Int { (offset + alignment - 1) / alignment * alignment }

    /// Takes ownership of `arena` (from ``HugePages/allocate(bytes:)`` of
    /// `bytes`), whose tables, in ``TableID`` order, start at the given offsets
    /// (multiples of ``alignment``, inside the arena).
    init(adopting arena: UnsafeMutableRawPointer, bytes: Int, tables offsets: [(offset: Int, count: Int)],
         resultIsRank: Bool) {
        self.arena = arena
        arenaBytes = bytes
        let tables = offsets.map { (memory: arena + $0.offset, count: $0.count) }
        self.tables = tables
        func pointer<T>(_ id: TableID, _: T.Type) -> UnsafePointer<T> {
            UnsafePointer(tables[id.rawValue].memory.assumingMemoryBound(to: T.self))
        }
        let slotCount = tables[TableID.lookupSlots.rawValue].count
        let pairCount = tables[TableID.pairSlots.rawValue].count
        let characterCapacity = tables[TableID.characterSlots.rawValue].count / 2
        let filterCount = tables[TableID.pairFilter.rawValue].count
        view = BPETables(
            tokenBytes: pointer(.tokenBytes, UInt8.self), tokenOffsets: pointer(.tokenOffsets, UInt32.self),
            lookupSlots: pointer(.lookupSlots, UInt64.self), lookupMask: slotCount - 1,
            pairSlots: pointer(.pairSlots, UInt64.self), mergeResults: pointer(.mergeResults, UInt32.self),
            pairMask: pairCount - 1, pairShift: UInt64(64 - pairCount.trailingZeroBitCount),
            byteTokens: pointer(.byteTokens, UInt32.self), wholePieceAllowed: pointer(.wholePieceAllowed, UInt64.self),
            bytePairs: pointer(.bytePairs, UInt64.self), tokenCount: tables[TableID.tokenOffsets.rawValue].count - 1,
            resultIsRank: resultIsRank, characterSlots: pointer(.characterSlots, UInt64.self),
            characterMasks: pointer(.characterMasks, UInt64.self), characterMask: characterCapacity - 1,
            characterShift: UInt64(64 - max(characterCapacity, 1).trailingZeroBitCount),
            pairFilter: pointer(.pairFilter, UInt64.self), pairFilterShift: UInt64(64 - filterCount.trailingZeroBitCount),
            rankLimit: .max, serial: tableStorageSerials.add(1, ordering: .relaxed).newValue)
    }

    /// A table's bytes.
    func bytes(of id: TableID) -> UnsafeRawBufferPointer {
        let t = tables[id.rawValue]
        return UnsafeRawBufferPointer(start: t.memory, count: t.count * id.elementSize)
    }

    /// A table's elements.
    func elements<T: FixedWidthInteger>(of id: TableID, as _: T.Type) -> UnsafeBufferPointer<T> {
        precondition(MemoryLayout<T>.size == id.elementSize)
        let t = tables[id.rawValue]
        return UnsafeBufferPointer(start: t.memory.assumingMemoryBound(to: T.self), count: t.count)
    }

    deinit { HugePages.release(arena, bytes: arenaBytes) }
}

let tableStorageSerials = Atomic<UInt64>(0)

/// The vocabulary's lookup tables as raw pointers, for the hot loops.
///
/// Copying a ``Vocabulary`` per piece retained its arrays, and two threads
/// retaining the same arrays fought over their reference counts: ARC took 45%
/// of encoding time and made two threads slower than one. This view is plain
/// data, valid while its ``TableStorage`` lives, and costs nothing to copy.
@usableFromInline
struct BPETables: @unchecked Sendable {  // read-only pointers into an immutable TableStorage
    // The fields a superword vocabulary's views replace (``SuperwordTables``) are `var`; the rest `let`.
    @usableFromInline let tokenBytes: UnsafePointer<UInt8>
    @usableFromInline let tokenOffsets: UnsafePointer<UInt32>
    @usableFromInline let lookupSlots: UnsafePointer<UInt64>
    @usableFromInline let lookupMask: Int
    @usableFromInline var pairSlots: UnsafePointer<UInt64>
    @usableFromInline let mergeResults: UnsafePointer<UInt32>
    @usableFromInline var pairMask: Int
    @usableFromInline var pairShift: UInt64
    @usableFromInline let byteTokens: UnsafePointer<UInt32>
    @usableFromInline var wholePieceAllowed: UnsafePointer<UInt64>
    @usableFromInline let bytePairs: UnsafePointer<UInt64>
    @usableFromInline let tokenCount: Int
    /// A merge's result is its rank (tiktoken's rule), so a pair's rank is all the kernel needs.
    @usableFromInline let resultIsRank: Bool
    /// ``CharacterTokenTable``'s slots and masks; `characterMask` is the slot
    /// count less one (-1: no character enters whole).
    @usableFromInline let characterSlots: UnsafePointer<UInt64>
    @usableFromInline let characterMasks: UnsafePointer<UInt64>
    @usableFromInline var characterMask: Int
    @usableFromInline let characterShift: UInt64
    /// ``PairFilter``'s words (a power of two of them) and the shift that picks one.
    @usableFromInline var pairFilter: UnsafePointer<UInt64>
    @usableFromInline var pairFilterShift: UInt64
    /// Merges of this rank or above are not made: `UInt32.max` for a
    /// vocabulary's own tables, the first superword rank for the tables that
    /// give a superword piece's stretches their state there
    /// (``SuperwordTables/cappedTables(_:)``).
    @usableFromInline var rankLimit: UInt32
    /// Unique in the process (from 1): what a thread's caches record as the
    /// vocabulary whose ids they hold (``LongPieceCache``, ``PairCache``).
    @usableFromInline var serial: UInt64

    /// The pair value of two single bytes' tokens.
    @inlinable @inline(__always)
    func bytePair(_ first: UInt8, _ second: UInt8) -> UInt64 { bytePairs[Int(first) << 8 | Int(second)] }

    /// The length in bytes of token `id` (< `tokenCount`).
    @inlinable @inline(__always)
    func tokenLength(_ id: UInt32) -> Int { Int(tokenOffsets[Int(id) + 1] &- tokenOffsets[Int(id)]) }

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

    /// ``wholePiece(_:_:)`` with the piece's hash (``hashBytes(_:_:)``) already known.
    @inlinable @inline(__always)
    func wholePiece(_ p: UnsafeRawPointer, _ n: Int, hash h: UInt64) -> UInt32? {
        guard let id = ByteStringTable.probe(slots: lookupSlots, mask: lookupMask, p, n, hash: h,
                                             bytes: tokenBytes, offsets: tokenOffsets),
              wholePieceAllowed[Int(id) >> 6] & (1 << UInt64(id & 63)) != 0 else { return nil }
        return id
    }

    /// Where the lookup of a piece with hash `h` starts: to prefetch.
    @inlinable @inline(__always)
    func lookupSlot(hash h: UInt64) -> UnsafePointer<UInt64> { lookupSlots + (Int(truncatingIfNeeded: h) & lookupMask) }

    /// `rank << 32 | result` for the pair, or `UInt64.max` when it does not merge.
    @inlinable @inline(__always)
    func pair(_ left: UInt32, _ right: UInt32) -> UInt64 {
        let key = UInt64(left) << 32 | UInt64(right)
        guard PairFilter.mayHold(key, words: pairFilter, shift: pairFilterShift) else { return UInt64.max }
        return pairInTable(left, right)
    }

    /// ``pair(_:_:)`` from the pair table alone, for a pair the filter let through.
    @inlinable @inline(__always)
    func pairInTable(_ left: UInt32, _ right: UInt32) -> UInt64 {
        guard let word = PackedPairs.find(left, right, slots: pairSlots, mask: pairMask, shift: pairShift)
        else { return UInt64.max }
        let rank = word & 0x3F_FFFF
        // A rank's result exists: checked on load.
        return rank << 32 | (resultIsRank ? rank : UInt64(mergeResults[Int(rank)]))
    }
}
