import TokEncoding

/// How a count file was cut down to fit a memory budget: which pieces were
/// dropped and how much of the counted text they stood for.
///
/// Pieces are dropped rarest first: every piece counted fewer than
/// ``countThreshold`` times, and of those counted exactly that many times the
/// ones whose hash bucket (0-1023, from the piece's bytes) is at most
/// ``bucketThreshold``. The rule depends only on the counts and the budget, so
/// the same count file and budget always keep the same pieces.
public struct PieceReduction: Sendable, Codable, Equatable {
    public var budgetBytes: Int
    /// Estimated memory for all pieces, and for those kept.
    public var estimatedBytes: Int
    public var keptEstimatedBytes: Int
    /// Pieces of two bytes or more (single bytes are always kept: they cost nothing to train on).
    public var distinctPieces: Int
    public var droppedPieces: Int
    /// Sum of the counts of those pieces, and of the dropped ones.
    public var pieceMass: UInt64
    public var droppedMass: UInt64
    public var countThreshold: UInt64
    public var bucketThreshold: Int

    /// The share of the counted pieces (by count) that training no longer sees.
    public var droppedMassShare: Double { pieceMass == 0 ? 0 : Double(droppedMass) / Double(pieceMass) }
    public var droppedPieceShare: Double { distinctPieces == 0 ? 0 : Double(droppedPieces) / Double(distinctPieces) }
}

extension PieceCounts {
    /// Hash buckets within one count class: the grain at which the rarest
    /// class still kept is cut.
    static let buckets = 1024
    /// Count classes split into buckets; rarer classes than this are where budgets bite.
    static let bucketedCounts = 64

    /// Reads a count file, keeping as many pieces as fit in `budget` bytes by
    /// `cost` (the memory a piece will take), dropping the
    /// rarest first (see ``PieceReduction``). Returns the reduction, or nil when
    /// everything fit and the pieces are exactly the file's.
    ///
    /// - Complexity: two streaming passes over the file; O(distinct count
    ///   values) extra memory.
    public static func load(countFile path: String, budget: Int, cost: (UnsafeBufferPointer<UInt8>) -> Int) throws -> (PieceCounts, PieceReduction?) {
        let plan = try ReductionPlan(countFile: path, cost: cost)
        guard plan.total.bytes > budget else { return (try PieceCounts(countFile: path), nil) }
        let (countThreshold, bucketThreshold) = plan.cut(toFit: budget)
        var kept = PieceCounts()
        var reduction = PieceReduction(
            budgetBytes: budget, estimatedBytes: plan.total.bytes, keptEstimatedBytes: 0,
            distinctPieces: plan.total.pieces, droppedPieces: 0, pieceMass: plan.total.mass, droppedMass: 0,
            countThreshold: countThreshold, bucketThreshold: bucketThreshold)
        try CountFile.forEachEntry(path) { bytes, count in
            if bytes.count >= 2 {
                let dropped = count < countThreshold
                    || (count == countThreshold && ReductionPlan.bucket(bytes, count: count) <= bucketThreshold)
                if dropped {
                    reduction.droppedPieces += 1
                    reduction.droppedMass += count
                    return
                }
                reduction.keptEstimatedBytes += cost(bytes)
            }
            kept.append(bytes, count: count)
        }
        return (kept, reduction)
    }
}

/// The first pass of ``PieceCounts/load(countFile:budget:cost:)``: pieces,
/// estimated memory and mass per (count, bucket) class, rarest first.
struct ReductionPlan {
    struct Tally {
        var pieces = 0
        var bytes = 0
        var mass: UInt64 = 0

        mutating func add(_ other: Tally) {
            pieces += other.pieces
            bytes += other.bytes
            mass += other.mass
        }
    }

    /// Counts 1...bucketedCounts by bucket, flat: class (c, b) at (c - 1) * buckets + b.
    var rare = [Tally](repeating: Tally(), count: PieceCounts.bucketedCounts * PieceCounts.buckets)
    /// Counts above that, by count, whole.
    var common: [UInt64: Tally] = [:]
    var total = Tally()

    init(countFile path: String, cost: (UnsafeBufferPointer<UInt8>) -> Int) throws {
        try CountFile.forEachEntry(path) { bytes, count in
            guard bytes.count >= 2 else { return }
            let one = Tally(pieces: 1, bytes: cost(bytes), mass: count)
            total.add(one)
            if count <= UInt64(PieceCounts.bucketedCounts) {
                rare[Int(count - 1) * PieceCounts.buckets + ReductionPlan.bucket(bytes, count: count)].add(one)
            } else {
                common[count, default: Tally()].add(one)
            }
        }
    }

    /// A piece's bucket within its count class (all of a common class share bucket buckets - 1).
    static func bucket(_ bytes: UnsafeBufferPointer<UInt8>, count: UInt64) -> Int {
        guard count <= UInt64(PieceCounts.bucketedCounts) else { return PieceCounts.buckets - 1 }
        return Int(hashBytes(bytes.baseAddress!, bytes.count) >> 54)  // top 10 bits: 0 ..< 1024
    }

    /// The smallest cut, in rarest-first order, after which what is left fits:
    /// (count threshold, bucket threshold).
    func cut(toFit budget: Int) -> (UInt64, Int) {
        var left = total.bytes
        for (k, tally) in rare.enumerated() where tally.pieces > 0 {
            left -= tally.bytes
            if left <= budget { return (UInt64(k / PieceCounts.buckets + 1), k % PieceCounts.buckets) }
        }
        for count in common.keys.sorted() {
            left -= common[count]!.bytes
            if left <= budget { return (count, PieceCounts.buckets - 1) }
        }
        return (.max, PieceCounts.buckets - 1)
    }
}
