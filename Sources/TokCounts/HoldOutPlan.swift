import Foundation
import TokCorpus
import TokEncoding
import TokRuntime

/// How to hold out of a corpus counted in parts (shards, in corpus order)
/// exactly what counting it whole holds out: for each part, the bytes the parts
/// before it hold out, given to its count as ``HoldOut/alreadyHeld`` (`tok count
/// --held-out-before`). Made in two passes: each part's scan
/// (``holdOutCandidates(files:perMille:options:)``, `tok count --scan-held-out`:
/// the sizes of the documents the hash rule picks, nothing counted), which the
/// parts can run side by side, then this plan over the scans in order, which
/// fills the capacity as one count of the whole corpus would
/// (``HoldOut/alreadyHeld(candidateSizes:capacity:)``). The Spark and Slurm
/// drivers run both passes through `tok count` (`--scan-held-out`, then
/// `--plan-held-out`), so the rule lives only here.
public struct HoldOutPlan: Sendable, Equatable {
    /// One part of the plan.
    public struct Part: Sendable, Equatable {
        /// The part's scan, as given.
        public var scan: String
        /// The bytes the parts before it hold out: its `--held-out-before`.
        public var heldOutBefore: Int
    }

    public var parts: [Part]

    /// The plan for parts whose candidates' sizes are `candidateSizes`, in
    /// corpus order, held out up to `capacity` bytes in all.
    public init(scans: [String], candidateSizes: [[Int]], capacity: Int) {
        parts = zip(scans, HoldOut.alreadyHeld(candidateSizes: candidateSizes, capacity: capacity)).map(Part.init)
    }

    /// The plan from scan files (each the JSON array `tok count --scan-held-out` prints), in corpus order.
    ///
    /// - Throws: ``HoldOutPlanError`` for a file that is not a scan, ``FileError``.
    public init(scanFiles: [String], capacity: Int) throws {
        let sizes = try scanFiles.map { path in
            guard let sizes = try? JSONDecoder().decode([Int].self, from: Data(try readFile(path))),
                  sizes.allSatisfy({ $0 > 0 })
            else { throw HoldOutPlanError.notAScan(path: path) }
            return sizes
        }
        self.init(scans: scanFiles, candidateSizes: sizes, capacity: capacity)
    }

    /// One JSON object a line, a part's, in corpus order:
    /// `{"heldOutBefore":N,"scan":"PATH"}` (this order, so that a shell script
    /// reads N from the start of line k).
    public var jsonLines: [UInt8] {
        Array(parts.map { "{\"heldOutBefore\":\($0.heldOutBefore),\"scan\":\(HuggingFaceJSON.jsonString($0.scan))}\n" }
            .joined().utf8)
    }
}

/// What stops a hold-out plan.
public enum HoldOutPlanError: TokError, Equatable {
    case notAScan(path: String)

    public var description: String {
        switch self {
        case .notAScan(let path):
            return "\(path): not a hold-out scan (the JSON array of sizes that tok count --hold-out N --scan-held-out prints)"
        }
    }
}

/// The sizes of the documents of `files` that holding out `perMille`
/// thousandths would choose, in corpus order, without counting anything: a
/// part's scan for a ``HoldOutPlan``.
public func holdOutCandidates(files: [CorpusFile], perMille: Int, options: CountingOptions) throws -> [Int] {
    let stream = CorpusStream(files: files, preTokenizer: options.preTokenizer, blockSize: options.blockSize,
                              field: options.field, strict: options.strict)
    let holdOut = HoldOut(perMille: perMille, capacity: .max, scanning: true)
    stream.holdOut = holdOut
    var batch = TextBatch()
    while try stream.next(&batch) {}
    return holdOut.candidateSizes
}
