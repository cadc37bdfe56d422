import Dispatch
import Foundation
import TokCorpus
import TokEncoding
import TokTraining

/// One domain of a build: its name, where its text is (files, folders, globs,
/// or one count file from `tok count`), and its weight in the merge.
public struct DomainInput: Sendable, Codable {
    public var name: String
    public var inputs: [String]
    public var weight: Double

    public init(name: String, inputs: [String], weight: Double = 1) {
        self.name = name
        self.inputs = inputs
        self.weight = weight
    }
}

public struct BuildOptions: Sendable {
    public var domains: [DomainInput]
    /// Total ids, the 256 byte tokens and the special tokens included.
    public var vocabularySize = 153_376
    public var specialTokens = ["<|endoftext|>"]
    public var preTokenizer = PreTokenizer(named: PreTokenizer.defaultName)!
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var memoryBudget = CountingOptions.defaultMemoryBudget
    /// Thousandths of each domain's documents held out for evaluation, up to `heldOutCapacity` bytes.
    public var heldOutPerMille = 20
    public var heldOutCapacity = 4 << 20
    /// Also train one BPE on all domains pooled, at the same size, for comparison.
    public var comparePooled = false
    public var strategy = MergeStrategy.balanced
    /// Candidates taken before pruning by measured use, as a multiple of the
    /// BPE tokens wanted (1: no pruning).
    public var pruneCandidates = 1.25

    public init(domains: [DomainInput]) { self.domains = domains }
}

/// Per-domain figures of a build.
public struct DomainReport: Codable, Sendable {
    public var name: String
    public var weight: Double
    public var trainingBytes: Int
    public var heldOutDocuments: Int
    /// Tokens of the merged vocabulary taken from this domain's list.
    public var contributed: Int
    /// Tokens of the merged vocabulary that this domain's own vocabulary shares with another domain's.
    public var shared: Int
    /// Held-out compression: merged vocabulary, the domain's own vocabulary at
    /// the same size, and one BPE over all domains pooled (if compared).
    public var merged: Compression?
    public var own: Compression?
    public var pooled: Compression?
}

public struct BuildReport: Codable, Sendable {
    public var vocabularySize: Int
    public var bpeTokens: Int
    public var specialTokens: [String]
    public var pattern: String
    public var strategy: MergeStrategy
    public var domains: [DomainReport]
    /// Tokens no domain's own vocabulary has (learned only from the merged statistics).
    public var jointOnlyTokens: Int
    /// Tokens per kind, as in table 1 of the Pangu Ultra report.
    public var composition: [String: Int]
    /// Tokens dropped because rival domains' tokens left them unreachable.
    public var droppedUnreachable: Int
    /// Wall seconds per stage, and peak resident memory.
    public var seconds: [String: Double]
    public var peakMemoryMB: Double
}

