import Foundation
import TokCorpus
import TokEncoding
import TokRuntime

/// What a count file says about itself.
public struct CountMetadata: Codable, Sendable, Equatable {
    public var format = "tok-counts"
    public var version = 1
    /// The domains counted (sorted); several after a merge.
    public var domains: [String]
    public var pattern: String
    public var regexes: [String]
    /// The input files, sorted.
    public var sources: [String]
    public var statistics: CorpusStatistics
    /// Sum of all counts, and the number of distinct pieces.
    public var pieces: UInt64
    public var distinctPieces: Int
    /// What happens when the counting table outgrows its memory budget: sorted runs are
    /// spilled to disk and merged exactly, so no piece is pruned.
    public var overBudget = "spill sorted runs and merge them exactly; nothing pruned"
    /// Documents held out for evaluation, when counting held some out (absent otherwise).
    public var heldOut: HeldOutRecord?

    public init(domains: [String], pattern: String, regexes: [String], sources: [String],
                statistics: CorpusStatistics, pieces: UInt64, distinctPieces: Int) {
        self.domains = domains
        self.pattern = pattern
        self.regexes = regexes
        self.sources = sources
        self.statistics = statistics
        self.pieces = pieces
        self.distinctPieces = distinctPieces
    }
}

/// What a count file's held-out text is: the rule that chose it and its size.
/// The text itself is a file beside the count file (``CountFile/heldOutPath(_:)``).
public struct HeldOutRecord: Codable, Sendable, Equatable {
    public var perMille: Int
    public var capacity: Int
    /// Bytes held by the parts of the corpus counted before these inputs (0 for a whole corpus).
    public var alreadyHeld: Int
    public var bytes: Int
    public var documents: Int

    public init(perMille: Int, capacity: Int, alreadyHeld: Int, bytes: Int, documents: Int) {
        self.perMille = perMille
        self.capacity = capacity
        self.alreadyHeld = alreadyHeld
        self.bytes = bytes
        self.documents = documents
    }

    /// The record of parts counted apart and added up: nil unless all held out by the same rule.
    static func merged(_ parts: [HeldOutRecord?]) -> HeldOutRecord? {
        guard let first = parts.first ?? nil,
              parts.allSatisfy({ $0?.perMille == first.perMille && $0?.capacity == first.capacity }) else { return nil }
        let all = parts.compactMap { $0 }
        return HeldOutRecord(perMille: first.perMille, capacity: first.capacity, alreadyHeld: all.map(\.alreadyHeld).min()!,
                             bytes: all.reduce(0) { $0 + $1.bytes }, documents: all.reduce(0) { $0 + $1.documents })
    }
}

/// What can be wrong with count files.
public enum CountFileError: TokError, Equatable {
    case notACountFile(path: String)
    case truncated(path: String)
    case noMetadata(path: String)
    case unreadableMetadata(path: String)
    case patternMismatch(path: String, counted: String, expected: String)
    case nothingToMerge
    /// The held-out text beside a count file is missing or not the size its metadata says.
    case heldOutMismatch(path: String, expected: Int, found: Int?)

    public var description: String {
        switch self {
        case .notACountFile(let path): return "\(path): not a tok count file"
        case .truncated(let path): return "\(path): truncated count file"
        case .noMetadata(let path): return "\(path): count file has no metadata"
        case .unreadableMetadata(let path): return "\(path): unreadable count metadata"
        case .patternMismatch(let path, let counted, let expected):
            return "\(path): counted with pattern \(counted), not \(expected)"
        case .nothingToMerge: return "no count files to merge"
        case .heldOutMismatch(let path, let expected, let found):
            return found.map { "\(path): \($0) bytes, but the count file held out \(expected): not its held-out text" }
                ?? "\(path): missing; the count file held out \(expected) bytes of text there"
        }
    }
}

