/// The fast path for alternatives that are a plain sequence of repeated sets
/// (`[^\r\n\p{L}\p{N}]?\p{L}+`, `\s+(?!\S)`, `\p{N}{1,3}`): what almost every
/// alternative of a published pattern is. They run in one tight loop that
/// backtracks over the greedy runs' ends, instead of through the program's
/// instructions (the interpreter's dispatch measured a third of its time).
/// A trailing `(?i:'s|'t|...)?` group of literals is taken here too.
struct LinearAlternative: Sendable {
    enum Kind: UInt8, Sendable { case greedy, possessive, notFollowedBy, followedBy, assertion }

    struct Item: Sendable {
        var kind: Kind
        var set: Int32
        var minimum: Int
        var maximum: Int
    }

    var items: [Item]
    /// Literal alternatives tried, in order, after the items (an optional group): each a list of sets.
    var trailing: [[Int32]]
    /// The union of the trailing literals' first sets (-1: no trailing group).
    var trailingFirst: Int32 = -1

    /// The linear form of `node`, if it has one.
    static func make(_ node: PatternNode, _ compiler: inout PatternCompiler) -> LinearAlternative? {
        let parts: [PatternNode]
        if case .sequence(let items) = node { parts = items } else { parts = [node] }
        var items: [Item] = []
        var trailing: [[Int32]] = []
        for (k, part) in parts.enumerated() {
            switch part {
            case .scalar(let expr, let ignoreCase):
                items.append(Item(kind: .possessive, set: compiler.set(expr, ignoreCase: ignoreCase), minimum: 1, maximum: 1))
            case .repetition(.scalar(let expr, let ignoreCase), let minimum, let maximum, let kind) where kind != .lazy:
                items.append(Item(kind: kind == .greedy ? .greedy : .possessive, set: compiler.set(expr, ignoreCase: ignoreCase),
                                  minimum: minimum, maximum: maximum ?? Int.max))
            case .lookahead(.scalar(let expr, let ignoreCase), let negative):
                items.append(Item(kind: negative ? .notFollowedBy : .followedBy, set: compiler.set(expr, ignoreCase: ignoreCase),
                                  minimum: 0, maximum: 0))
            case .assertion(let a):
                items.append(Item(kind: .assertion, set: a.rawValue, minimum: 0, maximum: 0))
            case .repetition(.alternation(let branches), 0, 1, .greedy) where k == parts.count - 1:
                // A final optional group of literal sequences: the first that matches is taken.
                for branch in branches {
                    let literal: [PatternNode]
                    if case .sequence(let s) = branch { literal = s } else { literal = [branch] }
                    var sets: [Int32] = []
                    for item in literal {
                        guard case .scalar(let expr, let ignoreCase) = item else { return nil }
                        sets.append(compiler.set(expr, ignoreCase: ignoreCase))
                    }
                    trailing.append(sets)
                }
            default:
                return nil
            }
        }
        guard !items.isEmpty, items.count <= 16 else { return nil }
        // A greedy run gives nothing back when what follows cannot use it:
        // at the end (the trailing group never fails), or before a run of at
        // least one scalar from a disjoint set. It runs possessively then.
        for k in items.indices where items[k].kind == .greedy {
            if k == items.count - 1 {
                items[k].kind = .possessive
            } else if items[k + 1].kind == .greedy || items[k + 1].kind == .possessive, items[k + 1].minimum >= 1,
                      compiler.sets[Int(items[k].set)].isDisjoint(with: compiler.sets[Int(items[k + 1].set)]) {
                items[k].kind = .possessive
            }
        }
        var linear = LinearAlternative(items: items, trailing: trailing)
        if !trailing.isEmpty {
            var union = ScalarSet()
            for literal in trailing where !literal.isEmpty { union = union.filterUnion(compiler.sets[Int(literal[0])]) }
            compiler.sets.append(union)
            linear.trailingFirst = Int32(compiler.sets.count - 1)
        }
        return linear
    }
}

