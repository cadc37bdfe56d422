#if canImport(Glibc)
import Glibc
#endif
import TokEncoding
import TokRuntime

/// What can go wrong reading a corpus: each case names the file (and line).
public enum CorpusError: TokError, Equatable {
    case noMatch(pattern: String)
    case notFound(path: String)
    case isDirectory(path: String)
    case cannotOpen(path: String, reason: String)
    case cannotRead(path: String, reason: String)
    case invalidZstd(path: String)
    case malformedJSONLine(path: String, line: Int)
    /// A JSON line whose object has no string under the text field.
    case missingField(path: String, line: Int, field: String)

    public var description: String {
        switch self {
        case .noMatch(let pattern): return "\(pattern): no file matches"
        case .notFound(let path): return "\(path): no such file or directory"
        case .isDirectory(let path): return "\(path): is a directory"
        case .cannotOpen(let path, let reason): return "\(path): cannot open: \(reason)"
        case .cannotRead(let path, let reason): return "\(path): cannot read: \(reason)"
        case .invalidZstd(let path): return "\(path): not valid zstd data (truncated or damaged)"
        case .malformedJSONLine(let path, let line): return "\(path):\(line): malformed JSON line"
        case .missingField(let path, let line, let field): return "\(path):\(line): no string field \"\(field)\""
        }
    }
}

/// How a corpus file holds its text, decided by its name.
public enum CorpusFormat: Sendable, Equatable {
    /// Plain text: the whole file is text (`.txt`, source code, anything else).
    case text
    /// One JSON object per line; the text is a string field (`.jsonl`, `.ndjson`).
    case jsonLines
}

/// One input file and how to read it.
public struct CorpusFile: Sendable, Hashable {
    public var path: String
    public var format: CorpusFormat
    /// Compressed with zstd (`.zst`): streamed through libzstd, never unpacked to disk.
    public var zstd: Bool

    public init(path: String) {
        self.path = path
        var name = path.split(separator: "/").last.map(String.init) ?? path
        zstd = name.hasSuffix(".zst")
        if zstd { name.removeLast(4) }
        format = name.hasSuffix(".jsonl") || name.hasSuffix(".ndjson") ? .jsonLines : .text
    }
}

/// Expands files, folders (recursively) and glob patterns into a sorted list of
/// files, so that every run sees the same files in the same order. Hidden files
/// and folders (a leading dot) are skipped inside folders.
public func expandCorpusInputs(_ inputs: [String]) throws -> [CorpusFile] {
    var paths: [String] = []
    for input in inputs {
        if input.contains(where: { "*?[".contains($0) }) && !fileExists(input) {
            var g = glob_t()
            defer { globfree(&g) }
            guard Glibc.glob(input, 0, nil, &g) == 0 else { throw CorpusError.noMatch(pattern: input) }
            for i in 0 ..< Int(g.gl_pathc) {
                if let p = g.gl_pathv[i] { try collect(String(cString: p), into: &paths) }
            }
        } else {
            guard fileExists(input) else { throw CorpusError.notFound(path: input) }
            try collect(input, into: &paths)
        }
    }
    return Array(Set(paths)).sorted().map(CorpusFile.init)
}

private func collect(_ path: String, into paths: inout [String]) throws {
    guard isDirectory(path) else {
        paths.append(path)
        return
    }
    guard let dir = opendir(path) else { throw CorpusError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name.hasPrefix(".") { continue }
        names.append(name)
    }
    for name in names.sorted() {
        try collect(path.hasSuffix("/") ? path + name : path + "/" + name, into: &paths)
    }
}
