import Testing
@testable import TokEncoding
import TokRuntime
import CTokRuntime

// Hand-picked cases for each rule; the oracle tests (Tests/oracle) check the
// same rules against Python regex, tokenizers and tiktoken on megabytes of text.
struct PreTokenizerTests {
    @Test func cl100kContractionsLettersDigits() {
        #expect(pieces("cl100k", "I'LL pay 12345 for it's") == ["I", "'LL", " pay", " ", "123", "45", " for", " it", "'s"])
        #expect(pieces("cl100k", "(word") == ["(word"])
        #expect(pieces("cl100k", "x ſ'ſ") == ["x", " ſ", "'ſ"])
    }

    @Test func cl100kAndLlama3DifferOnlyAtTheEnd() {
        // tiktoken's \s++$ takes the whole trailing run; Llama 3's older spelling stops at the newline.
        #expect(pieces("cl100k", "abc\n  ") == ["abc", "\n  "])
        #expect(pieces("llama3", "abc\n  ") == ["abc", "\n", "  "])
        #expect(pieces("cl100k", "a\n\n  b") == ["a", "\n\n", " ", " b"])
        #expect(pieces("llama3", "a\n\n  b") == ["a", "\n\n", " ", " b"])
    }

    @Test func classesAreUnicode16sWhateverTheMachinesICU() {
        #expect(unicodeVersion == "16.0.0")
        tok_ensure_unicode_classes()
        let classes = tok_unicode_classes
        #expect(classes[0x41] == 1 && classes[0x61] == 2 && classes[0x20] == 12 | 0x80 && classes[0x3000] == 12 | 0x80)
        #expect(classes[0x10D50] == 1)  // Garay, new in 16.0: an uppercase letter
        #expect(classes[0x1F8B8] == 27)  // an arrow new in 16.0: a symbol
        #expect(classes[0x1171E] == 8)  // Ahom, a nonspacing mark until 16.0 made it spacing
        #expect(classes[0x323B0] == 0)  // CJK Extension J, new in 17.0: unassigned here
        // A letter new in 16.0 continues a word, as in tiktoken's and tokenizers' engines.
        #expect(pieces("cl100k", "ab\u{10D50}cd ") == ["ab\u{10D50}cd", " "])
        #expect(pieces("cl100k", "ab\u{323B0}cd ") == ["ab", "\u{323B0}cd", " "])
    }

    @Test func qwen2SplitsDigitsOneByOne() {
        #expect(pieces("qwen2", "x 2024") == ["x", " ", "2", "0", "2", "4"])
    }

    @Test func o200kSplitsCamelCaseAndKeepsPunctuationNewlines() {
        #expect(pieces("o200k", "getElementById") == ["get", "Element", "By", "Id"])
        #expect(pieces("o200k", "HTTPServer") == ["HTTPServer"])
        #expect(pieces("o200k", " ;;\n\nx") == [" ;;\n\n", "x"])
        #expect(pieces("o200k", "don't") == ["don't"])
    }

    @Test func tokKeepsHanApartAndDigitsSingle() {
        #expect(pieces("tok", "使用Python的API") == ["使用", "Python", "的", "API"])
        #expect(pieces("tok", "，中文abc") == ["，中文", "abc"])
        #expect(pieces("tok", "a 中文") == ["a", " 中文"])
        #expect(pieces("tok", "x=123") == ["x", "=", "1", "2", "3"])
        #expect(pieces("tok", "    return x") == ["   ", " return", " x"])
        #expect(pieces("tok", "한국어") == ["한국어"])
    }

    @Test func deepseekKeepsGapsAsPieces() {
        #expect(pieces("deepseek-v3", "abc1234中文x") == ["abc", "123", "4", "中文", "x"])
        #expect(pieces("deepseek-v3", "\u{0}\u{0}.") == ["\u{0}\u{0}", "."])
        #expect(pieces("deepseek-v3", "\u{0}\u{1}x") == ["\u{0}", "\u{1}x"])
    }

