#if canImport(Glibc)
import Glibc
#endif
import CZstd
import TokEncoding
import TokRuntime

/// A stream of bytes: a file, or a file decompressed with zstd.
public protocol ByteSource: AnyObject {
    /// Appends up to `maximum` bytes to `buffer`; false at the end.
    func read(into buffer: inout [UInt8], maximum: Int) throws -> Bool
    /// Bytes taken from the file so far (compressed bytes for zstd): progress against its size.
    var consumed: Int { get }
}

/// Reads a file through its descriptor; the path `-` is standard input.
public final class FileByteSource: ByteSource {
    /// The path, or `<stdin>`.
    public let path: String
    let fd: Int32
    public private(set) var consumed = 0
    /// A regular file's size when opened: reads ask for no more than is left
    /// (and a little, should it grow), so a small file does not zero and
    /// fault in a whole block's buffer.
    var sizeWhenOpened: Int?

    public convenience init(path: String) throws {
        if path == "-" {
            self.init(standardInput: ())
        } else {
            try self.init(CorpusFile(path: path))
        }
    }

    private init(standardInput: Void) {
        path = "<stdin>"
        fd = 0
    }

    /// Opens the file by its path's bytes (``CorpusFile/pathBytes``).
    public init(_ file: CorpusFile) throws {
        path = file.path
        let fd = withCPath(file.pathBytes) { open($0, O_RDONLY) }
        guard fd >= 0 else { throw CorpusError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR else {
            let failure = (st.st_mode & S_IFMT) == S_IFDIR ? CorpusError.isDirectory(path: path)
                : CorpusError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
            close(fd)
            throw failure
        }
        self.fd = fd
        if (st.st_mode & S_IFMT) == S_IFREG { sizeWhenOpened = Int(st.st_size) }
    }

    deinit { if fd > 0 { close(fd) } }

    public func read(into buffer: inout [UInt8], maximum: Int) throws -> Bool {
        let maximum = sizeWhenOpened.map { min(maximum, max($0 - consumed, 0) + 65536) } ?? maximum
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: maximum))
        var filled = 0
        while filled < maximum {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + start + filled, maximum - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                buffer.removeSubrange((start + filled)...)
                throw CorpusError.cannotRead(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            filled += n
        }
        consumed += filled
        buffer.removeSubrange((start + filled)...)
        return filled > 0
    }
}

/// Decompresses a zstd file as it is read, in bounded memory.
public final class ZstdByteSource: ByteSource {
    let file: FileByteSource
    let stream: OpaquePointer
    var input: [UInt8] = []
    var inputOffset = 0
    var fileEnded = false
    /// The decoder is inside a frame: more input or output is due.
    var frameOpen = false
    public var consumed: Int { file.consumed }

    public convenience init(path: String) throws { try self.init(CorpusFile(path: path)) }

    public init(_ file: CorpusFile) throws {
        self.file = try FileByteSource(file)
        guard let s = ZSTD_createDStream() else { throw CorpusError.invalidZstd(path: file.path) }
        stream = s
        ZSTD_initDStream(stream)
    }

    deinit { ZSTD_freeDStream(stream) }

    public func read(into buffer: inout [UInt8], maximum: Int) throws -> Bool {
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: maximum))
        var produced = 0
        defer { buffer.removeSubrange((start + produced)...) }
        while produced < maximum {
            if inputOffset == input.count && !fileEnded {
                input.removeAll(keepingCapacity: true)
                inputOffset = 0
                fileEnded = try !file.read(into: &input, maximum: 1 << 20)
            }
            if inputOffset == input.count && fileEnded && !frameOpen {
                // A zstd stream holds at least one frame: an empty file is not one.
                if file.consumed == 0 { throw CorpusError.invalidZstd(path: file.path) }
                break
            }
            let before = produced
            let result: Int = input.withUnsafeBytes { inRaw in
                buffer.withUnsafeMutableBytes { outRaw in
                    var inBuf = ZSTD_inBuffer(src: inRaw.baseAddress, size: input.count, pos: inputOffset)
                    var outBuf = ZSTD_outBuffer(dst: outRaw.baseAddress! + start, size: maximum, pos: produced)
                    let code = ZSTD_decompressStream(stream, &outBuf, &inBuf)
                    inputOffset = inBuf.pos
                    produced = outBuf.pos
                    return ZSTD_isError(code) != 0 ? -1 : Int(code)
                }
            }
            if result < 0 { throw CorpusError.invalidZstd(path: file.path) }
            frameOpen = result > 0
            // All input read, a frame unfinished and nothing more comes out: truncated.
            if frameOpen && fileEnded && inputOffset == input.count && produced == before && produced < maximum {
                throw CorpusError.invalidZstd(path: file.path)
            }
        }
        return produced > 0
    }
}

/// Opens a corpus file as a byte stream.
public func openByteSource(_ file: CorpusFile) throws -> any ByteSource {
    file.zstd ? try ZstdByteSource(file) : try FileByteSource(file)
}
