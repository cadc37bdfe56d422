import CTokICU
import CTokRuntime

/// The class of one code point as the pre-tokenizers see it: its general
/// category (numbered as ICU's `UCharCategory`) in the low five bits, and bit
/// 7 set for Unicode `White_Space`, in Unicode 16.0.0, the version of the regex
/// engines whose ids tok matches (tiktoken's and tokenizers'), not the
/// machine's ICU's (`CTokRuntime.h` says why).
///
/// One flat table of 0x110000 bytes, filled once per process from the runs
/// `scripts/unicode_classes.py` wrote; the hot loops index it directly.
/// Unassigned runs are left as the zeroed static storage they are, so about a
/// third of its pages is ever touched: making o200k's pre-tokenizer at start-up
/// 0.89 -> 0.50 ms (clock stamps, best of 25). Every ``PreTokenizer`` fills it
/// when made (`tok_ensure_unicode_classes`), and only pre-tokenizers classify.
/// It is a C global because a Swift global is checked for initialization on
/// every access (`swift_once`: 4-8% of encoding time).
@usableFromInline
var unicodeClassTable: UnsafePointer<UInt8> {
    @inline(__always) get { tok_unicode_classes }
}

/// General categories, numbered as ICU's `UCharCategory`.
@usableFromInline
enum Category {
    @usableFromInline static let lu: UInt32 = 1 << 1
    @usableFromInline static let ll: UInt32 = 1 << 2
    @usableFromInline static let lt: UInt32 = 1 << 3
    @usableFromInline static let lm: UInt32 = 1 << 4
    @usableFromInline static let lo: UInt32 = 1 << 5
    @usableFromInline static let mark: UInt32 = (1 << 6) | (1 << 7) | (1 << 8)
    @usableFromInline static let letter: UInt32 = lu | ll | lt | lm | lo
    @usableFromInline static let number: UInt32 = (1 << 9) | (1 << 10) | (1 << 11)
    @usableFromInline static let punctuation: UInt32 =
        (1 << 19) | (1 << 20) | (1 << 21) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29)
    @usableFromInline static let symbol: UInt32 = (1 << 24) | (1 << 25) | (1 << 26) | (1 << 27)
    /// o200k's `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`.
    @usableFromInline static let upperish: UInt32 = lu | lt | lm | lo | mark
    /// o200k's `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
    @usableFromInline static let lowerish: UInt32 = ll | lm | lo | mark
}

/// One decoded code point: its class byte and its length in bytes.
///
/// Invalid UTF-8 is data: each byte of an ill-formed sequence decodes alone,
/// with the class of U+FFFD (a symbol), so it is never lost and never crashes.
@usableFromInline
struct Scalar: Sendable {
    @usableFromInline var value: UInt32
    @usableFromInline var length: Int

    @inlinable @inline(__always)
    init(value: UInt32, length: Int) {
        self.value = value
        self.length = length
    }

    @inlinable @inline(__always)
    var classByte: UInt8 { unicodeClassTable[Int(value)] }

    @inlinable @inline(__always)
    var categoryBit: UInt32 { 1 << UInt32(classByte & 0x1F) }

    @inlinable @inline(__always)
    var isWhitespace: Bool { classByte & 0x80 != 0 }

    @inlinable @inline(__always)
    func isIn(_ mask: UInt32) -> Bool { categoryBit & mask != 0 }

    @inlinable @inline(__always)
    var isLetter: Bool { isIn(Category.letter) }

    @inlinable @inline(__always)
    var isNumber: Bool { isIn(Category.number) }

    @inlinable @inline(__always)
    var isNewline: Bool { value == 0x0A || value == 0x0D }

}

/// The Unicode version of the tables the pre-tokenizers use.
public var unicodeVersion: String { String(cString: tok_unicode_version()) }

extension UnsafeBufferPointer where Element == UInt8 {
    /// Decodes the code point starting at `i` (which must be `< count`).
    ///
    /// - Complexity: O(1).
    @inlinable @inline(__always)
    func scalar(at i: Int) -> Scalar {
        let b0 = self[i]
        if b0 < 0x80 { return Scalar(value: UInt32(b0), length: 1) }
        return multiByteScalar(at: i, lead: b0)
    }

