// Cutting a piece the cache has not seen into parts it has.
//
// A Chinese clause is one piece (`\p{L}+`): most clauses are met once, so the
// piece cache misses them and BPE merges every one from its bytes, which is
// most of the time spent on Chinese. But BPE never makes a token that is not
// in the vocabulary, so where no token of the vocabulary holds the bytes on
// both sides of a place in a piece, no merge ever crosses it: the piece's ids
// are those of the parts either side, one after the other (the rule that
// joins a superword piece's words into stretches). The parts, mostly one or
// two characters, repeat as words do, and go through the piece cache.
//
// The places looked at are those between two characters of two or more bytes
// each (a cut next to an ASCII byte would give parts that ordinary pieces
// already are). A token holds the bytes across such a place either with both
// characters whole (the pair is in a Bloom filter: a false positive only
// leaves a place uncut) or with one of them cut short (a bit per pair of
// bytes, the last before the place and the first after it).
//
// One more condition keeps the ids exact: a part that is itself a token must
// be one by its merges, since a piece that is a token whole is taken whole
// (tiktoken's rule) and the cache does not tell pieces from parts. So a
// vocabulary with a token of a byte 0x80 or above that its merges do not make
// takes whole gets no cuts.

/// The tables that say where a piece may be cut (above).
@usableFromInline
final class PieceCuts: @unchecked Sendable {  // written once in init, read-only after
    /// Bit `a << 8 | b`: some token holds byte `a` then byte `b` where a character of two or more bytes starts, with a character cut short on either side.
    @usableFromInline let partialPairs: UnsafeMutablePointer<UInt64>
    /// Bloom filter words of the pairs of whole characters (both of two or more bytes) side by side in a token.
    @usableFromInline let pairWords: UnsafeMutablePointer<UInt64>
    @usableFromInline let pairShift: UInt64
    let wordCount: Int

    /// The tables of `vocabulary`, or nil when it may not be cut (above).
    init?(_ vocabulary: Vocabulary) {
        let tables = vocabulary.tables
        let takesUnreachableWhole: Bool
        switch vocabulary.mergeOrder {
        case .ranks, .mergesList(ignoreMerges: true): takesUnreachableWhole = true
        case .mergesList(ignoreMerges: false): takesUnreachableWhole = false
        }
        let blocked = withExtendedLifetime(vocabulary.storage) {
            takesUnreachableWhole && vocabulary.unreachableTokens.contains { id in
                let start = Int(tables.tokenOffsets[Int(id)])
                return (0 ..< tables.tokenLength(id)).contains { tables.tokenBytes[start + $0] >= 0x80 }
            }
        }
        if blocked { return nil }
        let partial = UnsafeMutablePointer<UInt64>.allocate(capacity: 1024)
        partial.initialize(repeating: 0, count: 1024)
        var keys: [UInt64] = []
        withExtendedLifetime(vocabulary.storage) {
            for id in 0 ..< tables.tokenCount {
                let t = tables.tokenBytes + Int(tables.tokenOffsets[id]), n = tables.tokenLength(UInt32(id))
                guard n >= 3 else { continue }
                for k in 1 ..< n where PieceCuts.isLead(t[k]) && PieceCuts.isContinuation(t[k - 1]) {
                    var j = k - 1
                    while j > 0 && k - j < 4 && PieceCuts.isContinuation(t[j]) { j -= 1 }
                    let beforeWhole = PieceCuts.isLead(t[j]) && PieceCuts.length(t[j]) == k - j
                    let after = PieceCuts.length(t[k])
                    let afterWhole = k + after <= n && (k + 1 ..< k + after).allSatisfy { PieceCuts.isContinuation(t[$0]) }
                    if beforeWhole && afterWhole {
                        keys.append(PieceCuts.key(t + j, k - j, t + k, after))
                    } else {
                        let bit = Int(t[k - 1]) << 8 | Int(t[k])
                        partial[bit >> 6] |= 1 << UInt64(bit & 63)
                    }
                }
            }
        }
        partialPairs = partial
        // About four keys a word: a pair not in the filter passes about 1.4% of the time.
        wordCount = max(keys.count / 4, 1).roundedUpToPowerOfTwo
        pairShift = UInt64(64 - wordCount.trailingZeroBitCount)
        let words = UnsafeMutablePointer<UInt64>.allocate(capacity: wordCount)
        words.initialize(repeating: 0, count: wordCount)
        for key in keys {
            let h = PairFilter.hash(key)
            words[Int(truncatingIfNeeded: h >> pairShift)] |= PairFilter.bits(h)
        }
        pairWords = words
    }

