#if canImport(Glibc)
import Glibc
#endif
import TokEncoding

/// What reading a corpus saw.
public struct CorpusStatistics: Sendable, Codable, Equatable {
    public var files = 0
    public var bytes = 0
    public var documents = 0
    public var invalidUTF8Bytes = 0
    public var malformedLines = 0
    public var linesWithoutField = 0

    public init() {}

    public mutating func add(_ other: CorpusStatistics) {
        files += other.files
        bytes += other.bytes
        documents += other.documents
        invalidUTF8Bytes += other.invalidUTF8Bytes
        malformedLines += other.malformedLines
        linesWithoutField += other.linesWithoutField
    }
}

/// Sets aside a small, deterministic share of documents for evaluation: a
/// document is held out when the hash of its bytes falls in the first
/// `perMille` thousandths (a candidate) and it still fits in `capacity` bytes
/// with what is held already. The same corpus always gives the same held-out
/// text. Counted in parts (shards, in order), the held-out text is the same as
/// counted whole when each part starts with `alreadyHeld`, the bytes the parts
/// before it held: the sizes of their candidates (``scanning``) give it.
/// With a ``HoldOutUnit`` other than documents, the hash is that of the file's
/// path or of the source's key value, so a unit is held out whole; its
/// documents past the capacity are dropped, not trained on.
public final class HoldOut {
    public let perMille: UInt64
    public let capacity: Int
    public let unit: HoldOutUnit
    /// Bytes held out by the inputs before these (counting a corpus in parts).
    public let alreadyHeld: Int
    /// Only note each candidate's size (in ``candidateSizes``), holding nothing out.
    public let scanning: Bool
    public private(set) var text: [UInt8] = []
    public private(set) var documents = 0
    public private(set) var candidateSizes: [Int] = []
    /// Files or sources held out (with a unit other than documents).
    public var heldUnits: Int { heldUnitHashes.count }
    /// Bytes of held-out files or sources past the capacity: neither trained on nor kept.
    public private(set) var droppedBytes = 0
    /// The hash of the file or source the next documents belong to (set by the stream).
    var unitHash: UInt64?
    private var heldUnitHashes = Set<UInt64>()

    public init(perMille: Int, capacity: Int, alreadyHeld: Int = 0, scanning: Bool = false, unit: HoldOutUnit = .document) {
        self.perMille = UInt64(perMille)
        self.capacity = capacity
        self.alreadyHeld = alreadyHeld
        self.scanning = scanning
        self.unit = unit
    }

    func route(_ document: UnsafeBufferPointer<UInt8>, keep: (UnsafeBufferPointer<UInt8>) -> Void) {
        guard !document.isEmpty else { return }
        let h = unitHash ?? hashBytes(document.baseAddress!, document.count)
        guard h % 1000 < perMille else { return keep(document) }
        if scanning {
            candidateSizes.append(document.count)
        } else if alreadyHeld + text.count + document.count <= capacity {
            text.append(contentsOf: document)
            documents += 1
            if let unitHash { heldUnitHashes.insert(unitHash) }
        } else if unitHash != nil {
            // The rest of a held-out source is not trained on either: the
            // evaluation text's sources stay apart from the training text's.
            droppedBytes += document.count
        } else {
            keep(document)
        }
    }

    /// The bytes held before each part, given the candidate sizes of every part
    /// in order: the fill that counting the parts as one corpus would reach.
    public static func alreadyHeld(candidateSizes parts: [[Int]], capacity: Int) -> [Int] {
        var held = 0
        return parts.map { sizes in
            let before = held
            for n in sizes where held + n <= capacity { held += n }
            return before
        }
    }
}

/// What ``HoldOut`` holds out whole: documents (the default), files, or
/// sources named by a key of each JSON line (`"source"`, `"url"`, ...), so that
/// evaluation text never shares a source with the training text.
public enum HoldOutUnit: Sendable, Equatable {
    case document
    case file
    case key(String)

    public init?(_ text: String) {
        switch text {
        case "document": self = .document
        case "file": self = .file
        default:
            guard text.hasPrefix("key:"), text.count > 4 else { return nil }
            self = .key(String(text.dropFirst(4)))
        }
    }

    public var plural: String {
        switch self {
        case .document: return "documents"
        case .file: return "files"
        case .key: return "sources"
        }
    }
}

