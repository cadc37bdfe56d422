import Foundation
import TokCorpus
import TokCounts
import TokEncoding
import TokTraining
import TokRuntime

/// How many tokens `tok extend` adds.
public enum TokensToAdd: Sendable, Equatable {
    case exactly(Int)
    /// As few as make each named domain's bytes/token on its evaluation text
    /// reach its factor times the base's (`zh: 1.3`), at most `limit`.
    case auto(targets: [String: Double], limit: Int)
}

public struct ExtensionOptions: Sendable {
    /// The domains to learn new tokens from, with their weights in the balance.
    public var domains: [DomainInput]
    public var add: TokensToAdd
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var memoryBudget = CountingOptions.defaultMemoryBudget
    /// Thousandths of each domain's documents held out for evaluation, up to `heldOutCapacity` bytes.
    public var heldOutPerMille = 20
    public var heldOutCapacity = 4 << 20
    public var heldOutUnit = HoldOutUnit.document
    /// Evaluation text per domain (files, folders, globs), from other sources
    /// than the training text; it may name domains no token is learned from
    /// (`en` and `code` when extending for `zh`), which the report then shows
    /// unchanged or not.
    public var evaluation: [String: [String]] = [:]

    public init(domains: [DomainInput], add: TokensToAdd) {
        self.domains = domains
        self.add = add
    }
}

/// What can stop an extension, besides what stops a build's counting (``BuildError``).
public enum ExtensionError: TokError, Equatable {
    /// `--target` names a domain that `--domains` does not.
    case targetNotExtended(domain: String)
    /// The base is a SentencePiece model, whose merges are over characters: extending adds byte-level merges.
    case sentencePieceBase(name: String)

    public var description: String {
        switch self {
        case .targetNotExtended(let domain): return "the target names \(domain), which is not one of the domains extended on"
        case .sentencePieceBase(let name):
            return "\(name): a SentencePiece vocabulary, which tok extend cannot extend (it adds byte-level merges); build one with tok build --model sentencepiece"
        }
    }
}

