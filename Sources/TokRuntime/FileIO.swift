import CTokRuntime
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
    /// An output that would replace what tok did not make, and why.
    case notReplaced(path: String, reason: String)

    public var description: String {
        switch self {
        case .system(let path, let operation, let reason): return "\(path): cannot \(operation): \(reason)"
        case .isDirectory(let path): return "\(path): is a directory"
        case .notReplaced(let path, let reason): return "\(path): not replaced: \(reason); give another output"
        }
    }

    /// The error for `operation` on `path` just failing, with `errno`'s reason.
    public static func errno(_ path: String, _ operation: String) -> FileError {
        .system(path: path, operation: operation, reason: String(cString: strerror(Glibc.errno)))
    }
}

/// Decodes the JSON file at `path`, or nil when there is none. A file that
/// exists but does not decode throws `invalid` of the decoder's reason.
package func readJSONFile<T: Decodable>(_ type: T.Type, at path: String, invalid: (String) -> any Error) throws -> T? {
    guard fileExists(path) else { return nil }
    let data = try readFile(path)
    do {
        return try JSONDecoder().decode(T.self, from: Data(data))
    } catch {
        throw invalid("\(error)")
    }
}

/// Reads a whole file.
package func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw FileError.errno(path, "open") }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw FileError.errno(path, "stat") }
    if (st.st_mode & S_IFMT) == S_IFDIR { throw FileError.isDirectory(path: path) }
    // Read into uninitialized memory: zeroing it first costs as much as the read.
    var capacity = max(Int(st.st_size), 0) + 1
    var out = [UInt8]()
    while true {
        let before = out
        var failure: FileError? = nil
        out = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            // before.count < capacity: the capacity only grows.
            count = before.count
            if count > 0 { _ = before.withUnsafeBufferPointer { memcpy(buffer.baseAddress!, $0.baseAddress!, count) } }
            while count < capacity {
                let n = read(fd, buffer.baseAddress! + count, capacity - count)
                if n < 0 {
                    if Glibc.errno == EINTR { continue }
                    failure = FileError.errno(path, "read")
                    return
                }
                if n == 0 { return }
                count += n
            }
        }
        if let failure { throw failure }
        if out.count < capacity { return out }
        capacity *= 2  // the file grew while being read
    }
}

/// The modification time of `path` in nanoseconds, or nil if it does not exist.
package func modificationTime(_ path: String) -> Int? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec)
}

package func fileExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0
}