/// A batch of text: `bytes` split at `ends` into texts that pre-tokenize
/// independently (documents, or parts of a long document cut where every
/// pattern ends a piece).
public struct TextBatch: Sendable {
    public var bytes: [UInt8] = []
    public var ends: [Int] = []
    /// With ``CorpusStream/documents`` on: whether text `k` ends a document,
    /// the index (in the stream's files) of the file it came from, and the
    /// line of that file it starts on (1-based).
    public var endsDocument: [Bool] = []
    public var fileIndexes: [Int] = []
    public var lines: [Int] = []
    /// Bytes of text `k` that are not well-formed UTF-8.
    public var invalidBytes: [Int] = []

    public init() {}

    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        endsDocument.removeAll(keepingCapacity: true)
        fileIndexes.removeAll(keepingCapacity: true)
        lines.removeAll(keepingCapacity: true)
        invalidBytes.removeAll(keepingCapacity: true)
    }

    /// The bytes of text `k`.
    public func range(_ k: Int) -> Range<Int> { (k == 0 ? 0 : ends[k - 1]) ..< ends[k] }

    /// Calls `body` with each text of the batch.
    public func forEachText(_ body: (UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        try bytes.withUnsafeBufferPointer { b in
            var start = 0
            for end in ends {
                try body(UnsafeBufferPointer(rebasing: b[start ..< end]))
                start = end
            }
        }
    }
}

/// Reads corpus files in order as batches of text, in bounded memory: plain
/// text streams in blocks cut only where the pre-tokenizer may cut
/// (``BlockCutter``), whatever the file size; a JSON-lines file gives the text field of
/// each line (one document per line); `.zst` files are decompressed on the fly.
/// Not thread-safe: one reader, many consumers of its batches.
public final class CorpusStream {
    public let files: [CorpusFile]
    public let preTokenizer: PreTokenizer
    public let blockSize: Int
    public let field: [UInt8]
    /// Fail on a JSON line that is malformed, blank or without the field, instead of reporting and skipping it.
    public let strict: Bool
    public private(set) var statistics = CorpusStatistics()
    /// ``statistics`` as they stood when each file (by index) was opened: what
    /// the files before it gave, whatever has been read ahead since.
    public private(set) var statisticsBeforeFile: [CorpusStatistics] = []
    /// Called with a one-line message (file and line) for each skipped JSON line.
    public var warn: (String) -> Void = { _ in }
    /// Documents set aside instead of returned: see ``HoldOut``.
    public var holdOut: HoldOut?
    /// Document mode, for writing datasets: every document, empty ones
    /// included, ends with a text marked in ``TextBatch/endsDocument`` (a whole
    /// `.txt` file is one document, a JSON line is one), and texts carry their
    /// file and line.
    public var documents = false
    /// Skipped JSON lines reported per file, before only counting them.
    public var warningsPerFile = 10

    private var fileIndex = -1
    private var source: (any ByteSource)?
    private var consumedBeforeFile = 0

    /// Bytes taken from the input files so far (compressed bytes for zstd), to set against ``inputSize``.
    public var consumed: Int { consumedBeforeFile + (source?.consumed ?? 0) }
    /// The input files' sizes on disk, summed.
    public private(set) lazy var inputSize: Int = files.reduce(0) { $0 + fileSizeOnDisk($1) }
    /// Plain text: the streaming loop's state. JSON lines: `buffer` and `atEnd`.
    private var cutter: BlockCutter
    private var buffer: [UInt8] = []
    private var atEnd = true
    private var lineNumber = 0
    private var warningsLeft = 0
    private var scratch: [UInt8] = []
    private var sourceValue: [UInt8] = []

    /// - Parameter kept: an encoder's added tokens that no block of plain text ends inside.
    public init(files: [CorpusFile], preTokenizer: PreTokenizer, blockSize: Int = 4 << 20, field: String = "text",
                strict: Bool = false, keepingWhole kept: TokensKeptWhole = .none) {
        self.files = files
        self.preTokenizer = preTokenizer
        self.cutter = BlockCutter(preTokenizer: preTokenizer, blockSize: blockSize, keepingWhole: kept)
        self.blockSize = blockSize
        self.field = Array(field.utf8)
        self.strict = strict
    }