    deinit {
        partialPairs.deallocate()
        pairWords.deallocate()
    }

    @inlinable var view: PieceCutsView { PieceCutsView(partialPairs: partialPairs, pairWords: pairWords, pairShift: pairShift) }

    @inlinable @inline(__always) static func isContinuation(_ b: UInt8) -> Bool { b & 0xC0 == 0x80 }
    @inlinable @inline(__always) static func isLead(_ b: UInt8) -> Bool { b >= 0xC2 && b <= 0xF4 }
    /// The length of the character a lead byte starts.
    @inlinable @inline(__always) static func length(_ lead: UInt8) -> Int { lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4 }

    /// Two characters' bytes (`n` and `m`, at most 4 each) as one word.
    @inlinable @inline(__always)
    static func key(_ p: UnsafePointer<UInt8>, _ n: Int, _ q: UnsafePointer<UInt8>, _ m: Int) -> UInt64 {
        var a: UInt64 = 0, b: UInt64 = 0
        for k in 0 ..< n { a |= UInt64(p[k]) << UInt64(8 * k) }  // n <= 4
        for k in 0 ..< m { b |= UInt64(q[k]) << UInt64(8 * k) }  // m <= 4
        return a | b << 32
    }
}

/// ``PieceCuts``' tables for the hot loop, valid while the object lives.
@usableFromInline
struct PieceCutsView {
    @usableFromInline let partialPairs: UnsafePointer<UInt64>
    @usableFromInline let pairWords: UnsafePointer<UInt64>
    @usableFromInline let pairShift: UInt64

    @inlinable
    init(partialPairs: UnsafeMutablePointer<UInt64>, pairWords: UnsafeMutablePointer<UInt64>, pairShift: UInt64) {
        self.partialPairs = UnsafePointer(partialPairs)
        self.pairWords = UnsafePointer(pairWords)
        self.pairShift = pairShift
    }

    /// Writes where the parts of the `n` bytes at `p` start, after the first
    /// (at 0), into `starts` (room for `capacity`), and returns how many: 0
    /// when the piece has no place to cut. Stops at `capacity`.
    ///
    /// - Complexity: O(n): a bit and a filter word per place between two
    ///   characters of two or more bytes.
    @inlinable
    func cuts(_ p: UnsafePointer<UInt8>, _ n: Int, into starts: UnsafeMutablePointer<Int>, capacity: Int) -> Int {
        var count = 0, i = 0
        var previous = -1, previousLength = 0  // the character before i when it has two or more bytes
        while i < n {
            let b = p[i]  // i < n
            guard PieceCuts.isLead(b) else {
                previous = -1
                i += 1
                continue
            }
            let m = PieceCuts.length(b)
            guard i + m <= n, PieceCuts.isContinuation(p[i + 1]),
                  m < 3 || PieceCuts.isContinuation(p[i + 2]), m < 4 || PieceCuts.isContinuation(p[i + 3]) else {
                previous = -1
                i += 1
                continue
            }
            if previous >= 0 {
                let bit = Int(p[i - 1]) << 8 | Int(b)  // i >= 1: a character is before it
                if partialPairs[bit >> 6] & (1 << UInt64(bit & 63)) == 0,
                   !PairFilter.mayHold(PieceCuts.key(p + previous, previousLength, p + i, m), words: pairWords, shift: pairShift) {
                    starts[count] = i  // count < capacity
                    count += 1
                    if count == capacity { return count }
                }
            }
            previous = i
            previousLength = m
            i += m
        }
        return count
    }
}
