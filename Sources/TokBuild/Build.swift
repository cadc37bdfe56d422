import Foundation
import Synchronization
import TokCorpus
import TokCounts
import TokEncoding
import TokTraining
import TokRuntime

/// One domain of a build: its name, where its text is (files, folders, globs,
/// or count files from `tok count`), and its weight in the merge.
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
    /// What text goes through before it is split: none for a build; an extension's base may have one.
    public var normalizer = Normalizer.none
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var memoryBudget = CountingOptions.defaultMemoryBudget
    /// Thousandths of each domain's documents held out for evaluation, up to `heldOutCapacity` bytes.
    public var heldOutPerMille = 20
    public var heldOutCapacity = 4 << 20
    /// Also train one BPE on all domains pooled, at the same size, for comparison.
    public var comparePooled = false
    /// What unit is held out: documents, whole files, or whole sources named by a JSON-lines key.
    public var heldOutUnit = HoldOutUnit.document
    /// Evaluation text per domain (files, folders, globs), from other sources
    /// than the training text: when a domain has some, the report measures on
    /// it instead of the held-out text.
    public var evaluation: [String: [String]] = [:]
    /// Byte-level BPE, or SentencePiece BPE (counted with ``SentencePieceOptions/countingPattern`` whatever ``preTokenizer`` says).
    public var model = VocabularyModel.byteLevel
    /// Superword tokens after the joint BPE's first tokens (nil: none).
    public var superwords: SuperwordOptions?
    /// The JSON field holding each document's text in `.jsonl` inputs, training and evaluation alike.
    public var field = "text"
    /// Whether a malformed JSON line, or one without ``field``, fails the build (else it is skipped with a warning).
    public var strict = false

    public init(domains: [DomainInput]) { self.domains = domains }

    var bpeTokens: Int { vocabularySize - 256 - specialTokens.count }
}

/// What can stop a build.
public enum BuildError: TokError, Equatable {
    case noDomains
    case repeatedDomain(name: String)
    /// A domain whose inputs hold no text: building would train it on nothing.
    case emptyDomain(name: String, inputs: [String])
    case sizeTooSmall(size: Int, reserved: Int)
    case patternMismatch(domain: String, path: String, counted: String, expected: String)
    /// Count files for a vocabulary that normalizes text: their pieces were counted as the text was.
    case countFilesNotNormalized(domain: String, path: String, normalizer: String)
    /// The corpora hold too few distinct pairs for the size: the joint BPE ran
    /// out of pairs after `merges` of the `needed` merges (on the pieces kept
    /// within the memory budget, when it `dropped` some).
    case tooFewMerges(merges: Int, needed: Int, size: Int, reserved: Int, dropped: Bool = false)
    /// The built vocabulary failed a check it must pass (a bug, not bad input).
    case checkFailed(String)

    public var description: String {
        switch self {
        case .noDomains: return "no domains to build from"
        case .repeatedDomain(let name): return "domain \(name) is named twice"
        case .emptyDomain(let name, let inputs):
            return "domain \(name): no text in \(inputs.joined(separator: ", ")); nothing was written"
        case .sizeTooSmall(let size, let reserved):
            return "a vocabulary of \(size) ids leaves no room after the \(reserved) byte and special tokens"
        case .patternMismatch(let domain, let path, let counted, let expected):
            return "domain \(domain): \(path) was counted with pattern \(counted), not \(expected)"
        case .countFilesNotNormalized(let domain, let path, let normalizer):
            return "domain \(domain): \(path) holds pieces counted as the text was, but the vocabulary normalizes text (\(normalizer)) first: give the corpus"
        case .tooFewMerges(let merges, let needed, let size, let reserved, let dropped):
            return "the corpora yield only \(merges) merges" + (dropped ? " from the pieces kept within the memory budget" : "")
                + ", not the \(needed) that a vocabulary of \(size) ids needs besides its \(reserved) byte and special tokens: "
                + "ask for at most \(merges + reserved) ids, or give more " + (dropped ? "memory or text" : "text")
        case .checkFailed(let what): return "internal check failed: \(what)"
        }
    }
}

