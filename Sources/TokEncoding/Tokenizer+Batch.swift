import Synchronization
import TokRuntime

/// The ids of many documents, one after another: document `k`'s are
/// `ids[offsets[k] ..< offsets[k + 1]]`.
public struct EncodedBatch: Sendable {
    public var ids: ContiguousArray<UInt32>
    /// One more than the documents: `offsets[0]` is 0, the last is `ids.count`.
    public var offsets: ContiguousArray<Int>
}

extension Tokenizer {
    /// Encodes each of `documents` on its own, as ``encode(_:allowedSpecial:scratch:into:)``
    /// does, on up to `threads` threads, and returns the ids in document order.
    /// With `addSpecialTokens` each document's ids get the post-processor's
    /// tokens around them (HuggingFace's `add_special_tokens=True`).
    ///
    /// Documents go to the threads in runs of about ``batchPartBytes`` bytes,
    /// each taken by the next thread that is free, so one long document holds
    /// up no other run. The ids never depend on `threads`.
    ///
    /// - Complexity: O(n) in the documents' bytes for text whose pieces are short.
    public func encodeBatch(
        _ documents: UnsafeBufferPointer<UnsafeBufferPointer<UInt8>>, threads: Int,
        allowedSpecial: AllowedSpecial = .none, addSpecialTokens: Bool = false
    ) -> EncodedBatch {
        let around = addSpecialTokens ? postProcessor.surroundingIds : (before: [], after: [])
        let parts = inBatchParts(documents, threads: threads) { range, scratch in
            var ids = ContiguousArray<UInt32>()
            // Room for more ids than any run's text gives (half as many as its bytes, as for a
            // single text), so that the array is not copied as it grows.
            ids.reserveCapacity(range.reduce(0) { $0 + documents[$1].count } / 2 + range.count * (around.before.count + around.after.count))
            var ends = ContiguousArray<Int>()
            ends.reserveCapacity(range.count)
            for k in range {
                ids.append(contentsOf: around.before)
                encode(documents[k], allowedSpecial: allowedSpecial, scratch: &scratch, into: &ids)
                ids.append(contentsOf: around.after)
                ends.append(ids.count)
            }
            return (ids, ends)
        }
        var batch = EncodedBatch(ids: [], offsets: [0])
        let total = parts.reduce(0) { $0 + $1.0.count }
        batch.ids.reserveCapacity(total)
        // The copies below write every page of it: mapped in one call, not a fault a page.
        var mapped = 0
        Tokenizer.mapOutput(&batch.ids, room: total, mappedTo: &mapped)
        batch.offsets.reserveCapacity(documents.count + 1)
        for (ids, ends) in parts {
            let base = batch.ids.count
            batch.ids.append(contentsOf: ids)
            for end in ends { batch.offsets.append(base + end) }
        }
        return batch
    }

    /// The number of ids of each of `documents`, as ``encodeBatch(_:threads:allowedSpecial:addSpecialTokens:)``
    /// would give them, without keeping the ids.
    public func countBatch(
        _ documents: UnsafeBufferPointer<UnsafeBufferPointer<UInt8>>, threads: Int,
        allowedSpecial: AllowedSpecial = .none, addSpecialTokens: Bool = false
    ) -> [Int] {
        let around = addSpecialTokens ? postProcessor.surroundingIds : (before: [], after: [])
        let parts = inBatchParts(documents, threads: threads) { range, scratch in
            var ids = ContiguousArray<UInt32>()
            return range.map { k in
                ids.removeAll(keepingCapacity: true)
                encode(documents[k], allowedSpecial: allowedSpecial, scratch: &scratch, into: &ids)
                return ids.count + around.before.count + around.after.count
            }
        }
        return parts.flatMap { $0 }
    }

    /// The bytes of a run of documents that one thread takes at a time: large
    /// enough that taking one costs nothing beside encoding it, small enough
    /// that a batch of a few MB still keeps every thread busy.
    static let batchPartBytes = 1 << 18

    /// Cuts `documents` into runs of consecutive documents (``batchPartBytes``
    /// each, or fewer when that leaves a thread idle) and returns
    /// `body(run, scratch)` for each run, in order. Runs are taken by up to
    /// `threads` threads, each with a scratch of this tokenizer's pool; with
    /// one thread, or one run, everything runs on the calling thread.
    func inBatchParts<T>(
        _ documents: UnsafeBufferPointer<UnsafeBufferPointer<UInt8>>, threads: Int,
        _ body: (Range<Int>, inout BytePairScratch) -> T
    ) -> [T] {
        let total = documents.reduce(0) { $0 + $1.count }
        let threads = max(1, threads)
        let target = max(1, min(Tokenizer.batchPartBytes, total / (4 * threads)))
        var runs: [Range<Int>] = []
        var start = 0, bytes = 0
        for k in documents.indices {
            bytes += documents[k].count
            if bytes >= target {
                runs.append(start ..< k + 1)
                (start, bytes) = (k + 1, 0)
            }
        }
        if start < documents.count { runs.append(start ..< documents.count) }
        let lanes = min(threads, runs.count)
        if lanes <= 1 { return withScratch { scratch in runs.map { body($0, &scratch) } } }
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: runs.count)
        results.initialize(repeating: nil)
        defer {
            results.deinitialize()
            results.deallocate()
        }
        let next = Atomic<Int>(0)
        _ = inParallel(lanes: lanes) { _ in
            withScratch { scratch in
                while case let r = next.add(1, ordering: .relaxed).oldValue, r < runs.count {
                    // r < runs.count and each run number is taken once: the lane writes a slot no other lane touches.
                    results[r] = body(runs[r], &scratch)
                }
            }
        }
        return results.map { $0! }
    }
}
