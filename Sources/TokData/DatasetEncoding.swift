import Foundation
import TokCorpus
import TokEncoding
import TokRuntime

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
    /// Bytes read at a time: a worker's unit of work.
    public var blockSize = 1 << 20

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

/// One input file of a dataset as the run found it: enough to tell, when
/// the run is resumed, that the file is still the one it read.
public struct DatasetInput: Codable, Sendable, Equatable {
    public var path: String
    /// Bytes, modification time (nanoseconds) and the ``edgeSize`` bytes at
    /// each end of the file as a ``Checksum`` of both (16 hex digits); nil in
    /// manifests of version 1, which named the path only and so never resume.
    public var size: Int?
    public var modified: Int?
    public var edges: String?

    /// Bytes read at each end of a file.
    public static let edgeSize = 1 << 16

    /// The file at `path` as it is now.
    ///
    /// - Complexity: O(``edgeSize``): two reads, whatever the file's size.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FileError.errno(path, "open") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileError.errno(path, "stat") }
        size = Int(st.st_size)
        modified = Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec)
        let head = min(Int(st.st_size), DatasetInput.edgeSize)
        let tail = min(Int(st.st_size) - head, DatasetInput.edgeSize)
        var bytes = [UInt8](repeating: 0, count: head + tail)
        let got = bytes.withUnsafeMutableBytes { raw in
            pread(fd, raw.baseAddress!, head, 0)
                + (tail > 0 ? pread(fd, raw.baseAddress! + head, tail, off_t(Int(st.st_size) - tail)) : 0)
        }
        guard got == head + tail else { throw FileError.errno(path, "read") }
        edges = checksumHex(bytes)
    }

    public init(from decoder: Decoder) throws {
        // Version 1 listed the paths alone.
        if let path = try? decoder.singleValueContainer().decode(String.self) {
            self.path = path
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        size = try c.decodeIfPresent(Int.self, forKey: .size)
        modified = try c.decodeIfPresent(Int.self, forKey: .modified)
        edges = try c.decodeIfPresent(String.self, forKey: .edges)
    }
}

/// `PREFIX.manifest.json`: what a dataset is made of and from what.
public struct DatasetManifest: Codable, Sendable, Equatable {
    public var format = DatasetManifest.formatName
    public var version = 2
    public var vocabulary: String
    /// ``VocabularyFolder/fingerprint(_:)`` of the vocabulary.
    public var vocabularyFingerprint: String
    public var dtype: String
    public var endOfText: UInt32?
    public var field: String
    public var domain: String?
    public var shardSize: Int?
    public var inputs: [DatasetInput]
    public var shards: [DatasetShard] = []
    /// All inputs are done; a manifest without it is a run to resume.
    public var complete = false
    public var statistics = CorpusStatistics()

    public var documents: Int { shards.reduce(0) { $0 + $1.documents } }
    public var tokens: Int { shards.reduce(0) { $0 + $1.tokens } }

    public static let formatName = "tok-megatron-dataset"

    /// Whether `other` was made with the same settings from the same inputs,
    /// unchanged since (``DatasetInput``), so that it can be resumed.
    func sameRun(as other: DatasetManifest) -> Bool {
        vocabularyFingerprint == other.vocabularyFingerprint && dtype == other.dtype && endOfText == other.endOfText
            && field == other.field && shardSize == other.shardSize && inputs == other.inputs && domain == other.domain
            && inputs.allSatisfy { $0.edges != nil }
    }

    public static func path(_ prefix: String) -> String { prefix + ".manifest.json" }

    public static func read(_ prefix: String) throws -> DatasetManifest? {
        let path = path(prefix)
        return try readJSONFile(DatasetManifest.self, at: path) { _ in
            DatasetError.notAnIndex(path: path, reason: "unreadable manifest")
        }
    }

