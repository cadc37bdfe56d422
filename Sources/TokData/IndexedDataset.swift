#if canImport(Glibc)
import Glibc
#endif
import TokEncoding
import TokRuntime

/// megatron-core's indexed dataset (`IndexedDataset`, `IndexedDatasetBuilder`):
/// `PREFIX.bin` holds every sequence's token ids back to back in one integer
/// type; `PREFIX.idx` holds the header `MMIDIDX\0\0`, version 1 (u64), the
/// type's code (u8), the sequence and document counts (u64), each sequence's
/// length (int32), its byte offset in the `.bin` (int64), and the document
/// indices (int64: 0, then the sequence count at the end of each document).
/// All little-endian. As `tools/preprocess_data.py` writes it without sentence
/// splitting, a document is one sequence, and an empty document none.
public enum IndexedDataset {
    public static let header: [UInt8] = Array("MMIDIDX".utf8) + [0, 0]

    /// The id types and megatron-core's codes for them.
    public enum DType: UInt8, Sendable, Codable {
        case uint16 = 8
        case int32 = 4

        public var size: Int { self == .uint16 ? 2 : 4 }
        public var name: String { self == .uint16 ? "uint16" : "int32" }

        /// megatron-core's `DType.optimal_dtype`: uint16 below 65,500 ids, else int32.
        public static func optimal(forVocabularySize size: Int) -> DType { size < 65_500 ? .uint16 : .int32 }
    }
}

/// What can be wrong with a dataset on disk.
public enum DatasetError: TokError, Equatable {
    case notAnIndex(path: String, reason: String)
    case documentOutOfRange(path: String, document: Int, count: Int)
    case idTooLarge(id: UInt32, dtype: String)
    case noEndOfText(vocabulary: String)
    case unknownEndOfText(token: String, vocabulary: String)

    public var description: String {
        switch self {
        case .notAnIndex(let path, let reason): return "\(path): not a megatron-core index (\(reason))"
        case .documentOutOfRange(let path, let document, let count):
            return "\(path): document \(document) does not exist (\(count) documents)"
        case .idTooLarge(let id, let dtype): return "token id \(id) does not fit the dataset's \(dtype) ids"
        case .noEndOfText(let vocabulary):
            return "\(vocabulary): no end-of-text special token (<|endoftext|>, </s>, <|end_of_text|>, <eos>); name one"
        case .unknownEndOfText(let token, let vocabulary): return "\(vocabulary): no special token \(token)"
        }
    }
}

/// Writes one indexed dataset: ids go to `PREFIX.bin` as they come, the index
/// stays in memory (20 bytes a document) and is written by ``finish()``. Both
/// files are written under temporary names and renamed only then, `.bin` first.
public final class IndexedDatasetWriter {
    public let prefix: String
    public let dtype: IndexedDataset.DType
    private let bin: AtomicFile
    private var buffer: [UInt8] = []
    private var sequenceLengths: [Int32] = []
    private var documentIndices: [Int64] = [0]
    private var current = 0
    public private(set) var tokens = 0
    public private(set) var binBytes = 0
    /// Ids in the document being written.
    public var currentLength: Int { current }
    public var documents: Int { documentIndices.count - 1 }

    public init(prefix: String, dtype: IndexedDataset.DType) throws {
        self.prefix = prefix
        self.dtype = dtype
        bin = try AtomicFile(prefix + ".bin")
        buffer.reserveCapacity(1 << 20)
    }

