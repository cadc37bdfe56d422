import TokRuntime
/// The regex subset of HuggingFace `tokenizers`' Split patterns, parsed as
/// Oniguruma (Ruby syntax) reads it: what ``CompiledPattern`` runs.
///
/// Supported: alternation, sequences, groups (`(...)`, `(?:...)`, named,
/// `(?>...)`), flags `(?i)`, `(?m)`, `(?-i)` and `(?i:...)`, lookahead
/// `(?=...)` and `(?!...)`, `? * +` greedy, lazy (`??`) and possessive (`?+`),
/// `{n}`, `{n,}`, `{,m}`, `{n,m}` (Oniguruma reads `{n,m}+` as a repeated
/// interval, not a possessive one), `.`, `^ $ \A \z \Z \b \B`, classes with
/// ranges, negation, `&&` and nested classes, POSIX brackets, `\p{..}` /
/// `\P{..}` / `\p{^..}` (general categories, scripts, binary properties),
/// `\s \S \d \D \w \W \h \H`, and escapes (`\t \n \r \f \v \e \a`, `\xHH`,
/// `\x{H..}`, `\uHHHH`, octal, `\cX`). Anything else (back references,
/// lookbehind, conditionals, `\X`, `\R`, `\K`) is refused by name.
indirect enum PatternNode: Sendable, Hashable {
    case empty
    /// One code point in the class.
    case scalar(ClassExpr, ignoreCase: Bool)
    case sequence([PatternNode])
    case alternation([PatternNode])
    case repetition(PatternNode, min: Int, max: Int?, kind: RepetitionKind)
    case atomic(PatternNode)
    case lookahead(PatternNode, negative: Bool)
    case assertion(Assertion)
}

enum RepetitionKind: Sendable, Hashable { case greedy, lazy, possessive }

enum Assertion: Int32, Sendable, Hashable {
    /// `^`: start of text or after `\n`.
    case lineStart
    /// `$`: end of text or before `\n`.
    case lineEnd
    case textStart, textEnd
    /// `\Z`: end of text or before a final `\n`.
    case textEndOrFinalNewline
    case wordBoundary, notWordBoundary
}

/// A set of code points, as written.
indirect enum ClassExpr: Sendable, Hashable {
    case range(UInt32, UInt32)
    /// General categories as ICU's mask (bit `UCharCategory`).
    case categories(UInt32)
    /// `\s`: Unicode White_Space.
    case whitespace
    /// A script (kind 2) or binary property (kind 3), tested through ICU.
    case property(kind: Int32, value: Int32)
    case union([ClassExpr])
    case intersection([ClassExpr])
    case not(ClassExpr)

    static let any = ClassExpr.not(.union([]))
    static let digit = ClassExpr.categories(1 << 9)
    /// Oniguruma's `\w` as `tokenizers` runs it (measured against it): Alphabetic,
    /// marks, decimal digits, connector punctuation, and Latin-1's other
    /// numbers (`² ³ ¹ ¼ ½ ¾`), which its Latin-1 table counts as word characters.
    static let word: ClassExpr = {
        var value: Int32 = 0
        _ = tok_icu_property_kind("Alphabetic", &value)
        return .union([.property(kind: 3, value: value), .categories(Category.mark | 1 << 9 | 1 << 22),
                       .range(0xB2, 0xB3), .range(0xB9, 0xB9), .range(0xBC, 0xBE)])
    }()
    static let hexDigit = ClassExpr.union([.range(0x30, 0x39), .range(0x41, 0x46), .range(0x61, 0x66)])
}

/// A pattern that cannot be compiled: the message names the construct and where.
public struct PatternError: TokError, Equatable {
    public var pattern: String
    public var offset: Int
    public var reason: String
    public var description: String { "pattern \(pattern.debugDescription): \(reason) at offset \(offset)" }
}

struct PatternParser {
    let pattern: String
    let scalars: [Unicode.Scalar]
    var i = 0
    var ignoreCase = false
    var dotAll = false

