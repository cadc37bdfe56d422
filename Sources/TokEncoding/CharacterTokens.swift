// Characters that start the merges whole, or in the parts they end in.
// Byte-level BPE spells a Chinese character as three bytes and spends its
// first merges putting them back together; on Chinese text under o200k those
// merges were two thirds of the kernel's work. A character whose merges cannot
// be disturbed by its neighbours can enter the kernel as its token, or as the
// two tokens it ends in alone (a fifth of the characters of Chinese text under
// cl100k end in a two-byte token and a byte), with the same result.
//
// Why the result is the same. Merging takes the lowest-ranked adjacent pair
// first. Let character c (k bytes) encode alone to parts P (one token, or two
// that do not merge) through merges of rank at most R. While c is not yet in
// the parts P, one of its own pairs (rank <= R) is always there to be merged,
// so nothing of rank > R is merged before it is. So if every token that
// crosses one of c's inner boundaries (its bytes end with a proper prefix of
// c after other bytes, or start with a proper suffix of c followed by other
// bytes) and every other token holding all of c's bytes is made by merges of
// rank > R only, then no neighbour joins a part of c before c is in its parts
// P, and every other merge happens in the same order with c in P from the
// start as with c in bytes. Crossing tokens are told apart by the byte on the
// far side of the boundary: o200k has ` \xe7` (a space and the first byte of
// 用) at rank 3,637, below 用's 5,615, so 用 is whole after a Han character
// but not after a space.
//
// Measured (one core, o200k, `tok encode`): see the performance notes in
// BytePairMerge.swift.

