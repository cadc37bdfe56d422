#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import TokCorpus
import TokEncoding
import TokRuntime

/// Options for counting pieces.
public struct CountingOptions: Sendable {
    public var preTokenizer: PreTokenizer
    /// What the text goes through before it is split (a vocabulary's normalizer, as its encoder applies it).
    public var normalizer = Normalizer.none
    public var threads: Int
    /// Bytes the counting tables may hold in all; past it, sorted runs spill to disk.
    public var memoryBudget: Int
    public var field: String = "text"
    public var strict = false
    public var blockSize = 2 << 20
    /// Where spilled runs go (in a work folder of their own, removed at the end).
    public var temporaryDirectory = TemporaryPaths.temporaryDirectory

    public init(preTokenizer: PreTokenizer, threads: Int, memoryBudget: Int = CountingOptions.defaultMemoryBudget) {
        self.preTokenizer = preTokenizer
        self.threads = max(1, threads)
        self.memoryBudget = memoryBudget
    }

    /// What the process holds apart from the counting tables: code, ICU data, read buffers.
    public static let reservedMemory = 64 << 20

    /// A quarter of physical memory, at most 16 GiB.
    public static var defaultMemoryBudget: Int {
        min(Int(ProcessInfo.processInfo.physicalMemory / 4), 16 << 30)
    }
}

/// Progress of a long run, for a status line.
public struct CountingProgress: Sendable {
    /// Text read so far.
    public var bytes: Int
    public var seconds: Double
    /// Bytes taken from the input files (compressed ones counted as stored), of `inputSize` in all.
    public var consumed: Int = 0
    public var inputSize: Int = 0

    /// Seconds left at the rate so far, once there is a rate.
    public var secondsLeft: Double? { TokCorpus.secondsLeft(done: Double(consumed), of: Double(inputSize), in: seconds) }
}

/// Counts the pieces of corpus files into a count file.
///
/// Each thread takes batches of text from one shared reader, pre-tokenizes them
/// with the vocabulary's own pre-tokenizer and counts pieces in a table of its
/// own; a table that outgrows its share of the memory budget is written out as
/// a sorted run. At the end the runs and the tables are merged in one pass,
/// adding equal pieces: the file's bytes do not depend on the thread count, the
/// order of the inputs or the budget.
public func countPieces(
    files: [CorpusFile], domain: String, options: CountingOptions, output: String, holdOut: HoldOut? = nil,
    warn: @escaping @Sendable (String) -> Void = { _ in },
    progress: @escaping @Sendable (CountingProgress) -> Void = { _ in }
) throws -> CountMetadata {
    try TemporaryPaths.withWorkFolder("count", in: options.temporaryDirectory) { work in
        try countPieces(files: files, domain: domain, options: options, output: output, holdOut: holdOut, work: work,
                        warn: warn, progress: progress)
    }
}

/// ``countPieces(files:domain:options:output:holdOut:warn:progress:)`` with its spilled runs in `work`.
func countPieces(
    files: [CorpusFile], domain: String, options: CountingOptions, output: String, holdOut: HoldOut?, work: String,
    warn: @escaping @Sendable (String) -> Void, progress: @escaping @Sendable (CountingProgress) -> Void
) throws -> CountMetadata {
    try countPieces(files: files, domain: domain, options: options, outputs: [(options.preTokenizer, output)], holdOut: holdOut,
                    work: work, warn: warn, progress: progress)[0]
}

