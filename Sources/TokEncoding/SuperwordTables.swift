/// What the encoder needs to encode a superword piece from its stretches
/// (`Tokenizer+Superwords.swift`), derived once from a ranks vocabulary:
///
/// - the rank where superwords begin (``firstCrossingRank``, C below);
/// - per token, whether BPE of its bytes reaches C (a bit table): a piece
///   equal to such a token's bytes does not become it by the merges below C;
/// - the byte pairs some token below C holds side by side: a cut between
///   them may be crossed before C;
/// - the merges ranked C or above, in a pair table and filter of their own;
/// - made at load, what stops the vocabulary's merges at C (``CappedMerges``).
///
/// A piece's state at C (every merge below C done) holds only tokens below C
/// and no pair a merge below C joins, and a merge from C on makes a token of
/// rank C or above, whose pairs can only be merges ranked higher still. So BPE
/// from C on asks only for merges ranked C or above: about a fifth of a
/// superword vocabulary's, a table that stays in the core's cache where the
/// whole one (several MiB) is read from memory.
@usableFromInline
final class SuperwordTables: @unchecked Sendable {  // immutable once made: its buffers are written only in init
    /// The lowest rank of a token of whole characters that the `tok` pattern
    /// cuts into two pieces or more: where superwords begin (the transition
    /// point of a superword build). Ranks below it are the words' own.
    let firstCrossingRank: UInt32
    let view: SuperwordView
    private let stored: Stored
    private let capped: CappedMerges
    /// The view's tables, one after another.
    private let words: UnsafeMutablePointer<UInt64>

    /// - Complexity: O(total token bytes) for the crossings; for the highest
    ///   ranks, a pass over the merge table per level of the deepest chain of
    ///   splits whose part ranks above its token (one or two passes in a
    ///   trained vocabulary, whose tokens rank above their parts).
    convenience init(_ vocabulary: Vocabulary) {
        let t = vocabulary.tables
        let slots = vocabulary.storage.elements(of: .pairSlots, as: UInt64.self)
        var crossing = [UInt32](repeating: .max, count: 1 << 16)
        var firstCrossing = UInt32(t.tokenCount)
        var reaches = [UInt64](repeating: 0, count: (t.tokenCount + 63) / 64)
        withExtendedLifetime(vocabulary.storage) {
            for id in 0 ..< t.tokenCount {
                let n = t.tokenLength(UInt32(id))
                let bytes = t.tokenBytes + Int(t.tokenOffsets[id])
                for k in 0 ..< max(n - 1, 0) {
                    let pair = Int(bytes[k]) << 8 | Int(bytes[k + 1])  // k + 1 < n
                    crossing[pair] = min(crossing[pair], UInt32(id))
                }
                // A token cut only because it ends inside a character (Han and part of the next one) is not one.
                let token = UnsafeBufferPointer(start: bytes, count: n)
                if UInt32(id) < firstCrossing && n >= 2 && token.matchO200K(at: 0, separateHan: true) < n
                    && invalidUTF8ByteCount(token) == 0 {
                    firstCrossing = UInt32(id)
                }
            }
            let highest = SuperwordTables.highestRanks(vocabulary, slots: slots)
            for id in 0 ..< t.tokenCount where highest[id] >= firstCrossing { reaches[id >> 6] |= 1 << UInt64(id & 63) }
        }
        // The merges ranked C or above, in the encoder's packed form, at half load: short probes.
        let late = slots.filter { $0 != PackedPairs.empty && UInt32($0 & 0x3F_FFFF) >= firstCrossing }
        let capacity = OpenAddressing.capacity(for: late.count, load: 1, per: 2)
        let shift = UInt64(64 - capacity.trailingZeroBitCount)
        var lateSlots = [UInt64](repeating: PackedPairs.empty, count: capacity)
        for word in late {
            let (slot, _) = lateSlots.withUnsafeBufferPointer { w in
                OpenAddressing.probe(home: OpenAddressing.fibonacci(word >> 22, shift: shift), mask: capacity - 1,
                                     isEmpty: { w[$0] == PackedPairs.empty }, matches: { _ in false })
            }
            lateSlots[slot] = word
        }
        let keys = late.map { ($0 >> 43) << 32 | ($0 >> 22 & 0x1F_FFFF) }
        let filter = keys.withUnsafeBufferPointer { PairFilter.make(keys: $0, pairs: $0.count) }
        var belowCap = [UInt64](repeating: 0, count: 1024)
        for pair in 0 ..< 1 << 16 where crossing[pair] < firstCrossing { belowCap[pair >> 6] |= 1 << UInt64(pair & 63) }
        self.init(Stored(cap: firstCrossing, reachesCap: reaches, belowCap: belowCap, lateSlots: lateSlots,
                         lateFilter: Array(filter)), tables: t)
    }

    /// The tables as `tokenizer.bin` keeps them.
    struct Stored {
        var cap: UInt32
        var reachesCap: [UInt64], belowCap: [UInt64], lateSlots: [UInt64], lateFilter: [UInt64]

