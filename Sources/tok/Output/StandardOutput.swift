import Foundation
import Synchronization
import TokEncoding
import TokRuntime

/// Standard output. Everything tok prints there goes through here, so that
/// every write is checked: a full disk, an I/O error or a closed pipe ends the
/// run with an error instead of exit status 0 and output cut short.
enum StandardOutput {
    /// Something was written: the descriptor is closed at the end, and a
    /// failure the file system reports only then fails the run too.
    private static let used = Atomic<Bool>(false)

    /// The reader went away (EPIPE): ``Tok`` ends the run quietly, with the
    /// status a shell gives a process that SIGPIPE stopped.
    struct Closed: Error {}

    static func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var from = bytes.baseAddress else { return }
        used.store(true, ordering: .relaxed)
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(1, from, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("write")
            }
            from += n
            left -= n
        }
    }

    /// Writes `text` and a newline.
    static func writeLine(_ text: String) throws {
        var line = text
        line.append("\n")
        try line.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Closes standard output if anything was written, as the last step of a
    /// run: where writes are delayed (NFS), an error can surface only here.
    static func close() throws {
        guard used.load(ordering: .relaxed) else { return }
        // EINTR: the descriptor is closed all the same on Linux.
        if Glibc.close(1) != 0 && errno != EINTR { throw failure("close") }
    }

    private static func failure(_ operation: String) -> any Error {
        errno == EPIPE ? Closed() : FileError.errno("standard output", operation)
    }
}

/// Standard output or a file written atomically, in blocks of about 1 MiB.
final class OutputSink {
    private let file: AtomicFile?
    private var buffer: [UInt8] = []

    /// A file at `path`, or standard output for nil or `-`.
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
            if buffer.count >= 1 << 20 { try flushStandardOutput() }
        }
    }

    private func flushStandardOutput() throws {
        try buffer.withUnsafeBytes { try StandardOutput.write($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Puts the output in place; without this call a file output is discarded.
    func finish() throws {
        if let file {
            try file.commit()
        } else {
            try flushStandardOutput()
        }
    }
}