/// Counts the pieces of corpus files under each pre-tokenizer of `outputs`
/// into its count file, from one read of the text: every pattern sees the same
/// documents (the same held out), and each file's bytes are those of counting
/// with its pattern alone. The text is cut into blocks only where every
/// pattern may be cut (``cuttingPreTokenizer(_:)``). `options.preTokenizer` is
/// not used.
func countPieces(
    files: [CorpusFile], domain: String, options: CountingOptions, outputs: [(preTokenizer: PreTokenizer, path: String)],
    holdOut: HoldOut?, work: String,
    warn: @escaping @Sendable (String) -> Void, progress: @escaping @Sendable (CountingProgress) -> Void
) throws -> [CountMetadata] {
    let preTokenizers = outputs.map(\.preTokenizer)
    let stream = CorpusStream(files: files, preTokenizer: try cuttingPreTokenizer(preTokenizers), blockSize: options.blockSize,
                              field: options.field, strict: options.strict)
    stream.warn = warn
    stream.holdOut = holdOut
    let shared = SharedReader(stream: stream)
    let started = Date()
    // A table that outgrows its share spills after the batch that grew it, and
    // growing doubles an array while the old one is still held: measured, a
    // table peaks at about 1.5x the size it is checked at. So each lane checks
    // at 60% of its share, after a reserve for the process and its buffers:
    // `tok count --memory 256M` on 512 MB of generated Chinese then peaks at 196 MB
    // of RSS (337 MB when lanes checked at their whole share).
    let budget = max((options.memoryBudget - CountingOptions.reservedMemory) / options.threads * 6 / 10, 1 << 20)
    let lanes = try inParallel(lanes: options.threads) { lane in
        try countLane(shared, preTokenizers, options.normalizer, budget: budget, work: work, lane: lane) { read in
            if lane == 0 {
                progress(CountingProgress(bytes: read.bytes, seconds: Date().timeIntervalSince(started), consumed: read.consumed,
                                          inputSize: read.inputSize))
            }
        }
    }
    let held = holdOut.map {
        HeldOutRecord(perMille: Int($0.perMille), capacity: $0.capacity, alreadyHeld: $0.alreadyHeld, text: $0.text,
                      documents: $0.documents)
    }
    return try outputs.enumerated().map { p, output in
        // Merge the spilled runs with what is still in memory.
        var runs = lanes.flatMap { $0.runs[p] }
        for (k, lane) in lanes.enumerated() where lane.counters[p].count > 0 {
            let path = work + "/final-\(k)-\(p).run"
            try writeRun(lane.counters[p], to: path)
            runs.append(path)
        }
        let readers = try runs.map(CountFile.Reader.init)
        let writer = try CountFile.Writer(path: output.path)
        try CountFile.mergeStreams(readers) { bytes, count in try writer.add(bytes, count: count) }
        var metadata = CountMetadata(
            domains: [domain], pattern: output.preTokenizer.name, regexes: output.preTokenizer.regexes,
            sources: files.map(\.path).sorted(), statistics: shared.statistics, pieces: 0, distinctPieces: 0)
        metadata.heldOut = held
        return try writer.finish(metadata: metadata)!  // non-nil: metadata was given
    }
}

/// A pre-tokenizer that cuts a stream only where every one of `preTokenizers`
/// may be cut: the one whose cuts all the others honour, else a pattern that
/// never cuts (each text then pre-tokenized whole).
func cuttingPreTokenizer(_ preTokenizers: [PreTokenizer]) throws -> PreTokenizer {
    if let fewest = preTokenizers.first(where: { p in preTokenizers.allSatisfy { p.safeCuts.isSubset(of: $0.safeCuts) } }) {
        return fewest
    }
    return try PreTokenizer(regex: "[\\s\\S]+")  // no rules: no safe cuts
}

/// One counting thread: takes batches from the shared reader until it is
/// exhausted, counting each text's pieces under every pre-tokenizer in a table
/// of its own, and spilling the tables as sorted runs whenever together they
/// outgrow `budget`.
private func countLane(
    _ shared: SharedReader, _ preTokenizers: [PreTokenizer], _ normalizer: Normalizer, budget: Int, work: String, lane: Int,
    progress: ((bytes: Int, consumed: Int, inputSize: Int)) -> Void
) throws -> (counters: [PieceCounter], runs: [[String]]) {
    var batch = TextBatch()
    var counters = preTokenizers.map { _ in PieceCounter() }
    var runs: [[String]] = preTokenizers.map { _ in [] }
    while let read = try shared.next(&batch) {
        progress(read)
        func count(_ text: UnsafeBufferPointer<UInt8>) {
            guard let base = text.baseAddress else { return }
            counters.withUnsafeMutableBufferPointer { tables in
                for p in preTokenizers.indices {
                    // p < preTokenizers.count == tables.count.
                    preTokenizers[p].forEachPiece(text) { piece in tables[p].add(base + piece.lowerBound, piece.count) }
                }
            }
        }
        batch.forEachText { text in
            if let normalized = normalizer.apply(text) { normalized.withUnsafeBufferPointer(count) } else { count(text) }
        }
        if counters.reduce(0, { $0 + $1.memoryBytes }) > budget {
            for p in counters.indices where counters[p].count > 0 {
                let path = work + "/lane\(lane)-\(p)-\(runs[p].count).run"
                try writeRun(counters[p], to: path)
                runs[p].append(path)
                counters[p] = PieceCounter()
            }
        }
    }
    return (counters, runs)
}

/// The corpus reader the counting threads share: one reads at a time, and the
/// first error stops every thread.
final class SharedReader: Sendable {
    private let state: Mutex<(stream: UncheckedSendable<CorpusStream>, failed: Bool)>

    init(stream: CorpusStream) { state = Mutex((UncheckedSendable(stream), false)) }