/// Per-domain figures of a build.
public struct DomainReport: Codable, Sendable {
    public var name: String
    public var weight: Double
    public var trainingBytes: Int
    public var heldOutDocuments: Int
    /// What the compression figures were measured on: `evaluation set`, `held-out documents`,
    /// `held-out files` or `held-out sources`.
    public var evaluatedOn: String = ""
    /// Tokens of the merged vocabulary credited to this domain (``creditTokens(_:to:)``).
    public var contributed: Int
    /// Tokens of the merged vocabulary that this domain's own vocabulary shares with another domain's.
    public var shared: Int
    /// Held-out compression: merged vocabulary, the domain's own vocabulary at
    /// the same size, and one BPE over all domains pooled (if compared).
    public var merged: Compression?
    public var own: Compression?
    public var pooled: Compression?
    /// A superword build's plain counterpart: the joint BPE alone, at the same size.
    public var plain: Compression?
}

public struct BuildReport: Codable, Sendable {
    public var vocabularySize: Int
    public var bpeTokens: Int
    public var specialTokens: [String]
    public var pattern: String
    public var domains: [DomainReport]
    /// Tokens no domain's own vocabulary has (learned only from the merged statistics).
    public var jointOnlyTokens: Int
    /// Tokens per kind, as in table 1 of the Pangu Ultra report.
    public var composition: [String: Int]
    /// Wall seconds per stage, and peak resident memory.
    public var seconds: [String: Double]
    public var peakMemoryMB: Double
    /// The memory budget, and the trainings that dropped their rarest pieces to
    /// fit it (by domain, `joint` and `pooled`); empty when all fit.
    public var memoryBudgetMB: Double = 0
    public var reductions: [String: PieceReduction] = [:]
    /// The merged vocabulary's figures on each domain's evaluation text (parity
    /// against each domain's own vocabulary), and the pooled BPE's if compared.
    public var metrics: VocabularyMetrics?
    public var pooledMetrics: VocabularyMetrics?
    public var superwords: SuperwordReport?
}

/// Where a build is: its stage (and domain, when counting), how far through
/// it, and for how long, for a status line with an estimate of the time left.
public struct BuildProgress: Sendable {
    public var stage: String
    public var domain: String? = nil
    public var done: Double
    public var total: Double
    /// Seconds since the stage (or the domain's counting) began.
    public var seconds: Double = 0

    public var fraction: Double { total > 0 ? min(done / total, 1) : 0 }
    /// Seconds left at the rate so far, once there is a rate (training's first
    /// merges are its slowest, so not before 5%).
    public var secondsLeft: Double? { TokCorpus.secondsLeft(done: done, of: total, in: seconds, minimumShare: 0.05) }
}