    /// Appends ids to the document being written. Every id must be below
    /// ``idLimit`` (the vocabulary's ids always are: the type was chosen by it).
    public func append(_ ids: UnsafeBufferPointer<UInt32>) throws {
        guard !ids.isEmpty else { return }
        if dtype == .uint16 {
            let start = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: ids.count * 2))
            var over = false
            buffer.withUnsafeMutableBytes { raw in
                // start + 2 * ids.count == raw.count: every store is inside the bytes just added.
                for (k, id) in ids.enumerated() {
                    over = over || id >= idLimit
                    raw.storeBytes(of: UInt16(truncatingIfNeeded: id).littleEndian, toByteOffset: start + 2 * k, as: UInt16.self)
                }
            }
            if over { throw DatasetError.idTooLarge(id: ids.max()!, dtype: dtype.name) }
        } else {
            // Little-endian 32-bit ids are already the file's bytes.
            if let bad = ids.first(where: { $0 >= idLimit }) { throw DatasetError.idTooLarge(id: bad, dtype: dtype.name) }
            buffer.append(contentsOf: UnsafeRawBufferPointer(ids))
        }
        current += ids.count
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// One more than the largest id the type holds: 65,536, or 2^31.
    var idLimit: UInt32 { dtype == .uint16 ? 1 << 16 : 1 << 31 }

    /// Ends the document being written: one sequence, or none when it is empty.
    public func endDocument() {
        if current > 0 {
            sequenceLengths.append(Int32(current))
            tokens += current
            binBytes += current * dtype.size
        }
        documentIndices.append(Int64(sequenceLengths.count))
        current = 0
    }

    private func flush() throws {
        try bin.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes the index and puts both files in place.
    public func finish() throws {
        precondition(current == 0, "a document is still open")
        try flush()
        try bin.commit()
        var idx = IndexedDataset.header
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { idx.append(contentsOf: $0) } }
        put(UInt64(1))
        idx.append(dtype.rawValue)
        put(UInt64(sequenceLengths.count))
        put(UInt64(documentIndices.count))
        idx.reserveCapacity(idx.count + sequenceLengths.count * 12 + documentIndices.count * 8)
        for length in sequenceLengths { put(length) }
        var pointer: Int64 = 0
        for length in sequenceLengths {
            put(pointer)
            pointer += Int64(length) * Int64(dtype.size)
        }
        for index in documentIndices { put(index) }
        try writeFileAtomically(prefix + ".idx", idx)
    }
}

/// Reads an indexed dataset: the index whole, documents from the `.bin` on demand.
public struct IndexedDatasetReader {
    public let prefix: String
    public let dtype: IndexedDataset.DType
    public let sequenceLengths: [Int32]
    public let sequencePointers: [Int64]
    public let documentIndices: [Int64]

    public var documents: Int { documentIndices.count - 1 }
    public var tokens: Int { sequenceLengths.reduce(0) { $0 + Int($1) } }

    /// Reads `PREFIX.idx` and checks it against itself and the size of
    /// `PREFIX.bin`: counts the file can hold, no negative length, every
    /// sequence inside the `.bin`, document indices rising from 0 to the
    /// sequence count. A file that fails is named in one line
    /// (``DatasetError/notAnIndex(path:reason:)``), never read past.
    public init(prefix: String) throws {
        self.prefix = prefix
        let path = prefix + ".idx"
        let data = try readFile(path)
        func fail(_ reason: String) -> DatasetError { .notAnIndex(path: path, reason: reason) }
        guard data.count >= 34, Array(data[0 ..< 9]) == IndexedDataset.header else { throw fail("no MMIDIDX header") }
        func u64(_ at: Int) -> UInt64 { data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) } }
        guard u64(9) == 1 else { throw fail("version \(u64(9))") }
        guard let dtype = IndexedDataset.DType(rawValue: data[17]) else { throw fail("id type code \(data[17])") }
        // Each count at most what the file can hold, so that no size below overflows.
        guard u64(18) <= UInt64(data.count / 12), u64(26) >= 1, u64(26) <= UInt64(data.count / 8) else { throw fail("truncated") }
        let sequences = Int(u64(18)), documents = Int(u64(26))
        guard 34 + sequences * 12 + documents * 8 <= data.count else { throw fail("truncated") }
        self.dtype = dtype
        sequenceLengths = data.withUnsafeBytes { raw in (0 ..< sequences).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 34 + $0 * 4, as: Int32.self)) } }
        let pointers = 34 + sequences * 4
        sequencePointers = data.withUnsafeBytes { raw in (0 ..< sequences).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: pointers + $0 * 8, as: Int64.self)) } }
        let indices = pointers + sequences * 8
        documentIndices = data.withUnsafeBytes { raw in (0 ..< documents).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: indices + $0 * 8, as: Int64.self)) } }
        if let k = sequenceLengths.firstIndex(where: { $0 < 0 }) { throw fail("sequence \(k) has length \(sequenceLengths[k])") }
        var st = stat()
        guard stat(prefix + ".bin", &st) == 0 else { throw FileError.errno(prefix + ".bin", "open") }
        let binSize = Int64(st.st_size), size = Int64(dtype.size)
        // Lengths are at most 2^31 and pointers checked first: no product or sum here overflows.
        for k in 0 ..< sequences where sequencePointers[k] < 0 || sequencePointers[k] > binSize
            || sequencePointers[k] + Int64(sequenceLengths[k]) * size > binSize {
            throw fail("sequence \(k) lies outside \(prefix).bin (\(binSize) bytes)")
        }
        guard documentIndices.first == 0, documentIndices.last == Int64(sequences),
              zip(documentIndices, documentIndices.dropFirst()).allSatisfy({ $0 <= $1 })
        else { throw fail("document indices do not cover the sequences in order") }
    }

    /// The ids of document `n`.
    public func document(_ n: Int) throws -> [UInt32] {
        guard n >= 0, n < documents else { throw DatasetError.documentOutOfRange(path: prefix + ".idx", document: n, count: documents) }
        let first = Int(documentIndices[n]), end = Int(documentIndices[n + 1])
        guard first < end else { return [] }
        let start = Int(sequencePointers[first])
        let count = (first ..< end).reduce(0) { $0 + Int(sequenceLengths[$1]) }
        let path = prefix + ".bin"
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FileError.errno(path, "open") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count * dtype.size)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(start)) }
        guard got == bytes.count else { throw DatasetError.notAnIndex(path: path, reason: "shorter than its index says") }
        return bytes.withUnsafeBytes { raw in
            dtype == .uint16
                ? (0 ..< count).map { UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }
                : (0 ..< count).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
        }
    }
}

