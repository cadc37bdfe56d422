import CTokICU
import CTokRuntime

/// A compiled set of code points: a 128-bit map for ASCII, and for the rest
/// either a 64-bit map over the class byte (general category × White_Space),
/// when the set depends on nothing else, or a bitmap over all code points.
///
/// - Complexity: `contains` is O(1): one or two loads.
@usableFromInline
struct ScalarSet: Sendable, Hashable {
    @usableFromInline var asciiLow: UInt64 = 0
    @usableFromInline var asciiHigh: UInt64 = 0
    /// Bit `category | whiteSpace << 5` for code points ≥ 0x80, when ``bits`` is empty.
    @usableFromInline var byClass: UInt64 = 0
    /// One bit per code point (0x110000 bits), or empty.
    @usableFromInline var bits: [UInt64] = []

    @inlinable @inline(__always)
    func contains(_ s: Scalar) -> Bool {
        let v = s.value
        if v < 0x80 {
            // v < 128: the shift is below 64 in either half.
            return (v < 64 ? asciiLow >> UInt64(v) : asciiHigh >> UInt64(v - 64)) & 1 != 0
        }
        if bits.isEmpty {
            let c = s.classByte
            return byClass >> UInt64((c & 0x1F) | (c >> 7) << 5) & 1 != 0
        }
        // v <= 0x10FFFF (decoding never yields more): the word index is below 0x110000 / 64.
        return bits[Int(v >> 6)] >> UInt64(v & 63) & 1 != 0
    }

    init() {}

    init(_ expr: ClassExpr, ignoreCase: Bool) {
        tok_ensure_unicode_classes()
        if ignoreCase {
            // The set as written, then each code point that has a case partner in it.
            let base = ScalarSet(expr, ignoreCase: false)
            func member(_ cp: UInt32) -> Bool { base.contains(Scalar(value: cp, length: 1)) }
            var partners: [UInt32] = []
            for (cp, others) in CaseFolding.closure where !member(cp) && others.contains(where: member) { partners.append(cp) }
            self = base
            for cp in partners where cp < 0x80 {
                if cp < 64 { asciiLow |= 1 << UInt64(cp) } else { asciiHigh |= 1 << UInt64(cp - 64) }
            }
            let above = partners.filter { $0 >= 0x80 }
            guard !above.isEmpty else { return }
            if bits.isEmpty {
                // Spell the class map out as a bitmap, to add the partners to it.
                var words = [UInt64](repeating: 0, count: 0x110000 / 64)
                for cp in UInt32(0x80) ..< 0x110000 where base.contains(Scalar(value: cp, length: 1)) {
                    words[Int(cp >> 6)] |= 1 << UInt64(cp & 63)
                }
                bits = words
                byClass = 0
            }
            for cp in above { bits[Int(cp >> 6)] |= 1 << UInt64(cp & 63) }
            return
        }
        for cp in UInt32(0) ..< 128 where expr.contains(cp) {
            if cp < 64 { asciiLow |= 1 << UInt64(cp) } else { asciiHigh |= 1 << UInt64(cp - 64) }
        }
        if expr.isClassOnlyAboveASCII {
            for c in 0 ..< 64 where expr.contains(category: UInt8(c & 31), whitespace: c >= 32) {
                byClass |= 1 << UInt64(c)
            }
            return
        }
        var words = [UInt64](repeating: 0, count: 0x110000 / 64)
        for cp in UInt32(0x80) ..< 0x110000 where expr.contains(cp) { words[Int(cp >> 6)] |= 1 << UInt64(cp & 63) }
        bits = words
    }

    /// The union, for first-scalar filters: exact for ASCII, and for the rest
    /// a class map that may let more through than either set holds.
    func filterUnion(_ other: ScalarSet) -> ScalarSet {
        var u = ScalarSet()
        u.asciiLow = asciiLow | other.asciiLow
        u.asciiHigh = asciiHigh | other.asciiHigh
        u.byClass = (bits.isEmpty ? byClass : ~0) | (other.bits.isEmpty ? other.byClass : ~0)
        return u
    }

    /// True when no code point is in both (false when it cannot tell cheaply: bitmaps).
    func isDisjoint(with other: ScalarSet) -> Bool {
        guard asciiLow & other.asciiLow == 0, asciiHigh & other.asciiHigh == 0, bits.isEmpty, other.bits.isEmpty else {
            return false
        }
        return byClass & other.byClass == 0
    }
}

extension ClassExpr {
    /// Whether membership of code points ≥ 0x80 depends on their class byte alone.
    var isClassOnlyAboveASCII: Bool {
        switch self {
        case .range(_, let hi): return hi < 0x80
        case .categories, .whitespace: return true
        case .property: return false
        case .union(let items), .intersection(let items): return items.allSatisfy(\.isClassOnlyAboveASCII)
        case .not(let inner): return inner.isClassOnlyAboveASCII
        }
    }

    /// Membership for a code point ≥ 0x80 of the given class, when ``isClassOnlyAboveASCII``.
    func contains(category: UInt8, whitespace: Bool) -> Bool {
        switch self {
        case .range: return false
        case .categories(let mask): return mask >> UInt32(category) & 1 != 0
        case .whitespace: return whitespace
        case .property: return false
        case .union(let items): return items.contains { $0.contains(category: category, whitespace: whitespace) }
        case .intersection(let items): return items.allSatisfy { $0.contains(category: category, whitespace: whitespace) }
        case .not(let inner): return !inner.contains(category: category, whitespace: whitespace)
        }
    }

    func contains(_ cp: UInt32) -> Bool {
        switch self {
        case .range(let lo, let hi): return cp >= lo && cp <= hi
        case .categories(let mask): return mask >> UInt32(unicodeClassTable[Int(cp)] & 0x1F) & 1 != 0
        case .whitespace: return unicodeClassTable[Int(cp)] & 0x80 != 0
        case .property(let kind, let value): return tok_icu_has_property(kind, value, cp) != 0
        case .union(let items): return items.contains { $0.contains(cp) }
        case .intersection(let items): return items.allSatisfy { $0.contains(cp) }
        case .not(let inner): return !inner.contains(cp)
        }
    }
}

/// Simple case folding, as Oniguruma applies it under `(?i)`: code points
/// match when they fold to the same code point.
enum CaseFolding {
    /// For every code point with case partners: the partners (itself excluded).
    static let closure: [UInt32: [UInt32]] = {
        var groups: [UInt32: [UInt32]] = [:]
        for cp in UInt32(0) ..< 0x110000 where !(0xD800 ... 0xDFFF).contains(cp) {
            let f = UInt32(bitPattern: tok_icu_fold_case(cp))
            if f != cp { groups[f, default: [f]].append(cp) }
        }
        var result: [UInt32: [UInt32]] = [:]
        for members in groups.values {
            for m in members { result[m] = members.filter { $0 != m } }
        }
        return result
    }()

    /// Code points whose full case folding is several code points (`ß` -> `ss`),
    /// with that folding: Oniguruma matches them against a sequence under `(?i)`.
    static let multiScalarFolds: [(UInt32, [UInt32])] = {
        var out: [(UInt32, [UInt32])] = []
        var buffer = [UInt32](repeating: 0, count: 4)
        for cp in UInt32(0x80) ..< 0x20000 where !(0xD800 ... 0xDFFF).contains(cp) {
            let n = tok_icu_full_fold(cp, &buffer, 4)
            if n > 1 { out.append((cp, Array(buffer[0 ..< Int(n)]))) }
        }
        return out
    }()
}
