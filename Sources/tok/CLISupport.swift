import Foundation
import TokCorpus
import TokEncoding
import TokRuntime

/// A failure reported as one line, naming the file (and line) it concerns.
/// (The libraries' errors are such lines already and are thrown as they are.)
struct CLIError: TokError {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Writes `message` to standard error. A failure there has nowhere to be
/// reported, so it is ignored (FileHandle would trap on it).
func printError(_ message: String, newline: Bool = true) {
    var text = message
    if newline { text.append("\n") }
    text.withUTF8 { bytes in
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(2, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }
}

/// Reads a file or standard input (`-`) in blocks; a `.zst` file is
/// decompressed as it is read, as the corpus commands read it.
final class BlockReader {
    private let source: any ByteSource
    /// The path, or `<stdin>`.
    let name: String

    init(_ path: String) throws {
        if path == "-" {
            let input = try FileByteSource(path: path)
            source = input
            name = input.path
        } else {
            source = try openByteSource(CorpusFile(path: path))
            name = path
        }
    }

    /// Appends up to `maximum` bytes to `buffer`; false at the end of the input.
    func read(into buffer: inout [UInt8], maximum: Int) throws -> Bool {
        try source.read(into: &buffer, maximum: maximum)
    }
}

/// What `tok encode` says about invalid UTF-8 in its input.
func invalidUTF8Message(_ count: Int, _ tokenizer: Tokenizer) -> String {
    tokenizer.vocabulary.bytesWithoutToken.isEmpty
        ? "\(count) bytes of invalid UTF-8 encoded as byte tokens"
        : "\(count) bytes of invalid UTF-8 encoded as byte tokens, or as U+FFFD where this vocabulary has no token for the byte"
}

/// Says how many JSON lines were skipped (malformed, or without a string in
/// `field`), after the first few were named one by one.
func reportSkippedLines(_ statistics: CorpusStatistics, field: String, in path: String? = nil) {
    let place = path.map { $0 + ": " } ?? ""
    if statistics.malformedLines > 0 { printError("tok: \(place)\(statistics.malformedLines) malformed JSON lines skipped") }
    if statistics.linesWithoutField > 0 {
        printError("tok: \(place)\(statistics.linesWithoutField) JSON lines without a string \"\(field)\" skipped")
    }
}
