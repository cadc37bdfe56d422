/// A split pattern compiled to a small backtracking program over bytes, with
/// Oniguruma's semantics (what HuggingFace `tokenizers` runs): leftmost-first
/// alternation, greedy, lazy and possessive repetition, atomic groups and
/// lookahead. Code points are classified through the same table as the
/// hand-written rules; no regex engine runs.
///
/// Performance notes (one core, o200k's regex compiled, the first 10 MB of the
/// peers benchmark's mixed text; the hand-written matcher runs it at 260-280 MB/s):
/// - A plain interpreter of this program: 18 MB/s. Sets as plain words in one
///   table and a frame stack of raw memory (no retain, no exclusivity check
///   per access): 44.
/// - Each top-level alternative tried only where the scalar can start it
///   (masks per ASCII byte and per class byte): 64. A guard on each inner
///   branch's first scalar: 64-70. For `X?Y...`, skipping the alternative
///   when neither this scalar nor the next can start Y: 70.
/// - Alternatives that are a plain sequence of repeated sets (nearly all of
///   every published pattern) in one loop that backtracks over run ends
///   (`CompiledPattern+Linear.swift`), with one test before a trailing
///   `(?i:'s|'t|...)?`: 83. The Isolated split calling it without the general
///   split's closures: 96. ASCII bytes tested without decoding: 99 (0.38 of
///   the hand-written matcher; 0.29-0.49 over patterns and domains, docs/performance.md).
/// - Left: about 40 ns per piece against 11. 1.14 alternatives are tried per
///   piece, so sharper filters cannot help; code specialized per pattern could.
public struct CompiledPattern: Sendable, Hashable {
    /// The pattern as written.
    public let source: String
    /// The program, its sets and the alternatives' filters, as the matcher reads them.
    let tables: PatternTables

    public static func == (a: CompiledPattern, b: CompiledPattern) -> Bool { a.source == b.source }
    public func hash(into hasher: inout Hasher) { hasher.combine(source) }

    /// Compiles `pattern`.
    ///
    /// - Throws: ``PatternError`` naming a construct outside the subset, or a syntax error.
    public init(_ pattern: String) throws {
        let node = try PatternParser.parse(pattern)
        var compiler = PatternCompiler(pattern: pattern)
        let branches: [PatternNode]
        if case .alternation(let items) = node { branches = items } else { branches = [node] }
        var alternatives: [Alternative] = []
        for branch in branches {
            let start = Int32(compiler.program.count)
            try compiler.emit(branch)
            compiler.program.append(Instruction(.match))
            let first = try compiler.firstSet(branch)
            // `X?Y...`: the alternative needs a scalar of Y's first set here or right after one of X.
            var prefix: Int32 = -1, afterPrefix: Int32 = -1
            if case .sequence(let items) = branch, items.count >= 2,
               case .repetition(.scalar(let expr, let ignoreCase), 0, 1, let kind) = items[0], kind != .lazy {
                let rest = try compiler.firstSet(.sequence(Array(items.dropFirst())))
                if !rest.nullable {
                    prefix = compiler.set(expr, ignoreCase: ignoreCase)
                    compiler.sets.append(rest.set)
                    afterPrefix = Int32(compiler.sets.count - 1)
                }
            }
            let linear = LinearAlternative.make(branch, &compiler)
            alternatives.append(Alternative(start: start, first: first.set, nullable: first.nullable,
                                            prefix: prefix, afterPrefix: afterPrefix, linear: linear))
        }
        guard compiler.program.count <= PatternCompiler.maxInstructions else {
            throw PatternError(pattern: pattern, offset: 0, reason: "pattern too large once its repetitions are expanded")
        }
        guard alternatives.count <= 64 else {
            throw PatternError(pattern: pattern, offset: 0, reason: "more than 64 top-level alternatives")
        }
        self.source = pattern
        // The sets as plain words (no references: reading one costs no retain), their bitmaps in one pool.
        var pool: [UInt64] = []
        let flatSets = compiler.sets.map { set in
            var flat = FlatSet(asciiLow: set.asciiLow, asciiHigh: set.asciiHigh, byClass: set.byClass, bitsOffset: -1)
            if !set.bits.isEmpty {
                flat.bitsOffset = pool.count
                pool += set.bits
            }
            return flat
        }
        // Which alternatives (bit k: alternative k) can start with each ASCII byte, and with a code
        // point of each class byte (category | White_Space << 5); those to try at any non-ASCII code
        // point (a bitmap first set) and anywhere (nullable).
        var ascii = [UInt64](repeating: 0, count: 128), byClass = [UInt64](repeating: 0, count: 64)
        var always: UInt64 = 0, nullable: UInt64 = 0
        for (k, alternative) in alternatives.enumerated() {
            let bit = UInt64(1) << UInt64(k)
            if alternative.nullable { nullable |= bit }
            for b in 0 ..< 128 where alternative.first.contains(Scalar(value: UInt32(b), length: 1)) { ascii[b] |= bit }
            if !alternative.first.bits.isEmpty {
                always |= bit
            } else {
                for c in 0 ..< 64 where alternative.first.byClass >> UInt64(c) & 1 != 0 { byClass[c] |= bit }
            }
        }
        tables = PatternTables(program: compiler.program, sets: flatSets, pool: pool, startByASCII: ascii, startByClass: byClass,
                               alternatives: alternatives, alwaysNonASCII: always, nullable: nullable,
                               registerCount: compiler.registers)
    }