package func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// A file written under a temporary name beside its destination and renamed
/// into place by ``commit()``, so a failed run leaves no half-written output.
/// Dropping it uncommitted removes the temporary file. A destination that
/// exists and is not a regular file (`/dev/null`, a pipe) is written directly.
///
/// Every output of tok goes through here (or ``writeFileAtomically(_:_:)``),
/// with one rule for where it lands:
/// - missing folders above the output are created, as `mkdir -p` would, and
///   removed again (those still empty) when the file is dropped uncommitted;
/// - a symbolic link is followed (``outputTarget(_:)``): the file it leads to
///   is replaced and the link stays;
/// - a file replaced keeps its permission bits (a 0600 output stays 0600); a
///   new one gets 0644 less the umask.
///
/// A file that grows past one buffer (1 MiB) is written with `O_DIRECT`
/// where the file system takes it, by a writer thread while the next buffer
/// fills: the device reads the buffer without the kernel copying it into the
/// page cache. Measured on this project's machine (ext4 on virtio): `dd` of
/// 120 MiB took 0.28 s of system time buffered, 0.02 s direct; `tok encode
/// --format u32` on 101 MB of text (122 MB of ids, one core, o200k) went from
/// 69.0 to 71.4 MB/s, best of 8 runs alternating with the buffered build.
/// Where `O_DIRECT` is refused, writes stay buffered.
package final class AtomicFile: @unchecked Sendable {  // the writer thread touches `fd`, `written` and `unbuffered` only between `pending.enter()` and `leave()`, and the owner waits on `pending` before it touches them
    /// The output as named, for messages.
    package let path: String
    /// Where the file lands: `path`, or the file its symbolic links lead to.
    package let destination: String
    package let temporaryPath: String
    /// The folders created above `destination`, outermost first.
    private let createdFolders: [String]
    private var fd: Int32
    /// The buffer being filled (`filled` bytes of output) and the one the
    /// writer thread may be writing; both `capacity` bytes aligned for direct I/O.
    private var buffer: UnsafeMutableRawPointer
    private var spare: UnsafeMutableRawPointer
    private var filled = 0
    /// Bytes already written to the file.
    private var written = 0
    private var committed = false
    private let direct: Bool
    /// Writing with `O_DIRECT`: whole blocks only, from the aligned buffers.
    private var unbuffered = false
    private var triedUnbuffered = false
    private let writer = DispatchQueue(label: "tok.AtomicFile.writer")
    private let pending = DispatchGroup()
    private var failure: FileError? = nil

    /// 1 MiB: 4 MiB buffers measured no faster, and fresh memory is dear on
    /// the machines this runs on (see docs/performance.md).
    static let capacity = 1 << 20
    /// Direct I/O's unit of size, offset and address alignment (the largest
    /// logical block size in use).
    static let block = 4096

    package init(_ path: String) throws {
        self.path = path
        destination = try outputTarget(path)
        var st = stat()
        let exists = stat(destination, &st) == 0
        direct = exists && (st.st_mode & S_IFMT) != S_IFREG
        self.temporaryPath = direct ? destination : TemporaryPaths.name(besides: destination)
        createdFolders = exists ? [] : try createMissingFolders(above: destination)
        if !direct {
            TemporaryPaths.removeStale(besides: destination)
            TemporaryPaths.register(temporaryPath)
        }
        fd = direct ? open(destination, O_WRONLY) : open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // open's mode passes through the umask: the replaced file's bits are set exactly.
        guard fd >= 0, direct || !exists || fchmod(fd, st.st_mode & 0o7777) == 0 else {
            let error = FileError.errno(path, "create")
            if fd >= 0 { close(fd); unlink(temporaryPath) }
            TemporaryPaths.unregister(temporaryPath)
            removeEmptyFolders(createdFolders)
            throw error
        }
        buffer = AtomicFile.allocateBuffer()
        spare = AtomicFile.allocateBuffer()
    }

    private static func allocateBuffer() -> UnsafeMutableRawPointer {
        var memory: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&memory, block, capacity) == 0, let memory else {
            fatalError("out of memory allocating \(capacity) bytes")
        }
        return memory
    }

    package func write(_ bytes: some Collection<UInt8>) throws {
        if try bytes.withContiguousStorageIfAvailable({ try write($0) }) != nil { return }
        try write(Array(bytes))
    }

    package func write(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        guard var from = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = min(left, AtomicFile.capacity - filled)
            (buffer + filled).copyMemory(from: from, byteCount: n)
            filled += n
            from += n
            left -= n
            if filled == AtomicFile.capacity { try handOver() }
        }
    }

    /// Gives the full buffer to the writer thread and takes the spare one.
    private func handOver() throws {
        pending.wait()
        if let failure { throw failure }
        if !triedUnbuffered && !direct {
            // The file is larger than one buffer: worth going around the page cache.
            triedUnbuffered = true
            let flags = fcntl(fd, F_GETFL)
            unbuffered = tok_o_direct != 0 && flags >= 0 && fcntl(fd, F_SETFL, flags | tok_o_direct) == 0
        }
        swap(&buffer, &spare)
        let count = filled  // capacity: a whole number of blocks
        filled = 0
        pending.enter()
        writer.async {
            do { try self.writeOut(self.spare, count) } catch { self.failure = error as? FileError }
            self.pending.leave()
        }
    }

    /// Writes `count` bytes at `start` (a whole number of blocks when unbuffered).
    private func writeOut(_ start: UnsafeMutableRawPointer, _ count: Int) throws {
        var done = 0
        while done < count {
            let n = Glibc.write(fd, start + done, count - done)
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                if unbuffered && Glibc.errno == EINVAL {
                    // Direct I/O refused after all: buffered from here on.
                    unbuffered = false
                    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~tok_o_direct)
                    continue
                }
                throw FileError.errno(path, "write")
            }
            done += n
        }
        written += count
    }

    /// Flushes, closes and renames the file into place.
    package func commit() throws {
        pending.wait()
        if let failure { throw failure }
        if unbuffered && filled % AtomicFile.block != 0 {
            // Direct I/O writes whole blocks: zeros to the end of the last one, cut off after.
            let end = (filled + AtomicFile.block - 1) / AtomicFile.block * AtomicFile.block
            (buffer + filled).initializeMemory(as: UInt8.self, repeating: 0, count: end - filled)
            let size = written + filled
            try writeOut(buffer, end)
            guard ftruncate(fd, off_t(size)) == 0 else { throw FileError.errno(path, "truncate") }
        } else {
            try writeOut(buffer, filled)
        }
        filled = 0
        guard close(fd) == 0 else { fd = -1; throw FileError.errno(path, "close") }
        fd = -1
        guard direct || rename(temporaryPath, destination) == 0 else { throw FileError.errno(path, "rename") }
        if !direct { TemporaryPaths.unregister(temporaryPath) }
        keepFolders(createdFolders)
        committed = true
    }

    deinit {
        pending.wait()
        if fd >= 0 { close(fd) }
        free(buffer)
        free(spare)
        if !committed && !direct {
            unlink(temporaryPath)
            TemporaryPaths.unregister(temporaryPath)
            removeEmptyFolders(createdFolders)
        }
    }
}