    @inlinable
    func multiByteScalar(at i: Int, lead b0: UInt8) -> Scalar {
        let n = count
        // First the commonest: three bytes led by E1-EC or EE-EF (most of
        // Chinese, Japanese and Korean text), with none of the range rules
        // of E0 and ED.
        if b0 &- 0xE1 < 0x0F && b0 != 0xED && i &+ 2 < n {  // i + 2 < n: both bytes are in the buffer
            let c1 = self[i &+ 1], c2 = self[i &+ 2]
            if c1 & 0xC0 == 0x80 && c2 & 0xC0 == 0x80 {
                return Scalar(value: UInt32(b0 & 0x0F) << 12 | UInt32(c1 & 0x3F) << 6 | UInt32(c2 & 0x3F), length: 3)
            }
        }
        @inline(__always) func continuation(_ j: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> UInt32? {
            guard j < n else { return nil }
            let b = self[j]
            return b >= low && b <= high ? UInt32(b & 0x3F) : nil
        }
        switch b0 {
        case 0xC2...0xDF:
            if let c1 = continuation(i + 1) {
                return Scalar(value: UInt32(b0 & 0x1F) << 6 | c1, length: 2)
            }
        case 0xE0...0xEF:
            let low: UInt8 = b0 == 0xE0 ? 0xA0 : 0x80
            let high: UInt8 = b0 == 0xED ? 0x9F : 0xBF
            if let c1 = continuation(i + 1, low, high), let c2 = continuation(i + 2) {
                return Scalar(value: UInt32(b0 & 0x0F) << 12 | c1 << 6 | c2, length: 3)
            }
        case 0xF0...0xF4:
            let low: UInt8 = b0 == 0xF0 ? 0x90 : 0x80
            let high: UInt8 = b0 == 0xF4 ? 0x8F : 0xBF
            if let c1 = continuation(i + 1, low, high), let c2 = continuation(i + 2),
               let c3 = continuation(i + 3) {
                return Scalar(value: UInt32(b0 & 0x07) << 18 | c1 << 12 | c2 << 6 | c3, length: 4)
            }
        default:
            break
        }
        return Scalar(value: 0xFFFD, length: 1)
    }
}

/// Counts the bytes of `bytes` that are not part of well-formed UTF-8.
///
/// Text is almost always valid: a vector check (`tok_utf8_valid`, 16 bytes a
/// step) answers that, and only text it finds invalid is counted byte by byte.
/// On the 20 MB Chinese text the byte loop took 3.9% of `tok encode`.
///
/// - Complexity: O(n).
public func invalidUTF8ByteCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
    guard let base = bytes.baseAddress else { return 0 }
    if tok_utf8_valid(base, bytes.count) == 1 { return 0 }
    return invalidUTF8ByteCountByteByByte(bytes)
}

/// ``invalidUTF8ByteCount(_:)`` a byte at a time.
func invalidUTF8ByteCountByteByByte(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
    var i = 0, invalid = 0
    guard let base = bytes.baseAddress else { return 0 }
    while i < bytes.count {
        // Eight ASCII bytes at a time (i + 8 <= count: the word is inside the buffer).
        if i + 8 <= bytes.count && UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
            i += 8
            continue
        }
        let b = bytes[i]
        if b < 0x80 { i += 1; continue }
        // Three bytes whose lead allows every continuation (not E0, which
        // could be overlong, nor ED, which could be a surrogate): most of
        // Chinese text, checked without decoding.
        if b &- 0xE1 < 0x0F && b != 0xED && i + 2 < bytes.count && bytes[i + 1] & 0xC0 == 0x80 && bytes[i + 2] & 0xC0 == 0x80 {
            i += 3
            continue
        }
        let s = bytes.multiByteScalar(at: i, lead: b)
        if s.length == 1 { invalid += 1 }
        i += s.length
    }
    return invalid
}

/// Counts the code points of `bytes`; every invalid byte counts as one.
public func characterCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
    var i = 0, n = 0
    while i < bytes.count {
        i += bytes[i] < 0x80 ? 1 : bytes.multiByteScalar(at: i, lead: bytes[i]).length
        n += 1
    }
    return n
}

/// A coarse script class of a code point, for composition tables.
public enum ScriptClass: Int32, Sendable {
    case other = 0, latin, han, kana, hangul, arabic, common

    public init(_ scalar: Unicode.Scalar) {
        self = ScriptClass(rawValue: tok_icu_script_class(scalar.value)) ?? .other
    }
}

/// Characters, words and Han characters of a text: the units that
/// per-character, per-word and per-Han-character figures divide by.
public struct TextUnits: Sendable, Equatable, Codable {
    /// Code points; every invalid byte counts as one.
    public var characters = 0
    /// Maximal runs of characters that are not white space (Unicode `White_Space`).
    public var words = 0
    /// Code points in the CJK unified ideograph blocks (and their extensions and compatibility block).
    public var hanCharacters = 0

    public init(characters: Int = 0, words: Int = 0, hanCharacters: Int = 0) {
        self.characters = characters
        self.words = words
        self.hanCharacters = hanCharacters
    }

    /// Counts the units of `bytes`.
    ///
    /// - Complexity: O(n), one pass over the bytes.
    public init(_ bytes: UnsafeBufferPointer<UInt8>) {
        var i = 0
        var inWord = false
        while i < bytes.count {
            let s = bytes.scalar(at: i)
            i += s.length
            characters += 1
            let space = TextUnits.isWhiteSpace(s.value)
            if !space && !inWord { words += 1 }
            inWord = !space
            if TextUnits.isHan(s.value) { hanCharacters += 1 }
        }
    }

    public static func += (a: inout TextUnits, b: TextUnits) {
        a.characters += b.characters
        a.words += b.words
        a.hanCharacters += b.hanCharacters
    }

    /// Unicode's `White_Space` property (25 code points).
    @inlinable public static func isWhiteSpace(_ c: UInt32) -> Bool {
        switch c {
        case 0x09 ... 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000 ... 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// CJK unified ideographs: the basic block, extensions A to I, and the compatibility ideographs.
    @inlinable public static func isHan(_ c: UInt32) -> Bool {
        (0x4E00 ... 0x9FFF).contains(c) || (0x3400 ... 0x4DBF).contains(c) || (0xF900 ... 0xFAFF).contains(c)
            || (0x20000 ... 0x323AF).contains(c)
    }
}
