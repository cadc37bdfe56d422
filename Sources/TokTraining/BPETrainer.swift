import Foundation
import TokCounts
import TokEncoding
import TokRuntime

/// What can stop a training.
public enum TrainingError: TokError, Equatable {
    /// The size asked for leaves no room for the byte and special tokens.
    case sizeTooSmall(size: Int, reserved: Int)
    /// The inputs hold no text to learn from.
    case noText(inputs: [String])
    case unknownPattern(path: String, pattern: String)
    case patternMismatch(path: String, counted: String, wanted: String)

    public var description: String {
        switch self {
        case .sizeTooSmall(let size, let reserved):
            return "a vocabulary of \(size) ids leaves no room after the \(reserved) byte and special tokens"
        case .noText(let inputs): return "\(inputs.joined(separator: ", ")): no text to train on"
        case .unknownPattern(let path, let pattern): return "\(path): counted with an unknown pattern \(pattern)"
        case .patternMismatch(let path, let counted, let wanted): return "\(path): counted with pattern \(counted), not \(wanted)"
        }
    }
}

/// Byte-level BPE training on piece counts.
///
/// Each step merges the adjacent pair with the highest total count over all
/// pieces. Ties go to the pair whose ids are smaller, left id first (ids are
/// ranks: bytes are 0-255, then tokens in the order they were made). Pair
/// counts are kept incrementally, as HuggingFace's trainer does: a table of
/// pair counts, for each pair the pieces it occurs in, and a max-heap with
/// lazy invalidation; a merge touches only the pieces that hold the pair.
/// Counts are 64-bit.
public struct BPETrainer: Sendable {
    /// Total ids wanted: 256 bytes + merges + special tokens.
    public var vocabularySize: Int
    public var minFrequency: UInt64 = 0
    /// Longest token in bytes; pairs that would make a longer one are never merged.
    public var maxTokenLength: Int = .max
    public var specialTokens: [String] = []

    public init(vocabularySize: Int) {
        self.vocabularySize = vocabularySize
    }

    /// One merge as training made it.
    public struct Merge: Sendable, Codable, Equatable {
        public var left: UInt32
        public var right: UInt32
        public var count: UInt64
        /// Another pair had the same count when this one was chosen.
        public var tied: Bool
    }

    public struct Result: Sendable {
        /// Token byte strings by id: the 256 bytes, then one per merge.
        public var tokens: [[UInt8]]
        public var merges: [Merge]
        public var specialTokens: [SpecialToken]
        public var seconds: Double
        /// The pieces dropped to fit the memory budget, if any were.
        public var reduction: PieceReduction? = nil
        /// SentencePiece: the characters that are pieces of their own (``trainSentencePiece(pieces:options:progress:)``).
        public var alphabet: [[UInt8]] = []
    }

    /// Memory the trainer takes for one piece, its share of the pair table
    /// included: 320 bytes, and 40 a character (a UTF-8 lead byte, or a byte
    /// that is not UTF-8). Fitted, rounded up, to the peak RSS of `tok train` to
    /// 153,376 ids on count files of 0.1-2.5 million pieces (the default corpora's
    /// four domains and their union, and 256 MB of generated Chinese): it is
    /// within 2% on Chinese and over by 10-30% elsewhere. Characters, not bytes:
    /// a Han character's three bytes are merged into one symbol early, and the
    /// pairs the trainer keeps grow with symbols (per byte, the same fit was off
    /// by up to 2.4x on Chinese).
    public static func memoryCost(of piece: UnsafeBufferPointer<UInt8>) -> Int {
        var characters = 0
        for b in piece where b & 0xC0 != 0x80 { characters += 1 }
        return 320 + 40 * max(characters, 1)
    }

    /// Memory a process holds apart from its trainings (code, ICU data, the
    /// vocabularies being written and evaluated).
    public static let reservedMemory = 160 << 20

    /// Trains on a count file, first dropping the rarest pieces if all of them
    /// would not fit in `memoryBudget` bytes (see ``PieceReduction``).
    public func train(countFile path: String, memoryBudget: Int = .max,
                      progress: (Int, Int) -> Void = { _, _ in }) throws -> Result {
        let (pieces, reduction) = try PieceCounts.load(countFile: path, budget: memoryBudget, cost: BPETrainer.memoryCost(of:))
        var result = try train(pieces: pieces, progress: progress)
        result.reduction = reduction
        return result
    }

    /// The memory a training on `path` would take with every piece kept.
    public static func estimatedMemory(countFile path: String) throws -> Int {
        var bytes = 0
        try CountFile.forEachEntry(path) { piece, _ in if piece.count >= 2 { bytes += memoryCost(of: piece) } }
        return bytes
    }