/// A dataset as `tok encode --format megatron` writes it, for reading: the
/// shards its manifest lists (`PREFIX.manifest.json`, sharded or not), or,
/// without a manifest, the one indexed dataset `PREFIX` (as megatron-core's
/// own tools write it). Documents are numbered across the shards in order.
/// `tok decode --format megatron` and `tok stats --dataset` both read through it.
public struct MegatronDataset {
    public let prefix: String
    public let manifest: DatasetManifest?
    public let shards: [IndexedDatasetReader]
    /// The first document of each shard, and the total last.
    private let firsts: [Int]

    public init(prefix: String) throws {
        self.prefix = prefix
        manifest = try DatasetManifest.read(prefix)
        let directory = parentFolder(of: prefix)
        if let manifest {
            // A shard is a file beside the manifest: a name with a slash is not one tok wrote.
            if let bad = manifest.shards.first(where: { $0.prefix.contains("/") || $0.prefix.isEmpty }) {
                throw DatasetError.notAnIndex(path: DatasetManifest.path(prefix), reason: "shard \(bad.prefix.debugDescription) is not a file name")
            }
            shards = try manifest.shards.map { try IndexedDatasetReader(prefix: directory + "/" + $0.prefix) }
        } else {
            shards = [try IndexedDatasetReader(prefix: prefix)]
        }
        var firsts = [0]
        for shard in shards { firsts.append(firsts.last! + shard.documents) }
        self.firsts = firsts
    }

    public var documents: Int { firsts.last! }
    public var tokens: Int { shards.reduce(0) { $0 + $1.tokens } }
    /// The id type (a dataset's shards share one; megatron-core's default, uint16, for none).
    public var dtype: IndexedDataset.DType { shards.first?.dtype ?? .uint16 }

    /// The ids of document `n`, counted across the shards.
    ///
    /// - Complexity: O(log shards) to find it, and its read.
    public func document(_ n: Int) throws -> [UInt32] {
        guard n >= 0, n < documents else {
            throw DatasetError.documentOutOfRange(path: prefix, document: n, count: documents)
        }
        // The last shard whose first document is at or before n: it holds n (an empty one would end at n).
        var low = 0, high = shards.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if firsts[middle] <= n { low = middle } else { high = middle - 1 }
        }
        return try shards[low].document(n - firsts[low])
    }
}