/// Builds a balanced vocabulary, in stages: count each domain (holding out a
/// share of its documents), make the joint counts (each domain's counts scaled
/// to the same total, times its weight), train the joint BPE and each domain's
/// own, assemble the vocabulary of exactly `vocabularySize` ids, check it, and
/// evaluate it on the held-out text. Writes the folder with
/// `build-report.json` and `heldout/<domain>.txt` under a staging name and
/// moves it into place only when every stage has passed.
///
/// `log` gets what each stage did; `warn` what the input holds that the user
/// should know of (bytes that are not UTF-8, skipped JSON lines).
///
/// - Throws: ``BuildError`` and the errors of the stages' libraries.
public func buildVocabulary(
    _ options: BuildOptions, output: String, log: @escaping @Sendable (String) -> Void,
    warn: @escaping @Sendable (String) -> Void = { _ in },
    progress: @escaping @Sendable (BuildProgress) -> Void = { _ in }
) throws -> BuildReport {
    let options = try options.resolvingModel()
    guard !options.domains.isEmpty else { throw BuildError.noDomains }
    if let twice = options.domains.map(\.name).firstRepeated { throw BuildError.repeatedDomain(name: twice) }
    try SpecialToken.checkContents(options.specialTokens)
    guard options.bpeTokens > 0 else {
        throw BuildError.sizeTooSmall(size: options.vocabularySize, reserved: 256 + options.specialTokens.count)
    }
    // Evaluation inputs are checked before any counting: a wrong path fails at once, not after the training.
    for (_, inputs) in options.evaluation { _ = try expandCorpusInputs(inputs) }
    try options.checkSuperwords()
    let inputs = options.domains.flatMap(\.inputs) + options.evaluation.values.joined()
    return try TemporaryPaths.withWorkFolder("build") { work in try VocabularyFolder.writeStaged(to: output, protecting: inputs) { staging in
        var clock = StageClock()
        let (domains, countFiles) = try countAndJoin(options, work: work, staging: staging, clock: &clock, log: log, warn: warn,
                                                     progress: progress)
        let trainingStarted = Date()
        let budget = max(options.memoryBudget - BPETrainer.reservedMemory, 1 << 20)
        let trained = try clock.time("train") {
            try countFiles.mapAll { files in
                try trainAll(files, size: options.vocabularySize, model: options.model, threads: options.threads, memoryBudget: budget) { done, total in
                    progress(BuildProgress(stage: "train", done: Double(done), total: Double(total),
                                           seconds: Date().timeIntervalSince(trainingStarted)))
                }
            }
        }
        let needed = options.mergesWanted(alphabet: trained.joint.alphabet.count)
        guard trained.joint.merges.count >= needed else {
            throw BuildError.tooFewMerges(merges: trained.joint.merges.count, needed: needed, size: options.vocabularySize,
                                          reserved: options.vocabularySize - needed, dropped: trained.joint.reduction != nil)
        }
        let own = zip(domains, trained.own).map { domain, result in
            DomainVocabulary(name: domain.input.name, weight: domain.input.weight, trainingBytes: domain.trainingBytes,
                             result: result)
        }
        for d in own { log("\(d.name): \(d.tokens.count) merges") }
        let name = URL(fileURLWithPath: output).lastPathComponent
        let tokenizer: Tokenizer, superwords: SuperwordReport?
        if let superwordOptions = options.superwords {
            (tokenizer, superwords) = try clock.time("superwords") {
                try assembleSuperwords(superwordOptions, domains: domains, options, work: work, name: name,
                                       staging: staging, progress: progress)
            }
        } else {
            tokenizer = try clock.time("assemble") {
                try assemble(learned: trained.joint.tokens.dropFirst(256), alphabet: trained.joint.alphabet, options, name: name,
                             staging: staging)
            }
            superwords = nil
        }
        try clock.time("check") { try check(tokenizer, options) }
        var report = try clock.time("evaluate") {
            try evaluate(tokenizer, domains: domains, own: own, pooled: trained.pooled, plain: superwords == nil ? nil : trained.joint, options)
        }
        report.superwords = superwords
        report.seconds = clock.seconds
        report.peakMemoryMB = peakMemoryMB()
        report.memoryBudgetMB = Double(options.memoryBudget) / Double(1 << 20)
        for (name, result) in trained.named(domains.map(\.input.name)) { report.reductions[name] = result.reduction }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeFileAtomically(staging + "/build-report.json", Array(try encoder.encode(report)) + [0x0A])
        if let metrics = report.metrics {
            let on = Set(report.domains.map(\.evaluatedOn)).sorted().joined(separator: ", ")
            let page = MetricsPage(title: "tok build: " + URL(fileURLWithPath: output).lastPathComponent,
                                   note: "The built vocabulary" + (report.pooledMetrics == nil ? "" : " and one BPE over the pooled domains")
                                       + ", measured on " + (on == "evaluation set" ? "the evaluation set" : on)
                                       + ". Parity is against each domain's own vocabulary.",
                                   domains: report.domains.map(\.name), vocabularies: [metrics] + (report.pooledMetrics.map { [$0] } ?? []))
            try writeFileAtomically(staging + "/build-report.html", Array(page.render().utf8))
        }
        return report
    } }
}

/// Wall time per named stage.
struct StageClock {
    private(set) var seconds: [String: Double] = [:]
    private let started = Date()