    /// A ``ScalarSet`` without references.
    struct FlatSet: Sendable {
        var asciiLow: UInt64
        var asciiHigh: UInt64
        var byClass: UInt64
        var bitsOffset: Int

        @inline(__always)
        func contains(_ s: Scalar, _ pool: UnsafePointer<UInt64>) -> Bool {
            let v = s.value
            if v < 0x80 {
                // v < 128: the shift is below 64 in either half.
                return (v < 64 ? asciiLow >> UInt64(v) : asciiHigh >> UInt64(v - 64)) & 1 != 0
            }
            if bitsOffset < 0 {
                let c = s.classByte
                return byClass >> UInt64((c & 0x1F) | (c >> 7) << 5) & 1 != 0
            }
            // v <= 0x10FFFF, so the word is inside this set's 0x110000-bit map.
            return pool[bitsOffset + Int(v >> 6)] >> UInt64(v & 63) & 1 != 0
        }
    }

    @usableFromInline
    struct Alternative: Sendable {
        @usableFromInline let start: Int32
        @usableFromInline let first: ScalarSet
        @usableFromInline let nullable: Bool
        /// For `X?Y...`: X's set and Y's first set (-1: none).
        let prefix: Int32
        let afterPrefix: Int32
        /// The alternative as a plain sequence of runs, when it is one.
        let linear: LinearAlternative?
    }

    @usableFromInline
    enum Op: UInt8, Sendable {
        /// One scalar in set `a`.
        case scalar
        /// Set `a` repeated `b...c` times (`c` < 0: no limit), greedy / lazy / possessive.
        case runGreedy, runLazy, runPossessive
        /// Go on at `a`; on failure, at `b`.
        case split
        case jump
        case atomicBegin, atomicEnd
        /// Lookahead: `a` = 1 when negative, `b` = the instruction after its end.
        case lookBegin, lookEnd
        /// An ``Assertion`` (`a`).
        case assert
        /// Loop iteration start: register `a` = position.
        case loopMark
        /// When the iteration matched nothing, leave the loop for `b`.
        case loopCheck
        /// When no match of what follows can start here (the scalar is not in
        /// set `a`, or the text ended), go on at `b` (-1: fail) without trying.
        case guardFirst
        case match
    }

    @usableFromInline
    struct Instruction: Sendable {
        @usableFromInline var op: Op
        @usableFromInline var a: Int32
        @usableFromInline var b: Int32
        @usableFromInline var c: Int32

        init(_ op: Op, _ a: Int32 = 0, _ b: Int32 = 0, _ c: Int32 = 0) {
            self.op = op; self.a = a; self.b = b; self.c = c
        }
    }

    /// A backtracking entry.
    @usableFromInline
    struct Frame {
        @usableFromInline var kind: Int32
        @usableFromInline var pc: Int32
        @usableFromInline var pos: Int
        @usableFromInline var aux: Int

