import Foundation
import Synchronization
import TokCorpus
import TokEncoding

/// How to turn corpora into a training dataset.
public struct DatasetOptions: Sendable {
    public var threads: Int
    /// Append this id (the end-of-text token) to every non-empty document, as
    /// megatron-core's `preprocess_data.py --append-eod` does.
    public var endOfText: UInt32?
    public var field = "text"
    /// Fail on a malformed JSON line or one without the field, instead of reporting and skipping it.
    public var strict = false
    /// Start a new shard once a shard's `.bin` reaches this many bytes (at a
    /// document's end); nil: one dataset.
    public var shardSize: Int?
    public var allowedSpecial = AllowedSpecial.none
    /// A name recorded in the manifest (`zh`, `code`, ...), for per-domain statistics and mixing.
    public var domain: String?
    /// Bytes read at a time per thread.
    public var blockSize = 4 << 20

    public init(threads: Int) { self.threads = max(1, threads) }
}

/// Where a run is in its inputs: the file (index in the sorted input list)
/// and how many of that file's documents are done.
public struct DatasetPosition: Codable, Sendable, Equatable {
    public var file: Int
    public var document: Int
}

/// One shard of a dataset as the manifest records it.
public struct DatasetShard: Codable, Sendable, Equatable {
    /// The shard's prefix: `PREFIX-NNNNN`, or `PREFIX` unsharded (file name only, beside the manifest).
    public var prefix: String
    public var documents: Int
    public var tokens: Int
    public var binBytes: Int
    /// The input files its documents came from.
    public var inputs: [String]
    public var start: DatasetPosition
    public var end: DatasetPosition
    /// The run's corpus statistics up to the start of `end.file`: where a
    /// resumed run, which reads that file again from its start, adds its own.
    public var statisticsBeforeEndFile: CorpusStatistics
}

/// `PREFIX.manifest.json`: what a dataset is made of and from what.
public struct DatasetManifest: Codable, Sendable, Equatable {
    public var format = "tok-megatron-dataset"
    public var version = 1
    public var vocabulary: String
    /// ``VocabularyFolder/fingerprint(_:)`` of the vocabulary.
    public var vocabularyFingerprint: String
    public var dtype: String
    public var endOfText: UInt32?
    public var field: String
    public var domain: String?
    public var shardSize: Int?
    public var inputs: [String]
    public var shards: [DatasetShard] = []
    /// All inputs are done; a manifest without it is a run to resume.
    public var complete = false
    public var statistics = CorpusStatistics()

    public var documents: Int { shards.reduce(0) { $0 + $1.documents } }
    public var tokens: Int { shards.reduce(0) { $0 + $1.tokens } }

    /// Whether `other` was made with the same settings from the same inputs, so that it can be resumed.
    func sameRun(as other: DatasetManifest) -> Bool {
        vocabularyFingerprint == other.vocabularyFingerprint && dtype == other.dtype && endOfText == other.endOfText
            && field == other.field && shardSize == other.shardSize && inputs == other.inputs && domain == other.domain
    }

    public static func path(_ prefix: String) -> String { prefix + ".manifest.json" }

    public static func read(_ prefix: String) throws -> DatasetManifest? {
        let path = path(prefix)
        return try readJSONFile(DatasetManifest.self, at: path) { _ in
            DatasetError.notAnIndex(path: path, reason: "unreadable manifest")
        }
    }

    func write(_ prefix: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeFileAtomically(DatasetManifest.path(prefix), Array(try encoder.encode(self)) + [0x0A])
    }
}

/// Progress of a dataset run, for a status line.
public struct DatasetProgress: Sendable {
    public var bytes: Int
    public var documents: Int
    public var tokens: Int
    public var seconds: Double
}

/// The end-of-text token of a vocabulary: `named`, or the first special token
/// spelled as published vocabularies spell it.
public func endOfTextToken(_ tokenizer: Tokenizer, named: String? = nil, vocabulary: String) throws -> UInt32 {
    let specials = tokenizer.vocabulary.specialTokens
    if let named {
        guard let token = specials.first(where: { $0.content == named }) else {
            throw DatasetError.unknownEndOfText(token: named, vocabulary: vocabulary)
        }
        return token.id
    }
    for name in ["<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|end▁of▁sentence|>"] {
        if let token = specials.first(where: { $0.content == name }) { return token.id }
    }
    throw DatasetError.noEndOfText(vocabulary: vocabulary)
}

