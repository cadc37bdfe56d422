import Foundation
import TokCorpus
import TokEncoding
import TokRuntime

// Superword counts beside ordinary ones. A superword vocabulary trains on the
// text cut by the `superwords` pattern (stretches of a line up to a sentence
// end), so a corpus counted for one is counted twice: `NAME.counts` with the
// vocabulary's pattern and `NAME.superwords.counts` with `superwords`, from one
// read of the text, the same documents held out in both (one held-out text,
// `NAME.heldout.txt`, which both record). Counted in shards, the pairs merge
// pair by pair, so a build from count files is the build from the text.

extension PreTokenizer {
    /// The pattern superword pieces are counted with (``SplitRule/superwords``).
    public static let superwords = PreTokenizer(rules: [.superwords])
}

extension CountMetadata {
    /// Whether these are superword counts (the `superwords` pattern).
    public var countsSuperwords: Bool { regexes == PreTokenizer.superwords.regexes }

    /// Whether `superwords` counts, with the `superwords` pattern, exactly the
    /// documents these count: the same domains, sources, text read and held-out record.
    func isCounted(asSuperwords superwords: CountMetadata) -> Bool {
        superwords.countsSuperwords && superwords.domains == domains && superwords.sources == sources
            && superwords.statistics == statistics && superwords.heldOut == heldOut
    }
}

extension CountFile {
    static let superwordsSuffix = ".superwords.counts"

    /// Where the superword counts of the count file at `path` are:
    /// `NAME.superwords.counts` beside `NAME.counts` (or beside `path` with
    /// `.superwords.counts` added).
    public static func superwordsPath(_ path: String) -> String {
        (path.hasSuffix(".counts") ? String(path.dropLast(7)) : path) + superwordsSuffix
    }

    /// `paths` without the superword counts of another of them: a folder or
    /// glob of counted pairs names both files of each, and the superword counts
    /// go with the count file they lie beside.
    public static func withoutPairedSuperwordCounts(_ paths: [String]) -> [String] {
        let given = Set(paths)
        return paths.filter { path in
            !(path.hasSuffix(superwordsSuffix) && given.contains(String(path.dropLast(superwordsSuffix.count)) + ".counts"))
        }
    }

    /// The superword count file beside the count file at `path`, checked to
    /// count the same documents with the `superwords` pattern.
    ///
    /// - Throws: ``CountFileError/noSuperwordCounts(path:)`` when there is none,
    ///   ``CountFileError/superwordCountsOfOtherText(path:countFile:)`` when it
    ///   counts other text, and ``CountFileError/superwordCountsGiven(path:)``
    ///   when `path` holds superword counts itself.
    public static func superwordCounts(besides path: String, metadata: CountMetadata) throws -> (path: String, metadata: CountMetadata) {
        guard !metadata.countsSuperwords else { throw CountFileError.superwordCountsGiven(path: path) }
        let superwords = superwordsPath(path)
        guard FileManager.default.fileExists(atPath: superwords) else { throw CountFileError.noSuperwordCounts(path: path) }
        let found = try CountFile.metadata(path: superwords)
        guard metadata.isCounted(asSuperwords: found) else {
            throw CountFileError.superwordCountsOfOtherText(path: superwords, countFile: path)
        }
        return (superwords, found)
    }
}

/// ``countPieces(files:domain:options:output:holdOut:warn:progress:)``, and
/// from the same read the superword pieces of the same documents into
/// ``CountFile/superwordsPath(_:)`` of `output`: what a superword build
/// counts, ready for `tok build --superwords` from count files.
///
/// - Complexity: one read of the text; the pre-tokenizing and the counting
///   tables of both patterns (they share the memory budget).
public func countPiecesWithSuperwords(
    files: [CorpusFile], domain: String, options: CountingOptions, output: String, holdOut: HoldOut? = nil,
    warn: @escaping @Sendable (String) -> Void = { _ in },
    progress: @escaping @Sendable (CountingProgress) -> Void = { _ in }
) throws -> (counts: CountMetadata, superwords: CountMetadata) {
    let written = try TemporaryPaths.withWorkFolder("count", in: options.temporaryDirectory) { work in
        try countPieces(files: files, domain: domain, options: options,
                        outputs: [(options.preTokenizer, output), (PreTokenizer.superwords, CountFile.superwordsPath(output))],
                        holdOut: holdOut, work: work, warn: warn, progress: progress)
    }
    return (written[0], written[1])
}

/// ``mergeCountFiles(_:output:scales:heldOutText:progress:)`` of count files
/// and, pair by pair, of the superword counts beside them
/// (``CountFile/superwordCounts(besides:metadata:)``, each checked before
/// anything is written) into the superword counts beside `output`. The
/// held-out text is written once, beside `output`, and both outputs record it.
public func mergeCountFilesWithSuperwords(
    _ inputs: [String], output: String, heldOutText: Bool = false, progress: (Double) -> Void = { _ in }
) throws -> (counts: CountMetadata, superwords: CountMetadata) {
    let superwords = try inputs.map { try CountFile.superwordCounts(besides: $0, metadata: try CountFile.metadata(path: $0)).path }
    let counts = try mergeCountFiles(inputs, output: output, heldOutText: heldOutText) { progress($0 / 2) }
    let merged = try mergeCountFiles(superwords, output: CountFile.superwordsPath(output), heldOutText: heldOutText,
                                     writingHeldOutText: false) { progress(0.5 + $0 / 2) }
    return (counts, merged)
}
