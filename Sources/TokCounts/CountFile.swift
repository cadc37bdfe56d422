import Foundation
import TokCorpus
import TokEncoding
import TokRuntime

/// What a count file says about itself.
public struct CountMetadata: Codable, Sendable, Equatable {
    public var format = "tok-counts"
    public var version = Int(CountFile.version)
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
    /// The text's ``TableChecksum`` (16 hexadecimal digits): a text from another run is refused.
    public var checksum: String

    public init(perMille: Int, capacity: Int, alreadyHeld: Int, text: [UInt8], documents: Int) {
        self.perMille = perMille
        self.capacity = capacity
        self.alreadyHeld = alreadyHeld
        self.bytes = text.count
        self.documents = documents
        self.checksum = CountFile.checksumText(TableChecksum.of(text))
    }

    /// Whether every part held text out, all by the same rule: then their records merge.
    static func sameRule(_ parts: [HeldOutRecord?]) -> Bool {
        guard let first = parts.first ?? nil else { return false }
        return parts.allSatisfy { $0?.perMille == first.perMille && $0?.capacity == first.capacity }
    }

    /// The record of parts counted apart and added up (``sameRule(_:)``), whose
    /// held-out texts joined in order are `text`.
    init(merging parts: [HeldOutRecord], text: [UInt8]) {
        self.init(perMille: parts[0].perMille, capacity: parts[0].capacity, alreadyHeld: parts.map(\.alreadyHeld).min()!,
                  text: text, documents: parts.reduce(0) { $0 + $1.documents })
    }
}

/// What can be wrong with count files.
public enum CountFileError: TokError, Equatable {
    case notACountFile(path: String)
    /// A count file of another format version: `1` had no checksums.
    case otherFormat(path: String, version: UInt32)
    case truncated(path: String)
    /// Bytes that are not what was written: `what` says where.
    case damaged(path: String, what: String)
    case noMetadata(path: String)
    case unreadableMetadata(path: String)
    case patternMismatch(path: String, counted: String, expected: String)
    case nothingToMerge
    /// The held-out text beside a count file is missing or not the size its metadata says.
    case heldOutMismatch(path: String, expected: Int, found: Int?)
    /// The held-out text beside a count file is its size but not its text.
    case heldOutChanged(path: String)
    /// A count file with no superword counts beside it (``CountFile/superwordsPath(_:)``).
    case noSuperwordCounts(path: String)
    /// Superword counts beside a count file that count other documents than it does.
    case superwordCountsOfOtherText(path: String, countFile: String)
    /// Superword counts given where the count file beside which they lie is wanted.
    case superwordCountsGiven(path: String)

    public var description: String {
        switch self {
        case .notACountFile(let path): return "\(path): not a tok count file"
        case .otherFormat(let path, let version) where version < CountFile.version:
            return "\(path): a count file of format \(version), which has no checksums: count it again with this tok"
        case .otherFormat(let path, let version):
            return "\(path): a count file of format \(version); this tok reads format \(CountFile.version)"
        case .truncated(let path): return "\(path): truncated count file"
        case .damaged(let path, let what): return "\(path): damaged count file (\(what)): count it again"
        case .noMetadata(let path): return "\(path): count file has no metadata"
        case .unreadableMetadata(let path): return "\(path): unreadable count metadata"
        case .patternMismatch(let path, let counted, let expected):
            return "\(path): counted with pattern \(counted), not \(expected)"
        case .nothingToMerge: return "no count files to merge"
        case .heldOutMismatch(let path, let expected, let found):
            return found.map { "\(path): \($0) bytes, but the count file held out \(expected): not its held-out text" }
                ?? "\(path): missing; the count file held out \(expected) bytes of text there"
        case .heldOutChanged(let path):
            return "\(path): not the held-out text of its count file (another run's, or damaged): count again"
        case .noSuperwordCounts(let path):
            return "\(path): no superword counts beside it (\(CountFile.superwordsPath(path))): count its text with tok count --superwords"
        case .superwordCountsOfOtherText(let path, let countFile):
            return "\(path): not the superword counts of \(countFile) (other text or other held-out documents): count its text with tok count --superwords"
        case .superwordCountsGiven(let path):
            let stem = path.hasSuffix(CountFile.superwordsSuffix) ? String(path.dropLast(CountFile.superwordsSuffix.count)) : path
            return "\(path): superword counts; give the count file they lie beside, \(stem).counts"
        }
    }
}