/// Encodes corpora into megatron-core indexed datasets.
///
/// Inputs are read as ``CorpusStream`` reads them, a `.txt` file being one
/// document and a JSON line one; documents are encoded on `threads` threads a
/// batch at a time and written in input order, so the files do not depend on
/// the thread count. With a shard size, a shard ends at the first document end
/// at or past it and is put in place (`.bin`, then `.idx`) before the manifest
/// lists it; a run that finds a manifest of the same settings resumes after
/// its last listed shard, so a stopped run loses at most one shard's work and
/// the files equal an uninterrupted run's.
///
/// - Complexity: O(input) time; memory of a batch and one shard's index.
public func encodeDataset(
    inputs: [String], vocabulary: String, tokenizer: Tokenizer, options: DatasetOptions, prefix: String,
    warn: @escaping (String) -> Void = { _ in }, progress: (DatasetProgress) -> Void = { _ in }
) throws -> DatasetManifest {
    let files = try expandCorpusInputs(inputs)
    let dtype = IndexedDataset.DType.optimal(forVocabularySize: tokenizer.vocabulary.idLimit)
    var manifest = DatasetManifest(
        vocabulary: vocabulary, vocabularyFingerprint: try VocabularyFolder.fingerprint(vocabulary), dtype: dtype.name,
        endOfText: options.endOfText, field: options.field, domain: options.domain, shardSize: options.shardSize,
        inputs: files.map(\.path))
    let directory = URL(fileURLWithPath: prefix).deletingLastPathComponent().path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    var start = DatasetPosition(file: 0, document: 0)
    if let previous = try DatasetManifest.read(prefix), previous.sameRun(as: manifest) {
        // Keep the shards whose files are all there, as recorded.
        for shard in previous.shards {
            let base = directory + "/" + shard.prefix
            guard fileExists(base + ".idx"), fileSize(base + ".bin") == shard.binBytes else { break }
            manifest.shards.append(shard)
            start = shard.end
        }
        manifest.statistics = manifest.shards.last?.statisticsBeforeEndFile ?? CorpusStatistics()
        if previous.complete && manifest.shards == previous.shards {
            manifest.statistics = previous.statistics
            manifest.complete = true
            return manifest
        }
    }
    let stream = CorpusStream(files: Array(files[min(start.file, files.count)...]), preTokenizer: tokenizer.preTokenizer,
                              blockSize: options.blockSize * options.threads, field: options.field, strict: options.strict)
    stream.documents = true
    stream.warn = warn
    let base = manifest.statistics
    var shardStart = start
    var position = DatasetPosition(file: start.file, document: 0)
    var toSkip = start.document  // documents of the first file already in a shard: read, not encoded
    var writer: IndexedDatasetWriter?
    var shardInputs = Set<Int>()
    let started = Date()
    var batch = TextBatch()
    var reportedInvalid = Set<Int>()

    func shardPrefix() -> String {
        let name = URL(fileURLWithPath: prefix).lastPathComponent
        guard options.shardSize != nil else { return name }
        let n = String(manifest.shards.count)
        return name + "-" + String(repeating: "0", count: max(0, 5 - n.count)) + n
    }
    func closeShard() throws {
        guard let w = writer else { return }
        try w.finish()
        // Counts as of the start of the file the shard ends in (all of them at the end).
        let opened = stream.statisticsBeforeFile
        var before = base
        before.add(position.file - start.file < opened.count ? opened[position.file - start.file] : stream.statistics)
        manifest.shards.append(DatasetShard(
            prefix: shardPrefix(), documents: w.documents, tokens: w.tokens, binBytes: w.binBytes,
            inputs: shardInputs.sorted().map { files[$0].path }, start: shardStart, end: position,
            statisticsBeforeEndFile: before))
        manifest.statistics = base
        manifest.statistics.add(stream.statistics)
        try manifest.write(prefix)
        writer = nil
        shardInputs = []
        shardStart = position
    }

    while try stream.next(&batch) {
        let units = batch.ends.count
        var first = 0
        while toSkip > 0 && first < units {
            if batch.endsDocument[first] {
                toSkip -= 1
                position.document += 1
            }
            first += 1
        }
        guard first < units else { continue }
        // Encode the batch's texts in chunks of contiguous texts (about 64 KB
        // each, in order), which the lanes take from a shared counter as they
        // finish: Chinese text costs more per byte than code, so fixed lanes
        // would wait for each other.
        let skipped = batch.range(first).lowerBound
        let chunkBytes = max(64 << 10, (batch.bytes.count - skipped) / (options.threads * 16))
        var bounds = [first]
        var k = first
        while k < units {
            let limit = batch.range(bounds.last!).lowerBound + chunkBytes
            while k < units && batch.ends[k] < limit { k += 1 }
            k = min(k + 1, units)
            bounds.append(k)
        }
        let chunks = bounds.count - 1
        let lanes = min(options.threads, chunks)
        let shared = batch
        let next = Atomic<Int>(0)
        let laneResults = inParallel(lanes: lanes) { _ in tokenizer.withScratch { scratch in
            // A scratch from the tokenizer's pool: its piece cache stays warm from batch to batch.
            var done: [(chunk: Int, ids: ContiguousArray<UInt32>, counts: [Int])] = []
            while case let c = next.add(1, ordering: .relaxed).oldValue, c < chunks {
                var ids = ContiguousArray<UInt32>()
                ids.reserveCapacity((shared.ends[bounds[c + 1] - 1] - shared.range(bounds[c]).lowerBound) / 2 + 16)
                var counts = [Int]()
                shared.bytes.withUnsafeBufferPointer { all in
                    for k in bounds[c] ..< bounds[c + 1] {
                        let before = ids.count
                        tokenizer.encode(UnsafeBufferPointer(rebasing: all[shared.range(k)]), allowedSpecial: options.allowedSpecial,
                                         scratch: &scratch, into: &ids)
                        counts.append(ids.count - before)
                    }
                }
                done.append((c, ids, counts))
            }
            return done
        } }
        let encoded = laneResults.flatMap { $0 }.sorted { $0.chunk < $1.chunk }.map { ($0.ids, $0.counts) }
        for (chunk, (ids, counts)) in encoded.enumerated() {
            var offset = 0
            try ids.withUnsafeBufferPointer { all in
                for (j, count) in counts.enumerated() {
                    let k = bounds[chunk] + j
                    let file = start.file + batch.fileIndexes[k]
                    if file != position.file { position = DatasetPosition(file: file, document: 0) }
                    if writer == nil {
                        let shard = directory + "/" + shardPrefix()
                        TemporaryPaths.removeStale(besides: shard + ".bin")
                        writer = try IndexedDatasetWriter(prefix: shard, dtype: dtype)
                    }
                    let w = writer!
                    shardInputs.insert(file)
                    try w.append(UnsafeBufferPointer(rebasing: all[offset ..< offset + count]))
                    offset += count
                    if batch.invalidBytes[k] > 0 && !reportedInvalid.contains(file) {
                        reportedInvalid.insert(file)
                        warn("\(files[file].path):\(batch.lines[k]): invalid UTF-8, encoded as byte tokens (reported once a file)")
                    }
                    guard batch.endsDocument[k] else { continue }
                    if let eod = options.endOfText, w.currentLength > 0 {
                        try withUnsafePointer(to: eod) { try w.append(UnsafeBufferPointer(start: $0, count: 1)) }
                    }
                    w.endDocument()
                    position.document += 1
                    if let size = options.shardSize, w.binBytes >= size { try closeShard() }
                }
            }
        }
        let s = stream.statistics
        progress(DatasetProgress(bytes: s.bytes, documents: manifest.documents + (writer?.documents ?? 0),
                                 tokens: manifest.tokens + (writer?.tokens ?? 0), seconds: Date().timeIntervalSince(started)))
    }
    // The last shard; an input with no documents still gives one (empty) dataset.
    if writer == nil && manifest.shards.isEmpty {
        writer = try IndexedDatasetWriter(prefix: directory + "/" + shardPrefix(), dtype: dtype)
    }
    position = DatasetPosition(file: files.count, document: 0)
    try closeShard()
    manifest.statistics = base
    manifest.statistics.add(stream.statistics)
    manifest.complete = true
    try manifest.write(prefix)
    return manifest
}

func fileSize(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
}
