import Foundation
import Testing
import TokCorpus
@testable import TokBuild
@testable import TokEncoding
@testable import TokTraining
import TokRuntime

/// Every metric on a vocabulary and texts small enough to work out by hand.
struct MetricsTests {
    /// Bytes, then "ab" (256), "abc" (257, from "ab" + "c") and "xy" (258).
    func smallTokenizer() throws -> Tokenizer {
        let tokens = (0 ..< 256).map { [UInt8($0)] } + [Array("ab".utf8), Array("abc".utf8), Array("xy".utf8)]
        return Tokenizer(vocabulary: try Vocabulary.fromRanks(tokens), preTokenizer: PreTokenizer(named: "tok")!)
    }

    func measure(_ text: String, _ tokenizer: Tokenizer) -> TextMeasurement {
        Array(text.utf8).withUnsafeBufferPointer { TextMeasurement.of($0, tokenizer: tokenizer, threads: 1) }
    }

    @Test func textUnitsCountCharactersWordsAndHan() {
        let units = Array("ab  cd\n中文 x".utf8).withUnsafeBufferPointer { TextUnits($0) }
        #expect(units == TextUnits(characters: 11, words: 4, hanCharacters: 2))
        // An invalid byte is one character; U+3000 (ideographic space) separates words.
        let odd = [0x61, 0xFF, 0x20, 0xE3, 0x80, 0x80, 0x62].withUnsafeBufferPointer { TextUnits($0) }
        #expect(odd == TextUnits(characters: 5, words: 2, hanCharacters: 0))
    }

    @Test func renyiEfficiencyOfKnownDistributions() {
        // Uniform over 4 of 16 ids: H = log 4, over log 16.
        #expect(abs(renyiEfficiency([1, 1, 1, 1], vocabularySize: 16) - 0.5) < 1e-12)
        // p = (1/2, 1/4, 1/4): sum p^2.5 = 0.2392767, H = ln(0.2392767) / -1.5 = 0.9534231; over ln 4.
        #expect(abs(renyiEfficiency([2, 1, 1, 0], vocabularySize: 4) - 0.9534231 / 1.3862944) < 1e-6)
        #expect(renyiEfficiency([], vocabularySize: 4) == 0)
    }

    @Test func domainAndVocabularyMetricsByHand() throws {
        let tokenizer = try smallTokenizer()
        // "abc abc" -> "abc" | " abc" -> [257] [32 257]; "xy" -> [258].
        let a = measure("abc abc", tokenizer), b = measure("xy", tokenizer)
        #expect(a.tokens == 3 && b.tokens == 1)
        var metrics = VocabularyMetrics(name: "small", tokenizer: tokenizer, measurements: [("a", a), ("b", b)])
        let ma = try #require(metrics.domains["a"])
        #expect(ma.bytes == 7 && ma.characters == 7 && ma.words == 2 && ma.hanCharacters == 0)
        #expect(ma.bytesPerToken == 2.3333 && ma.charactersPerToken == 2.3333 && ma.tokensPerWord == 1.5)
        #expect(ma.tokensPerHanCharacter == 0)
        // Two ids used, 2/3 and 1/3, over 259 ids.
        let h = log(pow(2.0 / 3, 2.5) + pow(1.0 / 3, 2.5)) / -1.5 / log(259.0)
        #expect(abs(ma.renyiEfficiency - h) < 1e-4)
        #expect(ma.deadTokens == 257 && metrics.domains["b"]!.deadTokens == 258)
        // Used on all: 32, 257, 258. Intermediates: 256 ("ab"), 97, 98, 99 (into "abc"), 120, 121 (into "xy").
        #expect(metrics.deadTokens == 256 && metrics.intermediateOnlyTokens == 6)
        #expect(metrics.deadShare == 0.9884)
        #expect(metrics.composition == ["English/Latin": 3, "byte and special tokens": 256])
        #expect(metrics.lengths["English/Latin"]!.prefix(4) == [0, 2, 1, 0])
        #expect(metrics.lengths["byte and special tokens"]![0] == 256)
        // Parity: 3 tokens against 2 on a, 1 against 1 on b.
        metrics.setParity(reference: ["a": 2, "b": 1])
        #expect(metrics.domains["a"]!.parity == 1.5 && metrics.domains["b"]!.parity == 1)
        #expect(metrics.paritySpread == 0.5)
    }