    @Test func invalidUTF8IsKeptAsData() {
        let bytes: [UInt8] = [0x61, 0xFF, 0xFE, 0x20, 0xE4, 0xB8, 0x62, 0xC0, 0x80]
        for name in PreTokenizer.named.keys {
            var covered: [UInt8] = []
            bytes.withUnsafeBufferPointer { b in
                PreTokenizer(named: name)!.forEachPiece(b) { covered.append(contentsOf: b[$0]) }
            }
            #expect(covered == bytes, "\(name)")
        }
    }

    @Test func invalidBytesCountedAsTheDecoderSeesThem() {
        // The count's shortcuts (eight ASCII bytes, three-byte characters) against
        // the decoder alone, on bytes dense in three-byte leads and continuations.
        var rng = SplitMix(state: 11)
        let alphabet: [UInt8] = [0x61, 0x80, 0x8F, 0x9F, 0xA0, 0xBF, 0xC0, 0xC3, 0xE0, 0xE1, 0xE4, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF4, 0xFF]
        for _ in 0 ..< 2000 {
            let bytes = (0 ..< Int.random(in: 0 ... 40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            bytes.withUnsafeBufferPointer { b in
                var i = 0, invalid = 0
                while i < b.count {
                    let length = b[i] < 0x80 ? 1 : b.multiByteScalar(at: i, lead: b[i]).length
                    if b[i] >= 0x80 && length == 1 { invalid += 1 }
                    i += length
                }
                #expect(invalidUTF8ByteCount(b) == invalid, "\(bytes)")
            }
        }
    }

    @Test func vectorUTF8CheckAgreesWithTheDecoder() {
        // `tok_utf8_valid` (16 bytes a step) decides whether the count runs at
        // all, so it must call valid exactly what the decoder finds no fault in:
        // every two-byte sequence, three- and four-byte ones over every lead and
        // second byte, placed across a block's edge and at the buffer's end.
        let edges: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xFF]
        var failures = 0
        func check(_ bytes: [UInt8]) {
            bytes.withUnsafeBufferPointer { b in
                let valid = invalidUTF8ByteCountByteByByte(b) == 0
                if (tok_utf8_valid(b.baseAddress!, b.count) == 1) != valid {
                    failures += 1
                    if failures < 5 { Issue.record("disagree on \(bytes)") }
                }
            }
        }
        let ascii = [UInt8](repeating: 0x61, count: 40)
        for first in 0x80 ... 0xFF {
            for second in 0 ... 0xFF {
                let pair = [UInt8(first), UInt8(second)]
                for offset in [0, 14, 15] { check(Array(ascii[0 ..< offset]) + pair + Array(ascii[0 ..< 3])) }
                check(Array(ascii[0 ..< 14]) + pair)  // the end of a full block
                check(Array(ascii[0 ..< 5]) + pair)  // the end of a partial one
                guard first >= 0xE0 else { continue }
                for third in edges {
                    check(Array(ascii[0 ..< 13]) + pair + [third] + Array(ascii[0 ..< 4]))
                    check(Array(ascii[0 ..< 13]) + pair + [third])
                    guard first >= 0xF0 else { continue }
                    for fourth in edges {
                        check(Array(ascii[0 ..< 13]) + pair + [third, fourth] + Array(ascii[0 ..< 2]))
                        check(Array(ascii[0 ..< 12]) + pair + [third, fourth])
                    }
                }
            }
        }
        // Real characters with one byte changed, at random places in longer text.
        var rng = SplitMix(state: 5)
        let text = Array("Tokenizers 分词器 – ∑ x² 😀 naïve ÿ 한국어 العربية \u{10FFFF}\u{FFFD}\u{800}\u{7FF}".utf8)
        for _ in 0 ..< 20_000 {
            var bytes = (0 ..< Int.random(in: 1 ... 4, using: &rng)).flatMap { _ in text }
            bytes.removeFirst(Int.random(in: 0 ..< bytes.count, using: &rng))
            if Bool.random(using: &rng) { bytes[Int.random(in: 0 ..< bytes.count, using: &rng)] = UInt8.random(in: 0 ... 255, using: &rng) }
            check(bytes)
        }
        #expect(failures == 0)
    }

    /// The classes of 64 bytes are the same in one AVX-512 step as in four SSE2
    /// steps (on a CPU without AVX-512BW only the SSE2 steps run, and this checks nothing).
    @Test func wideAndNarrowByteClassesAgree() {
        guard tok_classes_are_wide() != 0 else { return }
        var rng = SplitMix(state: 5)
        let special: [UInt8] = Array(" \t\u{0B}\u{0C}\n\r'/AZaz09@[`{".utf8) + [0, 0x7F, 0x80, 0xFF]
        for _ in 0 ..< 20_000 {
            let bytes = (0 ..< 64).map { _ in
                rng.next() % 2 == 0 ? special[Int(rng.next() % UInt64(special.count))] : UInt8(truncatingIfNeeded: rng.next())
            }
            var wide = tok_ascii_classes(), narrow = tok_ascii_classes()
            bytes.withUnsafeBufferPointer { b in
                tok_classify64_wide(b.baseAddress!, &wide)
                tok_classify64_narrow(b.baseAddress!, &narrow)
            }
            #expect(wide.high == narrow.high && wide.upper == narrow.upper && wide.lower == narrow.lower
                    && wide.digit == narrow.digit && wide.space == narrow.space && wide.otherSpace == narrow.otherSpace
                    && wide.newline == narrow.newline && wide.apostrophe == narrow.apostrophe && wide.slash == narrow.slash)
        }
    }