/// Builds a balanced vocabulary: counts each domain (holding out a small share
/// of its documents), trains a BPE per domain, merges them with
/// ``BalancedMerge`` into exactly `vocabularySize` ids, checks every token,
/// and writes the folder with `build-report.json` and the held-out texts.
public func buildVocabulary(_ options: BuildOptions, output finalOutput: String, log: @escaping @Sendable (String) -> Void) throws -> BuildReport {
    let started = Date()
    // Everything is written to a staging folder beside the output and moved into
    // place at the end: a failed build leaves no half-written vocabulary.
    let output = finalOutput + ".tmp-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: output) }
    var seconds: [String: Double] = [:]
    func stage<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        let t = Date()
        defer { seconds[name, default: 0] += Date().timeIntervalSince(t) }
        return try body()
    }
    let bpeTokens = options.vocabularySize - 256 - options.specialTokens.count
    guard bpeTokens > 0 else { throw VocabularyError("--vocab-size \(options.vocabularySize) is too small") }
    guard !options.domains.isEmpty else { throw VocabularyError("no domains") }
    let work = NSTemporaryDirectory() + "/tok-build-\(getpid())"
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: work) }
    try FileManager.default.createDirectory(atPath: output + "/heldout", withIntermediateDirectories: true)

    // 1. Count each domain, holding out documents.
    var countFiles: [String] = []
    var heldOut: [[UInt8]] = []
    var heldOutDocuments: [Int] = []
    var trainingBytes: [Int] = []
    var counting = CountingOptions(preTokenizer: options.preTokenizer, threads: options.threads, memoryBudget: options.memoryBudget)
    counting.temporaryDirectory = work
    for domain in options.domains {
        try stage("count") {
            if domain.inputs.count == 1 && CountFile.isCountFile(domain.inputs[0]) {
                let metadata = try CountFile.metadata(path: domain.inputs[0])
                guard metadata.regexes == options.preTokenizer.regexes else {
                    throw VocabularyError("\(domain.inputs[0]): counted with pattern \(metadata.pattern), not \(options.preTokenizer.name)")
                }
                countFiles.append(domain.inputs[0])
                heldOut.append([])
                heldOutDocuments.append(0)
                trainingBytes.append(metadata.statistics.bytes)
                log("\(domain.name): using counts \(domain.inputs[0]) (no held-out text)")
                return
            }
            let files = try expandCorpusInputs(domain.inputs)
            let holdOut = HoldOut(perMille: options.heldOutPerMille, capacity: options.heldOutCapacity)
            let path = work + "/\(domain.name).counts"
            let metadata = try countPieces(files: files, domain: domain.name, options: counting, output: path, holdOut: holdOut,
                                           warn: { log($0) })
            countFiles.append(path)
            heldOut.append(holdOut.text)
            heldOutDocuments.append(holdOut.documents)
            trainingBytes.append(metadata.statistics.bytes)
            try writeFileAtomically(output + "/heldout/\(domain.name).txt", holdOut.text)
            log("\(domain.name): \(files.count) files, \(metadata.statistics.bytes) bytes counted, \(holdOut.text.count) bytes held out")
        }
    }

    // 2. Train one BPE per domain, and with them the joint BPE (the domains'
    // counts, each scaled to the same total times its weight) and the pooled
    // one (plain sum, for comparison), as many at once as there are threads.
    let extra = try stage("train") { () -> (joint: String?, pooled: String?) in
        var joint: String?, pooled: String?
        if options.strategy == .balanced {
            joint = work + "/joint.counts"
            let largest = trainingBytes.max() ?? 1
            let scales = zip(options.domains, trainingBytes).map { $0.weight * Double(largest) / Double(max($1, 1)) }
            _ = try mergeCountFiles(countFiles, output: joint!, scales: scales)
        }
        if options.comparePooled {
            pooled = work + "/pooled.counts"
            _ = try mergeCountFiles(countFiles, output: pooled!)
        }
        return (joint, pooled)
    }
    let allTrained = try stage("train") { () -> [BPETrainer.Result] in
        try trainAll(countFiles + [extra.joint, extra.pooled].compactMap { $0 }, size: options.vocabularySize, threads: options.threads)
    }
    let trained = Array(allTrained.prefix(countFiles.count))
    let jointResult = extra.joint == nil ? nil : allTrained[countFiles.count]
    let pooledResult = extra.pooled == nil ? nil : allTrained.last
    for (domain, result) in zip(options.domains, trained) {
        log("\(domain.name): \(result.merges.count) merges in \(String(format: "%.1f", result.seconds)) s")
    }

    // 3. Merge into one rank order, exactly sized, every token reachable.
    let specials = options.specialTokens.enumerated().map { SpecialToken(id: UInt32(256 + bpeTokens + $0.offset), content: $0.element) }
    let domainVocabularies = zip(options.domains, zip(trained, trainingBytes)).map { domain, pair in
        DomainVocabulary(name: domain.name, weight: domain.weight, trainingBytes: pair.1, result: pair.0)
    }
    let (vocabulary, from, dropped) = try stage("merge") { () -> (Vocabulary, [Int], Int) in
        // The joint vocabulary ranks the tokens.
        if let result = jointResult {
            let tokens = Array(result.tokens.prefix(256 + bpeTokens))
            let vocabulary = try Vocabulary.fromRanks(tokens, specialTokens: specials)
            return (vocabulary, BalancedMerge(domains: domainVocabularies).credit(Array(tokens.dropFirst(256))), 0)
        }
        let merge = BalancedMerge(domains: domainVocabularies, strategy: options.strategy)
        guard options.strategy == .share, options.pruneCandidates > 1 else {
            return try merge.build(bpeTokens: bpeTokens, specialTokens: specials)
        }
        // Take more candidates than needed, then prune them by measured use.
        let (candidates, credit, parts) = merge.select(count: Int(Double(bpeTokens) * options.pruneCandidates))
        let pieces = try zip(countFiles, options.domains).map { try DomainPieces(countFile: $0, weight: $1.weight) }
        let pruned = try UsagePruning(domains: pieces, threads: options.threads)
            .prune(tokens: candidates, from: credit, parts: parts, target: bpeTokens, specialTokens: specials)
        log("merge: \(candidates.count) candidates pruned to \(bpeTokens) in \(pruned.rounds) rounds")
        return (pruned.vocabulary, pruned.from, candidates.count - bpeTokens)
    }
    guard vocabulary.idLimit == options.vocabularySize, vocabulary.unreachableTokens.isEmpty else {
        throw VocabularyError("internal: built \(vocabulary.idLimit) ids, \(vocabulary.unreachableTokens.count) unreachable")
    }
    let tokenizer = Tokenizer(vocabulary: vocabulary, preTokenizer: options.preTokenizer)
    try stage("merge") {
        try VocabularyFolder.save(tokenizer, to: output, name: URL(fileURLWithPath: finalOutput).lastPathComponent, source: "tok build: " + options.domains.map {
            "\($0.name)=\($0.inputs.joined(separator: "+")) (weight \($0.weight))" }.joined(separator: ", "))
    }

    // 4. Report: contributions, sharing, held-out compression against each domain's own and a pooled BPE.
    var reports: [DomainReport] = []
    let ownSets = domainVocabularies.map { Set($0.tokens.prefix(bpeTokens)) }
    let finalTokens = (256 ..< 256 + bpeTokens).map { vocabulary.bytes(of: UInt32($0)) }
    let pooledTokenizer = try pooledResult.map { result in
        Tokenizer(vocabulary: try Vocabulary.fromRanks(Array(result.tokens.prefix(256 + bpeTokens)), specialTokens: specials),
                  preTokenizer: options.preTokenizer)
    }
    try stage("report") {
        for (d, domain) in options.domains.enumerated() {
            let others = ownSets.indices.filter { $0 != d }
            var report = DomainReport(
                name: domain.name, weight: domain.weight, trainingBytes: trainingBytes[d], heldOutDocuments: heldOutDocuments[d],
                contributed: from.filter { $0 == d }.count,
                shared: finalTokens.filter { t in ownSets[d].contains(t) && others.contains { ownSets[$0].contains(t) } }.count,
                merged: nil, own: nil, pooled: nil)
            if !heldOut[d].isEmpty {
                let own = Tokenizer(
                    vocabulary: try Vocabulary.fromRanks(Array(trained[d].tokens.prefix(256 + bpeTokens)), specialTokens: specials),
                    preTokenizer: options.preTokenizer)
                report.merged = Compression(tokenizer: tokenizer, text: heldOut[d], threads: options.threads)
                report.own = Compression(tokenizer: own, text: heldOut[d], threads: options.threads)
                report.pooled = pooledTokenizer.map { Compression(tokenizer: $0, text: heldOut[d], threads: options.threads) }
            }
            reports.append(report)
        }
    }
    var composition: [String: Int] = [:]
    for (kind, n) in TokenKind.table(vocabulary) { composition[kind.rawValue] = n }
    seconds["total"] = Date().timeIntervalSince(started)
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let report = BuildReport(
        vocabularySize: options.vocabularySize, bpeTokens: bpeTokens, specialTokens: options.specialTokens,
        pattern: options.preTokenizer.name, strategy: options.strategy, domains: reports,
        jointOnlyTokens: from.filter { $0 >= options.domains.count }.count, composition: composition, droppedUnreachable: dropped,
        seconds: seconds.mapValues { ($0 * 100).rounded() / 100 }, peakMemoryMB: Double(usage.ru_maxrss) / 1024)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try writeFileAtomically(output + "/build-report.json", Array(try encoder.encode(report)) + [0x0A])
    try VocabularyFolder.moveIntoPlace(output, finalOutput)
    return report
}