    /// Fills `batch` with the next texts (about `blockSize` bytes); false when
    /// the corpus is exhausted.
    public func next(_ batch: inout TextBatch) throws -> Bool {
        batch.removeAll()
        while batch.bytes.count < blockSize {
            if source == nil { guard try openNext() else { break } }
            let file = files[fileIndex]
            switch file.format {
            case .text:
                if try !takeText(&batch) {
                    closeFile()
                    if documents { endDocument(&batch) }
                }
            case .jsonLines:
                if !atEnd { atEnd = try !source!.read(into: &buffer, maximum: blockSize) }
                try takeLines(&batch, file: file)
                if atEnd && buffer.isEmpty { closeFile() }
            }
        }
        return !batch.ends.isEmpty
    }

    private func closeFile() {
        consumedBeforeFile += source?.consumed ?? 0
        source = nil
    }

    private func openNext() throws -> Bool {
        source = nil
        fileIndex += 1
        guard fileIndex < files.count else { return false }
        statisticsBeforeFile.append(statistics)
        source = try openByteSource(files[fileIndex])
        buffer.removeAll(keepingCapacity: true)
        cutter = BlockCutter(preTokenizer: preTokenizer, blockSize: blockSize, keepingWhole: cutter.kept)
        atEnd = false
        lineNumber = files[fileIndex].format == .text ? 1 : 0
        warningsLeft = warningsPerFile
        statistics.files += 1
        if files[fileIndex].format == .text { statistics.documents += 1 }
        if let holdOut, holdOut.unit == .file {
            holdOut.unitHash = files[fileIndex].pathBytes.withUnsafeBufferPointer { hashBytes($0.baseAddress!, $0.count) }
        }
        return true
    }

    private func append(_ text: UnsafeBufferPointer<UInt8>, to batch: inout TextBatch) {
        guard let holdOut else { return appendUnit(text, to: &batch) }
        // Plain text splits into documents after each blank line; a JSON line is one already.
        var start = 0
        var i = 2
        while i < text.count {
            if text[i - 1] == 0x0A && text[i - 2] == 0x0A && text[i] != 0x0A {
                holdOut.route(UnsafeBufferPointer(rebasing: text[start ..< i])) { appendUnit($0, to: &batch) }
                start = i
            }
            i += 1
        }
        holdOut.route(UnsafeBufferPointer(rebasing: text[start...])) { appendUnit($0, to: &batch) }
    }

    private func appendUnit(_ text: UnsafeBufferPointer<UInt8>, to batch: inout TextBatch, endsDocument: Bool = false) {
        let mark = batch.bytes.count
        batch.bytes.append(contentsOf: text)
        recordUnit(from: mark, in: &batch, endsDocument: endsDocument)
    }

