extension Tokenizer {
    /// Encodes `text` on up to `threads` threads, cutting it only where the
    /// pre-tokenizer may cut (``PreTokenizer/safeCut(in:lower:upper:)``): the
    /// ids equal those of one thread.
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
    /// (``BlockCutter``): each block is encoded on `threads` threads and handed
    /// to `emit` with the bytes it came from.
    ///
    /// With more than one thread, a block's ids are emitted while the next
    /// block is encoded, so that writing the output keeps no core idle.
    ///
    /// - Parameters:
    ///   - read: appends up to the given number of bytes; returns false at the end.
    ///   - emit: receives the ids of each part in order, and the part's bytes;
    ///     called from one thread at a time, in order, not always the caller's.
    public func encodeStream(
        blockSize: Int = 4 << 20, threads: Int, allowedSpecial: AllowedSpecial = .none,
        read: (inout [UInt8], Int) throws -> Bool,
        emit: (ContiguousArray<UInt32>, UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        var cutter = BlockCutter(preTokenizer: preTokenizer, blockSize: blockSize * max(threads, 1))
        if threads <= 1 {
            while case let n = try cutter.nextBlock(read: read), n > 0 {
                try cutter.buffer.withUnsafeBufferPointer { b in
                    let part = UnsafeBufferPointer(rebasing: b[0 ..< n])
                    try emit(encode(bytes: part, allowedSpecial: allowedSpecial), part)
                }
                cutter.consume(n)
            }
            return
        }
        var previous: (ids: ContiguousArray<UInt32>, bytes: [UInt8])? = nil
        while true {
            let n = try cutter.nextBlock(read: read)
            let block = Array(cutter.buffer[0 ..< n])
            cutter.consume(n)
            let pending = previous
            let encoded: ContiguousArray<UInt32>? = try block.withUnsafeBufferPointer { text in
                let cuts = n == 0 ? [0] : partCuts(text, parts: threads)
                let encodeLanes = cuts.count - 1
                let results = try inParallel(lanes: encodeLanes + (pending == nil ? 0 : 1)) { lane in
                    if lane == encodeLanes {
                        try pending!.bytes.withUnsafeBufferPointer { try emit(pending!.ids, $0) }
                        return ContiguousArray<UInt32>()
                    }
                    return encode(bytes: UnsafeBufferPointer(rebasing: text[cuts[lane] ..< cuts[lane + 1]]),
                                  allowedSpecial: allowedSpecial)
                }
                guard n > 0 else { return nil }
                var ids = ContiguousArray<UInt32>()
                ids.reserveCapacity(results.reduce(0) { $0 + $1.count })
                for r in results.prefix(encodeLanes) { ids.append(contentsOf: r) }
                return ids
            }
            guard let encoded else { return }
            previous = (encoded, block)
        }
    }

    /// Where to cut `text` into up to `parts` parts of about equal size, at
    /// cuts the pre-tokenizer allows: `[0, ..., text.count]`.
    func partCuts(_ text: UnsafeBufferPointer<UInt8>, parts wanted: Int) -> [Int] {
        let minimumPart = 1 << 16
        let parts = max(1, min(wanted, text.count / minimumPart))
        var cuts = [0]
        for k in 1 ..< parts {
            let target = text.count * k / parts
            if let cut = preTokenizer.safeCut(in: text, lower: cuts.last! + 1, upper: target), cut > cuts.last! {
                cuts.append(cut)
            }
        }
        cuts.append(text.count)
        return cuts
    }
}
