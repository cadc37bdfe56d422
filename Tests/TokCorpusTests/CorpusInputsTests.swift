import Foundation
import Testing
@testable import TokCorpus
import TokEncoding
import TokRuntime

/// What inputs are (count files or text, by their bytes), folders walked with
/// links followed once, names that are not UTF-8, and JSON lines read as
/// Python's `json` reads them.
struct CorpusInputsTests {
    let tok = PreTokenizer(named: "tok")!

    /// A fresh folder under the temporary folder; removed with everything in it by `removeTree`.
    func folder(_ name: String) throws -> String {
        let path = uniqueTemporaryPath(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    func removeTree(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

    func texts(_ files: [CorpusFile], strict: Bool = false) throws -> [[UInt8]] {
        let stream = CorpusStream(files: files, preTokenizer: tok, strict: strict)
        var out: [[UInt8]] = []
        var batch = TextBatch()
        while try stream.next(&batch) { batch.forEachText { out.append(Array($0)) } }
        return out
    }

    /// A link to a sibling folder and a hard link reach files already found:
    /// each real file comes once, under its first path.
    @Test func eachRealFileComesOnce() throws {
        let root = try folder("links")
        defer { removeTree(root) }
        try FileManager.default.createDirectory(atPath: root + "/sub", withIntermediateDirectories: false)
        try writeFileAtomically(root + "/sub/a.txt", Array("alpha\n".utf8))
        try writeFileAtomically(root + "/b.txt", Array("beta\n".utf8))
        #expect(symlink("sub", root + "/twin") == 0)
        #expect(link(root + "/b.txt", root + "/sub/hard.txt") == 0)
        let files = try expandCorpusInputs([root, root + "/sub/a.txt"]).map(\.path)
        #expect(files == [root + "/b.txt", root + "/sub/a.txt"])
        #expect(Array(try texts(try expandCorpusInputs([root])).joined()) == Array("beta\nalpha\n".utf8))
    }

    /// A link back into a folder that holds it is refused with one line, however many there are.
    @Test func linkLoopsAreRefused() throws {
        let root = try folder("loops")
        defer { removeTree(root) }
        try writeFileAtomically(root + "/a.txt", Array("alpha\n".utf8))
        #expect(symlink(".", root + "/here") == 0)
        #expect(symlink(".", root + "/again") == 0)
        #expect(throws: CorpusError.symbolicLinkLoop(path: root + "/again", target: root)) { try expandCorpusInputs([root]) }
        try FileManager.default.createDirectory(atPath: root + "/deep", withIntermediateDirectories: false)
        unlink(root + "/here")
        unlink(root + "/again")
        #expect(symlink("..", root + "/deep/up") == 0)
        #expect(throws: CorpusError.symbolicLinkLoop(path: root + "/deep/up", target: root)) { try expandCorpusInputs([root]) }
    }

    /// A file whose name is not UTF-8 is found and read (its path shown with U+FFFD).
    @Test func namesThatAreNotUTF8Open() throws {
        let root = try folder("names")
        defer { removeTree(root) }
        let name = Array(root.utf8) + Array("/caf".utf8) + [0xE9] + Array(".txt".utf8)
        let fd = withCPath(name) { open($0, O_WRONLY | O_CREAT, 0o644) }
        #expect(fd >= 0)
        _ = write(fd, "latin-1 name\n", 13)
        close(fd)
        let files = try expandCorpusInputs([root])
        #expect(files.count == 1 && files[0].pathBytes == name && files[0].path == root + "/caf\u{FFFD}.txt")
        #expect(try texts(files) == [Array("latin-1 name\n".utf8)])
    }

    /// The one rule: count files by their first bytes, whatever their names; text otherwise; never both;
    /// and a file named as a count file that does not start as one is damaged, not text.
    @Test func countFilesAreKnownByTheirBytes() throws {
        let root = try folder("kinds")
        defer { removeTree(root) }
        let counts = root + "/named.txt", text = root + "/t.txt", magicText = root + "/m.txt"
        try writeFileAtomically(counts, Array("TOKC".utf8) + [2, 0, 0, 0, 0])
        try writeFileAtomically(text, Array("plain text\n".utf8))
        try writeFileAtomically(magicText, Array("TOKCOUNTS is a word\n".utf8))
        #expect(try CorpusInputs(resolving: [counts]) == .countFiles([counts]))
        #expect(try CorpusInputs(resolving: [text, magicText]) == .text([CorpusFile(path: magicText), CorpusFile(path: text)]))
        #expect(throws: CorpusError.countFilesAndText(countFile: counts, text: magicText)) { try CorpusInputs(resolving: [root]) }
        #expect(throws: CorpusError.countFileNotText(path: counts)) { try expandCorpusInputs([counts, text]) }
        let damaged = root + "/cut.counts"
        try writeFileAtomically(damaged, Array("TOK".utf8))
        #expect(throws: CorpusError.notACountFile(path: damaged)) { try CorpusInputs(resolving: [damaged]) }
        #expect(throws: CorpusError.notACountFile(path: damaged)) { try expandCorpusInputs([text, damaged]) }
        try FileManager.default.removeItem(atPath: damaged)
        // A pipe is text, and telling so reads nothing from it (opening it alone would wait for a writer).
        let pipe = root + "/pipe"
        #expect(mkfifo(pipe, 0o600) == 0)
        #expect(try CorpusInputs(resolving: [pipe]) == .text([CorpusFile(path: pipe)]))
    }

    /// A key given twice takes its last value, as Python's `json.loads` does.
    @Test func aRepeatedKeyTakesItsLastValue() throws {
        func field(_ line: String) throws -> String? {
            var out: [UInt8] = Array("kept".utf8)
            let found = try Array(line.utf8).withUnsafeBufferPointer { try extractJSONStringField($0, field: Array("text".utf8), into: &out) }
            #expect(out.starts(with: Array("kept".utf8)))
            return found ? String(decoding: out.dropFirst(4), as: UTF8.self) : nil
        }
        #expect(try field(#"{"text": "first", "a": 1, "text": "second"}"#) == "second")
        #expect(try field(#"{"text": "first", "te\u0078t": "escaped"}"#) == "escaped")
        #expect(try field(#"{"text": "first", "text": null}"#) == nil)
        #expect(try field(#"{"text": 1, "text": "last"}"#) == "last")
        #expect(try field(#"{} "#) == nil)
        #expect(throws: (any Error).self) { try field(#"{} x"#) }
    }

    /// Nesting 100,000 deep is stepped over without recursion, and malformed nesting is still malformed.
    @Test func deepNestingNeitherCrashesNorPasses() throws {
        func field(_ line: String) throws -> String? {
            var out: [UInt8] = []
            let found = try Array(line.utf8).withUnsafeBufferPointer { try extractJSONStringField($0, field: Array("text".utf8), into: &out) }
            return found ? String(decoding: out, as: UTF8.self) : nil
        }
        let depth = 100_000
        let arrays = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let objects = String(repeating: #"{"k": "#, count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(try field(#"{"a": "# + arrays + #", "text": "after"}"#) == "after")
        #expect(try field(#"{"text": "before", "a": "# + objects + "}") == "before")
        #expect(try field(#"{"a": [{"b": [1, 2, {"c": "d"}], "e": []}, "x"], "text": "t"}"#) == "t")
        #expect(throws: (any Error).self) { try field(#"{"a": "# + String(arrays.dropLast()) + #", "text": "x"}"#) }
        #expect(throws: (any Error).self) { try field(#"{"a": [1, 2,], "text": "x"}"#) }
        #expect(throws: (any Error).self) { try field(#"{"a": {"b" 1}, "text": "x"}"#) }
        #expect(throws: (any Error).self) { try field(#"{"a": [1}, "text": "x"}"#) }
    }

    /// With `strict`, a blank JSON line is refused (file and line); without, it is skipped.
    @Test func blankJSONLinesAreRefusedWhenStrict() throws {
        let path = uniqueTemporaryPath("blank.jsonl")
        defer { unlink(path) }
        try writeFileAtomically(path, Array("{\"text\": \"one\"}\n\n{\"text\": \"two\"}\n".utf8))
        #expect(try texts([CorpusFile(path: path)]) == [Array("one".utf8), Array("two".utf8)])
        #expect(throws: CorpusError.blankJSONLine(path: path, line: 2)) { try texts([CorpusFile(path: path)], strict: true) }
    }

    /// An empty `.zst` holds no zstd frame: refused, not read as empty.
    @Test func anEmptyZstdFileIsRefused() throws {
        let path = uniqueTemporaryPath("empty.jsonl.zst")
        defer { unlink(path) }
        try writeFileAtomically(path, [])
        #expect(throws: CorpusError.invalidZstd(path: path)) { try texts([CorpusFile(path: path)]) }
    }
}