    @Test func tokensPerHanCharacter() throws {
        let tokenizer = try smallTokenizer()
        // "中文" is six byte tokens over two Han characters.
        let m = DomainMetrics(measure("中文", tokenizer), usable: 0 ..< 259)
        #expect(m.tokens == 6 && m.hanCharacters == 2 && m.tokensPerHanCharacter == 3)
    }

    @Test func pageChartsEveryMetric() throws {
        let tokenizer = try smallTokenizer()
        var metrics = VocabularyMetrics(name: "small <v>", tokenizer: tokenizer,
                                        measurements: [("en", measure("abc abc", tokenizer)), ("zh", measure("中文", tokenizer))])
        metrics.setParity(reference: ["en": 2, "zh": 6])
        let html = MetricsPage(title: "t", domains: ["en", "zh"], vocabularies: [metrics]).render()
        for id in ["bytes-per-token", "characters-per-token", "tokens-per-word", "tokens-per-han", "renyi", "parity", "dead",
                   "composition", "lengths", "figures"] {
            #expect(html.contains("id=\"\(id)\""), "no \(id) chart")
        }
        #expect(html.contains("small &lt;v&gt;") && !html.contains("small <v>"))
    }
}

/// Holding out whole files or sources.
struct HoldOutUnitTests {
    func write(_ text: String, _ name: String) throws -> String {
        let path = uniqueTemporaryPath(name)
        try writeFileAtomically(path, Array(text.utf8))
        return path
    }

    /// Streams `files` with `holdOut` and returns the text kept for training.
    func kept(_ files: [CorpusFile], _ holdOut: HoldOut) throws -> String {
        let stream = CorpusStream(files: files, preTokenizer: PreTokenizer(named: "tok")!, blockSize: 64)
        stream.holdOut = holdOut
        var batch = TextBatch(), text = ""
        while try stream.next(&batch) { text += String(decoding: batch.bytes, as: UTF8.self) }
        return text
    }

    @Test func aHeldOutFileIsHeldWhole() throws {
        let paths = try (0 ..< 40).map { k in
            try write((0 ..< 3).map { "file\(k)doc\($0) text\n" }.joined(separator: "\n"), "holdout-\(k).txt")
        }
        defer { for p in paths { unlink(p) } }
        let holdOut = HoldOut(perMille: 300, capacity: 1 << 20, unit: .file)
        let training = try kept(paths.map { CorpusFile(path: $0) }, holdOut)
        let held = String(decoding: holdOut.text, as: UTF8.self)
        var heldFiles = 0
        for k in 0 ..< 40 {
            let inTraining = (0 ..< 3).filter { training.contains("file\(k)doc\($0) ") }.count
            let inHeld = (0 ..< 3).filter { held.contains("file\(k)doc\($0) ") }.count
            #expect((inTraining, inHeld) == (3, 0) || (inTraining, inHeld) == (0, 3), "file \(k): \(inTraining) trained, \(inHeld) held")
            if inHeld == 3 { heldFiles += 1 }
        }
        #expect(heldFiles == holdOut.heldUnits && heldFiles > 3 && heldFiles < 25)
        #expect(holdOut.documents == heldFiles * 3)
    }

    @Test func aFullHoldOutDropsTheRestOfAHeldSource() throws {
        // JSON lines from 30 sources; the key names the source. Capacity: about two documents.
        let lines = (0 ..< 90).map { "{\"text\": \"source\($0 % 30) line\($0) words\", \"source\": \"s\($0 % 30)\"}" }
        let path = try write(lines.joined(separator: "\n") + "\n", "holdout-sources.jsonl")
        defer { unlink(path) }
        let holdOut = HoldOut(perMille: 500, capacity: 60, unit: .key("source"))
        let training = try kept([CorpusFile(path: path)], holdOut)
        let held = String(decoding: holdOut.text, as: UTF8.self)
        for s in 0 ..< 30 {
            let trained = training.contains("source\(s) "), heldHere = held.contains("source\(s) ")
            #expect(!(trained && heldHere), "source \(s) is in both")
        }
        #expect(holdOut.droppedBytes > 0 && holdOut.text.count <= 60)
    }
}
