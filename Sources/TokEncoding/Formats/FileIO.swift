import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file operation that failed: the path, what was tried and the system's reason.
public enum FileError: TokError, Equatable {
    case system(path: String, operation: String, reason: String)
    case isDirectory(path: String)

    public var description: String {
        switch self {
        case .system(let path, let operation, let reason): return "\(path): cannot \(operation): \(reason)"
        case .isDirectory(let path): return "\(path): is a directory"
        }
    }

    /// The error for `operation` on `path` just failing, with `errno`'s reason.
    public static func errno(_ path: String, _ operation: String) -> FileError {
        .system(path: path, operation: operation, reason: String(cString: strerror(Glibc.errno)))
    }
}

/// Decodes the JSON file at `path`, or nil when there is none. A file that
/// exists but does not decode throws `invalid` of the decoder's reason.
public func readJSONFile<T: Decodable>(_ type: T.Type, at path: String, invalid: (String) -> any Error) throws -> T? {
    guard fileExists(path) else { return nil }
    let data = try readFile(path)
    do {
        return try JSONDecoder().decode(T.self, from: Data(data))
    } catch {
        throw invalid("\(error)")
    }
}

/// Reads a whole file.
public func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw FileError.errno(path, "open") }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw FileError.errno(path, "stat") }
    if (st.st_mode & S_IFMT) == S_IFDIR { throw FileError.isDirectory(path: path) }
    var out = [UInt8]()
    var capacity = max(Int(st.st_size), 0) + 1
    var filled = 0
    while true {
        if filled == out.count { out.append(contentsOf: repeatElement(0, count: max(capacity - out.count, 65536))) }
        let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
        if n < 0 { if Glibc.errno == EINTR { continue }; throw FileError.errno(path, "read") }
        if n == 0 { break }
        filled += n
        capacity = out.count * 2
    }
    out.removeSubrange(filled...)
    return out
}

/// The modification time of `path` in nanoseconds, or nil if it does not exist.
public func modificationTime(_ path: String) -> Int? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec)
}

public func fileExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0
}

public func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// A file written under a temporary name beside its destination and renamed
/// into place by ``commit()``, so a failed run leaves no half-written output.
/// Dropping it uncommitted removes the temporary file. A destination that
/// exists and is not a regular file (`/dev/null`, a pipe) is written directly.
public final class AtomicFile {
    public let path: String
    public let temporaryPath: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var committed = false
    private let direct: Bool

    public init(_ path: String) throws {
        self.path = path
        var st = stat()
        direct = stat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG
        self.temporaryPath = direct ? path : TemporaryPaths.name(besides: path)
        if !direct {
            TemporaryPaths.removeStale(besides: path)
            TemporaryPaths.register(temporaryPath)
        }
        fd = direct ? open(path, O_WRONLY) : open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            TemporaryPaths.unregister(temporaryPath)
            throw FileError.errno(path, "create")
        }
        buffer.reserveCapacity(1 << 20)
    }

    public func write(_ bytes: some Collection<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { try flush() }
    }

    public func write(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 { if Glibc.errno == EINTR { continue }; throw FileError.errno(path, "write") }
            done += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, closes and renames the file into place.
    public func commit() throws {
        try flush()
        guard close(fd) == 0 else { fd = -1; throw FileError.errno(path, "close") }
        fd = -1
        guard direct || rename(temporaryPath, path) == 0 else { throw FileError.errno(path, "rename") }
        if !direct { TemporaryPaths.unregister(temporaryPath) }
        committed = true
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed && !direct {
            unlink(temporaryPath)
            TemporaryPaths.unregister(temporaryPath)
        }
    }
}

/// Writes `bytes` to `path` atomically.
public func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws {
    let file = try AtomicFile(path)
    try file.write(bytes)
    try file.commit()
}
