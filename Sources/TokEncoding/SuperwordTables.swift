/// What the encoder needs to encode a superword piece from its words
/// (`Tokenizer+Superwords.swift`), derived once from a ranks vocabulary:
///
/// - the rank where superwords begin (``firstCrossingRank``, C below);
/// - per token, three marks (a bit table each, in the core's cache): whether
///   BPE of its bytes reaches C (then a word holding it is not finished below
///   C), and whether it can end the left part, or start the right part, of a
///   merge ranked C or above;
/// - the byte pairs some token below C holds side by side: a cut between
///   them may be crossed before C;
/// - a filter of the token pairs that can meet across a cut in a merge ranked C
///   or above (``mayJoin(_:_:)``).
///
/// A token held in the state BPE reaches when every merge below C is done
/// ranks below C. A merge that later crosses a cut joins a left part that ends
/// with the token before the cut in that state to a right part that starts with
/// the token after it. So where no merge of rank C or above has a left part
/// whose bytes end with the token before a cut and a right part whose bytes
/// start with the token after it, nothing ever crosses the cut.
@usableFromInline
final class SuperwordTables: @unchecked Sendable {  // immutable once made: its buffers are written only in init
    /// The lowest rank of a token of whole characters that the `tok` pattern
    /// cuts into two pieces or more: where superwords begin (the transition
    /// point of a superword build). Ranks below it are the words' own.
    let firstCrossingRank: UInt32
    let view: SuperwordView
    /// Words of each of the three bit tables by token id.
    private let markWords: Int

