/// A split pattern compiled to a small backtracking program over bytes, with
/// Oniguruma's semantics (what HuggingFace `tokenizers` runs): leftmost-first
/// alternation, greedy, lazy and possessive repetition, atomic groups and
/// lookahead. Code points are classified through the same table as the
/// hand-written rules; no regex engine runs.
///
/// Speed comes from two things: each top-level alternative is tried only when
/// the scalar at the position can start it (its first-scalar filter), and a
/// repeated single set (`\p{L}+`, `[^\s]*`) is one instruction that scans its
/// run and, when the rest fails, gives back one scalar at a time.
public struct CompiledPattern: Sendable, Hashable {
    /// The pattern as written.
    public let source: String
    @usableFromInline let program: [Instruction]
    @usableFromInline let sets: [ScalarSet]
    @usableFromInline let alternatives: [Alternative]
    @usableFromInline let registerCount: Int

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
            alternatives.append(Alternative(start: start, first: first.set, nullable: first.nullable))
        }
        guard compiler.program.count <= PatternCompiler.maxInstructions else {
            throw PatternError(pattern: pattern, offset: 0, reason: "pattern too large once its repetitions are expanded")
        }
        self.source = pattern
        self.program = compiler.program
        self.sets = compiler.sets
        self.alternatives = alternatives
        self.registerCount = compiler.registers
    }

    @usableFromInline
    struct Alternative: Sendable {
        @usableFromInline let start: Int32
        @usableFromInline let first: ScalarSet
        @usableFromInline let nullable: Bool
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
    /// Working memory for matching, reused across the positions of one text.
    @usableFromInline
    struct Machine {
        @usableFromInline var stack: [Frame] = []
        @usableFromInline var registers: [Int]

        @inlinable init(registers: Int) { self.registers = [Int](repeating: -1, count: registers) }
    }

    /// The end of the leftmost-first match starting exactly at `i`, or -1.
    /// `text` is the whole segment: its ends are the pattern's `^ $ \A \z`.
    func match(_ text: UnsafeBufferPointer<UInt8>, at i: Int, machine: inout Machine) -> Int {
        let n = text.count
        if i < n {
            let s = text.scalar(at: i)
            for alternative in alternatives where alternative.nullable || alternative.first.contains(s) {
                let end = run(text, from: alternative.start, at: i, machine: &machine)
                if end >= 0 { return end }
            }
        } else {
            for alternative in alternatives where alternative.nullable {
                let end = run(text, from: alternative.start, at: i, machine: &machine)
                if end >= 0 { return end }
            }
        }
        return -1
    }

    /// Calls `body` with each match and each stretch between matches, in order,
    /// as Oniguruma's search loop finds them (an empty match right after a
    /// match is skipped, and after an empty match the search resumes one
    /// scalar on). Empty stretches are not reported; empty matches are.
    func forEachSegment(_ text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>, _ isMatch: Bool) -> Void) {
        var machine = Machine(registers: registerCount)
        let n = text.count
        var searchFrom = 0, previous = 0
        var lastMatchEnd = -1
        while searchFrom <= n {
            // Leftmost match at or after searchFrom.
            var start = searchFrom, end = -1
            while start <= n {
                end = match(text, at: start, machine: &machine)
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

    func assertion(_ kind: Int32, _ text: UnsafeBufferPointer<UInt8>, _ pos: Int) -> Bool {
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

    /// Runs the program from `pc` at `start`: the end of the match, or -1.
    func run(_ text: UnsafeBufferPointer<UInt8>, from pc0: Int32, at start: Int, machine: inout Machine) -> Int {
        let n = text.count
        var pc = Int(pc0), pos = start
        machine.stack.removeAll(keepingCapacity: true)
        return program.withUnsafeBufferPointer { program in
            while true {
                var failed = false
                let instruction = program[pc]
                switch instruction.op {
                case .scalar:
                    if pos < n {
                        let s = text.scalar(at: pos)
                        if sets[Int(instruction.a)].contains(s) { pos += s.length; pc += 1 } else { failed = true }
                    } else { failed = true }
                case .runGreedy, .runPossessive:
                    let set = sets[Int(instruction.a)]
                    let minimum = Int(instruction.b), maximum = instruction.c < 0 ? Int.max : Int(instruction.c)
                    var count = 0, minimumEnd = pos
                    while count < maximum && pos < n {
                        let s = text.scalar(at: pos)
                        guard set.contains(s) else { break }
                        pos += s.length
                        count += 1
                        if count == minimum { minimumEnd = pos }
                    }
                    if count < minimum {
                        failed = true
                    } else {
                        if instruction.op == .runGreedy && pos > minimumEnd {
                            machine.stack.append(Frame(CompiledPattern.greedyFrame, Int32(pc + 1), pos, minimumEnd))
                        }
                        pc += 1
                    }
                case .runLazy:
                    let set = sets[Int(instruction.a)]
                    let minimum = Int(instruction.b)
                    var count = 0
                    while count < minimum && pos < n {
                        let s = text.scalar(at: pos)
                        guard set.contains(s) else { break }
                        pos += s.length
                        count += 1
                    }
                    if count < minimum {
                        failed = true
                    } else {
                        if instruction.c < 0 || count < Int(instruction.c) {
                            machine.stack.append(Frame(CompiledPattern.lazyFrame, Int32(pc), pos, count))
                        }
                        pc += 1
                    }
                case .split:
                    machine.stack.append(Frame(CompiledPattern.altFrame, instruction.b, pos, 0))
                    pc = Int(instruction.a)
                case .jump:
                    pc = Int(instruction.a)
                case .atomicBegin:
                    machine.stack.append(Frame(CompiledPattern.atomicFrame, 0, pos, 0))
                    pc += 1
                case .atomicEnd:
                    while let f = machine.stack.popLast(), f.kind != CompiledPattern.atomicFrame {}
                    pc += 1
                case .lookBegin:
                    machine.stack.append(Frame(CompiledPattern.lookFrame, Int32(pc), pos, 0))
                    pc += 1
                case .lookEnd:
                    var frame = Frame(0, 0, 0, 0)
                    while let f = machine.stack.popLast() {
                        if f.kind == CompiledPattern.lookFrame { frame = f; break }
                    }
                    pos = frame.pos
                    if program[Int(frame.pc)].a == 1 { failed = true } else { pc += 1 }
                case .assert:
                    if assertion(instruction.a, text, pos) { pc += 1 } else { failed = true }
                case .loopMark:
                    let r = Int(instruction.a)
                    machine.stack.append(Frame(CompiledPattern.registerFrame, instruction.a, machine.registers[r], 0))
                    machine.registers[r] = pos
                    pc += 1
                case .loopCheck:
                    pc = pos == machine.registers[Int(instruction.a)] ? Int(instruction.b) : pc + 1
                case .match:
                    return pos
                }
                guard failed else { continue }
                // Backtrack to the newest choice left.
                var resumed = false
                while !resumed, let f = machine.stack.popLast() {
                    switch f.kind {
                    case CompiledPattern.altFrame:
                        pc = Int(f.pc); pos = f.pos; resumed = true
                    case CompiledPattern.greedyFrame:
                        // f.pos > f.aux: one scalar back, no lower than the minimum's end.
                        let q = CompiledPattern.previousBoundary(text, f.pos, lower: f.aux)
                        if q > f.aux { machine.stack.append(Frame(f.kind, f.pc, q, f.aux)) }
                        pc = Int(f.pc); pos = q; resumed = true
                    case CompiledPattern.lazyFrame:
                        let instruction = program[Int(f.pc)]
                        if f.pos < n {
                            let s = text.scalar(at: f.pos)
                            if sets[Int(instruction.a)].contains(s) {
                                let count = f.aux + 1
                                if instruction.c < 0 || count < Int(instruction.c) {
                                    machine.stack.append(Frame(f.kind, f.pc, f.pos + s.length, count))
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

extension CompiledPattern {
    /// `\w`, for `\b` and `\B`.
    static let wordSet = ScalarSet(ClassExpr.word, ignoreCase: false)
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
            var jumps: [Int] = []
            for (k, branch) in branches.enumerated() {
                if k < branches.count - 1 {
                    let split = program.count
                    program.append(I(.split, Int32(split + 1), 0))
                    try emit(branch)
                    jumps.append(program.count)
                    program.append(I(.jump))
                    program[split].b = Int32(program.count)
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
                for _ in minimum ..< maximum {
                    let split = program.count
                    program.append(I(.split))
                    exits.append(split)
                    program[split].a = Int32(program.count)
                    try emit(inner)
                }
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
