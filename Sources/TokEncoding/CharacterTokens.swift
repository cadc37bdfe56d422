// Characters that start the merges whole. Byte-level BPE spells a Chinese
// character as three bytes and spends its first two merges putting them back
// together; on Chinese text under o200k those merges were two thirds of the
// kernel's work. A character whose merges cannot be disturbed by its
// neighbours can enter the kernel as its token, with the same result.
//
// Why the result is the same. Merging takes the lowest-ranked adjacent pair
// first. Let character c (k bytes) encode alone to one token T through merges
// of rank at most R. While c is still in parts, one of its own pairs (rank
// <= R) is always there to be merged, so nothing of rank > R is merged before
// c is whole. So if every token that crosses one of c's inner boundaries (its
// bytes end with a proper prefix of c after other bytes, or start with a proper
// suffix of c followed by other bytes) and every other token holding all of
// c's bytes is made by merges of rank > R only, then no neighbour ever joins
// a part of c, nothing joins T before c would have been whole, and every
// other merge happens in the same order with c whole from the start as with
// c in bytes. Crossing tokens are told apart by the byte on the far side of
// the boundary: o200k has ` \xe7` (a space and the first byte of 用) at rank
// 3,637, below 用's 5,615, so 用 is whole after a Han character but not after
// a space.
//
// Measured (one core, o200k, `tok encode`): see the performance notes in
// BytePairMerge.swift.

/// The table ``BPETables/characterToken(_:_:_:)`` reads: open addressing over
/// a character's UTF-8 bytes, two words a slot (`bytes | mask index << 32`,
/// then `id | right partners << 32`; 0 is empty), and per mask index two
/// 256-bit sets (the bytes that may come before the character, then those
/// that may come after it), eight words.
///
/// The right partners are a 32-bit filter of the tokens the character merges
/// with as a pair's left (``BPETables/partnerBit(_:)``): most pairs of two Chinese
/// characters do not merge, and the filter, in the slot the walk has just
/// read, says so without a probe of the pair filter in memory.
struct CharacterTokenTable {
    var slots: ContiguousArray<UInt64> = []
    var masks: ContiguousArray<UInt64> = []

    /// The longest UTF-8 sequence its lead byte announces (0: not a lead byte).
    static func sequenceLength(_ lead: UInt8) -> Int {
        lead < 0xC2 ? 0 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : lead < 0xF5 ? 4 : 0
    }

    static func isContinuation(_ b: UInt8) -> Bool { b & 0xC0 == 0x80 }