/// Extends a vocabulary with new tokens learned on `options.domains`, every
/// existing id kept: counts each domain with the base's own normalizer and
/// pre-tokenizer (holding out a share of its documents), scales the domains' counts to the
/// same total times their weights (the balance of ``buildVocabulary(_:output:log:warn:progress:)``),
/// encodes each counted piece with the base, and continues BPE from there
/// (``BPEContinuation``): each new token is a merge of two tokens the base or
/// an earlier new merge has, ranked after all of the base's merges, with ids
/// from one past the base's largest id, special tokens included. Checks the
/// result, measures base and extension on each domain's evaluation text, and
/// writes the folder with `extend-report.json`, `extend-report.html`,
/// `added.tsv` and `heldout/<domain>.txt`, staged: a failed or stopped run
/// leaves `output` as it was. The same inputs give the same folder on any
/// number of threads.
///
/// `base` is the vocabulary (loaded from a folder, or made in memory) and
/// `baseName` its name in the report; `protecting` lists paths `output` may
/// not replace besides the inputs (the base's folder).
///
/// - Throws: ``ExtensionError``, ``BuildError`` and the errors of the stages' libraries.
public func extendVocabulary(
    _ options: ExtensionOptions, base: Tokenizer, baseName: String, output: String, protecting: [String] = [],
    log: @escaping @Sendable (String) -> Void, warn: @escaping @Sendable (String) -> Void = { _ in },
    progress: @escaping @Sendable (BuildProgress) -> Void = { _ in }
) throws -> ExtensionReport {
    guard !options.domains.isEmpty else { throw BuildError.noDomains }
    guard base.sentencePiece == nil else { throw ExtensionError.sentencePieceBase(name: baseName) }
    if let twice = options.domains.map(\.name).firstRepeated { throw BuildError.repeatedDomain(name: twice) }
    if case .auto(let targets, _) = options.add {
        for name in targets.keys.sorted() where !options.domains.contains(where: { $0.name == name }) {
            throw ExtensionError.targetNotExtended(domain: name)
        }
    }
    for (_, inputs) in options.evaluation { _ = try expandCorpusInputs(inputs) }
    let inputs = options.domains.flatMap(\.inputs) + options.evaluation.values.joined() + protecting
    return try TemporaryPaths.withWorkFolder("extend") { work in try VocabularyFolder.writeStaged(to: output, protecting: inputs) { staging in
        var clock = StageClock()
        var build = BuildOptions(domains: options.domains)
        build.preTokenizer = base.preTokenizer
        build.normalizer = base.normalizer
        build.threads = options.threads
        build.memoryBudget = options.memoryBudget
        build.heldOutPerMille = options.heldOutPerMille
        build.heldOutCapacity = options.heldOutCapacity
        build.heldOutUnit = options.heldOutUnit
        let (domains, countFiles) = try countAndJoin(build, work: work, staging: staging, clock: &clock, log: log, warn: warn,
                                                     progress: progress)
        let joint = countFiles.joint
        let budget = max(options.memoryBudget - BPETrainer.reservedMemory, 1 << 20)
        let (words, reduction) = try clock.time("encode") {
            try continuationWords(countFile: joint, domains: domains, base: base.vocabulary, budget: budget, threads: options.threads)
        }
        log("\(words.count) pieces of two tokens or more to learn from" + (reduction.map {
            String(format: " (%.1f%% of the distinct pieces, %.2f%% of the piece mass, dropped to fit the memory budget)",
                   $0.droppedPieceShare * 100, $0.droppedMassShare * 100)
        } ?? ""))
        var continuation = clock.time("start") { BPEContinuation(base: base.vocabulary, words: words) }
        let texts = try EvaluationText.all(options, domains: domains)
        let trainingStarted = Date()
        func trainingProgress(_ done: Int, _ total: Int) {
            progress(BuildProgress(stage: "train", done: Double(done), total: Double(total), seconds: Date().timeIntervalSince(trainingStarted)))
        }
        var targets: [TargetReport] = []
        let added: Int
        switch options.add {
        case .exactly(let n):
            clock.time("train") { continuation.add(n) { done, total in trainingProgress(done, total) } }
            added = continuation.tokens.count
        case .auto(let wanted, let limit):
            let (n, reached) = try clock.time("train") {
                try addUntilTargets(&continuation, wanted: wanted, limit: limit, texts: texts, base: base, threads: options.threads,
                                    log: log, progress: trainingProgress)
            }
            added = n
            targets = reached
        }
        log("added \(added) tokens" + (continuation.exhausted && added == continuation.tokens.count ? " (no pair was left to merge)" : ""))
        let tokenizer = try clock.time("assemble") { base.with(vocabulary: try continuation.vocabulary(tokens: added)) }
        try clock.time("check") { try checkExtension(tokenizer.vocabulary, base: base.vocabulary, added: Array(continuation.tokens.prefix(added))) }
        let name = URL(fileURLWithPath: output).lastPathComponent
        try clock.time("write") {
            try VocabularyFolder.write(tokenizer, into: staging, name: name, source: "tok extend: \(baseName) + \(added) tokens on "
                + options.domains.map { "\($0.name)=\($0.inputs.joined(separator: "+")) (weight \($0.weight))" }.joined(separator: ", "))
        }
        let credit = creditNewTokens(continuation.domainCounts.prefix(added), domains: domains)
        var report = try clock.time("evaluate") {
            try ExtensionReport(base: base, baseName: baseName, extended: tokenizer, added: added, options: options,
                                domains: domains, texts: texts, credit: credit)
        }
        report.targets = targets
        if case .exactly(let n) = options.add { report.stoppedEarly = added < n }
        report.reduction = reduction
        report.seconds = clock.seconds
        report.peakMemoryMB = peakMemoryMB()
        report.memoryBudgetMB = Double(options.memoryBudget) / Double(1 << 20)
        try report.write(into: staging, title: "tok extend: " + name, newTokens: Array(continuation.tokens.prefix(added)),
                         merges: Array(continuation.merges.prefix(added)), credit: credit, domainNames: domains.map(\.input.name))
        return report
    } }
}

/// Checks what an extension promises: the base's ids keep their bytes (and
/// their special tokens), the new tokens follow the base's largest id, each
/// encodes to itself, and the size is the base's plus the tokens added.
func checkExtension(_ v: Vocabulary, base: Vocabulary, added: [[UInt8]]) throws {
    let first = base.idLimit
    guard v.idLimit == (added.isEmpty ? base.idLimit : first + added.count) else {
        throw BuildError.checkFailed("the extension has ids up to \(v.idLimit), not \(first + added.count)")
    }
    guard v.specialTokens == base.specialTokens else { throw BuildError.checkFailed("the special tokens changed") }
    for id in 0 ..< base.count {
        let bytes = base.bytes(of: UInt32(id))
        guard !bytes.isEmpty, base.id(of: bytes) == UInt32(id) else { continue }
        guard v.bytes(of: UInt32(id)) == bytes, v.id(of: bytes) == UInt32(id) else {
            throw BuildError.checkFailed("base token \(id) changed")
        }
    }
    var scratch = BytePairScratch(caching: false)
    var out = ContiguousArray<UInt32>()
    for (j, token) in added.enumerated() {
        out.removeAll(keepingCapacity: true)
        token.withUnsafeBufferPointer { v.encodePiece($0, scratch: &scratch, into: &out) }
        guard v.id(of: token) == UInt32(first + j), out == [UInt32(first + j)] else {
            throw BuildError.checkFailed("new token \(first + j) does not encode to itself")
        }
    }
}