extension PatternTables {
    /// The end of alternative `k`'s linear form matched at `start`, or -1.
    ///
    /// - Complexity: O(n) per greedy run it backtracks over, as the program would.
    func matchLinear(_ alternative: Int, _ text: UnsafeBufferPointer<UInt8>, at start: Int) -> Int {
        let n = text.count
        let (offset, count, literalOffset, literalCount) = linearRanges[alternative]
        // Unchecked below: item, set and literal indices were made by the compiler from these tables.
        let items = UnsafePointer(self.items.baseAddress! + Int(offset))
        let sets = UnsafePointer(self.sets.baseAddress!), pool = UnsafePointer(self.pool.baseAddress!)
        let itemCount = Int(count)
        // Per item: how far its run may shrink, and where it ends now (16 items at most).
        return withUnsafeTemporaryAllocation(of: (Int, Int).self, capacity: 16) { state in
            var k = 0, pos = start
            while true {
                if k == itemCount {
                    return literalCount == 0 ? pos : trailingEnd(alternative, Int(literalOffset), Int(literalCount), text, pos)
                }
                let item = items[k]
                var ok = true
                switch item.kind {
                case .greedy, .possessive:
                    let set = sets[Int(item.set)]
                    var count = 0, minimumEnd = pos
                    while count < item.maximum && pos < n {
                        let b = text[pos]
                        if b < 0x80 {
                            // ASCII: one bit test, no decoding (b < 128: the shift is below 64 in either half).
                            guard (b < 64 ? set.asciiLow >> UInt64(b) : set.asciiHigh >> UInt64(b - 64)) & 1 != 0 else { break }
                            pos += 1
                        } else {
                            let s = text.multiByteScalar(at: pos, lead: b)
                            guard set.contains(s, pool) else { break }
                            pos += s.length
                        }
                        count += 1
                        if count == item.minimum { minimumEnd = pos }
                    }
                    if count < item.minimum {
                        ok = false
                    } else {
                        // k < itemCount <= 16: inside the allocation.
                        state[k] = item.kind == .greedy ? (minimumEnd, pos) : (pos, pos)
                    }
                case .notFollowedBy, .followedBy:
                    let inSet = pos < n && sets[Int(item.set)].contains(text.scalar(at: pos), pool)
                    ok = inSet == (item.kind == .followedBy)
                    state[k] = (pos, pos)
                case .assertion:
                    ok = CompiledPattern.assertion(item.set, text, pos)
                    state[k] = (pos, pos)
                }
                if ok { k += 1; continue }
                // Backtrack: the newest greedy run that can give back a scalar.
                while true {
                    k -= 1
                    if k < 0 { return -1 }
                    let (low, end) = state[k]
                    if end > low {
                        let q = CompiledPattern.previousBoundary(text, end, lower: low)
                        state[k] = (low, q)
                        pos = q
                        k += 1
                        break
                    }
                }
            }
        }
    }

    /// The end after a trailing literal group: its first literal that matches at `pos`, else `pos`.
    @inline(__always)
    func trailingEnd(_ k: Int, _ offset: Int, _ count: Int, _ text: UnsafeBufferPointer<UInt8>, _ pos: Int) -> Int {
        // One test first: most words are followed by nothing the group can start with.
        guard pos < text.count, sets[Int(trailingFirsts[k])].contains(text.scalar(at: pos), UnsafePointer(pool.baseAddress!)) else {
            return pos
        }
        for l in offset ..< offset + count {
            let (start, length) = literals[l]
            var p = pos, ok = true
            for j in Int(start) ..< Int(start + length) {
                guard p < text.count else { ok = false; break }
                let s = text.scalar(at: p)
                guard sets[Int(literalSets[j])].contains(s, UnsafePointer(pool.baseAddress!)) else { ok = false; break }
                p += s.length
            }
            if ok { return p }
        }
        return pos
    }
}