    /// Up to 4 bytes packed little-endian.
    static func pack(_ bytes: some Collection<UInt8>) -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in bytes.enumerated() { v |= UInt64(b) << UInt64(8 * i) }
        return v
    }

    /// - Complexity: O(P + T) for P pairs and T token bytes, plus 256 steps per
    ///   character token.
    init(tokenBytes: ContiguousArray<UInt8>, tokenOffsets: ContiguousArray<UInt32>, pairs: PairTable,
         byteTokens: ContiguousArray<UInt32>) {
        let tokenCount = tokenOffsets.count - 1
        func bytes(_ id: Int) -> ArraySlice<UInt8> { tokenBytes[Int(tokenOffsets[id]) ..< Int(tokenOffsets[id + 1])] }
        // The lowest rank of a merge making each token (UInt32.max: none).
        var madeAt = [UInt32](repeating: .max, count: tokenCount)
        for (key, value) in zip(pairs.keys, pairs.values) where key != PairTable.empty {
            let result = Int(value & 0xFFFF_FFFF)
            if result < tokenCount { madeAt[result] = min(madeAt[result], UInt32(value >> 32)) }
        }
        // Lowest ranks of crossing tokens, per (part of a character, its length)
        // and the byte beyond the boundary; and of tokens holding a whole character.
        var before: [UInt64: [UInt32]] = [:], after: [UInt64: [UInt32]] = [:]
        var holding: [UInt64: UInt32] = [:]
        let noLimits = [UInt32](repeating: .max, count: 256)
        func lower(_ limit: inout UInt32, to r: UInt32) { limit = min(limit, r) }
        for id in 0 ..< tokenCount where madeAt[id] != .max {
            let t = Array(bytes(id)), r = madeAt[id], n = t.count
            guard n >= 2 else { continue }
            for j in 1 ... min(3, n - 1) where CharacterTokenTable.sequenceLength(t[n - j]) > j {
                // Ends with the first j bytes of a character, after byte t[n - j - 1].
                lower(&before[CharacterTokenTable.pack(t[(n - j)...]) | UInt64(j) << 32, default: noLimits][Int(t[n - j - 1])], to: r)
            }
            var j = 1
            while j <= min(3, n - 1) && CharacterTokenTable.isContinuation(t[j - 1]) {
                // Starts with the last j bytes of a character, before byte t[j].
                lower(&after[CharacterTokenTable.pack(t[..<j]) | UInt64(j) << 32, default: noLimits][Int(t[j])], to: r)
                j += 1
            }
            for i in 0 ..< n {
                let k = CharacterTokenTable.sequenceLength(t[i])
                guard k > 0, i + k <= n, k < n, t[(i + 1) ..< (i + k)].allSatisfy(CharacterTokenTable.isContinuation)
                else { continue }
                lower(&holding[CharacterTokenTable.pack(t[i ..< i + k]), default: .max], to: r)
            }
        }
        var entries: [(key: UInt64, id: UInt32, mask: Int)] = []
        var maskIndex: [[UInt64]: Int] = [:]
        for id in 0 ..< tokenCount {
            let c = Array(bytes(id)), k = c.count
            guard k >= 2, CharacterTokenTable.sequenceLength(c[0]) == k,
                  c.dropFirst().allSatisfy(CharacterTokenTable.isContinuation),
                  c.allSatisfy({ byteTokens[Int($0)] < tokenCount && bytes(Int(byteTokens[Int($0)])).elementsEqual([$0]) }),
                  let highest = CharacterTokenTable.mergeAlone(c, into: UInt32(id), pairs: pairs, byteTokens: byteTokens),
                  highest < holding[CharacterTokenTable.pack(c)] ?? .max
            else { continue }
            var mask = [UInt64](repeating: 0, count: 8)
            let limitsBefore = (1 ..< k).compactMap { before[CharacterTokenTable.pack(c[..<$0]) | UInt64($0) << 32] }
            let limitsAfter = (1 ..< k).compactMap { after[CharacterTokenTable.pack(c[(k - $0)...]) | UInt64($0) << 32] }
            for b in 0 ..< 256 {
                let limitBefore = limitsBefore.reduce(UInt32.max) { min($0, $1[b]) }
                let limitAfter = limitsAfter.reduce(UInt32.max) { min($0, $1[b]) }
                if highest < limitBefore { mask[b >> 6] |= 1 << UInt64(b & 63) }
                if highest < limitAfter { mask[4 + b >> 6] |= 1 << UInt64(b & 63) }
            }
            guard mask.contains(where: { $0 != 0 }) else { continue }
            let index = maskIndex[mask] ?? {
                let i = maskIndex.count
                maskIndex[mask] = i
                masks.append(contentsOf: mask)
                return i
            }()
            entries.append((CharacterTokenTable.pack(c), UInt32(id), index))
        }
        guard !entries.isEmpty else { return }
        // Each character token's right partners: a bit per merge it is the left of.
        var partners: [UInt32: UInt32] = [:]
        for e in entries { partners[e.id] = 0 }
        for key in pairs.keys where key != PairTable.empty {
            let left = UInt32(key >> 32)
            if let bits = partners[left] {
                partners[left] = bits | BPETables.partnerBit(UInt32(truncatingIfNeeded: key))
            }
        }
        let capacity = OpenAddressing.capacity(for: entries.count)
        slots = ContiguousArray(repeating: 0, count: 2 * capacity)
        let shift = UInt64(64 - capacity.trailingZeroBitCount)
        for e in entries {
            var i = OpenAddressing.fibonacci(e.key, shift: shift)
            while slots[2 * i] != 0 { i = (i + 1) & (capacity - 1) }
            slots[2 * i] = e.key | UInt64(e.mask) << 32
            slots[2 * i + 1] = UInt64(e.id) | UInt64(partners[e.id]!) << 32
        }
    }

    /// The highest rank among the merges that make `c`'s bytes, alone, into
    /// token `id`; nil when they make anything else.
    static func mergeAlone(_ c: [UInt8], into id: UInt32, pairs: PairTable, byteTokens: ContiguousArray<UInt32>) -> UInt32? {
        var parts = c.map { byteTokens[Int($0)] }
        var highest: UInt32 = 0
        while parts.count > 1 {
            var best = UInt64.max, at = 0
            for i in 0 ..< parts.count - 1 {
                let v = pairs.lookup(parts[i], parts[i + 1])
                if v < best { best = v; at = i }
            }
            guard best != .max else { return nil }
            highest = max(highest, UInt32(best >> 32))
            parts[at] = UInt32(truncatingIfNeeded: best)
            parts.remove(at: at + 1)
        }
        return parts == [id] ? highest : nil
    }
}

extension BPETables {
    /// A token's bit in a character's set of right partners (the tokens it
    /// merges with when it is the left of a pair): 32 bits, one per hash.
    @inlinable @inline(__always)
    static func partnerBit(_ right: UInt32) -> UInt32 { 1 << ((right &* 0x9E37_79B9) >> 27) }

    /// The token of the character starting at `piece[k]` (a byte of 0xC2 or
    /// more) and its length, when the character may enter the merges whole
    /// between the bytes around it in the piece (see the notes above); else nil.
    @inlinable @inline(__always)
    func characterToken(_ piece: UnsafePointer<UInt8>, _ k: Int, _ n: Int) -> (id: UInt32, length: Int, partners: UInt32)? {
        let lead = piece[k]
        let length = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
        guard k + length <= n else { return nil }
        var key = UInt64(lead)
        var i = 1
        while i < length {
            key |= UInt64(piece[k + i]) << UInt64(8 * i)  // k + i < k + length <= n
            i += 1
        }
        var slot = OpenAddressing.fibonacci(key, shift: characterShift)
        while true {
            let word = characterSlots[2 * slot]  // slot <= characterMask: 2 * slot + 1 < 2 * capacity
            if word == 0 { return nil }
            if word & 0xFFFF_FFFF == key {
                let mask = characterMasks + 8 * Int(word >> 32)  // mask indices are checked on load
                if k > 0 {
                    let b = Int(piece[k - 1])
                    guard mask[b >> 6] >> UInt64(b & 63) & 1 != 0 else { return nil }
                }
                if k + length < n {
                    let b = Int(piece[k + length])
                    guard mask[4 + b >> 6] >> UInt64(b & 63) & 1 != 0 else { return nil }
                }
                let word = characterSlots[2 * slot + 1]
                return (UInt32(truncatingIfNeeded: word), length, UInt32(truncatingIfNeeded: word >> 32))
            }
            slot = (slot + 1) & characterMask
        }
    }
}