/// The table ``BPETables/characterToken(_:_:_:)`` reads: open addressing over
/// a character's UTF-8 bytes, two words a slot (`bytes | mask index << 32 |
/// first part's length << 56`, then `id | right partners << 32` for a
/// character that is one token, first part's length 0, or `first id | second
/// id << 32` for one in two parts; 0 is empty), and per mask index two 256-bit
/// sets (the bytes that may come before the character, then those that may
/// come after it), eight words.
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

    /// `bytePairs` is the value of each pair of single bytes (`first << 8 | second`).
    ///
    /// - Complexity: O(P + T + U) for P pairs, T token bytes and the U code
    ///   points, plus 256 steps per character entered.
    init(tokenBytes: ContiguousArray<UInt8>, tokenOffsets: ContiguousArray<UInt32>, pairs: PairTable,
         byteTokens: ContiguousArray<UInt32>, bytePairs: ContiguousArray<UInt64>) {
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
        var entries: [(key: UInt64, parts: [UInt32], mask: Int)] = []
        var maskIndex: [[UInt64]: Int] = [:]
        // A byte that is not its own token leaves the characters holding it in bytes.
        let byteIsToken = (0 ..< 256).map { b in
            byteTokens[b] < tokenCount && bytes(Int(byteTokens[b])).elementsEqual([UInt8(b)])
        }
        CharacterTokenTable.forEachCharacterWithMerges(bytePairs: bytePairs) { c in
            let k = c.count
            guard c.allSatisfy({ byteIsToken[Int($0)] }),
                  let (parts, highest) = CharacterTokenTable.mergeAlone(c, pairs: pairs, byteTokens: byteTokens),
                  parts.count == 1 || (parts.count == 2 && k > 2),
                  highest < holding[CharacterTokenTable.pack(c)] ?? .max,
                  maskIndex.count < CharacterTokenTable.maskIndexLimit
            else { return }
            // Bit b of the first four words: byte b may come before c; of the last four: after it.
            var mask = [UInt64](repeating: UInt64.max, count: 8)
            func clear(_ words: Int, where limits: [UInt32]) {
                for b in 0 ..< 256 where limits[b] <= highest { mask[words + b >> 6] &= ~(1 << UInt64(b & 63)) }
            }
            for j in 1 ..< k {
                if let limits = before[CharacterTokenTable.pack(c[..<j]) | UInt64(j) << 32] { clear(0, where: limits) }
                if let limits = after[CharacterTokenTable.pack(c[(k - j)...]) | UInt64(j) << 32] { clear(4, where: limits) }
            }
            guard mask.contains(where: { $0 != 0 }) else { return }
            let index = maskIndex[mask] ?? {
                let i = maskIndex.count
                maskIndex[mask] = i
                masks.append(contentsOf: mask)
                return i
            }()
            entries.append((CharacterTokenTable.pack(c), parts, index))
        }
        guard !entries.isEmpty else { return }
        // Each character token's right partners: a bit per merge it is the left of.
        var partners: [UInt32: UInt32] = [:]
        for e in entries where e.parts.count == 1 { partners[e.parts[0]] = 0 }
        for key in pairs.keys where key != PairTable.empty {
            let left = UInt32(key >> 32)
            if let bits = partners[left] {
                partners[left] = bits | BPETables.partnerBit(UInt32(truncatingIfNeeded: key))
            }
        }
        let capacity = OpenAddressing.capacity(for: entries.count, load: 3, per: 4)
        slots = ContiguousArray(repeating: 0, count: 2 * capacity)
        let shift = UInt64(64 - capacity.trailingZeroBitCount)
        for e in entries {
            var i = OpenAddressing.fibonacci(e.key, shift: shift)
            while slots[2 * i] != 0 { i = (i + 1) & (capacity - 1) }
            if e.parts.count == 1 {
                slots[2 * i] = e.key | UInt64(e.mask) << 32
                slots[2 * i + 1] = UInt64(e.parts[0]) | UInt64(partners[e.parts[0]]!) << 32
            } else {
                let firstLength = Int(tokenOffsets[Int(e.parts[0]) + 1] - tokenOffsets[Int(e.parts[0])])
                slots[2 * i] = e.key | UInt64(e.mask) << 32 | UInt64(firstLength) << 56
                slots[2 * i + 1] = UInt64(e.parts[0]) | UInt64(e.parts[1]) << 32
            }
        }
    }

    /// Mask indices fit in the 24 bits of a slot between the bytes and the first part's length.
    static let maskIndexLimit = 1 << 24

    /// Calls `body` with the UTF-8 of every character of two to four bytes
    /// with two adjacent bytes that merge (`bytePairs`, by the byte pair):
    /// the only ones whose merges alone leave fewer parts than bytes.
    ///
    /// - Complexity: O(U) for the U = 1,112,064 code points, plus the calls.
    static func forEachCharacterWithMerges(bytePairs: ContiguousArray<UInt64>, _ body: ([UInt8]) -> Void) {
        guard bytePairs.count == 1 << 16 else { return }
        func merges(_ a: Int, _ b: Int) -> Bool { bytePairs[a << 8 | b] != UInt64.max }
        let continuations = 0x80 ... 0xBF
        // Leads and the range of the byte after them that keeps the sequence
        // valid (no overlong form, no surrogate, nothing past U+10FFFF).
        for lead in 0xC2 ... 0xF4 {
            let second = lead == 0xE0 ? 0xA0 ... 0xBF : lead == 0xED ? 0x80 ... 0x9F
                : lead == 0xF0 ? 0x90 ... 0xBF : lead == 0xF4 ? 0x80 ... 0x8F : continuations
            for c1 in second {
                let m1 = merges(lead, c1)
                if lead < 0xE0 {
                    if m1 { body([UInt8(lead), UInt8(c1)]) }
                    continue
                }
                for c2 in continuations {
                    let m2 = m1 || merges(c1, c2)
                    if lead < 0xF0 {
                        if m2 { body([UInt8(lead), UInt8(c1), UInt8(c2)]) }
                        continue
                    }
                    for c3 in continuations where m2 || merges(c2, c3) {
                        body([UInt8(lead), UInt8(c1), UInt8(c2), UInt8(c3)])
                    }
                }
            }
        }
    }

    /// The parts `c`'s bytes end in when merged alone, and the highest rank
    /// among the merges that made them; nil when no pair merges.
    static func mergeAlone(_ c: [UInt8], pairs: PairTable, byteTokens: ContiguousArray<UInt32>) -> (parts: [UInt32], highest: UInt32)? {
        var parts = c.map { byteTokens[Int($0)] }
        var highest: UInt32? = nil
        while parts.count > 1 {
            var best = UInt64.max, at = 0
            for i in 0 ..< parts.count - 1 {
                let v = pairs.lookup(parts[i], parts[i + 1])
                if v < best { best = v; at = i }
            }
            guard best != .max else { break }
            highest = max(highest ?? 0, UInt32(best >> 32))
            parts[at] = UInt32(truncatingIfNeeded: best)
            parts.remove(at: at + 1)
        }
        return highest.map { (parts, $0) }
    }
}