/// Trains a BPE on each count file to `size` ids (no special tokens), up to
/// `threads` at once.
func trainAll(_ countFiles: [String], size: Int, threads: Int) throws -> [BPETrainer.Result] {
    let results = UnsafeMutableBufferPointer<Result<BPETrainer.Result, Error>?>.allocate(capacity: countFiles.count)
    results.initialize(repeating: nil)
    defer { results.deallocate() }
    let box = UncheckedSendable(results)
    // Largest first, each lane taking the next when it is free: the lanes end together.
    let order = countFiles.indices.sorted { fileSize(countFiles[$0]) > fileSize(countFiles[$1]) }
    let queue = WorkQueue(order)
    let files = countFiles
    DispatchQueue.concurrentPerform(iterations: max(1, min(threads, files.count))) { _ in
        while let k = queue.next() {
            box.value[k] = Result {
                var pieces: [(bytes: [UInt8], count: UInt64)] = []
                try readCounts(files[k]) { bytes, count in pieces.append((Array(bytes), count)) }
                return try BPETrainer(vocabularySize: size).train(pieces: pieces)
            }
        }
    }
    return try results.map { try $0!.get() }
}

func fileSize(_ path: String) -> Int {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
}

/// Hands out work items to concurrent lanes.
final class WorkQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int]

    init(_ items: [Int]) { self.items = items.reversed() }

    func next() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        return items.popLast()
    }
}