    /// The shard prefixes the manifest at `prefix` names, when it is a tok
    /// dataset's manifest (of any version): what a fresh run over `prefix`
    /// removes. Only names a tok run gives its shards (`NAME`, `NAME-NNNNN`,
    /// NAME being `prefix`'s file name) are taken, so that a manifest written
    /// by hand cannot name other files.
    static func shardPrefixesMade(_ prefix: String) -> [String] {
        guard let data = try? readFile(path(prefix)),
              let object = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any],
              object["format"] as? String == formatName, let shards = object["shards"] as? [Any]
        else { return [] }
        let name = URL(fileURLWithPath: prefix).lastPathComponent
        return shards.compactMap { ($0 as? [String: Any])?["prefix"] as? String }.filter { shard in
            shard == name || (shard.hasPrefix(name + "-") && shard.utf8.count > name.utf8.count + 1
                              && shard.utf8.dropFirst(name.utf8.count + 1).allSatisfy { $0 >= 0x30 && $0 <= 0x39 })
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
/// document and a JSON line one; batches of documents are encoded on
/// `threads` threads while the calling thread reads ahead and writes finished
/// batches in input order (``inOrderedPipeline(workers:item:produce:work:consume:)``),
/// so the files do not depend on the thread count. With a shard size, a shard ends at the first document end
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
    try options.allowedSpecial.check(against: tokenizer.vocabulary)
    let files = try expandCorpusInputs(inputs)
    let dtype = IndexedDataset.DType.optimal(forVocabularySize: tokenizer.vocabulary.idLimit)
    var manifest = DatasetManifest(
        vocabulary: vocabulary, vocabularyFingerprint: try VocabularyFolder.fingerprint(vocabulary), dtype: dtype.name,
        endOfText: options.endOfText, field: options.field, domain: options.domain, shardSize: options.shardSize,
        inputs: try files.map { try DatasetInput(path: $0.path) })
    let directory = URL(fileURLWithPath: prefix).deletingLastPathComponent().path
    var start = DatasetPosition(file: 0, document: 0)
    let previous = try? DatasetManifest.read(prefix)
    if let previous, previous.sameRun(as: manifest) {
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
    } else {
        try retireShards(of: prefix, replacedBy: manifest)
    }
    let stream = CorpusStream(files: Array(files[min(start.file, files.count)...]), preTokenizer: tokenizer.preTokenizer,
                              blockSize: options.blockSize, field: options.field, strict: options.strict,
                              keepingWhole: tokenizer.tokensKeptWhole)
    stream.documents = true
    stream.warn = warn
    let base = manifest.statistics
    var shardStart = start
    var position = DatasetPosition(file: start.file, document: 0)
    var toSkip = start.document  // documents of the first file already in a shard: read, not encoded
    var writer: IndexedDatasetWriter?
    var shardInputs = Set<Int>()
    let started = Date()
    var reportedInvalid = Set<Int>()
    var statisticsRead = CorpusStatistics()  // as of the batch being written

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
        manifest.statistics.add(statisticsRead)
        try manifest.write(prefix)
        writer = nil
        shardInputs = []
        shardStart = position
    }

    // A scratch a worker: its piece cache stays warm from batch to batch.
    var scratches = (0 ..< options.threads).map { _ in tokenizer.makeScratch() }
    try inOrderedPipeline(workers: &scratches, item: { DatasetBatch() }, produce: { item in
        while try stream.next(&item.batch) {
            let units = item.batch.ends.count
            // Documents of the first file already in a shard are read, not encoded.
            item.first = 0
            while toSkip > 0 && item.first < units {
                if item.batch.endsDocument[item.first] {
                    toSkip -= 1
                    position.document += 1
                }
                item.first += 1
            }
            guard item.first < units else { continue }
            item.statistics = stream.statistics
            return true
        }
        return false
    }, work: { scratch, item in
        item.ids.removeAll(keepingCapacity: true)
        item.counts.removeAll(keepingCapacity: true)
        item.batch.bytes.withUnsafeBufferPointer { all in
            for k in item.first ..< item.batch.ends.count {
                let before = item.ids.count
                tokenizer.encode(UnsafeBufferPointer(rebasing: all[item.batch.range(k)]),
                                 allowedSpecial: options.allowedSpecial, scratch: &scratch, into: &item.ids)
                item.counts.append(item.ids.count - before)
            }
        }
    }, consume: { item in
        statisticsRead = item.statistics
        var offset = 0
        let batch = item.batch
        try item.ids.withUnsafeBufferPointer { all in
            for (j, count) in item.counts.enumerated() {
                let k = item.first + j
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
        progress(DatasetProgress(bytes: item.statistics.bytes, documents: manifest.documents + (writer?.documents ?? 0),
                                 tokens: manifest.tokens + (writer?.tokens ?? 0), seconds: Date().timeIntervalSince(started)))
    })
    statisticsRead = stream.statistics
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

/// Starts a fresh run over `prefix`: a manifest without shards takes the
/// place of the one there (so that no manifest names files about to go), then
/// the shards the old manifest named are removed (tok made them); nothing
/// else is. Without this, a run of fewer shards would leave the old ones
/// beside its manifest.
func retireShards(of prefix: String, replacedBy manifest: DatasetManifest) throws {
    let old = DatasetManifest.shardPrefixesMade(prefix)
    guard !old.isEmpty else { return }
    try manifest.write(prefix)
    let directory = parentFolder(of: prefix)
    for shard in old {
        for ext in [".bin", ".idx"] {
            let path = directory + "/" + shard + ext
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            guard unlink(path) == 0 else { throw FileError.errno(path, "remove the old shard") }
        }
    }
}

/// A batch of documents on its way through the pipeline: the texts, the
/// first one to encode (earlier ones are already in a shard), the ids and
/// each text's count of them, and the corpus statistics as of its reading.
private struct DatasetBatch {
    var batch = TextBatch()
    var first = 0
    var ids = ContiguousArray<UInt32>()
    var counts: [Int] = []
    var statistics = CorpusStatistics()
}

func fileSize(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
}