    mutating func time<T>(_ stage: String, _ body: () throws -> T) rethrows -> T {
        let t = Date()
        defer {
            seconds[stage, default: 0] += (Date().timeIntervalSince(t) * 100).rounded() / 100
            seconds["total"] = (Date().timeIntervalSince(started) * 100).rounded() / 100
        }
        return try body()
    }
}

/// Stages 1 and 2, as a build and an extension run them: the domains counted
/// (``countDomains(_:work:staging:log:warn:progress:)``) and the count files
/// of the trainings (``jointCounts(_:_:work:progress:)``).
func countAndJoin(
    _ options: BuildOptions, work: String, staging: String, clock: inout StageClock, log: @escaping @Sendable (String) -> Void,
    warn: @escaping @Sendable (String) -> Void, progress: @escaping @Sendable (BuildProgress) -> Void
) throws -> ([CountedDomain], Trainings<String>) {
    let domains = try clock.time("count") {
        try countDomains(options, work: work, staging: staging, log: log, warn: warn, progress: progress)
    }
    let jointStarted = Date()
    let countFiles = try clock.time("joint") {
        try jointCounts(domains, options, work: work) { fraction in
            progress(BuildProgress(stage: "joint", done: fraction, total: 1, seconds: Date().timeIntervalSince(jointStarted)))
        }
    }
    return (domains, countFiles)
}

/// A domain after counting: its count file, training bytes and held-out text.
struct CountedDomain {
    var input: DomainInput
    var countFile: String
    var trainingBytes: Int
    var heldOut: [UInt8]
    var heldOutDocuments: Int
    /// The superword counts of the same documents, when the build makes superwords.
    var superwordCountFile: String? = nil
}