/// The count file: entries sorted by their bytes, so files merge in one
/// streaming pass, and metadata at the end, where the totals are known.
///
/// Layout: `TOKC`, version (u32 LE); entries as (count varint, length varint,
/// bytes), ascending by bytes; a zero count ending them; the metadata JSON
/// (sorted keys); its length (u32 LE); `TOKC`.
public enum CountFile {
    static let magic = Array("TOKC".utf8)
    static let version: UInt32 = 1

    /// Writes entries in order; the caller guarantees ascending, distinct bytes.
    final class Writer {
        let file: AtomicFile
        var buffer: [UInt8] = []
        var distinct = 0
        var total: UInt64 = 0

        init(path: String) throws {
            file = try AtomicFile(path)
            buffer.append(contentsOf: CountFile.magic)
            withUnsafeBytes(of: CountFile.version.littleEndian) { buffer.append(contentsOf: $0) }
        }

        func add(_ bytes: UnsafeBufferPointer<UInt8>, count: UInt64) throws {
            appendVarint(count, to: &buffer)
            appendVarint(UInt64(bytes.count), to: &buffer)
            buffer.append(contentsOf: bytes)
            distinct += 1
            total &+= count
            if buffer.count >= 1 << 20 {
                try file.write(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }

        /// Ends the entries; with metadata (nil for a spilled run) and commits.
        /// Returns the metadata as written, totals filled in.
        @discardableResult
        func finish(metadata: CountMetadata?) throws -> CountMetadata? {
            buffer.append(0)
            var json: [UInt8] = []
            var written = metadata
            if var metadata {
                metadata.pieces = total
                metadata.distinctPieces = distinct
                written = metadata
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                json = Array(try encoder.encode(metadata))
            }
            buffer.append(contentsOf: json)
            withUnsafeBytes(of: UInt32(json.count).littleEndian) { buffer.append(contentsOf: $0) }
            buffer.append(contentsOf: CountFile.magic)
            try file.write(buffer)
            try file.commit()
            return written
        }
    }

    /// Streams the entries of a count file.
    final class Reader {
        let path: String
        let source: FileByteSource
        var buffer: [UInt8] = []
        var offset = 0
        var atEnd = false
        var finished = false
        /// The current entry.
        var key: [UInt8] = []
        var count: UInt64 = 0

        init(path: String) throws {
            self.path = path
            source = try FileByteSource(path: path)
            try fill(8)
            guard buffer.count >= 8, Array(buffer[0 ..< 4]) == CountFile.magic else {
                throw CountFileError.notACountFile(path: path)
            }
            offset = 8
        }

        private func fill(_ need: Int) throws {
            if offset > 1 << 20 {
                buffer.removeSubrange(0 ..< offset)
                offset = 0
            }
            while buffer.count - offset < need && !atEnd {
                atEnd = try !source.read(into: &buffer, maximum: 1 << 20)
            }
        }

        private func varint() throws -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                try fill(1)
                guard offset < buffer.count, shift < 64 else { throw CountFileError.truncated(path: path) }
                let b = buffer[offset]
                offset += 1
                value |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return value }
                shift += 7
            }
        }

