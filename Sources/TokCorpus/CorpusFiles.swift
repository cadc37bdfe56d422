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
    /// A blank line in JSON lines read with `strict`: Python's `json.loads` refuses it too.
    case blankJSONLine(path: String, line: Int)
    /// A folder reached again from inside itself through a symbolic link.
    case symbolicLinkLoop(path: String, target: String)
    /// A count file where text is wanted.
    case countFileNotText(path: String)
    /// Count files and text in one list of inputs.
    case countFilesAndText(countFile: String, text: String)
    /// A file named as a count file that does not start as one: damaged
    /// (truncated, its first bytes changed) rather than text to count.
    case notACountFile(path: String)

    public var description: String {
        switch self {
        case .noMatch(let pattern): return "\(pattern): no file matches"
        case .notFound(let path): return "\(path): no such file or directory"
        case .isDirectory(let path): return "\(path): is a directory"
        case .cannotOpen(let path, let reason): return "\(path): cannot open: \(reason)"
        case .cannotRead(let path, let reason): return "\(path): cannot read: \(reason)"
        case .invalidZstd(let path): return "\(path): not valid zstd data (empty, truncated or damaged)"
        case .malformedJSONLine(let path, let line): return "\(path):\(line): malformed JSON line"
        case .missingField(let path, let line, let field): return "\(path):\(line): no string field \"\(field)\""
        case .blankJSONLine(let path, let line): return "\(path):\(line): blank line, not a JSON object"
        case .symbolicLinkLoop(let path, let target):
            return "\(path): a symbolic link loop (leads back to \(target), which holds it): remove the link or give the folders apart"
        case .notACountFile(let path):
            return "\(path): named as a count file but does not start as one: damaged, or not written by tok count"
        case .countFileNotText(let path):
            return "\(path): a count file, not text (tok count --merge, tok train and tok build take count files)"
        case .countFilesAndText(let countFile, let text):
            return "\(countFile) is a count file and \(text) is text: give count files or text, not both"
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
    /// The path as messages and outputs show it (bytes that are not UTF-8 shown as U+FFFD).
    public let path: String
    /// The path's bytes as the file system has them: what opens the file, whatever its name's encoding.
    public let pathBytes: [UInt8]
    public var format: CorpusFormat
    /// Compressed with zstd (`.zst`): streamed through libzstd, never unpacked to disk.
    public var zstd: Bool

    public init(path: String) { self.init(pathBytes: Array(path.utf8)) }

    public init(pathBytes: [UInt8]) {
        self.pathBytes = pathBytes
        path = String(decoding: pathBytes, as: UTF8.self)
        var name = pathBytes.split(separator: UInt8(ascii: "/")).last.map(Array.init) ?? pathBytes
        zstd = name.hasSuffix(".zst")
        if zstd { name.removeLast(4) }
        format = name.hasSuffix(".jsonl") || name.hasSuffix(".ndjson") ? .jsonLines : .text
    }
}

private extension Array where Element == UInt8 {
    func hasSuffix(_ suffix: String) -> Bool { count >= suffix.utf8.count && self[(count - suffix.utf8.count)...].elementsEqual(suffix.utf8) }
}

/// What a list of inputs is, by the one rule every command follows: a file
/// whose first bytes are a count file's (``countFileMagic``, then a format
/// version) is a count file, whatever its name; every other file is text,
/// except that a file named `*.counts` must be a count file (one whose first
/// bytes were damaged is refused, not counted as text). Folders and globs are
/// expanded first (``expandInputFiles(_:)``); a list holding both kinds is refused.
public enum CorpusInputs: Sendable, Equatable {
    case countFiles([String])
    case text([CorpusFile])

    /// The bytes a count file starts with.
    public static let countFileMagic = Array("TOKC".utf8)

    public init(resolving inputs: [String]) throws {
        let files = try CorpusInputs.checkedNames(try expandInputFiles(inputs))
        let counts = files.filter(CorpusInputs.startsLikeCountFile)
        if counts.isEmpty { self = .text(files); return }
        if let text = files.first(where: { !CorpusInputs.startsLikeCountFile($0) }) {
            throw CorpusError.countFilesAndText(countFile: counts[0].path, text: text.path)
        }
        self = .countFiles(counts.map(\.path))
    }

    /// True when the file is a regular file that starts with the magic and a
    /// little-endian version under 256: the zero bytes keep a text that
    /// happens to start with the magic from passing for a count file. A pipe
    /// (`<(zstdcat ...)`) is text, and is not read here.
    /// `files`, once every file named `*.counts` is known to start as a count file.
    static func checkedNames(_ files: [CorpusFile]) throws -> [CorpusFile] {
        for file in files where file.pathBytes.hasSuffix(".counts") && !startsLikeCountFile(file) {
            throw CorpusError.notACountFile(path: file.path)
        }
        return files
    }

    public static func startsLikeCountFile(_ file: CorpusFile) -> Bool {
        var st = stat()
        guard withCPath(file.pathBytes, { stat($0, &st) }) == 0, (st.st_mode & S_IFMT) == S_IFREG,
              let source = try? FileByteSource(file) else { return false }
        var head: [UInt8] = []
        while head.count < 8, (try? source.read(into: &head, maximum: 8 - head.count)) == true {}
        return head.count == 8 && head.starts(with: countFileMagic) && head[5 ..< 8].allSatisfy { $0 == 0 }
    }
}

/// The text files of `inputs` (``expandInputFiles(_:)``): a count file among them is refused.
public func expandCorpusInputs(_ inputs: [String]) throws -> [CorpusFile] {
    let files = try CorpusInputs.checkedNames(try expandInputFiles(inputs))
    if let counts = files.first(where: CorpusInputs.startsLikeCountFile) { throw CorpusError.countFileNotText(path: counts.path) }
    return files
}

/// Expands files, folders (recursively, following symbolic links) and glob
/// patterns into a list of files sorted by path, so that every run sees the
/// same files in the same order. Each real file (device and inode) comes once,
/// under its first path, however many links or names reach it; a link that
/// leads back into a folder holding it is refused. Hidden files and folders (a
/// leading dot) are skipped inside folders. Names are bytes: a name that is not
/// UTF-8 opens all the same.
public func expandInputFiles(_ inputs: [String]) throws -> [CorpusFile] {
    var walk = FolderWalk()
    for input in inputs {
        if input.contains(where: { "*?[".contains($0) }) && !fileExists(input) {
            var g = glob_t()
            defer { globfree(&g) }
            guard Glibc.glob(input, 0, nil, &g) == 0 else { throw CorpusError.noMatch(pattern: input) }
            for i in 0 ..< Int(g.gl_pathc) {
                if let p = g.gl_pathv[i] { try walk.collect(Array(UnsafeBufferPointer(start: p, count: strlen(p))).map(UInt8.init(bitPattern:))) }
            }
        } else {
            guard fileExists(input) else { throw CorpusError.notFound(path: input) }
            try walk.collect(Array(input.utf8))
        }
    }
    return walk.files()
}

/// The state of expanding inputs: the files found and the folders being walked.
private struct FolderWalk {
    struct Identity: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private var found: [(path: [UInt8], identity: Identity?)] = []
    /// The folders from the input down to where the walk is, with their paths.
    private var ancestors: [Identity: [UInt8]] = [:]
    /// Folders walked already: one reached again (a link to a sibling) has nothing new.
    private var walked = Set<Identity>()

    mutating func collect(_ path: [UInt8]) throws {
        var st = stat()
        guard withCPath(path, { stat($0, &st) }) == 0 else {
            // A dangling link: kept, so that opening it says why it cannot be read.
            found.append((path, nil))
            return
        }
        let identity = Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            found.append((path, identity))
            return
        }
        if let target = ancestors[identity] {
            throw CorpusError.symbolicLinkLoop(path: String(decoding: path, as: UTF8.self), target: String(decoding: target, as: UTF8.self))
        }
        guard walked.insert(identity).inserted else { return }
        ancestors[identity] = path
        defer { ancestors[identity] = nil }
        for name in try names(in: path) {
            try collect(path.last == UInt8(ascii: "/") ? path + name : path + [UInt8(ascii: "/")] + name)
        }
    }

    /// The folder's entries but hidden ones, sorted by their bytes.
    private func names(in path: [UInt8]) throws -> [[UInt8]] {
        guard let dir = withCPath(path, { opendir($0) }) else {
            throw CorpusError.cannotOpen(path: String(decoding: path, as: UTF8.self), reason: String(cString: strerror(errno)))
        }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name.first == UInt8(ascii: ".") { continue }
            names.append(name)
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// The files found, by path; each real file once, under its first path.
    func files() -> [CorpusFile] {
        var seen = Set<Identity>()
        var paths = Set<[UInt8]>()
        return found.sorted { $0.path.lexicographicallyPrecedes($1.path) }.compactMap { file in
            guard paths.insert(file.path).inserted, file.identity.map({ seen.insert($0).inserted }) ?? true else { return nil }
            return CorpusFile(pathBytes: file.path)
        }
    }
}

/// Calls `body` with `path` as a C string.
func withCPath<T>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
    try (path + [0]).withUnsafeBufferPointer { try $0.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
}