/// Stage 1: counts each domain with the vocabulary's pre-tokenizer, holding
/// out documents (by a hash of their bytes) into `staging/heldout/`. A domain
/// given as count files (``CorpusInputs``) uses them as they are, several added
/// up. A domain with no text fails the build; what its text holds that is not
/// clean text (bytes that are not UTF-8, as binary files have; skipped JSON
/// lines) goes to `warn`, as `tok count` reports it.
func countDomains(
    _ options: BuildOptions, work: String, staging: String, log: @escaping @Sendable (String) -> Void,
    warn: @escaping @Sendable (String) -> Void, progress: @escaping @Sendable (BuildProgress) -> Void
) throws -> [CountedDomain] {
    try FileManager.default.createDirectory(atPath: staging + "/heldout", withIntermediateDirectories: true)
    var counting = CountingOptions(preTokenizer: options.preTokenizer, threads: options.threads,
                                   memoryBudget: options.memoryBudget)
    counting.normalizer = options.normalizer
    counting.field = options.field
    counting.strict = options.strict
    counting.temporaryDirectory = work
    return try options.domains.map { domain in
        let files: [CorpusFile]
        switch try CorpusInputs(resolving: domain.inputs) {
        case .text(let text): files = text
        case .countFiles(let given):
            // Several count files are added up, with their held-out texts (and superword counts).
            let paths = CountFile.withoutPairedSuperwordCounts(given)
            guard options.normalizer.steps.isEmpty else {
                throw BuildError.countFilesNotNormalized(domain: domain.name, path: paths[0], normalizer: options.normalizer.rawValue)
            }
            let path = paths.count == 1 ? paths[0] : work + "/\(domain.name).counts"
            if paths.count > 1 && options.superwords != nil {
                _ = try mergeCountFilesWithSuperwords(paths, output: path, heldOutText: true)
            } else if paths.count > 1 {
                _ = try mergeCountFiles(paths, output: path, heldOutText: true)
            }
            let metadata = try CountFile.metadata(path: path)
            guard metadata.regexes == options.preTokenizer.regexes else {
                throw BuildError.patternMismatch(domain: domain.name, path: path, counted: metadata.pattern,
                                                 expected: options.preTokenizer.name)
            }
            let superwords = try options.superwords.map { _ in try CountFile.superwordCounts(besides: path, metadata: metadata).path }
            guard metadata.distinctPieces > 0 else { throw BuildError.emptyDomain(name: domain.name, inputs: domain.inputs) }
            for line in metadata.statistics.warnings { warn("\(domain.name): \(path): " + line) }
            let heldOut = try CountFile.heldOutText(path, metadata: metadata) ?? []
            try writeFileAtomically(staging + "/heldout/\(domain.name).txt", heldOut)
            log("\(domain.name): using counts \(path), " + (metadata.heldOut == nil ? "no held-out text"
                    : "\(heldOut.count) bytes held out in \(CountFile.heldOutPath(path))"))
            return CountedDomain(input: domain, countFile: path, trainingBytes: metadata.statistics.bytes, heldOut: heldOut,
                                 heldOutDocuments: metadata.heldOut?.documents ?? 0, superwordCountFile: superwords)
        }
        let holdOut = HoldOut(perMille: options.heldOutPerMille, capacity: options.heldOutCapacity, unit: options.heldOutUnit)
        let path = work + "/\(domain.name).counts"
        let counted: @Sendable (CountingProgress) -> Void = { p in
            progress(BuildProgress(stage: "count", domain: domain.name, done: Double(p.consumed), total: Double(p.inputSize),
                                   seconds: p.seconds))
        }
        // A superword build counts the superword pieces of the same documents in the same read.
        let metadata = options.superwords == nil
            ? try countPieces(files: files, domain: domain.name, options: counting, output: path, holdOut: holdOut, warn: warn,
                              progress: counted)
            : try countPiecesWithSuperwords(files: files, domain: domain.name, options: counting, output: path, holdOut: holdOut,
                                            warn: warn, progress: counted).counts
        guard metadata.distinctPieces > 0 else { throw BuildError.emptyDomain(name: domain.name, inputs: domain.inputs) }
        for line in metadata.statistics.warnings { warn("\(domain.name): " + line) }
        try writeFileAtomically(staging + "/heldout/\(domain.name).txt", holdOut.text)
        log("\(domain.name): \(files.count) files, \(metadata.statistics.bytes) bytes counted, \(holdOut.text.count) bytes held out"
            + (holdOut.unit == .document ? "" : " (\(holdOut.heldUnits) \(holdOut.unit.plural))")
            + (holdOut.droppedBytes > 0 ? ", \(holdOut.droppedBytes) more bytes of held-out units left out of both" : ""))
        return CountedDomain(input: domain, countFile: path, trainingBytes: metadata.statistics.bytes,
                             heldOut: holdOut.text, heldOutDocuments: holdOut.documents,
                             superwordCountFile: options.superwords == nil ? nil : CountFile.superwordsPath(path))
    }
}

/// Stage 2: the count file of every training: each domain's own; the joint
/// counts, each domain's scaled to the largest domain's total times its
/// weight, so that a merge's count is the summed share of the domains' texts
/// it saves; and, if compared, the plain pooled sum.
func jointCounts(_ domains: [CountedDomain], _ options: BuildOptions, work: String,
                 progress: (Double) -> Void) throws -> Trainings<String> {
    let inputs = domains.map(\.countFile)
    let share = options.comparePooled ? 0.5 : 1
    let joint = work + "/joint.counts"
    _ = try mergeCountFiles(inputs, output: joint, scales: jointScales(domains)) { progress($0 * share) }
    guard options.comparePooled else { return Trainings(own: inputs, joint: joint, pooled: nil) }
    let pooled = work + "/pooled.counts"
    _ = try mergeCountFiles(inputs, output: pooled) { progress(1 - share + $0 * share) }
    return Trainings(own: inputs, joint: joint, pooled: pooled)
}

/// Each domain's scale in the joint counts: the largest domain's training
/// bytes over its own, times its weight.
func jointScales(_ domains: [CountedDomain]) -> [Double] {
    let largest = domains.map(\.trainingBytes).max() ?? 1
    return domains.map { $0.input.weight * Double(largest) / Double(max($0.trainingBytes, 1)) }
}

