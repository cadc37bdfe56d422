import ArgumentParser
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

/// Options every command that reads a vocabulary takes.
struct VocabularyOptions: ParsableArguments {
    @Option(name: .long, help: "The vocabulary folder (vocab/NAME).")
    var vocab: String

    func load() throws -> Tokenizer { try VocabularyFolder.load(vocab) }
}

func printError(_ message: String, newline: Bool = true) {
    FileHandle.standardError.write(Data((message + (newline ? "\n" : "")).utf8))
}

/// Reads a file or standard input (`-`) in blocks.
final class BlockReader {
    private let source: FileByteSource
    var name: String { source.path }

    init(_ path: String) throws {
        source = try FileByteSource(path: path)
    }

    /// Appends up to `maximum` bytes to `buffer`; false at the end of the input.
    func read(into buffer: inout [UInt8], maximum: Int) throws -> Bool {
        try source.read(into: &buffer, maximum: maximum)
    }
}

/// Standard output or a file written atomically.
final class OutputSink {
    private let file: AtomicFile?
    private var buffer: [UInt8] = []

    init(_ path: String?) throws {
        if let path, path != "-" {
            file = try AtomicFile(path)
        } else {
            file = nil
        }
    }

    func write(_ bytes: some Collection<UInt8>) throws {
        if let file {
            try file.write(bytes)
        } else {
            buffer.append(contentsOf: bytes)
            if buffer.count >= 1 << 20 { flushStandardOutput() }
        }
    }

    private func flushStandardOutput() {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + done, $0.count - done) }
            if n <= 0 { break }
            done += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Puts the output in place; without this call a file output is discarded.
    func finish() throws {
        if let file {
            try file.commit()
        } else {
            flushStandardOutput()
        }
    }
}

/// Writes ids as decimal text.
/// Token ids as decimal text, separated by single spaces.
enum IdFormatter {
    /// Ids formatted at a time, into a buffer on the stack (11 bytes each at most).
    static let chunk = 4096

    /// Appends `ids`, each after a space but the first when `leadingSpace` is false.
    ///
    /// Digits go into a stack buffer and reach `out` once a chunk: appending
    /// them one by one cost about 60 ns an id (half of `tok encode`'s time).
    static func append(_ ids: UnsafeBufferPointer<UInt32>, leadingSpace: Bool, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: chunk * 11) { buffer in
            let p = buffer.baseAddress!
            var space = leadingSpace
            var start = 0
            while start < ids.count {
                let end = min(start + chunk, ids.count)
                var used = 0
                for id in UnsafeBufferPointer(rebasing: ids[start ..< end]) {
                    // used <= 11 * (ids so far in this chunk) and a chunk holds `chunk` ids: in the buffer.
                    if space { p[used] = 0x20; used += 1 }
                    space = true
                    used += write(id, at: p + used)
                }
                out.append(contentsOf: UnsafeBufferPointer(start: p, count: used))
                start = end
            }
        }
    }

    /// Writes `id`'s digits at `p` (at most 10) and returns how many.
    @inline(__always)
    static func write(_ id: UInt32, at p: UnsafeMutablePointer<UInt8>) -> Int {
        var digits = 1
        var limit: UInt64 = 10
        while UInt64(id) >= limit { digits += 1; limit *= 10 }
        var n = id, i = digits
        repeat {
            i -= 1
            p[i] = 0x30 + UInt8(truncatingIfNeeded: n % 10)
            n /= 10
        } while n > 0
        return digits
    }
}

func defaultThreadCount() -> Int { ProcessInfo.processInfo.activeProcessorCount }

/// A size such as 4G, 512M or 100000 (bytes).
func parseSize(_ text: String, option: String) throws -> Int {
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
    var text = text.uppercased()
    var scale = 1
    if let unit = text.last, let s = units[unit] { scale = s; text.removeLast() }
    guard let value = Double(text), value > 0 else { throw ValidationError("\(option) expects a size such as 4G or 512M") }
    return Int(value * Double(scale))
}

/// What `tok encode` says about invalid UTF-8 in its input.
func invalidUTF8Message(_ count: Int, _ tokenizer: Tokenizer) -> String {
    tokenizer.vocabulary.bytesWithoutToken.isEmpty
        ? "\(count) bytes of invalid UTF-8 encoded as byte tokens"
        : "\(count) bytes of invalid UTF-8 encoded as byte tokens, or as U+FFFD where this vocabulary has no token for the byte"
}