        @inlinable init(_ kind: Int32, _ pc: Int32, _ pos: Int, _ aux: Int) {
            self.kind = kind; self.pc = pc; self.pos = pos; self.aux = aux
        }
    }

    /// Frame kinds.
    @usableFromInline static let altFrame: Int32 = 0, greedyFrame: Int32 = 1, lazyFrame: Int32 = 2,
        atomicFrame: Int32 = 3, lookFrame: Int32 = 4, registerFrame: Int32 = 5
}

// MARK: - Matching

extension CompiledPattern {
    /// Working memory for matching, reused across the positions of one text:
    /// the backtracking stack (grown by doubling) and the loop registers. A
    /// struct passed `inout`, so that no access to it is checked at run time.
    struct Machine {
        var frames: UnsafeMutablePointer<Frame>
        var capacity: Int
        var count = 0
        var registers: UnsafeMutablePointer<Int>

        init(registers: Int) {
            capacity = 256
            frames = .allocate(capacity: capacity)
            self.registers = .allocate(capacity: max(registers, 1))
            self.registers.initialize(repeating: -1, count: max(registers, 1))
        }

        func deallocate() {
            frames.deallocate()
            registers.deallocate()
        }

        @inline(__always)
        mutating func push(_ f: Frame) {
            if count == capacity { grow() }
            // count < capacity after grow.
            frames[count] = f
            count += 1
        }

        mutating func grow() {
            let bigger = UnsafeMutablePointer<Frame>.allocate(capacity: capacity * 2)
            bigger.moveInitialize(from: frames, count: count)
            frames.deallocate()
            frames = bigger
            capacity *= 2
        }

        @inline(__always)
        mutating func pop() -> Frame? {
            guard count > 0 else { return nil }
            count -= 1
            return frames[count]
        }
    }

    /// Calls `body` with each match and each stretch between matches, in order,
    /// as Oniguruma's search loop finds them (an empty match right after a
    /// match is skipped, and after an empty match the search resumes one
    /// scalar on). Empty stretches are not reported; empty matches are.
    @usableFromInline
    func forEachSegment(_ text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>, _ isMatch: Bool) -> Void) {
        let tables = self.tables
        var machine = Machine(registers: tables.registerCount)
        defer { machine.deallocate() }
        let n = text.count
        var searchFrom = 0, previous = 0
        var lastMatchEnd = -1
        while searchFrom <= n {
            // Leftmost match at or after searchFrom.
            var start = searchFrom, end = -1
            while start <= n {
                end = tables.match(text, at: start, machine: &machine)
                if end >= 0 { break }
                if start == n { break }
                start += text.scalar(at: start).length
            }
            if end < 0 { break }
            if start == end {
                searchFrom = end < n ? end + text.scalar(at: end).length : n + 1
                if end == lastMatchEnd { continue }
            } else {
                searchFrom = end
            }
            lastMatchEnd = end
            if previous < start { body(previous ..< start, false) }
            body(start ..< end, true)
            previous = end
        }
        if previous < n { body(previous ..< n, false) }
    }

    /// The previous scalar boundary before `p`, no lower than `lower` (itself
    /// a boundary): a valid sequence ending at `p` if one does, else one byte,
    /// which is how forward decoding cut the text (lead bytes are never
    /// continuation bytes, so a valid sequence cannot hide inside another).
    @inlinable @inline(__always)
    static func previousBoundary(_ text: UnsafeBufferPointer<UInt8>, _ p: Int, lower: Int) -> Int {
        if text[p - 1] < 0x80 { return p - 1 }
        var k = 2
        while k <= 4 && p - k >= lower {
            let b = text[p - k]
            if b & 0xC0 != 0x80 {
                return text.scalar(at: p - k).length == k ? p - k : p - 1
            }
            k += 1
        }
        return p - 1
    }

    static func assertion(_ kind: Int32, _ text: UnsafeBufferPointer<UInt8>, _ pos: Int) -> Bool {
        let n = text.count
        switch Assertion(rawValue: kind)! {
        case .lineStart: return pos == 0 || text[pos - 1] == 0x0A
        case .lineEnd: return pos == n || text[pos] == 0x0A
        case .textStart: return pos == 0
        case .textEnd: return pos == n
        case .textEndOrFinalNewline: return pos == n || (pos == n - 1 && text[pos] == 0x0A)
        case .wordBoundary, .notWordBoundary:
            let word = CompiledPattern.wordSet
            @inline(__always) func isWord(_ s: Scalar) -> Bool { word.contains(s) }
            let before = pos > 0 && isWord(text.scalar(at: CompiledPattern.previousBoundary(text, pos, lower: 0)))
            let after = pos < n && isWord(text.scalar(at: pos))
            return (before != after) == (kind == Assertion.wordBoundary.rawValue)
        }
    }
}