/// Stage 3: trains a BPE on each count file to `size` ids (no special tokens),
/// largest first so that the lanes end together, as many at once as `threads`
/// and `memoryBudget` allow: when the largest trainings do not fit side by
/// side, fewer run at once, and one that does not fit alone drops its rarest
/// pieces (``PieceReduction``). Which trainings run together never changes
/// what they learn.
func trainAll(_ countFiles: [String], size: Int, model: VocabularyModel = .byteLevel, threads: Int, memoryBudget: Int,
              progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) throws -> [BPETrainer.Result] {
    let estimates = try countFiles.map(BPETrainer.estimatedMemory(countFile:))
    let order = countFiles.indices.sorted { (estimates[$0], $1) > (estimates[$1], $0) }
    var lanes = max(1, min(threads, countFiles.count))
    while lanes > 1 && order.prefix(lanes).reduce(0, { $0 + estimates[$1] }) > memoryBudget { lanes -= 1 }
    let next = Atomic<Int>(0)
    let merged = Atomic<Int>(0)
    let total = countFiles.count * (size - 256)
    let done = try inParallel(lanes: lanes) { _ in
        var mine: [(Int, BPETrainer.Result)] = []
        while case let k = next.add(1, ordering: .relaxed).oldValue, k < order.count {
            var reported = 0
            let result = try BPETrainer(vocabularySize: size).train(countFile: countFiles[order[k]], model: model,
                                                                    memoryBudget: memoryBudget) { n, _ in
                progress(merged.add(n - reported, ordering: .relaxed).newValue, total)
                reported = n
            }
            progress(merged.add(size - 256 - reported, ordering: .relaxed).newValue, total)
            mine.append((order[k], result))
        }
        return mine
    }
    return done.flatMap { $0 }.sorted { $0.0 < $1.0 }.map(\.1)
}

/// Stage 4: the vocabulary: the first of `learned` (a training's merged
/// tokens in rank order) over its `alphabet`, then the special tokens,
/// written to `staging`; `preTokenizer` in place of the build's (a superword
/// vocabulary's pattern).
func assemble(learned: some Collection<[UInt8]>, alphabet: [[UInt8]], preTokenizer: PreTokenizer? = nil,
              _ options: BuildOptions, name: String, staging: String) throws -> Tokenizer {
    var options = options
    if let preTokenizer { options.preTokenizer = preTokenizer }
    let tokenizer = try options.vocabulary(learned: learned, alphabet: alphabet, withSpecialTokens: true)
    try VocabularyFolder.write(tokenizer, into: staging, name: name, source: "tok build: " + options.domains.map {
        "\($0.name)=\($0.inputs.joined(separator: "+")) (weight \($0.weight))" }.joined(separator: ", "))
    return tokenizer
}

/// Stage 5: exactly the size asked for, every token encodes to itself, no
/// byte string twice (``Vocabulary/fromRanks`` refuses repeats).
func check(_ tokenizer: Tokenizer, _ options: BuildOptions) throws {
    if let sentencePiece = tokenizer.sentencePiece { return try checkSentencePiece(sentencePiece, options) }
    let v = tokenizer.vocabulary
    guard v.idLimit == options.vocabularySize, v.count == 256 + options.bpeTokens else {
        throw BuildError.checkFailed("built \(v.count) tokens and ids up to \(v.idLimit), not \(256 + options.bpeTokens) and \(options.vocabularySize)")
    }
    guard v.unreachableTokens.isEmpty else { throw BuildError.checkFailed("\(v.unreachableTokens.count) unreachable tokens") }
}