extension BPETables {
    /// A token's bit in a character's set of right partners (the tokens it
    /// merges with when it is the left of a pair): 32 bits, one per hash.
    @inlinable @inline(__always)
    static func partnerBit(_ right: UInt32) -> UInt32 { 1 << ((right &* 0x9E37_79B9) >> 27) }

    /// Whether `barred` holds for a token some character of the table enters
    /// the merges as: its token, or either of its two parts.
    func anyCharacterPart(_ barred: (UInt32) -> Bool) -> Bool {
        guard characterMask >= 0 else { return false }
        for slot in 0 ... characterMask where characterSlots[2 * slot] != 0 {  // 2 * slot + 1 < the slot words
            let key = characterSlots[2 * slot], parts = characterSlots[2 * slot + 1]
            if barred(UInt32(truncatingIfNeeded: parts)) { return true }
            if key >> 56 != 0 && barred(UInt32(truncatingIfNeeded: parts >> 32)) { return true }  // two parts
        }
        return false
    }

    /// The parts of the character starting at `piece[k]` (a byte of 0xC2 or
    /// more) when it may enter the merges in them between the bytes around it
    /// in the piece (see the notes above); else nil.
    @inlinable @inline(__always)
    func characterToken(_ piece: UnsafePointer<UInt8>, _ k: Int, _ n: Int) -> CharacterParts? {
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
                let mask = characterMasks + 8 * Int(word >> 32 & 0xFF_FFFF)  // mask indices are checked on load
                if k > 0 {
                    let b = Int(piece[k - 1])
                    guard mask[b >> 6] >> UInt64(b & 63) & 1 != 0 else { return nil }
                }
                if k + length < n {
                    let b = Int(piece[k + length])
                    guard mask[4 + b >> 6] >> UInt64(b & 63) & 1 != 0 else { return nil }
                }
                let firstLength = Int(truncatingIfNeeded: word >> 56)
                let parts = characterSlots[2 * slot + 1]
                return CharacterParts(id: UInt32(truncatingIfNeeded: parts), length: length,
                                      firstLength: firstLength, word: UInt32(truncatingIfNeeded: parts >> 32))
            }
            slot = (slot + 1) & characterMask
        }
    }
}

/// What ``BPETables/characterToken(_:_:_:)`` finds for a character: its token
/// (`firstLength` 0) and that token's right partners, or its two parts.
@frozen @usableFromInline
struct CharacterParts {
    /// The character's token, or its first part.
    @usableFromInline let id: UInt32
    /// The character's bytes.
    @usableFromInline let length: Int
    /// The first part's bytes when there are two parts, else 0.
    @usableFromInline let firstLength: Int
    /// The token's right partners (one part), or the second part's id.
    @usableFromInline let word: UInt32

    /// The right partners of the character's token (all, for one in two parts).
    @inlinable var partners: UInt32 { firstLength == 0 ? word : UInt32.max }
    /// The second part's id, when there are two parts.
    @inlinable var second: UInt32 { word }

    @inlinable @inline(__always)
    init(id: UInt32, length: Int, firstLength: Int, word: UInt32) {
        self.id = id
        self.length = length
        self.firstLength = firstLength
        self.word = word
    }
}