extension CompiledPattern {
    /// `\w`, for `\b` and `\B`.
    static let wordSet = ScalarSet(ClassExpr.word, ignoreCase: false)
}

extension PatternTables {
    func match(_ text: UnsafeBufferPointer<UInt8>, at i: Int, machine: inout CompiledPattern.Machine) -> Int {
        var candidates: UInt64
        if i < text.count {
            let b = text[i]
            if b < 0x80 {
                candidates = startByASCII[Int(b)]
            } else {
                let c = text.scalar(at: i).classByte
                candidates = startByClass[Int((c & 0x1F) | (c >> 7) << 5)] | alwaysNonASCII
            }
        } else {
            candidates = nullable
        }
        candidates |= nullable
        while candidates != 0 {
            let k = candidates.trailingZeroBitCount
            candidates &= candidates - 1
            // k < alternativeCount: candidate bits are only ever set for alternatives.
            if afterPrefixes[k] >= 0 && !canStart(k, text, i) { continue }
            let end = linearRanges[k].1 > 0 ? matchLinear(k, text, at: i)
                : run(text, from: starts[k], at: i, machine: &machine)
            if end >= 0 { return end }
        }
        return -1
    }

    /// For `X?Y...` at `i` (< count): whether Y can start at `i`, or after a scalar of X there.
    @inline(__always)
    func canStart(_ k: Int, _ text: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        let pool = UnsafePointer(self.pool.baseAddress!)
        let s0 = text.scalar(at: i)
        let after = sets[Int(afterPrefixes[k])]
        if after.contains(s0, pool) { return true }
        guard sets[Int(prefixes[k])].contains(s0, pool), i + s0.length < text.count else { return false }
        return after.contains(text.scalar(at: i + s0.length), pool)
    }