/// The count file: entries sorted by their bytes, so files merge in one
/// streaming pass, and metadata at the end, where the totals are known.
///
/// Layout (format 2): `TOKC`, version (u32 LE); entries as (count varint,
/// length varint, bytes), strictly ascending by bytes; a zero count ending
/// them. Then the metadata JSON (sorted keys; none in a spilled run); the
/// ``TableChecksum`` of each mebibyte of everything before the JSON (u64 LE
/// each); and the trailer: the JSON's length (u32 LE), the length of
/// everything before the JSON (u64 LE), the ``TableChecksum`` of everything
/// from the JSON to here (u64 LE), `TOKC`.
///
/// A reader checks the tail before it trusts the metadata or the checksums in
/// it, and each mebibyte before it parses it, so no damaged byte is ever
/// used: any change within an 8-byte word (every single-bit flip) is refused.
/// The entries' order and uniqueness are checked as they are read.
public enum CountFile {
    static let magic = CorpusInputs.countFileMagic
    static let version: UInt32 = 2
    /// The span each checksum of the entries covers.
    static let chunk = 1 << 20
    static let trailerSize = 24

    /// Writes entries in order; the caller guarantees ascending, distinct bytes.
    final class Writer {
        let file: AtomicFile
        var buffer: [UInt8] = []
        var distinct = 0
        var total: UInt64 = 0
        /// Bytes before the buffer already written, and their chunks' checksums.
        private var written = 0
        private var chunkChecksums: [UInt64] = []

        init(path: String) throws {
            file = try AtomicFile(path)
            buffer.append(contentsOf: CountFile.magic)
            appendLittleEndian(CountFile.version, to: &buffer)
        }

        func add(_ bytes: UnsafeBufferPointer<UInt8>, count: UInt64) throws {
            appendVarint(count, to: &buffer)
            appendVarint(UInt64(bytes.count), to: &buffer)
            buffer.append(contentsOf: bytes)
            distinct += 1
            total &+= count
            if buffer.count >= CountFile.chunk { try writeChunks() }
        }

        /// Writes the buffer's whole chunks (with `all`, the rest too), noting their checksums.
        private func writeChunks(all: Bool = false) throws {
            var start = 0
            while buffer.count - start >= CountFile.chunk || (all && start < buffer.count) {
                let end = min(start + CountFile.chunk, buffer.count)
                try buffer.withUnsafeBufferPointer { b in
                    let chunk = UnsafeBufferPointer(rebasing: b[start ..< end])  // start < end <= b.count
                    chunkChecksums.append(TableChecksum().finish(UnsafeRawPointer(chunk.baseAddress!), count: chunk.count))
                    try file.write(chunk)
                }
                start = end
            }
            written += start
            buffer.removeSubrange(0 ..< start)
        }

        /// Ends the entries; with metadata (nil for a spilled run) and commits.
        /// Returns the metadata as written, totals filled in.
        @discardableResult
        func finish(metadata: CountMetadata?) throws -> CountMetadata? {
            buffer.append(0)
            try writeChunks(all: true)
            var tail: [UInt8] = []
            var written = metadata
            if var metadata {
                metadata.pieces = total
                metadata.distinctPieces = distinct
                written = metadata
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                tail = Array(try encoder.encode(metadata))
            }
            let jsonLength = tail.count
            for c in chunkChecksums { appendLittleEndian(c, to: &tail) }
            appendLittleEndian(UInt32(jsonLength), to: &tail)
            appendLittleEndian(UInt64(self.written), to: &tail)
            let checksum = TableChecksum.of(tail)
            appendLittleEndian(checksum, to: &tail)
            tail.append(contentsOf: CountFile.magic)
            try file.write(tail)
            try file.commit()
            return written
        }
    }

    /// Streams the entries of a count file, each mebibyte checked before it is parsed.
    final class Reader {
        let path: String
        let layout: Layout
        let source: FileByteSource
        var buffer: [UInt8] = []
        var offset = 0
        /// Bytes of the entries read and checked, and the chunks they make.
        private var checked = 0
        private var chunksChecked = 0
        var finished = false
        /// The current entry, and whether there is one before it (in `previous`).
        var key: [UInt8] = []
        var count: UInt64 = 0
        private var previous: [UInt8] = []
        private var started = false

