import TokRuntime
extension Tokenizer {
    /// Encodes `text` on up to `threads` threads, cutting it only where the
    /// pre-tokenizer may cut and no added token is split
    /// (``PreTokenizer/safeCut(in:lower:upper:keepingWhole:)``): the ids equal those of one thread.
    public func encodeInParallel(
        _ text: UnsafeBufferPointer<UInt8>, threads: Int, allowedSpecial: AllowedSpecial = .none
    ) -> ContiguousArray<UInt32> {
        let cuts = partCuts(text, parts: threads)
        if cuts.count == 2 { return encode(bytes: text, allowedSpecial: allowedSpecial) }
        let results = inParallel(lanes: cuts.count - 1) { k in
            encode(bytes: UnsafeBufferPointer(rebasing: text[cuts[k] ..< cuts[k + 1]]), allowedSpecial: allowedSpecial)
        }
        var out = ContiguousArray<UInt32>()
        out.reserveCapacity(results.reduce(0) { $0 + $1.count })
        for r in results { out.append(contentsOf: r) }
        return out
    }

    /// Encodes an input of any size as one sequence, reading it in blocks
    /// (``BlockCutter``) and handing each block's ids to `emit` with the bytes
    /// they came from.
    ///
    /// With more than one thread, blocks of `chunkSize` bytes go to `threads`
    /// workers, each taking the next block as soon as it is free, while the
    /// calling thread reads ahead and emits finished blocks in order: no
    /// barrier between blocks, so a slow block holds up no other worker.
    ///
    /// - Parameters:
    ///   - blockSize: the bytes of a block on one thread (1 MiB: a block's
    ///     text and ids are the run's largest buffers after the tables, and
    ///     fresh memory costs 0.5-2.5 ms a MiB here; see docs/performance.md).
    ///   - chunkSize: the bytes of a block on more threads (1 MiB and 256 KiB
    ///     measured the same, 4 MiB slower: see docs/performance.md).
    ///   - read: appends up to the given number of bytes; returns false at the end.
    ///   - emit: receives the ids of each block in order, and the block's bytes;
    ///     always called on the calling thread.
    public func encodeStream(
        blockSize: Int = 1 << 20, chunkSize: Int = 1 << 20, threads: Int, allowedSpecial: AllowedSpecial = .none,
        read: (inout [UInt8], Int) throws -> Bool,
        emit: (ContiguousArray<UInt32>, UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        if threads > 1 {
            return try encodeStreamInParallel(chunkSize: chunkSize, threads: threads, allowedSpecial: allowedSpecial,
                                              read: read, emit: emit)
        }
        var cutter = blockCutter(blockSize: blockSize)
        // One buffer of ids for every block: each fresh one is memory the kernel must clear.
        var ids = ContiguousArray<UInt32>()
        while case let n = try cutter.nextBlock(read: read), n > 0 {
            try cutter.buffer.withUnsafeBufferPointer { b in
                let part = UnsafeBufferPointer(rebasing: b[0 ..< n])
                ids.removeAll(keepingCapacity: true)
                withScratch { encode(part, allowedSpecial: allowedSpecial, scratch: &$0, into: &ids) }
                try emit(ids, part)
            }
            cutter.consume(n)
        }
    }

    private func encodeStreamInParallel(
        chunkSize: Int, threads: Int, allowedSpecial: AllowedSpecial,
        read: (inout [UInt8], Int) throws -> Bool,
        emit: (ContiguousArray<UInt32>, UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        var cutter = blockCutter(blockSize: chunkSize)
        // Scratches from the pool, one a worker: their thread caches stay warm from
        // call to call. The piece cache is this tokenizer's, shared by all of them.
        var scratches = (0 ..< threads).map { _ in scratchPool.take() }
        defer { for scratch in scratches { scratchPool.give(scratch) } }
        try inOrderedPipeline(workers: &scratches, item: { (bytes: [UInt8](), ids: ContiguousArray<UInt32>()) },
                              produce: { block in
            let n = try cutter.nextBlock(read: read)
            block.bytes.removeAll(keepingCapacity: true)
            block.bytes.append(contentsOf: cutter.buffer[0 ..< n])
            cutter.consume(n)
            return n > 0
        }, work: { scratch, block in
            block.ids.removeAll(keepingCapacity: true)
            block.bytes.withUnsafeBufferPointer {
                encode($0, allowedSpecial: allowedSpecial, scratch: &scratch, into: &block.ids)
            }
        }, consume: { block in
            try block.bytes.withUnsafeBufferPointer { try emit(block.ids, $0) }
        })
    }

    /// The streaming loop's cutter for this tokenizer: its pre-tokenizer's
    /// cuts, none inside its added tokens.
    func blockCutter(blockSize: Int) -> BlockCutter {
        BlockCutter(preTokenizer: preTokenizer, blockSize: blockSize, keepingWhole: tokensKeptWhole)
    }

    /// Where to cut `text` into up to `parts` parts of about equal size, at
    /// cuts the pre-tokenizer allows: `[0, ..., text.count]`.
    func partCuts(_ text: UnsafeBufferPointer<UInt8>, parts wanted: Int) -> [Int] {
        let minimumPart = 1 << 16
        let parts = max(1, min(wanted, text.count / minimumPart))
        var cuts = [0]
        for k in 1 ..< parts {
            let target = text.count * k / parts
            if let cut = preTokenizer.safeCut(in: text, lower: cuts.last! + 1, upper: target, keepingWhole: tokensKeptWhole),
               cut > cuts.last! {
                cuts.append(cut)
            }
        }
        cuts.append(text.count)
        return cuts
    }
}