    /// Runs the program from `pc` at `start`: the end of the match, or -1.
    func run(_ text: UnsafeBufferPointer<UInt8>, from pc0: Int32, at start: Int, machine: inout CompiledPattern.Machine) -> Int {
        let n = text.count
        var pc = Int(pc0), pos = start
        machine.count = 0
        // Unchecked: every pc is an instruction index (the compiler ends each
        // alternative with `match` and patches every jump inside the program),
        // and every set index names a set it made.
        let program = UnsafePointer(self.program.baseAddress!), sets = UnsafePointer(self.sets.baseAddress!)
        let pool = UnsafePointer(self.pool.baseAddress!)
        do {
            while true {
                var failed = false
                let instruction = program[pc]
                switch instruction.op {
                case .scalar:
                    if pos < n {
                        let s = text.scalar(at: pos)
                        if sets[Int(instruction.a)].contains(s, pool) { pos += s.length; pc += 1 } else { failed = true }
                    } else { failed = true }
                case .runGreedy, .runPossessive:
                    let set = sets[Int(instruction.a)]
                    let minimum = Int(instruction.b), maximum = instruction.c < 0 ? Int.max : Int(instruction.c)
                    var count = 0, minimumEnd = pos
                    while count < maximum && pos < n {
                        let s = text.scalar(at: pos)
                        guard set.contains(s, pool) else { break }
                        pos += s.length
                        count += 1
                        if count == minimum { minimumEnd = pos }
                    }
                    if count < minimum {
                        failed = true
                    } else {
                        if instruction.op == .runGreedy && pos > minimumEnd {
                            machine.push(CompiledPattern.Frame(CompiledPattern.greedyFrame, Int32(pc + 1), pos, minimumEnd))
                        }
                        pc += 1
                    }
                case .runLazy:
                    let set = sets[Int(instruction.a)]
                    let minimum = Int(instruction.b)
                    var count = 0
                    while count < minimum && pos < n {
                        let s = text.scalar(at: pos)
                        guard set.contains(s, pool) else { break }
                        pos += s.length
                        count += 1
                    }
                    if count < minimum {
                        failed = true
                    } else {
                        if instruction.c < 0 || count < Int(instruction.c) {
                            machine.push(CompiledPattern.Frame(CompiledPattern.lazyFrame, Int32(pc), pos, count))
                        }
                        pc += 1
                    }
                case .split:
                    machine.push(CompiledPattern.Frame(CompiledPattern.altFrame, instruction.b, pos, 0))
                    pc = Int(instruction.a)
                case .jump:
                    pc = Int(instruction.a)
                case .atomicBegin:
                    machine.push(CompiledPattern.Frame(CompiledPattern.atomicFrame, 0, pos, 0))
                    pc += 1
                case .atomicEnd:
                    while let f = machine.pop(), f.kind != CompiledPattern.atomicFrame {}
                    pc += 1
                case .lookBegin:
                    machine.push(CompiledPattern.Frame(CompiledPattern.lookFrame, Int32(pc), pos, 0))
                    pc += 1
                case .lookEnd:
                    var frame = CompiledPattern.Frame(0, 0, 0, 0)
                    while let f = machine.pop() {
                        if f.kind == CompiledPattern.lookFrame { frame = f; break }
                    }
                    pos = frame.pos
                    if program[Int(frame.pc)].a == 1 { failed = true } else { pc += 1 }
                case .assert:
                    if CompiledPattern.assertion(instruction.a, text, pos) { pc += 1 } else { failed = true }
                case .loopMark:
                    let r = Int(instruction.a)
                    machine.push(CompiledPattern.Frame(CompiledPattern.registerFrame, instruction.a, machine.registers[r], 0))
                    machine.registers[r] = pos
                    pc += 1
                case .guardFirst:
                    if pos < n && sets[Int(instruction.a)].contains(text.scalar(at: pos), pool) {
                        pc += 1
                    } else if instruction.b >= 0 {
                        pc = Int(instruction.b)
                    } else {
                        failed = true
                    }
                case .loopCheck:
                    pc = pos == machine.registers[Int(instruction.a)] ? Int(instruction.b) : pc + 1
                case .match:
                    return pos
                }
                guard failed else { continue }
                // Backtrack to the newest choice left.
                var resumed = false
                while !resumed, let f = machine.pop() {
                    switch f.kind {
                    case CompiledPattern.altFrame:
                        pc = Int(f.pc); pos = f.pos; resumed = true
                    case CompiledPattern.greedyFrame:
                        // f.pos > f.aux: one scalar back, no lower than the minimum's end.
                        let q = CompiledPattern.previousBoundary(text, f.pos, lower: f.aux)
                        if q > f.aux { machine.push(CompiledPattern.Frame(f.kind, f.pc, q, f.aux)) }
                        pc = Int(f.pc); pos = q; resumed = true
                    case CompiledPattern.lazyFrame:
                        let instruction = program[Int(f.pc)]
                        if f.pos < n {
                            let s = text.scalar(at: f.pos)
                            if sets[Int(instruction.a)].contains(s, pool) {
                                let count = f.aux + 1
                                if instruction.c < 0 || count < Int(instruction.c) {
                                    machine.push(CompiledPattern.Frame(f.kind, f.pc, f.pos + s.length, count))
                                }
                                pc = Int(f.pc) + 1; pos = f.pos + s.length; resumed = true
                            }
                        }
                    case CompiledPattern.lookFrame:
                        // The lookahead's body failed: a negative one succeeds.
                        let begin = program[Int(f.pc)]
                        if begin.a == 1 { pc = Int(begin.b); pos = f.pos; resumed = true }
                    case CompiledPattern.registerFrame:
                        machine.registers[Int(f.pc)] = f.pos
                    default:
                        break
                    }
                }
                if !resumed { return -1 }
            }
        }
    }
}

// MARK: - Compiling