        init(path: String) throws {
            self.path = path
            layout = try Layout(path: path)
            source = try FileByteSource(path: path)
            try fill(8)
            offset = 8  // the header: checked by the layout, and with the first chunk
        }

        private func fill(_ need: Int) throws {
            if offset > CountFile.chunk {
                buffer.removeSubrange(0 ..< offset)
                offset = 0
            }
            while buffer.count - offset < need && checked < layout.entriesLength { try readChunk() }
        }

        /// Appends the next chunk of the entries to the buffer, once its checksum matches.
        private func readChunk() throws {
            let length = min(CountFile.chunk, layout.entriesLength - checked)
            let start = buffer.count
            while buffer.count - start < length {
                guard try source.read(into: &buffer, maximum: length - (buffer.count - start)) else {
                    throw CountFileError.truncated(path: path)
                }
            }
            // start + length == buffer.count: the chunk is inside the buffer.
            let checksum = buffer.withUnsafeBytes { TableChecksum().finish($0.baseAddress! + start, count: length) }
            guard checksum == layout.chunkChecksums[chunksChecked] else {
                throw CountFileError.damaged(path: path, what: "the checksum of bytes \(checked) to \(checked + length) does not match")
            }
            chunksChecked += 1
            checked += length
        }

        private func varint() throws -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                try fill(1)
                guard offset < buffer.count else { throw CountFileError.damaged(path: path, what: "the entries have no end") }
                guard shift < 64 else { throw CountFileError.damaged(path: path, what: "a number over 64 bits") }
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
                guard offset == buffer.count && checked == layout.entriesLength else {
                    throw CountFileError.damaged(path: path, what: "bytes after the entries' end")
                }
                finished = true
                return false
            }
            let length = try varint()
            // The zero count that ends the entries follows every piece.
            guard length < UInt64(buffer.count - offset + layout.entriesLength - checked) else {
                throw CountFileError.damaged(path: path, what: "a piece runs past the entries' end")
            }
            let n = Int(length)
            try fill(n)
            swap(&key, &previous)
            key.removeAll(keepingCapacity: true)
            key.append(contentsOf: buffer[offset ..< offset + n])
            offset += n
            guard !started || ascending(previous, key) else {
                throw CountFileError.damaged(path: path, what: "pieces out of order or repeated")
            }
            started = true
            return true
        }
    }

    /// The metadata at the end of a count file, its checksum checked.
    public static func metadata(path: String) throws -> CountMetadata {
        let layout = try Layout(path: path)
        guard !layout.json.isEmpty else { throw CountFileError.noMetadata(path: path) }
        do {
            return try JSONDecoder().decode(CountMetadata.self, from: Data(layout.json))
        } catch {
            throw CountFileError.unreadableMetadata(path: path)
        }
    }

    /// Where the held-out text of the count file at `path` is: `NAME.heldout.txt`
    /// beside `NAME.counts` (or beside `path` with `.heldout.txt` added).
    /// Superword counts (`NAME.superwords.counts`) share the held-out text of the counts beside them.
    public static func heldOutPath(_ path: String) -> String {
        let stem = path.hasSuffix(superwordsSuffix) ? path.dropLast(superwordsSuffix.count)
            : path.hasSuffix(".counts") ? path.dropLast(7) : Substring(path)
        return stem + ".heldout.txt"
    }

    /// The held-out text of a count file, checked against its metadata; nil if it held none out.
    public static func heldOutText(_ path: String, metadata: CountMetadata) throws -> [UInt8]? {
        guard let record = metadata.heldOut else { return nil }
        let textPath = heldOutPath(path)
        guard let data = FileManager.default.contents(atPath: textPath) else {
            throw CountFileError.heldOutMismatch(path: textPath, expected: record.bytes, found: nil)
        }
        guard data.count == record.bytes else { throw CountFileError.heldOutMismatch(path: textPath, expected: record.bytes, found: data.count) }
        let text = Array(data)
        guard checksumText(TableChecksum.of(text)) == record.checksum else { throw CountFileError.heldOutChanged(path: textPath) }
        return text
    }

    /// Calls `body` with every entry of the count file at `path`, in order.
    public static func forEachEntry(_ path: String, _ body: (UnsafeBufferPointer<UInt8>, UInt64) throws -> Void) throws {
        try mergeStreams([try Reader(path: path)], body)
    }

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

func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}
