import Foundation
import TokCounts

extension PieceReduction {
    /// One line saying what fitting the memory budget cost, for `tok train` and `tok build`.
    var summary: String {
        String(format: "%d of %d distinct pieces (%.1f%%), %.2f%% of the piece mass, dropped to fit %@ of training memory (all would take %@): the rarest first, every piece counted fewer than %llu times and those counted %llu times in hash buckets 0-%d of 1023",
               droppedPieces, distinctPieces, droppedPieceShare * 100, droppedMassShare * 100,
               ByteSize(bytes: budgetBytes).description, ByteSize(bytes: estimatedBytes).description, countThreshold, countThreshold,
               bucketThreshold)
    }
}