struct PatternCompiler {
    static let maxInstructions = 50_000
    let pattern: String
    var program: [CompiledPattern.Instruction] = []
    var sets: [ScalarSet] = []
    var setIndex: [ScalarSetKey: Int32] = [:]
    var registers = 0

    struct ScalarSetKey: Hashable {
        var expr: ClassExpr
        var ignoreCase: Bool
    }

    init(pattern: String) { self.pattern = pattern }

    func error(_ reason: String) -> PatternError { PatternError(pattern: pattern, offset: 0, reason: reason) }

    mutating func set(_ expr: ClassExpr, ignoreCase: Bool) -> Int32 {
        let key = ScalarSetKey(expr: expr, ignoreCase: ignoreCase && expr.hasCasedMembersPossibly)
        if let i = setIndex[key] { return i }
        sets.append(ScalarSet(expr, ignoreCase: key.ignoreCase))
        setIndex[key] = Int32(sets.count - 1)
        return Int32(sets.count - 1)
    }

    mutating func emit(_ node: PatternNode) throws {
        guard program.count <= PatternCompiler.maxInstructions else {
            throw error("pattern too large once its repetitions are expanded")
        }
        typealias I = CompiledPattern.Instruction
        switch node {
        case .empty:
            break
        case .scalar(let expr, let ignoreCase):
            program.append(I(.scalar, set(expr, ignoreCase: ignoreCase)))
        case .sequence(let items):
            try checkMultiScalarFolds(items)
            for item in items { try emit(item) }
        case .alternation(let branches):
            // split L1, next; L1: b0; jump end; next: split L2, next2; ...
            // Each branch behind a guard on its first scalar: a branch that
            // cannot start here is skipped without a backtracking entry.
            var jumps: [Int] = []
            for (k, branch) in branches.enumerated() {
                let guardAt = try emitGuard(branch, otherwise: -1)
                if k < branches.count - 1 {
                    let split = program.count
                    program.append(I(.split, Int32(split + 1), 0))
                    try emit(branch)
                    jumps.append(program.count)
                    program.append(I(.jump))
                    program[split].b = Int32(program.count)
                    if let guardAt { program[guardAt].b = Int32(program.count) }
                } else {
                    try emit(branch)
                }
            }
            for j in jumps { program[j].a = Int32(program.count) }
        case .repetition(let inner, let minimum, let maximum, let kind):
            if case .scalar(let expr, let ignoreCase) = inner {
                let op: CompiledPattern.Op = kind == .greedy ? .runGreedy : kind == .lazy ? .runLazy : .runPossessive
                program.append(I(op, set(expr, ignoreCase: ignoreCase), Int32(minimum), Int32(maximum ?? -1)))
                return
            }
            if kind == .possessive {
                program.append(I(.atomicBegin))
                try emit(.repetition(inner, min: minimum, max: maximum, kind: .greedy))
                program.append(I(.atomicEnd))
                return
            }
            for _ in 0 ..< minimum { try emit(inner) }
            if let maximum {
                // Optional copies, nested: (?:X(?:X)?)?
                var exits: [Int] = []
                var guards: [Int] = []
                for _ in minimum ..< maximum {
                    if kind == .greedy, let g = try emitGuard(inner, otherwise: 0) { guards.append(g) }
                    let split = program.count
                    program.append(I(.split))
                    exits.append(split)
                    program[split].a = Int32(program.count)
                    try emit(inner)
                }
                for g in guards { program[g].b = Int32(program.count) }
                for s in exits {
                    if kind == .lazy {
                        program[s].b = program[s].a
                        program[s].a = Int32(program.count)
                    } else {
                        program[s].b = Int32(program.count)
                    }
                }
            } else {
                // L: split body, exit; body: mark r; X; check r -> exit; jump L
                let register = Int32(registers)
                registers += 1
                let guardAt = kind == .greedy ? try emitGuard(inner, otherwise: 0) : nil
                let loop = program.count
                program.append(I(.split))
                let body = program.count
                program.append(I(.loopMark, register))
                try emit(inner)
                let check = program.count
                program.append(I(.loopCheck, register))
                program.append(I(.jump, Int32(loop)))
                let exit = Int32(program.count)
                program[check].b = exit
                if let guardAt { program[guardAt].b = exit }
                if kind == .lazy {
                    program[loop].a = exit; program[loop].b = Int32(body)
                } else {
                    program[loop].a = Int32(body); program[loop].b = exit
                }
            }
        case .atomic(let inner):
            program.append(I(.atomicBegin))
            try emit(inner)
            program.append(I(.atomicEnd))
        case .lookahead(let inner, let negative):
            let begin = program.count
            program.append(I(.lookBegin, negative ? 1 : 0))
            try emit(inner)
            program.append(I(.lookEnd))
            program[begin].b = Int32(program.count)
        case .assertion(let a):
            program.append(I(.assert, a.rawValue))
        }
    }