        init(cap: UInt32, reachesCap: [UInt64], belowCap: [UInt64], lateSlots: [UInt64], lateFilter: [UInt64]) {
            (self.cap, self.reachesCap, self.belowCap, self.lateSlots, self.lateFilter) = (cap, reachesCap, belowCap, lateSlots, lateFilter)
        }

        init(_ r: inout BinaryFormat.Reader) throws {
            cap = try r.u32()
            reachesCap = try r.words()
            belowCap = try r.words()
            lateSlots = try r.words()
            lateFilter = try r.words()
        }

        func write(_ w: inout BinaryFormat.Writer) {
            w.u32(cap)
            for words in [reachesCap, belowCap, lateSlots, lateFilter] { words.withUnsafeBufferPointer { w.words($0) } }
        }
    }

    /// Tables read from `tokenizer.bin`, checked against the vocabulary's tables.
    convenience init(_ stored: Stored, tables: BPETables, _ r: BinaryFormat.Reader) throws {
        let tokenCount = tables.tokenCount
        guard stored.cap <= tokenCount, stored.reachesCap.count == (tokenCount + 63) / 64, stored.belowCap.count == 1024,
              stored.lateSlots.count.nonzeroBitCount == 1, stored.lateFilter.count.nonzeroBitCount == 1,
              stored.lateSlots.allSatisfy({ $0 == PackedPairs.empty || $0 >> 43 < tokenCount && $0 >> 22 & 0x1F_FFFF < tokenCount
                                                && $0 & 0x3F_FFFF < tokenCount })
        else { throw r.corrupt("inconsistent superword tables") }
        self.init(stored, tables: tables)
    }

    /// - Parameter tables: the vocabulary's, valid while they are read here
    ///   (``CappedMerges`` reads the tokens and the pieces allowed whole).
    private init(_ stored: Stored, tables t: BPETables) {
        self.stored = stored
        firstCrossingRank = stored.cap
        capped = CappedMerges(t, cap: stored.cap, reachesCap: stored.reachesCap)
        // The view's tables in buffers of their own: a pointer into an array is valid only inside its closure.
        words = UnsafeMutablePointer.allocate(capacity: 1024 + stored.lateSlots.count + stored.lateFilter.count)
        var next = words
        func copy(_ table: [UInt64]) -> UnsafePointer<UInt64> {
            next.initialize(from: table, count: table.count)
            defer { next += table.count }
            return UnsafePointer(next)
        }
        view = SuperwordView(belowCap: copy(stored.belowCap),
                             lateSlots: copy(stored.lateSlots), lateMask: stored.lateSlots.count - 1,
                             lateShift: UInt64(64 - stored.lateSlots.count.trailingZeroBitCount),
                             lateFilter: copy(stored.lateFilter),
                             lateFilterShift: UInt64(64 - stored.lateFilter.count.trailingZeroBitCount))
    }

    deinit { words.deallocate() }

    /// `tables` making only the merges ranked below C: BPE by them gives a
    /// piece's state at C. Its own ``BPETables/serial``, so that a thread's
    /// cache of long pieces never mixes states at C with the vocabulary's ids.
    func cappedTables(_ t: BPETables) -> BPETables { capped.tables(t) }

    /// Writes the tables as ``Stored`` reads them.
    func write(_ w: inout BinaryFormat.Writer) { stored.write(&w) }

    /// `highest[id]`: the highest rank BPE reaches inside token `id`'s bytes.
    ///
    /// Every split of a token into two tokens is a merge of the table, whose
    /// result is its rank: each result is raised to its parts' highest until
    /// nothing changes. That bound counts every split, and a split into a late
    /// part (a superword stage's `ization` inside an early `organization`)
    /// lifts a token its own BPE never takes past its rank. A token that BPE
    /// limited to ranks up to its own still reaches whole is bounded by its
    /// rank: every merge inside a token's bytes in any text is one of the
    /// merges of BPE over its bytes alone.
    static func highestRanks(_ vocabulary: Vocabulary, slots: UnsafeBufferPointer<UInt64>) -> [UInt32] {
        let t = vocabulary.tables
        var highest = (0 ..< UInt32(t.tokenCount)).map { $0 }
        var changed = true
        while changed {
            changed = false
            for word in slots where word != PackedPairs.empty {
                let left = Int(word >> 43), right = Int(word >> 22 & 0x1F_FFFF), result = Int(word & 0x3F_FFFF)
                let reach = max(highest[left], highest[right])
                if reach > highest[result] {
                    highest[result] = reach
                    changed = true
                }
            }
        }
        var scratch = BytePairScratch(caching: false)
        var ids = ContiguousArray<UInt32>()
        for id in 0 ..< UInt32(t.tokenCount) where highest[Int(id)] > id {
            ids.removeAll(keepingCapacity: true)
            let bytes = t.tokenBytes + Int(t.tokenOffsets[Int(id)])
            if t.mergeBelow(id + 1, bytes, t.tokenLength(id), scratch: &scratch, into: &ids), ids.count == 1, ids[0] == id {
                highest[Int(id)] = id
            }
        }
        return highest
    }
}

