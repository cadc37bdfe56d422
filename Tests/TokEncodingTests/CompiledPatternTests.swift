import Testing
@testable import TokEncoding

// Hand-picked cases for the pattern compiler, each checked against HuggingFace
// tokenizers (Oniguruma) when written; the oracle tests (Tests/oracle/test_patterns.py)
// compare generated patterns on megabytes of text.
struct CompiledPatternTests {
    func pieces(_ pattern: String, _ text: String, _ behavior: SplitBehavior = .isolated, invert: Bool = false) throws -> [String] {
        let p = PreTokenizer(splits: [Split(.compiled(try CompiledPattern(pattern)), behavior: behavior, invert: invert)])
        let bytes = Array(text.utf8)
        var out: [String] = []
        bytes.withUnsafeBufferPointer { b in p.forEachPiece(b) { out.append(String(decoding: b[$0], as: UTF8.self)) } }
        return out
    }

    @Test func anchorsAreOnigurumas() throws {
        // `$` is end of line, `\Z` end or before a final newline, `\z` the end.
        #expect(try pieces(#"\s+$"#, "ab  \ncd  \n") == ["ab", "  ", "\ncd", "  \n"])
        #expect(try pieces(#"a\Z"#, "aa\n") == ["a", "a", "\n"])
        #expect(try pieces(#"a\z"#, "aa\n") == ["aa\n"])
        #expect(try pieces(#"^a"#, "a\na") == ["a", "\n", "a"])
    }

    @Test func repetitionKinds() throws {
        #expect(try pieces(#"a+?"#, "aaa") == ["a", "a", "a"])
        #expect(try pieces(#"(?>a+)a"#, "aaa") == ["aaa"])  // atomic: no match, one gap
        #expect(try pieces(#"a{2}+"#, "aaaaaaa") == ["aaaaaa", "a"])  // Oniguruma: a repeated interval
        #expect(try pieces(#"a{,2}"#, "aaaa") == ["aa", "aa"])
        #expect(try pieces(#"(?:ab)+"#, "ababa") == ["abab", "a"])
    }

    @Test func emptyMatchesSplitAsOnigurumaSearches() throws {
        #expect(try pieces(#"x*"#, "abx") == ["a", "b", "x"])
        #expect(try pieces(#"(?=b)|b"#, "ab") == ["a", "b"])
    }

    @Test func classesAndCaseFolding() throws {
        #expect(try pieces(#"(?i:k)+"#, "kK\u{212A}x") == ["kK\u{212A}", "x"])
        #expect(try pieces(#"[\w&&[^\d]]+"#, "ab12cd") == ["ab", "12", "cd"])
        #expect(try pieces(#"\w+"#, "a_1²\u{301}Ⅷ-x") == ["a_1²\u{301}Ⅷ", "-", "x"])
        #expect(try pieces(#"\p{Han}+"#, "漢字かなabc") == ["漢字", "かなabc"])
        #expect(try pieces(#"[[:punct:]]+"#, "a+$b") == ["a", "+$", "b"])
    }

    @Test func behaviors() throws {
        #expect(try pieces(" ", "How are you", .removed) == ["How", "are", "you"])
        #expect(try pieces(" ", "How are you", .mergedWithPrevious) == ["How ", "are ", "you"])
        #expect(try pieces(" ", "How are you", .mergedWithNext) == ["How", " are", " you"])
        #expect(try pieces(#"\d"#, "ab123cd4", .contiguous) == ["ab", "123", "cd", "4"])
        #expect(try pieces(#"\d+"#, "ab123cd4", .removed, invert: true) == ["123", "4"])
    }

    @Test func constructsOutsideTheSubsetAreNamed() {
        for (pattern, construct) in [(#"(?<=a)b"#, "lookbehind"), (#"(a)\1"#, "back reference"), (#"\X"#, "\\X"),
                                     (#"(?i:ss)"#, "multi-character"), (#"\p{Nope}"#, "Nope"), (#"(a"#, "missing ')'")] {
            do {
                _ = try CompiledPattern(pattern)
                Issue.record("\(pattern) compiled")
            } catch let error as PatternError {
                #expect(error.description.contains(construct), "\(error)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test func knownRegexesTakeTheHandWrittenRule() throws {
        for rule in SplitRule.allCases {
            #expect(try SplitPattern(huggingFaceRegex: rule.huggingFaceRegex) == .rule(rule))
        }
    }
}
