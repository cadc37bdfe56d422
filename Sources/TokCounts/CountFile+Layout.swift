#if canImport(Glibc)
import Glibc
#endif
import TokEncoding
import TokRuntime

extension CountFile {
    /// Where a count file's parts are, read from its two ends and checked:
    /// the header, the trailer, and the tail's checksum (which covers the
    /// metadata and the checksums of the entries).
    struct Layout {
        /// Bytes before the metadata: the header and the entries.
        var entriesLength: Int
        var json: [UInt8]
        /// The checksum of each ``CountFile/chunk`` of the entries.
        var chunkChecksums: [UInt64]

        init(path: String) throws {
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { throw FileError.errno(path, "open") }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw FileError.errno(path, "stat") }
            guard (st.st_mode & S_IFMT) != S_IFDIR else { throw FileError.isDirectory(path: path) }
            let size = Int(st.st_size)
            func bytes(at offset: Int, count: Int) throws -> [UInt8] {
                var out = [UInt8](repeating: 0, count: count)
                var done = 0
                while done < count {
                    let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw n == 0 ? CountFileError.truncated(path: path) : FileError.errno(path, "read") }
                    done += n
                }
                return out
            }
            guard size >= 8 else { throw CountFileError.notACountFile(path: path) }
            let header = try bytes(at: 0, count: 8)
            guard header.starts(with: CountFile.magic) else { throw CountFileError.notACountFile(path: path) }
            let version = UInt32(littleEndian: header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) })
            guard version == CountFile.version else { throw CountFileError.otherFormat(path: path, version: version) }
            guard size >= 9 + CountFile.trailerSize else { throw CountFileError.truncated(path: path) }
            let trailer = try bytes(at: size - CountFile.trailerSize, count: CountFile.trailerSize)
            guard trailer.suffix(4).elementsEqual(CountFile.magic) else { throw CountFileError.truncated(path: path) }
            let (jsonLength, entriesLength, checksum) = trailer.withUnsafeBytes {
                (Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))),
                 UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt64.self)),
                 UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 12, as: UInt64.self)))
            }
            // The parts' lengths add up to the file's: the entries, the JSON, a checksum per chunk, the trailer.
            guard entriesLength >= 9, entriesLength <= UInt64(size) else {
                throw CountFileError.damaged(path: path, what: "its parts' lengths do not add up")
            }
            self.entriesLength = Int(entriesLength)
            let chunks = (self.entriesLength + CountFile.chunk - 1) / CountFile.chunk
            guard self.entriesLength + jsonLength + 8 * chunks + CountFile.trailerSize == size else {
                throw CountFileError.damaged(path: path, what: "its parts' lengths do not add up")
            }
            // The tail: the JSON, the chunks' checksums and the trailer's two lengths.
            let tail = try bytes(at: self.entriesLength, count: size - self.entriesLength - 12)
            guard TableChecksum.of(tail) == checksum else {
                throw CountFileError.damaged(path: path, what: "the checksum of its metadata does not match")
            }
            json = Array(tail[0 ..< jsonLength])
            chunkChecksums = tail.withUnsafeBytes { raw in
                (0 ..< chunks).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: jsonLength + 8 * $0, as: UInt64.self)) }
            }
        }
    }

    /// A checksum as 16 hexadecimal digits.
    static func checksumText(_ checksum: UInt64) -> String {
        let digits = String(checksum, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// Whether `a` comes strictly before `b` in a count file's order: by unsigned
/// bytes, a prefix first.
func ascending(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.withUnsafeBufferPointer { x in
        b.withUnsafeBufferPointer { y in
            let common = min(x.count, y.count)
            let c = common == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, common)  // common > 0: both have bytes
            return c < 0 || (c == 0 && x.count < y.count)
        }
    }
}