        /// Moves to the next entry; false after the last.
        func next() throws -> Bool {
            guard !finished else { return false }
            count = try varint()
            if count == 0 {
                finished = true
                return false
            }
            let n = Int(try varint())
            try fill(n)
            guard buffer.count - offset >= n else { throw CountFileError.truncated(path: path) }
            key.removeAll(keepingCapacity: true)
            key.append(contentsOf: buffer[offset ..< offset + n])
            offset += n
            return true
        }
    }

    /// The metadata at the end of a count file.
    public static func metadata(path: String) throws -> CountMetadata {
        let data = try readTail(path)
        guard data.count >= 8, Array(data.suffix(4)) == magic else { throw CountFileError.notACountFile(path: path) }
        let length = data.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: data.count - 8, as: UInt32.self))) }
        guard length > 0, length <= data.count - 8 else { throw CountFileError.noMetadata(path: path) }
        do {
            return try JSONDecoder().decode(CountMetadata.self, from: Data(data[data.count - 8 - length ..< data.count - 8]))
        } catch {
            throw CountFileError.unreadableMetadata(path: path)
        }
    }

    private static func readTail(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FileError.errno(path, "open") }
        defer { close(fd) }
        let size = Int(lseek(fd, 0, SEEK_END))
        let n = min(size, 1 << 22)
        var out = [UInt8](repeating: 0, count: n)
        let got = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, n, off_t(size - n)) }
        guard got == n else { throw FileError.errno(path, "read") }
        return out
    }

    /// Where the held-out text of the count file at `path` is: `NAME.heldout.txt`
    /// beside `NAME.counts` (or beside `path` with `.heldout.txt` added).
    public static func heldOutPath(_ path: String) -> String {
        (path.hasSuffix(".counts") ? String(path.dropLast(7)) : path) + ".heldout.txt"
    }

    /// The held-out text of a count file, checked against its metadata; nil if it held none out.
    public static func heldOutText(_ path: String, metadata: CountMetadata) throws -> [UInt8]? {
        guard let record = metadata.heldOut else { return nil }
        let textPath = heldOutPath(path)
        guard let data = FileManager.default.contents(atPath: textPath) else {
            throw CountFileError.heldOutMismatch(path: textPath, expected: record.bytes, found: nil)
        }
        guard data.count == record.bytes else { throw CountFileError.heldOutMismatch(path: textPath, expected: record.bytes, found: data.count) }
        return Array(data)
    }

    /// True when the file starts like a count file.
    public static func isCountFile(_ path: String) -> Bool {
        guard let source = try? FileByteSource(path: path) else { return false }
        var head: [UInt8] = []
        _ = try? source.read(into: &head, maximum: 4)
        return head == magic
    }

    /// Calls `body` with every entry of the count file at `path`, in order.
    public static func forEachEntry(_ path: String, _ body: (UnsafeBufferPointer<UInt8>, UInt64) throws -> Void) throws {
        try mergeStreams([try Reader(path: path)], body)
    }

    /// Where counting with ``CountingOptions/documentFrequencies`` puts the
    /// pieces' document frequencies: a count file of the same pieces.
    public static func documentsPath(_ path: String) -> String { path + ".documents" }

    /// Merges sorted streams, adding the counts of equal pieces, and calls
    /// `body` with each distinct piece in ascending order.
    static func mergeStreams(
        _ readers: [Reader], scales: [Double]? = nil, _ body: (UnsafeBufferPointer<UInt8>, UInt64) throws -> Void
    ) throws {
        let scaleOf = Dictionary(uniqueKeysWithValues: readers.enumerated().map { (ObjectIdentifier($0.element), scales?[$0.offset] ?? 1) })
        var live = try readers.filter { try $0.next() }
        // Few streams (runs and inputs): a linear minimum search is fine.
        var current: [UInt8] = []
        while !live.isEmpty {
            var best = 0
            for i in 1 ..< live.count where live[i].key.lexicographicallyPrecedes(live[best].key) { best = i }
            current = live[best].key
            var total: UInt64 = 0
            var i = 0
            while i < live.count {
                if live[i].key == current {
                    let scale = scaleOf[ObjectIdentifier(live[i])]!
                    total &+= scale == 1 ? live[i].count : UInt64((Double(live[i].count) * scale).rounded())
                    if try !live[i].next() {
                        live.remove(at: i)
                        continue
                    }
                }
                i += 1
            }
            if total > 0 { try current.withUnsafeBufferPointer { try body($0, total) } }
        }
    }
}

func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
    var v = value
    while v >= 0x80 {
        out.append(UInt8(v & 0x7F) | 0x80)
        v >>= 7
    }
    out.append(UInt8(v))
}