/// Stage 6: contributions, sharing, composition, and compression and the
/// other metrics on each domain's evaluation text (its evaluation set, else its
/// held-out text) against the domain's own vocabulary and the pooled BPE.
func evaluate(
    _ tokenizer: Tokenizer, domains: [CountedDomain], own: [DomainVocabulary], pooled: BPETrainer.Result?,
    plain: BPETrainer.Result? = nil, _ options: BuildOptions
) throws -> BuildReport {
    let finalTokens = options.learnedTokens(of: tokenizer)
    let bpeTokens = finalTokens.count
    let credit = creditTokens(finalTokens, to: own)
    let ownSets = own.map { Set($0.tokens.prefix(options.mergesWanted(alphabet: $0.alphabet.count))) }
    let pooledTokenizer = try pooled.map {
        try options.vocabulary(learned: $0.tokens.dropFirst(256), alphabet: $0.alphabet, withSpecialTokens: false)
    }
    let plainTokenizer = try plain.map {
        try options.vocabulary(learned: $0.tokens.dropFirst(256), alphabet: $0.alphabet, withSpecialTokens: false)
    }
    var reports: [DomainReport] = []
    var mergedMeasurements: [(domain: String, measurement: TextMeasurement)] = []
    var pooledMeasurements: [(domain: String, measurement: TextMeasurement)] = []
    var ownTokens: [String: Int] = [:]
    for (d, domain) in domains.enumerated() {
        let others = ownSets.indices.filter { $0 != d }
        let name = domain.input.name
        var report = DomainReport(
            name: name, weight: domain.input.weight, trainingBytes: domain.trainingBytes,
            heldOutDocuments: domain.heldOutDocuments, contributed: credit.filter { $0 == d }.count,
            shared: finalTokens.filter { t in ownSets[d].contains(t) && others.contains { ownSets[$0].contains(t) } }.count,
            merged: nil, own: nil, pooled: nil)
        let evaluationFiles = try options.evaluation[name].map(expandCorpusInputs)
        func measure(_ t: Tokenizer) throws -> TextMeasurement {
            if let evaluationFiles { return try TextMeasurement.of(files: evaluationFiles, tokenizer: t, threads: options.threads, field: options.field) }
            return domain.heldOut.withUnsafeBufferPointer { TextMeasurement.of($0, tokenizer: t, threads: options.threads) }
        }
        if evaluationFiles != nil || !domain.heldOut.isEmpty {
            report.evaluatedOn = evaluationFiles != nil ? "evaluation set" : "held-out \(options.heldOutUnit.plural)"
            let merged = try measure(tokenizer)
            let ownMeasured = try measure(try options.vocabulary(learned: own[d].tokens, alphabet: own[d].alphabet, withSpecialTokens: false))
            report.merged = merged.compression
            report.own = ownMeasured.compression
            ownTokens[name] = ownMeasured.tokens
            mergedMeasurements.append((name, merged))
            report.plain = try plainTokenizer.map { try measure($0).compression }
            if let pooledTokenizer {
                let p = try measure(pooledTokenizer)
                report.pooled = p.compression
                pooledMeasurements.append((name, p))
            }
        }
        reports.append(report)
    }
    var metrics = VocabularyMetrics(name: "merged", tokenizer: tokenizer, measurements: mergedMeasurements)
    metrics.setParity(reference: ownTokens)
    var pooledMetrics = pooledTokenizer.map { VocabularyMetrics(name: "pooled", tokenizer: $0, measurements: pooledMeasurements) }
    pooledMetrics?.setParity(reference: ownTokens)
    var report = BuildReport(
        vocabularySize: options.vocabularySize, bpeTokens: bpeTokens, specialTokens: options.specialTokens,
        // A SentencePiece model cuts with its own segmenter: the pattern is the one it was counted with.
        pattern: tokenizer.sentencePiece == nil ? tokenizer.preTokenizer.name : options.preTokenizer.name, domains: reports, jointOnlyTokens: credit.filter { $0 >= domains.count }.count,
        composition: metrics.composition, seconds: [:], peakMemoryMB: 0)
    report.metrics = metrics
    report.pooledMetrics = pooledMetrics
    return report
}

/// Peak resident memory of this process so far, in MB: the kernel's
/// high-water mark of its own memory (`VmHWM`). Not `ru_maxrss`, which after
/// fork and exec also counts the parent's memory at the fork (a 420 MB pytest
/// made a 165 MB build report 423 MB).
func peakMemoryMB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kB = Double(line.split(separator: " ").dropFirst().first ?? "")
    else {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
    return kB / 1024
}

extension Array where Element: Hashable {
    /// The first element that appears a second time.
    var firstRepeated: Element? {
        var seen = Set<Element>()
        return first { !seen.insert($0).inserted }
    }
}