    /// Makes `batch.bytes[start...]`, already in place, the batch's next text
    /// (an empty one only when it ends a document in document mode).
    private func recordUnit(from start: Int, in batch: inout TextBatch, endsDocument: Bool) {
        let count = batch.bytes.count - start
        guard count > 0 || (documents && endsDocument) else { return }
        batch.ends.append(batch.bytes.count)
        statistics.bytes += count
        let (invalid, newlines) = batch.bytes.withUnsafeBufferPointer { b in
            let text = UnsafeBufferPointer(rebasing: b[start...])
            return (invalidUTF8ByteCount(text),
                    documents && files[fileIndex].format == .text ? text.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } : 0)
        }
        statistics.invalidUTF8Bytes += invalid
        guard documents else { return }
        batch.invalidBytes.append(invalid)
        batch.endsDocument.append(endsDocument)
        batch.fileIndexes.append(fileIndex)
        batch.lines.append(lineNumber)
        lineNumber += newlines
    }

    /// Marks the end of a plain-text file's document: its last text if it is
    /// in this batch, else an empty text (an empty file is an empty document).
    private func endDocument(_ batch: inout TextBatch) {
        if let last = batch.fileIndexes.last, last == fileIndex, batch.endsDocument.last == false {
            batch.endsDocument[batch.endsDocument.count - 1] = true
        } else {
            appendUnit(UnsafeBufferPointer(start: nil, count: 0), to: &batch, endsDocument: true)
        }
    }

    /// Takes the next block of plain text; false at the end of the file.
    private func takeText(_ batch: inout TextBatch) throws -> Bool {
        // Holding out documents: cut between documents, so that a document is
        // one unit whatever the block size.
        let documentEnd: ((UnsafeBufferPointer<UInt8>, Int) -> Int?)? = holdOut == nil ? nil
            : { self.lastDocumentEnd($0, lower: $1) }
        let source = self.source!
        let n = try cutter.nextBlock(read: { try source.read(into: &$0, maximum: $1) }, preferred: documentEnd)
        guard n > 0 else { return false }
        cutter.buffer.withUnsafeBufferPointer { append(UnsafeBufferPointer(rebasing: $0[0 ..< n]), to: &batch) }
        cutter.consume(n)
        return true
    }

    /// The position after the last blank line in `b` that a line follows.
    private func lastDocumentEnd(_ b: UnsafeBufferPointer<UInt8>, lower: Int) -> Int? {
        var p = b.count - 1
        while p >= lower {
            if b[p] != 0x0A && b[p - 1] == 0x0A && b[p - 2] == 0x0A { return p }
            p -= 1
        }
        return nil
    }

    private func takeLines(_ batch: inout TextBatch, file: CorpusFile) throws {
        guard !buffer.isEmpty else { return }
        guard let end = buffer.lastIndex(of: 0x0A).map({ $0 + 1 }) ?? (atEnd ? buffer.count : nil) else { return }
        let field = self.field
        try buffer.withUnsafeBufferPointer { b in
            var start = 0
            while start < end {
                // start < end <= b.count: memchr reads inside the buffer.
                let stop = memchr(b.baseAddress! + start, 0x0A, end - start)
                    .map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - b.baseAddress! } ?? end
                lineNumber += 1
                let line = UnsafeBufferPointer(rebasing: b[start ..< stop])
                start = stop + 1
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) {
                    // No document; Python's json (and so megatron's preprocessing) refuses the line.
                    if strict { throw CorpusError.blankJSONLine(path: file.path, line: lineNumber) }
                    continue
                }
                // Plain counting (hold-out routing) takes the text from `scratch`; document
                // mode and counting without hold-out extract it straight into the batch.
                let direct = holdOut == nil  // a JSON line is one document either way
                let mark = batch.bytes.count
                scratch.removeAll(keepingCapacity: true)
                let found: Bool
                do {
                    found = direct ? try extractJSONStringField(line, field: field, into: &batch.bytes)
                        : try extractJSONStringField(line, field: field, into: &scratch)
                } catch {
                    batch.bytes.removeSubrange(mark...)
                    let error = CorpusError.malformedJSONLine(path: file.path, line: lineNumber)
                    if strict { throw error }
                    if warningsLeft > 0 {
                        warningsLeft -= 1
                        warn("\(error) (skipped)")
                    }
                    statistics.malformedLines += 1
                    continue
                }
                guard found else {
                    batch.bytes.removeSubrange(mark...)
                    statistics.linesWithoutField += 1
                    if strict { throw CorpusError.missingField(path: file.path, line: lineNumber, field: String(decoding: field, as: UTF8.self)) }
                    if warningsLeft > 0 {
                        warningsLeft -= 1
                        warn("\(CorpusError.missingField(path: file.path, line: lineNumber, field: String(decoding: field, as: UTF8.self))) (skipped)")
                    }
                    continue
                }
                statistics.documents += 1
                if let holdOut, case .key(let key) = holdOut.unit {
                    sourceValue.removeAll(keepingCapacity: true)
                    let named = (try? extractJSONStringField(line, field: Array(key.utf8), into: &sourceValue)) ?? false
                    holdOut.unitHash = named && !sourceValue.isEmpty ? sourceValue.withUnsafeBufferPointer { hashBytes($0.baseAddress!, $0.count) } : nil
                }
                if direct {
                    recordUnit(from: mark, in: &batch, endsDocument: true)
                } else {
                    scratch.withUnsafeBufferPointer { append($0, to: &batch) }
                }
            }
        }
        buffer.removeSubrange(0 ..< end)
    }
}

/// A file's size on disk, or 0 (standard input, or unreadable: the read will say why).
public func fileSizeOnDisk(_ file: CorpusFile) -> Int {
    var info = stat()
    return withCPath(file.pathBytes) { stat($0, &info) } == 0 ? Int(info.st_size) : 0
}

/// The size on disk of the file at `path`, or 0.
public func fileSizeOnDisk(_ path: String) -> Int { fileSizeOnDisk(CorpusFile(path: path)) }

/// Seconds left at the rate so far, `done` of `total` in `seconds`; nil until
/// `minimumShare` of it is done (rates at the start mislead) or without a rate.
public func secondsLeft(done: Double, of total: Double, in seconds: Double, minimumShare: Double = 0) -> Double? {
    guard done > 0, total >= done, done >= total * minimumShare, seconds > 0.5 else { return nil }
    return seconds * (total - done) / done
}