    /// Trains on `pieces` (byte strings with their counts): merges the best
    /// pair until the size is reached or no pair is left (or the best occurs
    /// fewer than ``minFrequency`` times).
    ///
    /// - Complexity: O(total piece bytes) to start; each merge then touches
    ///   only the pieces that hold the merged pair.
    public func train(pieces: PieceCounts, progress: (Int, Int) -> Void = { _, _ in }) throws -> Result {
        let started = Date()
        let wanted = vocabularySize - 256 - specialTokens.count
        guard wanted >= 0 else { throw TrainingError.sizeTooSmall(size: vocabularySize, reserved: 256 + specialTokens.count) }
        progress(0, wanted)
        var state = TrainingState(pieces: pieces)
        var tokens = (0 ..< 256).map { [UInt8($0)] }
        var merges: [Merge] = []
        merges.reserveCapacity(wanted)
        while merges.count < wanted {
            guard let (key, count, tied) = state.popBest(tokenLength: { tokens[Int($0)].count }, maxLength: maxTokenLength),
                  count >= max(minFrequency, 1)
            else { break }
            let left = UInt32(key >> 32), right = UInt32(truncatingIfNeeded: key)
            let id = UInt32(tokens.count)
            tokens.append(tokens[Int(left)] + tokens[Int(right)])
            merges.append(Merge(left: left, right: right, count: count, tied: tied))
            state.merge(key: key, into: id)
            if merges.count % 1000 == 0 { progress(merges.count, wanted) }
        }
        let specials = specialTokens.enumerated().map { SpecialToken(id: UInt32(tokens.count + $0.offset), content: $0.element) }
        return Result(tokens: tokens, merges: merges, specialTokens: specials, seconds: Date().timeIntervalSince(started))
    }
}

/// The trainer's working state: pieces as symbol sequences, pair counts, where
/// each pair occurs, and the heap.
struct TrainingState {
    var symbols = ContiguousArray<UInt32>()
    var wordStart = ContiguousArray<Int>()
    var wordLength = ContiguousArray<Int32>()
    var wordCount = ContiguousArray<UInt64>()
    /// The step at which a word was last rewritten, to visit it once per merge.
    var wordSeen = ContiguousArray<Int32>()

    var pairs = PairIndex()
    var heap = PairHeap()
    var step: Int32 = 0

    /// The count that marks a pair never to be merged (its token would be
    /// longer than ``BPETrainer/maxTokenLength``). Counts are only pushed on the
    /// heap while above zero, and this is far enough below zero that the counts
    /// merges later add to the pair (a corpus's piece count, far below 2^62)
    /// never bring it back up; and far enough above `Int64.min` that
    /// subtracting them never overflows.
    static let neverMerged = Int64.min / 2

    init(pieces: PieceCounts) {
        pieces.forEach { bytes, count in
            guard bytes.count >= 2 else { return }
            wordStart.append(symbols.count)
            wordLength.append(Int32(bytes.count))
            wordCount.append(count)
            wordSeen.append(-1)
            for b in bytes { symbols.append(UInt32(b)) }
        }
        countAllPairs()
    }

    /// Counts the pairs of every word and puts each on the heap: the start of a
    /// training, once the words are in place.
    mutating func countAllPairs() {
        // 1. Count every adjacent pair, and note the words it occurs in.
        for w in wordStart.indices {
            let start = wordStart[w], n = Int(wordLength[w]), c = Int64(wordCount[w])
            for k in start ..< start + n - 1 {
                let e = pairs.entry(UInt64(symbols[k]) << 32 | UInt64(symbols[k + 1]))
                pairs.counts[e] += c
                pairs.addWord(e, UInt32(w))
            }
        }
        // 2. Every pair goes on the heap once; changes push again later.
        for e in pairs.keys.indices where pairs.counts[e] > 0 {
            heap.push(count: pairs.counts[e], key: pairs.keys[e])
        }
    }

    /// The best pair: (key, count, tied), or nil when none is left.
    mutating func popBest(tokenLength: (UInt32) -> Int, maxLength: Int) -> (UInt64, UInt64, Bool)? {
        while let top = heap.pop() {
            let e = pairs.find(top.key)!
            let current = pairs.counts[e]
            if current != top.count {
                if current > 0 { heap.push(count: current, key: top.key) }  // stale: requeue at its true count
                continue
            }
            if maxLength < .max && tokenLength(UInt32(top.key >> 32)) + tokenLength(UInt32(truncatingIfNeeded: top.key)) > maxLength {
                pairs.counts[e] = TrainingState.neverMerged
                continue
            }
            // A tie: the next valid entry has the same count.
            var tied = false
            while let next = heap.peek() {
                let f = pairs.find(next.key)!
                if pairs.counts[f] == next.count {
                    tied = next.count == current
                    break
                }
                _ = heap.pop()
                if pairs.counts[f] > 0 { heap.push(count: pairs.counts[f], key: next.key) }
            }
            return (top.key, UInt64(current), tied)
        }
        return nil
    }

