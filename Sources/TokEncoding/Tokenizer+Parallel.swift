extension Tokenizer {
    /// Encodes `text` on up to `threads` threads, cutting it only where the
    /// pre-tokenizer may cut (``PreTokenizer/safeCut(in:lower:upper:)``): the
    /// ids equal those of one thread.
    public func encodeInParallel(
        _ text: UnsafeBufferPointer<UInt8>, threads: Int, allowedSpecial: AllowedSpecial = .none
    ) -> ContiguousArray<UInt32> {
        let minimumPart = 1 << 16
        let parts = max(1, min(threads, text.count / minimumPart))
        var cuts = [0]
        for k in 1 ..< parts {
            let target = text.count * k / parts
            if let cut = preTokenizer.safeCut(in: text, lower: cuts.last! + 1, upper: target), cut > cuts.last! {
                cuts.append(cut)
            }
        }
        cuts.append(text.count)
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
    /// - Parameters:
    ///   - read: appends up to the given number of bytes; returns false at the end.
    ///   - emit: receives the ids of each part in order, and the part's bytes.
    public func encodeStream(
        blockSize: Int = 4 << 20, threads: Int, allowedSpecial: AllowedSpecial = .none,
        read: (inout [UInt8], Int) throws -> Bool,
        emit: (ContiguousArray<UInt32>, UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        var cutter = BlockCutter(preTokenizer: preTokenizer, blockSize: blockSize * max(threads, 1))
        while case let n = try cutter.nextBlock(read: read), n > 0 {
            try cutter.buffer.withUnsafeBufferPointer { b in
                let part = UnsafeBufferPointer(rebasing: b[0 ..< n])
                try emit(encodeInParallel(part, threads: threads, allowedSpecial: allowedSpecial), part)
            }
            cutter.consume(n)
        }
    }
}