    /// - Complexity: O(total token bytes) for the crossings and the joins
    ///   (a lookup per prefix and suffix of every merge's parts ranked C or
    ///   above); for the highest ranks, a pass over the merge table per level
    ///   of the deepest chain of splits whose part ranks above its token (one or
    ///   two passes in a trained vocabulary, whose tokens rank above their parts).
    convenience init(_ vocabulary: Vocabulary) {
        let t = vocabulary.tables
        let slots = vocabulary.storage.elements(of: .pairSlots, as: UInt64.self)
        var crossing = [UInt32](repeating: .max, count: 1 << 16)
        var firstCrossing = UInt32(t.tokenCount)
        let words = (t.tokenCount + 63) / 64
        var marks = [UInt64](repeating: 0, count: 3 * words)
        func mark(_ id: UInt32, _ table: Int) { marks[table * words + Int(id) >> 6] |= 1 << UInt64(id & 63) }
        var joinKeys: [UInt64] = []
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
            for id in 0 ..< t.tokenCount where highest[id] >= firstCrossing { mark(UInt32(id), 0) }
            // The tokens below C that a merge's parts end and start with, paired.
            var ends: [UInt32] = [], starts: [UInt32] = []
            func tokens(_ id: UInt32, suffixes: Bool, into found: inout [UInt32]) {
                found.removeAll(keepingCapacity: true)
                let n = t.tokenLength(id), bytes = t.tokenBytes + Int(t.tokenOffsets[Int(id)])
                for k in 1 ... n {
                    if let part = t.wholePiece(suffixes ? bytes + (n - k) : bytes, k), part < firstCrossing || k == 1 {
                        found.append(part)
                    }
                }
            }
            for word in slots where word != PackedPairs.empty && UInt32(word & 0x3F_FFFF) >= firstCrossing {
                tokens(UInt32(word >> 43), suffixes: true, into: &ends)
                tokens(UInt32(word >> 22 & 0x1F_FFFF), suffixes: false, into: &starts)
                for left in ends {
                    mark(left, 1)
                    for right in starts { joinKeys.append(UInt64(left) << 32 | UInt64(right)) }
                }
                for right in starts { mark(right, 2) }
            }
        }
        // Each pair once: the filter is sized by its keys, and a small one stays in the core's cache.
        joinKeys.sort()
        let joins = joinKeys.withUnsafeBufferPointer { keys in
            let distinct = zip(keys.indices, keys).filter { $0.0 == 0 || keys[$0.0 - 1] != $0.1 }.map(\.1)
            return distinct.withUnsafeBufferPointer { PairFilter.make(keys: $0, pairs: $0.count) }
        }
        var belowCap = [UInt64](repeating: 0, count: 1024)
        for pair in 0 ..< 1 << 16 where crossing[pair] < firstCrossing { belowCap[pair >> 6] |= 1 << UInt64(pair & 63) }
        self.init(Stored(cap: firstCrossing, marks: marks, belowCap: belowCap, joins: Array(joins)))
    }

    /// The tables as `tokenizer.bin` keeps them.
    struct Stored {
        var cap: UInt32
        var marks: [UInt64], belowCap: [UInt64], joins: [UInt64]

        init(cap: UInt32, marks: [UInt64], belowCap: [UInt64], joins: [UInt64]) {
            (self.cap, self.marks, self.belowCap, self.joins) = (cap, marks, belowCap, joins)
        }

        init(_ r: inout BinaryFormat.Reader) throws {
            cap = try r.u32()
            marks = try r.words()
            belowCap = try r.words()
            joins = try r.words()
        }
    }

    /// Tables read from `tokenizer.bin`, checked against the vocabulary's `tokenCount`.
    convenience init(_ stored: Stored, tokenCount: Int, _ r: BinaryFormat.Reader) throws {
        guard stored.cap <= tokenCount, stored.marks.count == 3 * ((tokenCount + 63) / 64), stored.belowCap.count == 1024,
              stored.joins.count.nonzeroBitCount == 1
        else { throw r.corrupt("inconsistent superword tables") }
        self.init(stored)
    }

    private init(_ stored: Stored) {
        firstCrossingRank = stored.cap
        markWords = stored.marks.count / 3
        func copy(_ words: [UInt64]) -> UnsafeMutablePointer<UInt64> {
            let buffer = UnsafeMutablePointer<UInt64>.allocate(capacity: words.count)
            buffer.initialize(from: words, count: words.count)
            return buffer
        }
        let marks = copy(stored.marks)
        view = SuperwordView(reachesCap: marks, endsLeftPart: marks + markWords, startsRightPart: marks + 2 * markWords,
                             belowCap: copy(stored.belowCap), joins: copy(stored.joins),
                             joinShift: UInt64(64 - stored.joins.count.trailingZeroBitCount), cap: stored.cap)
    }

    deinit {
        view.reachesCap.deallocate()
        view.belowCap.deallocate()
        view.joins.deallocate()
    }

    /// Writes the tables as ``Stored`` reads them.
    func write(_ w: inout BinaryFormat.Writer) {
        w.u32(firstCrossingRank)
        w.words(UnsafeBufferPointer(start: view.reachesCap, count: 3 * markWords))
        w.words(UnsafeBufferPointer(start: view.belowCap, count: 1024))
        w.words(UnsafeBufferPointer(start: view.joins, count: 1 << (64 - Int(view.joinShift))))
    }

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
    /// Bit tables by token id: BPE of the token's bytes reaches C (a word
    /// holding it is not finished below C); its bytes end some merge's left
    /// part ranked C or above; they start some merge's right part.
    let reachesCap: UnsafeMutablePointer<UInt64>, endsLeftPart: UnsafeMutablePointer<UInt64>
    let startsRightPart: UnsafeMutablePointer<UInt64>
    /// Bit `x << 8 | y`: a token ranked below C holds bytes `x, y` side by side.
    let belowCap: UnsafeMutablePointer<UInt64>
    /// A ``PairFilter`` of the token pairs a merge ranked C or above can join across a cut.
    let joins: UnsafeMutablePointer<UInt64>
    let joinShift: UInt64
    /// ``SuperwordTables/firstCrossingRank``.
    let cap: UInt32

    /// Token `id`'s bit in `table` (`id` is a token's: the tables have a bit for each).
    @inline(__always)
    static func bit(_ table: UnsafeMutablePointer<UInt64>, _ id: UInt32) -> Bool {
        table[Int(id >> 6)] & (1 << UInt64(id & 63)) != 0
    }

    /// Whether BPE reaches C inside token `id`'s bytes.
    @inline(__always)
    func reachesCap(_ id: UInt32) -> Bool { SuperwordView.bit(reachesCap, id) }

    /// Whether a merge before C can cross a cut between bytes `x` and `y`.
    @inline(__always)
    func crossesBelowCap(_ x: UInt8, _ y: UInt8) -> Bool {
        let pair = Int(x) << 8 | Int(y)
        return belowCap[pair >> 6] & (1 << UInt64(pair & 63)) != 0  // pair >> 6 < 1024
    }

    /// False only when no merge ranked C or above can join a part ending with
    /// token `left` to one starting with token `right`.
    @inline(__always)
    func mayJoin(_ left: UInt32, _ right: UInt32) -> Bool {
        guard SuperwordView.bit(endsLeftPart, left), SuperwordView.bit(startsRightPart, right) else { return false }
        return PairFilter.mayHold(UInt64(left) << 32 | UInt64(right), words: joins, shift: joinShift)
    }
}
