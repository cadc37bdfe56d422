import Dispatch
import Foundation
import TokCorpus
import TokEncoding

/// Options for counting pieces.
public struct CountingOptions: Sendable {
    public var preTokenizer: PreTokenizer
    public var threads: Int
    /// Bytes the counting tables may hold in all; past it, sorted runs spill to disk.
    public var memoryBudget: Int
    public var field: String = "text"
    public var strict = false
    public var blockSize = 2 << 20
    public var temporaryDirectory: String = NSTemporaryDirectory()

    public init(preTokenizer: PreTokenizer, threads: Int, memoryBudget: Int) {
        self.preTokenizer = preTokenizer
        self.threads = max(1, threads)
        self.memoryBudget = memoryBudget
    }

    /// A quarter of physical memory, at most 16 GiB.
    public static var defaultMemoryBudget: Int {
        min(Int(ProcessInfo.processInfo.physicalMemory / 4), 16 << 30)
    }
}

/// Progress of a long run, for a status line.
public struct CountingProgress: Sendable {
    public var bytes: Int
    public var seconds: Double
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
    let stream = CorpusStream(files: files, blockSize: options.blockSize, field: options.field, strict: options.strict)
    stream.warn = warn
    stream.holdOut = holdOut
    let shared = SharedCounting(stream: stream, options: options)
    let started = Date()
    DispatchQueue.concurrentPerform(iterations: options.threads) { worker in
        shared.work(worker: worker, started: started, progress: progress)
    }
    if let error = shared.error { throw error }
    defer { for run in shared.runs { unlink(run) } }
    // Merge the spilled runs with what is still in memory.
    var memoryRuns: [String] = []
    for (k, counter) in shared.counters.enumerated() where counter.count > 0 {
        let path = options.temporaryDirectory + "/tok-count-\(getpid())-final-\(k).run"
        try writeRun(counter, to: path)
        memoryRuns.append(path)
    }
    defer { for run in memoryRuns { unlink(run) } }
    let readers = try (shared.runs + memoryRuns).map(CountFile.Reader.init)
    let writer = try CountFile.Writer(path: output)
    try CountFile.mergeStreams(readers) { bytes, count in try writer.add(bytes, count: count) }
    let metadata = CountMetadata(
        domains: [domain], pattern: options.preTokenizer.name, regexes: options.preTokenizer.regexes,
        sources: files.map(\.path).sorted(), statistics: stream.statistics, pieces: 0, distinctPieces: 0)
    try writer.finish(metadata: metadata)
    return try CountFile.metadata(path: output)
}

func writeRun(_ counter: PieceCounter, to path: String) throws {
    let writer = try CountFile.Writer(path: path)
    try counter.arena.withUnsafeBufferPointer { a in
        for e in counter.sortedEntries() {
            let start = counter.starts[e]
            try writer.add(UnsafeBufferPointer(rebasing: a[start ..< start + Int(counter.lengths[e])]), count: counter.counts[e])
        }
    }
    try writer.finish(metadata: nil)
}

/// State the counting threads share; every field is guarded by `lock`, except
/// each thread's own entry of `counters`.
final class SharedCounting: @unchecked Sendable {
    let lock = NSLock()
    let stream: CorpusStream
    let options: CountingOptions
    var counters: [PieceCounter]
    var runs: [String] = []
    var error: Error?
    var runNumber = 0

    init(stream: CorpusStream, options: CountingOptions) {
        self.stream = stream
        self.options = options
        counters = Array(repeating: PieceCounter(), count: options.threads)
    }

    func work(worker: Int, started: Date, progress: @Sendable (CountingProgress) -> Void) {
        var batch = TextBatch()
        var counter = PieceCounter()
        let budget = max(options.memoryBudget / options.threads, 1 << 20)
        let preTokenizer = options.preTokenizer
        while true {
            lock.lock()
            let more: Bool
            do {
                more = error == nil ? try stream.next(&batch) : false
            } catch {
                self.error = self.error ?? error
                more = false
            }
            let bytes = stream.statistics.bytes
            lock.unlock()
            if !more { break }
            if worker == 0 { progress(CountingProgress(bytes: bytes, seconds: Date().timeIntervalSince(started))) }
            batch.forEachText { text in
                let base = text.baseAddress!
                preTokenizer.forEachPiece(text) { piece in counter.add(base + piece.lowerBound, piece.count) }
            }
            if counter.memoryBytes > budget {
                lock.lock()
                runNumber += 1
                let path = options.temporaryDirectory + "/tok-count-\(getpid())-\(runNumber).run"
                lock.unlock()
                do {
                    try writeRun(counter, to: path)
                } catch {
                    lock.lock()
                    self.error = self.error ?? error
                    lock.unlock()
                    break
                }
                lock.lock()
                runs.append(path)
                lock.unlock()
                counter = PieceCounter()
            }
        }
        lock.lock()
        counters[worker] = counter
        lock.unlock()
    }
}

/// Merges count files into one, adding the counts of equal pieces, each file's
/// counts first multiplied by its scale (if given) and rounded.
public func mergeCountFiles(_ inputs: [String], output: String, scales: [Double]? = nil) throws -> CountMetadata {
    let metadata = try inputs.map(CountFile.metadata(path:))
    guard let first = metadata.first else { throw CorpusError("nothing to merge") }
    for (m, path) in zip(metadata, inputs) where m.regexes != first.regexes {
        throw CorpusError("\(path): counted with pattern \(m.pattern), not \(first.pattern)")
    }
    var statistics = CorpusStatistics()
    for m in metadata { statistics.add(m.statistics) }
    let writer = try CountFile.Writer(path: output)
    try CountFile.mergeStreams(try inputs.map(CountFile.Reader.init), scales: scales) { bytes, count in
        try writer.add(bytes, count: count)
    }
    try writer.finish(metadata: CountMetadata(
        domains: Array(Set(metadata.flatMap(\.domains))).sorted(), pattern: first.pattern, regexes: first.regexes,
        sources: metadata.flatMap(\.sources).sorted(), statistics: statistics, pieces: 0, distinctPieces: 0))
    return try CountFile.metadata(path: output)
}

/// Reads every entry of a count file.
public func readCounts(_ path: String, _ body: (UnsafeBufferPointer<UInt8>, UInt64) throws -> Void) throws {
    try CountFile.mergeStreams([try CountFile.Reader(path: path)], body)
}
