import Foundation
import Testing
@testable import TokCorpus
import TokEncoding
import TokRuntime

struct CorpusTests {
    let tok = PreTokenizer(named: "tok")!

    func texts(_ stream: CorpusStream) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        var batch = TextBatch()
        while try stream.next(&batch) { batch.forEachText { out.append(Array($0)) } }
        return out
    }

    @Test func plainTextStreamsInBlocksCutWherePiecesEnd() throws {
        let path = uniqueTemporaryPath("plain.txt")
        defer { unlink(path) }
        var rng = SplitMix(state: 9)
        var text = ""
        while text.utf8.count < 100_000 { text += ["word ", "中文", "\n", "x=1;", "\nNext", "  "].randomElement(using: &rng)! }
        try writeFileAtomically(path, Array(text.utf8))
        let stream = CorpusStream(files: [CorpusFile(path: path)], preTokenizer: tok, blockSize: 1000)
        let parts = try texts(stream)
        #expect(parts.count > 50)
        #expect(parts.flatMap { $0 } == Array(text.utf8))
        #expect(stream.statistics.bytes == text.utf8.count && stream.statistics.documents == 1)
    }

    @Test func holdOutIsTheSameWhateverTheBlockSize() throws {
        let path = uniqueTemporaryPath("docs.txt")
        defer { unlink(path) }
        let documents = (0 ..< 400).map { "document \($0) says \(String(repeating: "text ", count: $0 % 17))\n" }
        try writeFileAtomically(path, Array(documents.joined(separator: "\n").utf8))
        var held: [[UInt8]] = []
        for blockSize in [200, 1000, 1 << 20] {  // documents are under 200 bytes; longer ones are held in parts
            let stream = CorpusStream(files: [CorpusFile(path: path)], preTokenizer: tok, blockSize: blockSize)
            let holdOut = HoldOut(perMille: 100, capacity: 1 << 20)
            stream.holdOut = holdOut
            let kept = try texts(stream).flatMap { $0 }
            held.append(holdOut.text)
            #expect(holdOut.documents > 10 && holdOut.documents < 100)
            #expect(kept.count + holdOut.text.count == documents.joined(separator: "\n").utf8.count)
        }
        #expect(held[0] == held[1] && held[1] == held[2])
        // The capacity bounds what is held.
        let stream = CorpusStream(files: [CorpusFile(path: path)], preTokenizer: tok)
        stream.holdOut = HoldOut(perMille: 1000, capacity: 500)
        _ = try texts(stream)
        #expect(stream.holdOut!.text.count <= 500)
    }

    @Test func malformedJSONLinesAreNamedWithFileAndLine() throws {
        let path = uniqueTemporaryPath("lines.jsonl")
        defer { unlink(path) }
        try writeFileAtomically(path, Array("{\"text\": \"one\"}\n{\"text\": broken}\n\n{\"text\": \"two\"}\n".utf8))
        let stream = CorpusStream(files: [CorpusFile(path: path)], preTokenizer: tok)
        let warnings = Warnings()
        stream.warn = { warnings.add($0) }
        #expect(try texts(stream) == [Array("one".utf8), Array("two".utf8)])
        #expect(warnings.all == ["\(path):2: malformed JSON line (skipped)"])
        #expect(stream.statistics.malformedLines == 1 && stream.statistics.documents == 2)
        let strict = CorpusStream(files: [CorpusFile(path: path)], preTokenizer: tok, strict: true)
        #expect(throws: CorpusError.malformedJSONLine(path: path, line: 2)) { try texts(strict) }
    }

    @Test func zstdIsStreamedAndATruncatedFileIsNamed() throws {
        let plain = uniqueTemporaryPath("z.jsonl"), packed = plain + ".zst", cut = uniqueTemporaryPath("cut.jsonl.zst")
        defer { for p in [plain, packed, cut] { unlink(p) } }
        let lines = (0 ..< 3000).map { "{\"text\": \"line \($0) \(String(repeating: "z", count: $0 % 50))\"}\n" }.joined()
        try writeFileAtomically(plain, Array(lines.utf8))
        let zstd = Process()
        zstd.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
        zstd.arguments = ["-q", "-f", plain, "-o", packed]
        try zstd.run()
        zstd.waitUntilExit()
        let stream = CorpusStream(files: [CorpusFile(path: packed)], preTokenizer: tok, blockSize: 4096)
        #expect(try texts(stream).count == 3000)
        let whole = try readFile(packed)
        try writeFileAtomically(cut, Array(whole.prefix(whole.count / 2)))
        #expect(throws: CorpusError.invalidZstd(path: cut)) {
            try texts(CorpusStream(files: [CorpusFile(path: cut)], preTokenizer: tok))
        }
    }

    @Test func jsonFieldExtractionHandlesEscapesAndNesting() throws {
        func field(_ line: String) throws -> String? {
            var out: [UInt8] = []
            let found = try Array(line.utf8).withUnsafeBufferPointer { try extractJSONStringField($0, field: Array("text".utf8), into: &out) }
            return found ? String(decoding: out, as: UTF8.self) : nil
        }
        #expect(try field(#"{"a": {"text": "inner"}, "text": "x\ny\u00e9\ud83d\ude00\"", "b": [1, true, null]}"#) == "x\nyé😀\"")
        #expect(try field(#"{"other": "x"}"#) == nil)
        #expect(throws: (any Error).self) { try field(#"{"text": "unterminated}"#) }
    }

    /// Lines are documents exactly where Python's `json.loads` (megatron's reader) takes them.
    @Test func jsonLinesAreReadAsPythonsJSONReadsThem() throws {
        func field(_ line: String) throws -> String? {
            var out: [UInt8] = []
            let found = try Array(line.utf8).withUnsafeBufferPointer { try extractJSONStringField($0, field: Array("text".utf8), into: &out) }
            return found ? String(decoding: out, as: UTF8.self) : nil
        }
        // Raw control characters inside strings, in the field, another value or a key: refused.
        for line in ["{\"text\": \"a\tb\"}", "{\"text\": \"a\u{0}b\"}", "{\"id\": \"x\ry\", \"text\": \"t\"}",
                     "{\"te\u{1}xt\": \"t\"}"] {
            #expect(throws: (any Error).self) { try field(line) }
        }
        // Numbers by JSON's grammar, and the three words Python's json also takes.
        for value in ["0", "-1", "12.5e-3", "1E9", "NaN", "Infinity", "-Infinity"] {
            #expect(try field(#"{"n": \#(value), "text": "t"}"#) == "t")
        }
        for value in ["01", "1-2", "1.", ".5", "1e", "+1", "--1", "nan"] {
            #expect(throws: (any Error).self) { try field(#"{"n": \#(value), "text": "t"}"#) }
        }
        // White space between tokens is JSON's, carriage returns included.
        #expect(try field("{\"text\":\r\"t\"}\r") == "t")
    }

    @Test func inputsExpandSortedAndMissingOnesAreNamed() throws {
        #expect(throws: CorpusError.notFound(path: "/no/such/tok/input")) { try expandCorpusInputs(["/no/such/tok/input"]) }
        #expect(throws: CorpusError.noMatch(pattern: "/no/such/*.txt")) { try expandCorpusInputs(["/no/such/*.txt"]) }
    }
}

/// Warnings collected from a callback.
final class Warnings: @unchecked Sendable {
    private(set) var all: [String] = []
    func add(_ s: String) { all.append(s) }
}