    /// Fills `batch`; returns the text read so far and the input taken, or nil
    /// at the end (or after an error elsewhere).
    func next(_ batch: inout TextBatch) throws -> (bytes: Int, consumed: Int, inputSize: Int)? {
        try state.withLock { state in
            guard !state.failed else { return nil }
            do {
                let stream = state.stream.value
                guard try stream.next(&batch) else { return nil }
                return (stream.statistics.bytes, stream.consumed, stream.inputSize)
            } catch {
                state.failed = true
                throw error
            }
        }
    }

    var statistics: CorpusStatistics { state.withLock { $0.stream.value.statistics } }
}

/// Writes a counter's entries sorted by bytes: a spilled run (no metadata), or a count file.
@discardableResult
func writeRun(_ counter: PieceCounter, to path: String, metadata: CountMetadata? = nil) throws -> CountMetadata? {
    let writer = try CountFile.Writer(path: path)
    let entries = counter.entries
    try entries.bytes.withUnsafeBufferPointer { a in
        for e in counter.sortedEntries() {
            let piece = UnsafeBufferPointer(rebasing: a[entries.start(e) ..< entries.ends[e]])
            try writer.add(piece, count: entries.counts[e])
        }
    }
    return try writer.finish(metadata: metadata)
}

/// Merges count files into one, adding the counts of equal pieces, each file's
/// counts first multiplied by its scale (if given) and rounded.
///
/// With `heldOutText`, when the inputs held text out by the same rule, their
/// held-out texts (each checked), joined in the order the inputs are given
/// (give parts in corpus order), are written beside the output, which records
/// them; without it the output records no held-out text.
///
/// `progress` gets the fraction of the inputs read, now and then.
public func mergeCountFiles(_ inputs: [String], output: String, scales: [Double]? = nil, heldOutText: Bool = false,
                            progress: (Double) -> Void = { _ in }) throws -> CountMetadata {
    try mergeCountFiles(inputs, output: output, scales: scales, heldOutText: heldOutText, writingHeldOutText: true,
                        progress: progress)
}

/// ``mergeCountFiles(_:output:scales:heldOutText:progress:)``; without
/// `writingHeldOutText`, the output records the held-out text but leaves
/// writing it to the merge of the count files it lies beside (superword counts).
func mergeCountFiles(_ inputs: [String], output: String, scales: [Double]? = nil, heldOutText: Bool,
                     writingHeldOutText: Bool, progress: (Double) -> Void) throws -> CountMetadata {
    let metadata = try inputs.map(CountFile.metadata(path:))
    guard let first = metadata.first else { throw CountFileError.nothingToMerge }
    for (m, path) in zip(metadata, inputs) where m.regexes != first.regexes {
        throw CountFileError.patternMismatch(path: path, counted: m.pattern, expected: first.pattern)
    }
    var statistics = CorpusStatistics()
    for m in metadata { statistics.add(m.statistics) }
    let heldOut: [UInt8]? = scales != nil || !heldOutText || !HeldOutRecord.sameRule(metadata.map(\.heldOut)) ? nil
        : try zip(inputs, metadata).flatMap { try CountFile.heldOutText($0, metadata: $1)! }  // each held text out
    let writer = try CountFile.Writer(path: output)
    let readers = try inputs.map(CountFile.Reader.init)
    let total = Double(max(inputs.reduce(0) { $0 + fileSizeOnDisk($1) }, 1))
    var entries = 0
    try CountFile.mergeStreams(readers, scales: scales) { bytes, count in
        try writer.add(bytes, count: count)
        entries += 1
        if entries % (1 << 20) == 0 { progress(Double(readers.reduce(0) { $0 + $1.source.consumed }) / total) }
    }
    var merged = CountMetadata(
        domains: Array(Set(metadata.flatMap(\.domains))).sorted(), pattern: first.pattern, regexes: first.regexes,
        sources: metadata.flatMap(\.sources).sorted(), statistics: statistics, pieces: 0, distinctPieces: 0)
    if let heldOut {
        merged.heldOut = HeldOutRecord(merging: metadata.compactMap(\.heldOut), text: heldOut)
        if writingHeldOutText { try writeFileAtomically(CountFile.heldOutPath(output), heldOut) }
    }
    return try writer.finish(metadata: merged)!
}

/// Writes pieces counted elsewhere (in memory, by another tool) as a count
/// file: sorted by bytes, equal pieces added. `metadata`'s totals are filled in.
public func writeCountFile(_ pieces: PieceCounts, metadata: CountMetadata, to path: String) throws -> CountMetadata {
    var counter = PieceCounter()
    pieces.forEach { bytes, count in counter.add(UnsafeRawPointer(bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!), bytes.count, count: count) }
    return try writeRun(counter, to: path, metadata: metadata)!  // non-nil: metadata was given
}