/// Everything the matcher reads, in memory of its own that lives as long as
/// the pattern: raw pointers, so that the hot loops neither retain nor check
/// exclusive access. Written once, at compile time; read-only afterwards.
final class PatternTables: @unchecked Sendable {
    let program: UnsafeMutableBufferPointer<CompiledPattern.Instruction>
    let sets: UnsafeMutableBufferPointer<CompiledPattern.FlatSet>
    /// Never empty (a set's bitmap is read only when it has one).
    let pool: UnsafeMutableBufferPointer<UInt64>
    let startByASCII: UnsafeMutableBufferPointer<UInt64>
    let startByClass: UnsafeMutableBufferPointer<UInt64>
    /// Per alternative: program start, `X?` prefix set and the first set after it (-1: none).
    let starts: UnsafeMutableBufferPointer<Int32>
    let prefixes: UnsafeMutableBufferPointer<Int32>
    let afterPrefixes: UnsafeMutableBufferPointer<Int32>
    /// Per alternative: its linear items as (offset, count) into `items` (count 0: none),
    /// and its trailing literals as (offset, count) into `literals`.
    let linearRanges: UnsafeMutableBufferPointer<(Int32, Int32, Int32, Int32)>
    let items: UnsafeMutableBufferPointer<LinearAlternative.Item>
    /// Each trailing literal as (offset, count) into `literalSets`.
    let literals: UnsafeMutableBufferPointer<(Int32, Int32)>
    let literalSets: UnsafeMutableBufferPointer<Int32>
    /// Per alternative: the first set of its trailing literals (-1: none).
    let trailingFirsts: UnsafeMutableBufferPointer<Int32>
    let alternativeCount: Int
    let alwaysNonASCII: UInt64
    let nullable: UInt64
    let registerCount: Int

    static func copy<T>(_ a: [T]) -> UnsafeMutableBufferPointer<T> {
        let p = UnsafeMutableBufferPointer<T>.allocate(capacity: max(a.count, 1))
        _ = p.initialize(from: a)
        return p
    }

    init(program: [CompiledPattern.Instruction], sets: [CompiledPattern.FlatSet], pool: [UInt64],
         startByASCII: [UInt64], startByClass: [UInt64], alternatives: [CompiledPattern.Alternative],
         alwaysNonASCII: UInt64, nullable: UInt64, registerCount: Int) {
        self.program = PatternTables.copy(program)
        self.sets = PatternTables.copy(sets)
        self.pool = PatternTables.copy(pool.isEmpty ? [0] : pool)
        self.startByASCII = PatternTables.copy(startByASCII)
        self.startByClass = PatternTables.copy(startByClass)
        starts = PatternTables.copy(alternatives.map(\.start))
        prefixes = PatternTables.copy(alternatives.map(\.prefix))
        afterPrefixes = PatternTables.copy(alternatives.map(\.afterPrefix))
        var ranges: [(Int32, Int32, Int32, Int32)] = []
        var allItems: [LinearAlternative.Item] = [], allLiterals: [(Int32, Int32)] = [], allSets: [Int32] = []
        for a in alternatives {
            guard let linear = a.linear else { ranges.append((0, 0, 0, 0)); continue }
            ranges.append((Int32(allItems.count), Int32(linear.items.count), Int32(allLiterals.count), Int32(linear.trailing.count)))
            allItems += linear.items
            for literal in linear.trailing {
                allLiterals.append((Int32(allSets.count), Int32(literal.count)))
                allSets += literal
            }
        }
        linearRanges = PatternTables.copy(ranges)
        trailingFirsts = PatternTables.copy(alternatives.map { $0.linear?.trailingFirst ?? -1 })
        items = PatternTables.copy(allItems)
        literals = PatternTables.copy(allLiterals)
        literalSets = PatternTables.copy(allSets)
        alternativeCount = alternatives.count
        self.alwaysNonASCII = alwaysNonASCII
        self.nullable = nullable
        self.registerCount = registerCount
    }

    deinit {
        program.deallocate(); sets.deallocate(); pool.deallocate(); startByASCII.deallocate(); startByClass.deallocate()
        starts.deallocate(); prefixes.deallocate(); afterPrefixes.deallocate(); linearRanges.deallocate()
        items.deallocate(); literals.deallocate(); literalSets.deallocate(); trailingFirsts.deallocate()
    }
}