    /// A guard before `node` when it cannot match empty: where its first scalar
    /// cannot start it, go to `otherwise` (patched by the caller; -1: fail).
    /// Returns the guard's index.
    mutating func emitGuard(_ node: PatternNode, otherwise: Int32) throws -> Int? {
        let first = try firstSet(node)
        guard !first.nullable else { return nil }
        sets.append(first.set)
        program.append(CompiledPattern.Instruction(.guardFirst, Int32(sets.count - 1), otherwise))
        return program.count - 1
    }

    /// Under `(?i)`, Oniguruma lets one code point match a sequence it folds
    /// to (`ß` for `ss`); tok does not, so such a sequence is refused.
    func checkMultiScalarFolds(_ items: [PatternNode]) throws {
        var run: [UInt32] = []
        func flush() throws {
            defer { run = [] }
            guard run.count >= 2 else { return }
            let folded = run.map { UInt32(bitPattern: tok_icu_fold_case($0)) }
            for (cp, fold) in CaseFolding.multiScalarFolds where fold.count <= folded.count {
                for k in 0 ... folded.count - fold.count where Array(folded[k ..< k + fold.count]) == fold {
                    throw error("unsupported construct: case-insensitive literal matching the multi-character folding of U+\(String(cp, radix: 16, uppercase: true))")
                }
            }
        }
        for item in items {
            if case .scalar(.range(let lo, let hi), ignoreCase: true) = item, lo == hi {
                run.append(lo)
            } else {
                try flush()
            }
        }
        try flush()
    }

    /// The scalars a match of `node` can start with, and whether it can match empty.
    mutating func firstSet(_ node: PatternNode) throws -> (set: ScalarSet, nullable: Bool) {
        switch node {
        case .empty, .assertion, .lookahead:
            return (ScalarSet(), true)
        case .scalar(let expr, let ignoreCase):
            return (sets[Int(set(expr, ignoreCase: ignoreCase))], false)
        case .sequence(let items):
            var union = ScalarSet()
            for item in items {
                let f = try firstSet(item)
                union = union.filterUnion(f.set)
                if !f.nullable { return (union, false) }
            }
            return (union, true)
        case .alternation(let branches):
            var union = ScalarSet(), nullable = false
            for b in branches {
                let f = try firstSet(b)
                union = union.filterUnion(f.set)
                nullable = nullable || f.nullable
            }
            return (union, nullable)
        case .repetition(let inner, let minimum, _, _):
            let f = try firstSet(inner)
            return (f.set, f.nullable || minimum == 0)
        case .atomic(let inner):
            return try firstSet(inner)
        }
    }
}

extension ClassExpr {
    /// False only for sets case folding cannot change (digits, spaces, ranges of caseless code points).
    var hasCasedMembersPossibly: Bool {
        switch self {
        case .range(let lo, let hi):
            if hi < 0x80 { return (lo ... hi).contains { ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A } }
            return true
        case .whitespace: return false
        case .categories(let mask): return mask & ~(UInt32(1) << 9 | 1 << 12 | 1 << 13 | 1 << 14 | 1 << 15) != 0
        default: return true
        }
    }
}

import CTokICU

extension CompiledPattern {
    /// `literal` as a pattern that matches exactly it.
    public static func escaped(_ literal: String) -> String {
        var out = ""
        for scalar in literal.unicodeScalars {
            if "\\^$.|?*+()[]{}-&#/".unicodeScalars.contains(scalar) { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out
    }
}
