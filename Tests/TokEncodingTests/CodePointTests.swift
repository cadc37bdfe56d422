import Testing
@testable import TokEncoding
import TokRuntime
import CTokRuntime

struct CodePointTests {
    /// `text`'s code points stored `width` bytes each, as CPython stores a `str`.
    static func stored(_ text: String, width: Int) -> [UInt8] {
        var out: [UInt8] = []
        for c in text.unicodeScalars {
            let v = c.value
            for k in 0 ..< width { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) }
        }
        return out
    }

    static func encode(_ t: Tokenizer, _ units: [UInt8], width: Int, special: AllowedSpecial = .all) -> ContiguousArray<UInt32>? {
        var out: ContiguousArray<UInt32> = [7]  // what was there stays
        let done = units.withUnsafeBytes {
            t.encode(CodePointText(start: $0.baseAddress!, width: width, count: units.count / width), allowedSpecial: special, into: &out)
        }
        guard done else {
            #expect(out == [7], "nothing appended")
            return nil
        }
        #expect(out.first == 7)
        return ContiguousArray(out.dropFirst())
    }

    /// Text of each width, over many blocks (cuts between them where the
    /// pre-tokenizer allows), gives the ids of its UTF-8; with an added token
    /// holding a space (which a cut could split) too.
    @Test func eachWidthEncodesAsItsUTF8() throws {
        var rng = SplitMix(state: 5)
        let words = ["the", "ing", " t", "  ", "\n", "\nA", " \n", "x", "42", ";", "\t", "é", "ÿ", "<|end|>", " ab", "a b"]
        let wide = ["中文", "\u{3000}", "ā", "\u{1F600}", "\u{10000}"]
        var narrow = ""
        while narrow.utf8.count < 1_500_000 { narrow += words.randomElement(using: &rng)! }
        var mixed = narrow.prefix(300_000) + ""
        for k in 0 ..< 20_000 { mixed += words[k % words.count] + wide[k % wide.count] }
        let vocabulary = try smallVocabulary()
        var specials = vocabulary.specialTokens
        specials.append(SpecialToken(id: specials[0].id + 1, content: "a b"))
        for t in [Tokenizer(vocabulary: vocabulary, preTokenizer: PreTokenizer(named: "cl100k")!),
                  Tokenizer(vocabulary: try Vocabulary.fromRanks((0 ..< 256).map { [UInt8($0)] }, specialTokens: specials),
                            preTokenizer: PreTokenizer(named: "o200k")!)] {
            for (text, widths) in [(narrow, [1, 2, 4]), (String(mixed), [4])] {
                let whole = Array(text.utf8).withUnsafeBufferPointer { t.encode(bytes: $0, allowedSpecial: .all) }
                for width in widths {
                    #expect(CodePointTests.encode(t, CodePointTests.stored(text, width: width), width: width) == whole, "width \(width)")
                }
            }
        }
    }

    /// The conversion (sixteen code points a step with AVX-512 where the CPU
    /// has it; without it, sixteen ASCII ones a step; else one at a time)
    /// agrees with Swift's UTF-8 on runs of each kind and at the edges of the
    /// two- and three-byte ranges, and refuses a surrogate in a run of Han.
    @Test func codePointsBecomeTheirUTF8() {
        var rng = SplitMix(state: 11)
        let kinds: [ClosedRange<UInt32>] = [0x20 ... 0x7E, 0x80 ... 0x7FF, 0x800 ... 0xD7FF, 0xE000 ... 0xFFFF,
                                            0x7E ... 0x81, 0x7FE ... 0x801, 0xD7FE ... 0xD7FF, 0xE000 ... 0xE001,
                                            0xFFFE ... 0xFFFF, 0x10000 ... 0x10FFFF]
        func convert(_ units: [UInt8], width: Int) -> [UInt8]? {
            units.withUnsafeBytes { u in
                let text = CodePointText(start: u.baseAddress!, width: width, count: units.count / width)
                let staging = UnsafeMutablePointer<UInt8>.allocate(capacity: text.count * text.maxUTF8)
                defer { staging.deallocate() }
                var out: [UInt8] = []
                return text.appendUTF8(0 ..< text.count, staging: staging, to: &out) ? out : nil
            }
        }
        for width in [2, 4] {
            for _ in 0 ..< 300 {
                var scalars: [Unicode.Scalar] = []
                while scalars.count < 200 {
                    let kind = kinds[Int(rng.next() % UInt64(width == 2 ? kinds.count - 1 : kinds.count))]
                    for _ in 0 ... rng.next() % 24 {
                        scalars.append(Unicode.Scalar(kind.lowerBound + UInt32(rng.next() % UInt64(kind.count)))!)
                    }
                }
                var text = ""
                text.unicodeScalars.append(contentsOf: scalars)
                let units = CodePointTests.stored(text, width: width)
                #expect(convert(units, width: width) == Array(text.utf8), "width \(width)")
                if tok_utf8_from_code_points_is_wide() != 0 {
                    var narrow = [UInt8](repeating: 0, count: scalars.count * (width + 1))
                    let n = units.withUnsafeBytes { u in
                        narrow.withUnsafeMutableBufferPointer {
                            tok_utf8_from_code_points_narrow(u.baseAddress!, Int32(width), scalars.count, $0.baseAddress!)
                        }
                    }
                    #expect(Array(narrow.prefix(max(n, 0))) == Array(text.utf8), "narrow, width \(width)")
                }
            }
            var han = CodePointTests.stored(String(repeating: "中", count: 40), width: width)
            han.replaceSubrange(20 * width ..< 21 * width, with: [0x00, 0xD9, 0x00, 0x00].prefix(width))  // U+D900
            #expect(convert(han, width: width) == nil)
            var room = [UInt8](repeating: 0, count: 40 * (width + 1))
            let narrow = han.withUnsafeBytes { u in
                room.withUnsafeMutableBufferPointer { tok_utf8_from_code_points_narrow(u.baseAddress!, Int32(width), 40, $0.baseAddress!) }
            }
            #expect(narrow == -1, "narrow, width \(width)")
        }
    }

    @Test func aSurrogateAppendsNothing() throws {
        let t = Tokenizer(vocabulary: try smallVocabulary(), preTokenizer: PreTokenizer(named: "cl100k")!)
        for width in [2, 4] {
            var units = CodePointTests.stored(String(repeating: "the ", count: 400_000), width: width)
            units += [0x00, 0xD8, 0x00, 0x00].prefix(width)  // U+D800, after the first blocks
            #expect(CodePointTests.encode(t, units, width: width) == nil)
        }
    }
}