    init(_ pattern: String) {
        self.pattern = pattern
        self.scalars = Array(pattern.unicodeScalars)
    }

    static func parse(_ pattern: String) throws -> PatternNode {
        var p = PatternParser(pattern)
        let node = try p.parseAlternation()
        if p.i < p.scalars.count { throw p.error("unbalanced ')'") }
        return node
    }

    func error(_ reason: String) -> PatternError {
        PatternError(pattern: pattern, offset: i, reason: reason)
    }

    var atEnd: Bool { i >= scalars.count }
    func peek(_ k: Int = 0) -> Unicode.Scalar? { i + k < scalars.count ? scalars[i + k] : nil }

    mutating func eat(_ c: Unicode.Scalar) -> Bool {
        if peek() == c { i += 1; return true }
        return false
    }

    mutating func parseAlternation() throws -> PatternNode {
        let savedCase = ignoreCase, savedDot = dotAll
        defer { ignoreCase = savedCase; dotAll = savedDot }
        var branches = [try parseSequence()]
        while eat("|") { branches.append(try parseSequence()) }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    mutating func parseSequence() throws -> PatternNode {
        var items: [PatternNode] = []
        while let c = peek(), c != "|", c != ")" {
            // `(?i)` changes the flags up to the end of the enclosing group.
            if c == "(" && peek(1) == "?", let (flagsEnd, on, off) = inlineFlags(from: i + 2), scalars[flagsEnd] == ")" {
                apply(on: on, off: off)
                i = flagsEnd + 1
                continue
            }
            var atom = try parseAtom()
            atom = try parseQuantifiers(atom)
            items.append(atom)
        }
        return items.count == 1 ? items[0] : (items.isEmpty ? .empty : .sequence(items))
    }

    /// Flag letters from `start` up to `)` or `:`: the end index and the flags set and cleared.
    func inlineFlags(from start: Int) -> (Int, Set<Unicode.Scalar>, Set<Unicode.Scalar>)? {
        var j = start, on = Set<Unicode.Scalar>(), off = Set<Unicode.Scalar>(), negative = false
        while j < scalars.count {
            let c = scalars[j]
            if c == ")" || c == ":" { return j == start && c == ":" ? nil : (j, on, off) }
            if c == "-" { negative = true } else if "imx".unicodeScalars.contains(c) {
                if negative { off.insert(c) } else { on.insert(c) }
            } else { return nil }
            j += 1
        }
        return nil
    }

    mutating func apply(on: Set<Unicode.Scalar>, off: Set<Unicode.Scalar>) {
        if on.contains("i") { ignoreCase = true }
        if off.contains("i") { ignoreCase = false }
        if on.contains("m") { dotAll = true }
        if off.contains("m") { dotAll = false }
    }

    mutating func parseQuantifiers(_ atom: PatternNode) throws -> PatternNode {
        var node = atom
        while let c = peek() {
            var min = 0, max: Int? = nil
            let start = i
            switch c {
            case "?": min = 0; max = 1; i += 1
            case "*": min = 0; max = nil; i += 1
            case "+": min = 1; max = nil; i += 1
            case "{":
                guard let (lo, hi, end) = interval(from: i + 1) else { return node }  // a literal '{'
                min = lo; max = hi; i = end
                if let hi, lo > hi { throw error("interval {\(lo),\(hi)} runs backwards") }
                // Oniguruma (Ruby syntax): `{n,m}?` is lazy, `{n,m}+` repeats the interval.
                if eat("?") {
                    node = .repetition(node, min: min, max: max, kind: .lazy)
                } else {
                    node = .repetition(node, min: min, max: max, kind: .greedy)
                }
                continue
            default:
                return node
            }
            guard !isAssertionOrEmpty(node) || start == 0 else { throw error("a quantifier follows nothing it can repeat") }
            var kind = RepetitionKind.greedy
            if eat("?") { kind = .lazy } else if eat("+") { kind = .possessive }
            node = .repetition(node, min: min, max: max, kind: kind)
        }
        return node
    }

    func isAssertionOrEmpty(_ node: PatternNode) -> Bool {
        switch node {
        case .empty, .assertion: return true
        default: return false
        }
    }

    /// `n}`, `n,}`, `,m}`, `n,m}` from `start`: bounds and the index after `}`.
    func interval(from start: Int) -> (Int, Int?, Int)? {
        var j = start
        func number() -> Int? {
            var v: Int? = nil
            while j < scalars.count, let d = scalars[j].properties.numericType == .decimal ? Int(String(scalars[j])) : nil,
                  scalars[j].isASCII {
                v = (v ?? 0) * 10 + d
                if v! > 100_000 { return nil }
                j += 1
            }
            return v
        }
        let lo = number()
        if j < scalars.count && scalars[j] == "}" {
            guard let lo else { return nil }
            return (lo, lo, j + 1)
        }
        guard j < scalars.count, scalars[j] == "," else { return nil }
        j += 1
        let hi = number()
        guard j < scalars.count, scalars[j] == "}", lo != nil || hi != nil else { return nil }
        return (lo ?? 0, hi, j + 1)
    }

    mutating func parseAtom() throws -> PatternNode {
        let c = scalars[i]
        switch c {
        case "(": return try parseGroup()
        case "[":
            i += 1
            return .scalar(try parseClassBody(), ignoreCase: ignoreCase)
        case ".":
            i += 1
            return .scalar(dotAll ? .any : .not(.range(0x0A, 0x0A)), ignoreCase: false)
        case "^": i += 1; return .assertion(.lineStart)
        case "$": i += 1; return .assertion(.lineEnd)
        case "\\": return try parseEscape()
        case "*", "+", "?":
            throw error("a quantifier '\(c)' follows nothing it can repeat")
        default:
            i += 1
            return .scalar(.range(c.value, c.value), ignoreCase: ignoreCase)
        }
    }

    mutating func parseGroup() throws -> PatternNode {
        i += 1  // (
        var kind = 0  // 0 group, 1 atomic, 2 lookahead, 3 negative lookahead
        let savedCase = ignoreCase, savedDot = dotAll
        defer { ignoreCase = savedCase; dotAll = savedDot }
        if eat("?") {
            guard let c = peek() else { throw error("unterminated group") }
            switch c {
            case ":": i += 1
            case ">": i += 1; kind = 1
            case "=": i += 1; kind = 2
            case "!": i += 1; kind = 3
            case "<":
                if peek(1) == "=" || peek(1) == "!" { throw error("unsupported construct: lookbehind") }
                // Named group: (?<name>...)
                i += 1
                while let d = peek(), d != ">" { i += 1 }
                guard eat(">") else { throw error("unterminated group name") }
            case "'":
                i += 1
                while let d = peek(), d != "'" { i += 1 }
                guard eat("'") else { throw error("unterminated group name") }
            case "#":
                while let d = peek(), d != ")" { i += 1 }
                guard eat(")") else { throw error("unterminated comment") }
                return .empty
            default:
                guard let (end, on, off) = inlineFlags(from: i), scalars[end] == ":" else {
                    throw error("unsupported construct: group '(?\(c)'")
                }
                if on.contains("x") { throw error("unsupported construct: extended mode (?x)") }
                apply(on: on, off: off)
                i = end + 1
            }
        }
        let body = try parseAlternation()
        guard eat(")") else { throw error("missing ')'") }
        switch kind {
        case 1: return .atomic(body)
        case 2: return .lookahead(body, negative: false)
        case 3: return .lookahead(body, negative: true)
        default: return body
        }
    }

    /// An escape outside a class.
    mutating func parseEscape() throws -> PatternNode {
        i += 1
        guard let c = peek() else { throw error("a pattern ends in '\\'") }
        switch c {
        case "A": i += 1; return .assertion(.textStart)
        case "z": i += 1; return .assertion(.textEnd)
        case "Z": i += 1; return .assertion(.textEndOrFinalNewline)
        case "b": i += 1; return .assertion(.wordBoundary)
        case "B": i += 1; return .assertion(.notWordBoundary)
        case "G": i += 1; return .assertion(.textStart)  // each search starts where the last ended
        case "X", "R", "K", "k", "g", "N", "O", "y", "Y":
            throw error("unsupported construct: '\\\(c)'")
        case "1"..."9":
            throw error("unsupported construct: back reference '\\\(c)'")
        default:
            i -= 1
            return .scalar(try parseClassEscape(), ignoreCase: ignoreCase)
        }
    }

    /// An escape that stands for a set of code points (inside or outside a class), from the `\`.
    mutating func parseClassEscape() throws -> ClassExpr {
        i += 1  // backslash
        guard let c = peek() else { throw error("a pattern ends in '\\'") }
        i += 1
        switch c {
        case "s": return .whitespace
        case "S": return .not(.whitespace)
        case "d": return .digit
        case "D": return .not(.digit)
        case "w": return .word
        case "W": return .not(.word)
        case "h": return .hexDigit
        case "H": return .not(.hexDigit)
        case "p", "P":
            var negative = c == "P"
            guard eat("{") else { throw error("'\\\(c)' needs '{name}'") }
            if eat("^") { negative.toggle() }
            var name = ""
            while let d = peek(), d != "}" { name.unicodeScalars.append(d); i += 1 }
            guard eat("}") else { throw error("unterminated '\\\(c){'") }
            let set = try property(named: name)
            return negative ? .not(set) : set
        case "t": return .range(0x09, 0x09)
        case "n": return .range(0x0A, 0x0A)
        case "r": return .range(0x0D, 0x0D)
        case "f": return .range(0x0C, 0x0C)
        case "v": return .range(0x0B, 0x0B)
        case "e": return .range(0x1B, 0x1B)
        case "a": return .range(0x07, 0x07)
        case "x":
            var value: UInt32 = 0
            if eat("{") {
                var digits = 0
                while let d = peek(), let v = d.hexValue { value = value * 16 + v; digits += 1; i += 1 }
                guard eat("}"), digits > 0, digits <= 8 else { throw error("bad '\\x{...}'") }
            } else {
                var digits = 0
                while digits < 2, let d = peek(), let v = d.hexValue { value = value * 16 + v; digits += 1; i += 1 }
                guard digits > 0 else { throw error("bad '\\x'") }
            }
            return try literal(value)
        case "u":
            var value: UInt32 = 0
            for _ in 0 ..< 4 {
                guard let d = peek(), let v = d.hexValue else { throw error("bad '\\u'") }
                value = value * 16 + v
                i += 1
            }
            return try literal(value)
        case "o":
            guard eat("{") else { throw error("bad '\\o'") }
            var value: UInt32 = 0
            while let d = peek(), let v = d.octalValue { value = value * 8 + v; i += 1 }
            guard eat("}") else { throw error("bad '\\o{...}'") }
            return try literal(value)
        case "0":
            var value: UInt32 = 0, digits = 0
            while digits < 2, let d = peek(), let v = d.octalValue { value = value * 8 + v; digits += 1; i += 1 }
            return .range(value, value)
        case "c":
            guard let d = peek(), d.isASCII else { throw error("bad '\\c'") }
            i += 1
            return .range(d.value & 0x1F, d.value & 0x1F)
        default:
            if c.properties.isAlphabetic || c.properties.numericType != nil {
                throw error("unsupported construct: '\\\(c)'")
            }
            return .range(c.value, c.value)
        }
    }

    func literal(_ value: UInt32) throws -> ClassExpr {
        guard value < 0x110000 else { throw error("code point \(value) out of range") }
        return .range(value, value)
    }

    /// A class body after `[`, through its `]`.
    mutating func parseClassBody() throws -> ClassExpr {
        var negative = false
        if eat("^") { negative = true }
        var intersected: [ClassExpr] = []
        var items: [ClassExpr] = []
        var first = true
        while true {
            guard let c = peek() else { throw error("missing ']'") }
            if c == "]" && !first { i += 1; break }
            first = false
            if c == "&" && peek(1) == "&" {
                i += 2
                intersected.append(.union(items))
                items = []
                continue
            }
            if c == "[" {
                if peek(1) == ":", let posix = try posixClass() {
                    items.append(posix)
                    continue
                }
                i += 1
                items.append(try parseClassBody())
                continue
            }
            let low: ClassExpr
            if c == "\\" {
                low = try parseClassEscape()
            } else {
                i += 1
                low = .range(c.value, c.value)
            }
            // A range `a-z`: both ends single code points, '-' not last.
            if case .range(let lo, let loHigh) = low, lo == loHigh, peek() == "-", let next = peek(1), next != "]" {
                let save = i
                i += 1
                let high: ClassExpr
                if next == "\\" { high = try parseClassEscape() } else if next == "[" { i = save; items.append(low); continue } else {
                    i += 1
                    high = .range(next.value, next.value)
                }
                guard case .range(let hi, let hiHigh) = high, hi == hiHigh else { throw error("a class range ends in a set") }
                guard lo <= hi else { throw error("class range runs backwards") }
                items.append(.range(lo, hi))
                continue
            }
            items.append(low)
        }
        var set: ClassExpr = .union(items)
        if !intersected.isEmpty { set = .intersection(intersected + [set]) }
        return negative ? .not(set) : set
    }

    /// `[:name:]` or `[:^name:]` at `i`, if it is one.
    mutating func posixClass() throws -> ClassExpr? {
        var j = i + 2
        var negative = false
        if j < scalars.count && scalars[j] == "^" { negative = true; j += 1 }
        var name = ""
        while j < scalars.count, scalars[j].properties.isLowercase { name.unicodeScalars.append(scalars[j]); j += 1 }
        guard j + 1 < scalars.count, scalars[j] == ":", scalars[j + 1] == "]" else { return nil }
        let set: ClassExpr
        switch name {
        case "alpha": set = try property(named: "Alphabetic")
        case "digit": set = .digit
        case "alnum": set = .union([try property(named: "Alphabetic"), .digit])
        case "space": set = .whitespace
        case "upper": set = try property(named: "Uppercase")
        case "lower": set = try property(named: "Lowercase")
        // Oniguruma's Unicode [[:punct:]] takes symbols too (measured against tokenizers).
        case "punct": set = .categories(Category.punctuation | Category.symbol)
        case "xdigit": set = .hexDigit
        case "word": set = .word
        case "cntrl": set = .categories(1 << 15)
        case "blank": set = .union([.categories(1 << 12), .range(0x09, 0x09)])
        case "ascii": set = .range(0, 0x7F)
        default: throw error("unsupported POSIX class [:\(name):]")
        }
        i = j + 2
        return negative ? .not(set) : set
    }

    /// `\p{name}`: a general category, script or binary property, named loosely as Oniguruma does.
    func property(named raw: String) throws -> ClassExpr {
        let name = raw.filter { $0 != " " && $0 != "_" && $0 != "-" }
        switch name.lowercased() {
        case "any": return .any
        case "assigned": return .not(.categories(1 << 0))
        case "ascii": return .range(0, 0x7F)
        case "word": return .word
        case "alnum": return .union([try property(named: "Alphabetic"), .digit])
        case "space": return .whitespace
        case "l&", "lc": return .categories(Category.lu | Category.ll | Category.lt)
        default: break
        }
        var value: Int32 = 0
        let kind = raw.withCString { tok_icu_property_kind($0, &value) }
        switch kind {
        case 1: return .categories(UInt32(bitPattern: value))
        case 2, 3: return .property(kind: kind, value: value)
        default: throw error("unsupported property \\p{\(raw)}")
        }
    }
}

import CTokICU

extension Unicode.Scalar {
    var hexValue: UInt32? {
        switch value {
        case 0x30...0x39: return value - 0x30
        case 0x41...0x46: return value - 0x41 + 10
        case 0x61...0x66: return value - 0x61 + 10
        default: return nil
        }
    }

    var octalValue: UInt32? { (0x30...0x37).contains(value) ? value - 0x30 : nil }
}