    @Test func windowsCutAsThePieceAtATimeMatchers() {
        // The 64-byte windows (`SplitRule+Windows.swift`) against the matchers a
        // piece at a time, for both families, on strings dense in what their rules turn on:
        // letters of both cases and of contractions, digit runs, every kind of
        // white space, apostrophes, slashes, punctuation, and a little text that
        // is not ASCII (where the windows stop and hand over).
        let ascii = ["a", "b", "s", "t", "l", "v", "e", "r", "m", "d", "A", "S", "L", "Z", "0", "7", "123",
                     " ", "  ", "\t", "\n", "\r", "\u{0B}", "\u{0C}", "'", "/", ".", "(", ";", "x", "\u{1F}"]
        let other = ["é", "中", "ſ", "\u{A0}", "٣"]
        var rng = SplitMix(state: 5)
        for name in ["o200k", "tok", "cl100k", "llama3", "qwen2"] {
            let pre = PreTokenizer(named: name)!
            for round in 0 ..< 3000 {
                let atoms = round % 3 == 0 ? ascii + other : ascii
                let text = (0 ..< Int.random(in: 0 ... 160, using: &rng)).map { _ in atoms.randomElement(using: &rng)! }.joined()
                let bytes = Array(text.utf8)
                var windows: [Range<Int>] = [], oneAtATime: [Range<Int>] = []
                bytes.withUnsafeBufferPointer { b in
                    pre.forEachPiece(b) { windows.append($0) }
                    b.forEachMatch({ oneAtATime.append($0) }, window: { _, _ in }) {  // no windows: never called
                        switch name {
                        case "o200k", "tok": return $0.matchO200K(at: $1, separateHan: name == "tok")
                        default: return $0.matchCL100K(at: $1, maxDigits: name == "qwen2" ? 1 : 3, possessiveForm: name == "cl100k")
                        }
                    }
                }
                guard windows == oneAtATime else {
                    let cut = { (pieces: [Range<Int>]) in pieces.map { String(decoding: bytes[$0], as: UTF8.self) } }
                    Issue.record("\(name) cuts \(text.debugDescription) into \(cut(windows)), not \(cut(oneAtATime))")
                    return
                }
            }
        }
    }

    @Test func regexesRoundTripThroughHuggingFaceNames() {
        for rule in SplitRule.allCases {
            #expect(SplitRule(huggingFaceRegex: rule.huggingFaceRegex) == rule)
        }
        // The tiktoken spelling of cl100k means something else to Oniguruma: not accepted.
        #expect(SplitRule(huggingFaceRegex: SplitRule.cl100k.regex) == nil)
    }
}