/// The file that writing `path` replaces: `path` itself, or, when it is a
/// symbolic link, the file its links lead to (followed as `open` follows them,
/// a dangling link naming the file to create). Outputs replace that file and
/// keep the link.
package func outputTarget(_ path: String) throws -> String {
    var current = path
    for _ in 0 ..< 40 {  // Linux's own limit on links in a path
        var st = stat()
        guard lstat(current, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK else { return current }
        var target = [UInt8](repeating: 0, count: Int(PATH_MAX))
        let n = target.withUnsafeMutableBufferPointer { readlink(current, $0.baseAddress!, $0.count) }
        guard n > 0 else { throw FileError.errno(path, "follow the link") }
        let link = String(decoding: target[0 ..< n], as: UTF8.self)
        current = link.hasPrefix("/") ? link : parentFolder(of: current) + "/" + link
    }
    throw FileError.system(path: path, operation: "follow the link", reason: "too many symbolic links")
}

/// `path` with every symbolic link, `.` and `..` resolved, or nil when it does not exist.
package func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// The folder holding `path`: `.` for a bare name.
package func parentFolder(of path: String) -> String {
    var bytes = Array(path.utf8)
    while bytes.count > 1 && bytes.last == 0x2F { bytes.removeLast() }  // "a/b/" names a/b
    guard let slash = bytes.lastIndex(of: 0x2F) else { return "." }
    return slash == 0 ? "/" : String(decoding: bytes[..<slash], as: UTF8.self)
}

/// Creates the folders above `path` that do not exist yet, as `mkdir -p`
/// does, and returns them, outermost first. Until ``keepFolders(_:)`` or
/// ``removeEmptyFolders(_:)`` is called with them, a stopping signal removes
/// those still empty (``TemporaryPaths/registerCreatedFolders(_:)``).
package func createMissingFolders(above path: String) throws -> [String] {
    var missing: [String] = []
    var folder = parentFolder(of: path)
    var st = stat()
    while lstat(folder, &st) != 0 && errno == ENOENT {
        missing.append(folder)
        let up = parentFolder(of: folder)
        guard up != folder else { break }
        folder = up
    }
    var created: [String] = []
    for folder in missing.reversed() {
        if mkdir(folder, 0o755) == 0 {
            created.append(folder)
            TemporaryPaths.registerCreatedFolders([folder])
        } else if errno != EEXIST {  // EEXIST: made meanwhile by another process, and not ours to remove
            let error = FileError.errno(folder, "create the folder")
            removeEmptyFolders(created)
            throw error
        }
    }
    return created
}

/// The output is in place: `folders` (from ``createMissingFolders(above:)``) stay.
package func keepFolders(_ folders: [String]) {
    TemporaryPaths.unregisterCreatedFolders(folders)
}

/// Removes those of `folders` (from ``createMissingFolders(above:)``) that are still empty, innermost first.
package func removeEmptyFolders(_ folders: [String]) {
    for folder in folders.reversed() { rmdir(folder) }
    TemporaryPaths.unregisterCreatedFolders(folders)
}

/// Writes `bytes` to `path` atomically.
package func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws {
    let file = try AtomicFile(path)
    try file.write(bytes)
    try file.commit()
}