    /// Rewrites every word holding the pair `key` with the new symbol `id`, and
    /// updates the counts of the pairs around each occurrence. `merged` gets
    /// each word rewritten and how many times the pair was merged in it.
    mutating func merge(key: UInt64, into id: UInt32, merged: (_ word: Int, _ times: Int) -> Void = { _, _ in }) {
        step += 1
        let a = UInt32(key >> 32), b = UInt32(truncatingIfNeeded: key)
        let e = pairs.find(key)!
        let words = pairs.words[e]
        var changed: [Int] = []
        for w32 in words {
            let w = Int(w32)
            guard wordSeen[w] != step else { continue }
            wordSeen[w] = step
            let start = wordStart[w], n = Int(wordLength[w])
            let c = Int64(wordCount[w])
            // Positions of the occurrences, left to right, not overlapping.
            var positions: [Int] = []
            var k = start
            while k < start + n - 1 {
                if symbols[k] == a && symbols[k + 1] == b {
                    positions.append(k)
                    k += 2
                } else {
                    k += 1
                }
            }
            if positions.isEmpty { continue }
            merged(w, positions.count)
            // Subtract the old pairs around each occurrence (each pair once).
            var last = -1
            for p in positions {
                for q in max(p - 1, start) ... min(p + 1, start + n - 2) where q > last {
                    let f = pairs.find(UInt64(symbols[q]) << 32 | UInt64(symbols[q + 1]))!
                    pairs.counts[f] -= c
                    last = q
                }
            }
            // Rewrite the word in place.
            var read = start, write = start, next = 0
            var merged: [Int] = []
            while read < start + n {
                if next < positions.count && read == positions[next] {
                    symbols[write] = id
                    merged.append(write)
                    read += 2
                    next += 1
                } else {
                    symbols[write] = symbols[read]
                    read += 1
                }
                write += 1
            }
            let m = write - start
            wordLength[w] = Int32(m)
            // Add the new pairs around each new symbol (each pair once).
            last = -1
            for p in merged {
                for q in p - 1 ... p where q >= start && q <= start + m - 2 && q > last {
                    let f = pairs.entry(UInt64(symbols[q]) << 32 | UInt64(symbols[q + 1]))
                    pairs.counts[f] += c
                    pairs.addWord(f, UInt32(w))
                    changed.append(f)
                    last = q
                }
            }
        }
        pairs.counts[e] = 0
        pairs.words[e] = []
        changed.sort()
        var previous = -1
        for f in changed where f != previous {
            previous = f
            if pairs.counts[f] > 0 { heap.push(count: pairs.counts[f], key: pairs.keys[f]) }
        }
    }
}

/// Pair -> entry index, with per-entry count and word list.
struct PairIndex {
    var keys = ContiguousArray<UInt64>()
    var counts = ContiguousArray<Int64>()
    var words: [ContiguousArray<UInt32>] = []
    var slots = ContiguousArray<Int32>(repeating: -1, count: 1 << 16)
    var shift: UInt64 = 48

    /// The slot of `key`, and whether it is there.
    @inline(__always) func probe(_ key: UInt64) -> (slot: Int, found: Bool) {
        slots.withUnsafeBufferPointer { s in
            keys.withUnsafeBufferPointer { k in
                // A slot holds an entry index (< keys.count) or -1.
                OpenAddressing.probe(home: OpenAddressing.fibonacci(key, shift: shift), mask: s.count - 1,
                                     isEmpty: { s[$0] < 0 }, matches: { k[Int(s[$0])] == key })
            }
        }
    }

    func find(_ key: UInt64) -> Int? {
        let (slot, found) = probe(key)
        return found ? Int(slots[slot]) : nil
    }

    mutating func entry(_ key: UInt64) -> Int {
        let (slot, found) = probe(key)
        if found { return Int(slots[slot]) }
        let e = keys.count
        keys.append(key)
        counts.append(0)
        words.append([])
        slots[slot] = Int32(e)
        if keys.count * 2 > slots.count { grow() }
        return e
    }

    @inline(__always) mutating func addWord(_ e: Int, _ w: UInt32) {
        if words[e].last != w { words[e].append(w) }
    }

    private mutating func grow() {
        slots = ContiguousArray(repeating: -1, count: slots.count * 2)
        shift -= 1
        for e in keys.indices {
            let slot = slots.withUnsafeBufferPointer { s in
                OpenAddressing.probe(home: OpenAddressing.fibonacci(keys[e], shift: shift), mask: s.count - 1,
                                     isEmpty: { s[$0] < 0 }, matches: { _ in false }).slot
            }
            slots[slot] = Int32(e)
        }
    }
}

/// A max-heap of (count, pair): highest count first, then the smaller pair.
struct PairHeap {
    var items = ContiguousArray<(count: Int64, key: UInt64)>()

    @inline(__always) static func before(_ x: (count: Int64, key: UInt64), _ y: (count: Int64, key: UInt64)) -> Bool {
        x.count != y.count ? x.count > y.count : x.key < y.key
    }

    func peek() -> (count: Int64, key: UInt64)? { items.first }

    mutating func push(count: Int64, key: UInt64) {
        items.append((count, key))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard PairHeap.before(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (count: Int64, key: UInt64)? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        siftDown(0)
        return top
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1
            guard l < items.count else { break }
            var best = l
            if l + 1 < items.count && PairHeap.before(items[l + 1], items[l]) { best = l + 1 }
            guard PairHeap.before(items[best], items[i]) else { break }
            items.swapAt(i, best)
            i = best
        }
    }
}