/// ``SuperwordTables`` as the encoder reads them: plain pointers, valid while
/// the tables live.
struct SuperwordView {
    /// Bit `x << 8 | y`: a token ranked below C holds bytes `x, y` side by side.
    let belowCap: UnsafePointer<UInt64>
    /// The merges ranked C or above (``PackedPairs``' words) and their ``PairFilter``.
    let lateSlots: UnsafePointer<UInt64>, lateMask: Int, lateShift: UInt64
    let lateFilter: UnsafePointer<UInt64>, lateFilterShift: UInt64

    /// Whether a merge before C can cross a cut between bytes `x` and `y`.
    @inline(__always)
    func crossesBelowCap(_ x: UInt8, _ y: UInt8) -> Bool {
        let pair = Int(x) << 8 | Int(y)
        return belowCap[pair >> 6] & (1 << UInt64(pair & 63)) != 0  // pair >> 6 < 1024
    }

    /// `tables` reading only the merges ranked C or above: the same answers
    /// for every pair of a state at C or after it (above).
    func lateTables(_ tables: BPETables) -> BPETables {
        var late = tables
        (late.pairSlots, late.pairMask, late.pairShift) = (lateSlots, lateMask, lateShift)
        (late.pairFilter, late.pairFilterShift) = (lateFilter, lateFilterShift)
        return late
    }
}

/// What makes a vocabulary's tables give the state at C
/// (``SuperwordTables/cappedTables(_:)``): the merges stop at C (the tables'
/// ``BPETables/rankLimit``), and a piece becomes a token whole only if the
/// token is below C and its own bytes' BPE stays below C; characters enter
/// the merges whole or in two parts only if every token the character table
/// enters them as is too.
final class CappedMerges: @unchecked Sendable {  // immutable once made
    let cap: UInt32
    let wholePieceAllowed: UnsafeMutablePointer<UInt64>
    let characters: Bool
    let serial: UInt64

    /// - Complexity: O(tokens).
    init(_ t: BPETables, cap: UInt32, reachesCap: [UInt64]) {
        self.cap = cap
        let bitWords = (t.tokenCount + 63) / 64
        wholePieceAllowed = .allocate(capacity: bitWords)
        for k in 0 ..< bitWords {
            var allowed = t.wholePieceAllowed[k] & ~reachesCap[k]
            if k * 64 + 64 > Int(cap) { allowed &= k * 64 >= Int(cap) ? 0 : (1 << UInt64(Int(cap) - k * 64)) - 1 }
            wholePieceAllowed[k] = allowed
        }
        // A character enters as the tokens BPE makes of it alone (its token,
        // or its two parts), so only if none of the table's is at C or above,
        // or reached through one.
        self.characters = t.characterMask >= 0 && !t.anyCharacterPart { id in
            id >= cap || reachesCap[Int(id) >> 6] >> UInt64(id & 63) & 1 != 0
        }
        serial = tableStorageSerials.add(1, ordering: .relaxed).newValue
    }

    deinit { wholePieceAllowed.deallocate() }

    func tables(_ t: BPETables) -> BPETables {
        var capped = t
        capped.wholePieceAllowed = UnsafePointer(wholePieceAllowed)
        if !characters { capped.characterMask = -1 }
        (capped.rankLimit, capped.serial) = (cap, serial)
        return capped
    }
}

extension BPETables {
    /// BPE over the `n` bytes at `start` with only the merges ranked below
    /// `cap`, appended to `out`; false (nothing appended) for more than
    /// ``linearScanLimit`` bytes. Every part starts as a byte, so no
    /// character or whole piece skips a merge.
    func mergeBelow(
        _ cap: UInt32, _ start: UnsafePointer<UInt8>, _ n: Int, scratch: inout BytePairScratch,
        into out: inout ContiguousArray<UInt32>
    ) -> Bool {
        guard n >= 1 && n <= BPETables.linearScanLimit else { return n == 0 }
        scratch.reserve(n)
        scratch.pairs.withView(for: self) { pairCache in
            scratch.ids.withUnsafeMutableBufferPointer { idsBuffer in
                scratch.ranks.withUnsafeMutableBufferPointer { ranksBuffer in
                    // reserve(n) made ids at least n long; ranks is linearScanLimit >= n long.
                    let ids = idsBuffer.baseAddress!, ranks = ranksBuffer.baseAddress!
                    for j in 0 ..< n { ids[j] = byteTokens[Int(start[j])] }
                    for j in 0 ..< n - 1 { ranks[j] = pair(ids[j], ids[j + 1], pairCache) }
                    let m = scanMerges(ids: ids, ranks: ranks, count: n, pairCache: pairCache, limit: UInt64(cap) << 32)
                    out.append(contentsOf: UnsafeBufferPointer(start: ids, count: m))
                }
            }
        }
        return true
    }
}
