import Dispatch

extension Tokenizer {
    /// A position in `text[lower..<upper]` where the text can be cut so that
    /// encoding the two sides apart gives exactly the ids of encoding it whole;
    /// nil if there is none. Searches backwards from `upper`.
    ///
    /// Two kinds of cut, both where every pattern ends a piece and the next
    /// piece starts the same with or without what comes before:
    /// - after a newline that follows a non-whitespace character and precedes a
    ///   letter: no alternative runs a newline into a following letter (the
    ///   letter alternatives exclude `\r\n` from their optional prefix), and the
    ///   whitespace before the letter is the newline alone, so `$` and `(?!\S)`
    ///   see the same thing at the cut as in the whole text;
    /// - before a single space between two ASCII letters (`abc def`): the letter
    ///   run ends at the space and ` def` is one piece in every pattern. This
    ///   keeps a long line without newlines cuttable.
    /// NFC never composes across either. A special token containing such a
    /// newline or space is not found across a cut.
    public static func safeCut(in text: UnsafeBufferPointer<UInt8>, lower: Int, upper: Int) -> Int? {
        @inline(__always) func asciiLetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
        var p = min(upper, text.count - 2)
        while p >= max(lower, 2) {
            let b = text[p]
            if b == 0x20 && asciiLetter(text[p - 1]) && asciiLetter(text[p + 1]) { return p }
            if text[p - 1] == 0x0A {
                // Start of the scalar before the newline: step back over continuation bytes.
                var q = p - 2
                while q > 0 && q > p - 5 && text[q] & 0xC0 == 0x80 { q -= 1 }
                let before = text.scalar(at: q)
                let after = text.scalar(at: p)
                if q + before.length == p - 1 && !before.isWhitespace && after.isLetter { return p }
            }
            p -= 1
        }
        return nil
    }

    /// Encodes `text` on up to `threads` threads, cutting it only at
    /// ``safeCut(in:lower:upper:)`` positions: the ids equal those of one thread.
    public func encodeInParallel(
        _ text: UnsafeBufferPointer<UInt8>, threads: Int, allowedSpecial: AllowedSpecial = .none
    ) -> ContiguousArray<UInt32> {
        let minimumPart = 1 << 16
        let parts = max(1, min(threads, text.count / minimumPart))
        var cuts = [0]
        for k in 1 ..< parts {
            let target = text.count * k / parts
            if let cut = Tokenizer.safeCut(in: text, lower: cuts.last! + 1, upper: target), cut > cuts.last! {
                cuts.append(cut)
            }
        }
        cuts.append(text.count)
        if cuts.count == 2 { return encode(bytes: text, allowedSpecial: allowedSpecial) }
        let results = UncheckedSendable(UnsafeMutableBufferPointer<ContiguousArray<UInt32>>.allocate(capacity: cuts.count - 1))
        results.value.initialize(repeating: [])
        defer { results.value.deallocate() }
        let input = UncheckedSendable(text)
        let tokenizer = self
        let bounds = cuts
        DispatchQueue.concurrentPerform(iterations: bounds.count - 1) { k in
            let part = UnsafeBufferPointer(rebasing: input.value[bounds[k] ..< bounds[k + 1]])
            results.value[k] = tokenizer.encode(bytes: part, allowedSpecial: allowedSpecial)
        }
        var out = ContiguousArray<UInt32>()
        out.reserveCapacity(results.value.reduce(0) { $0 + $1.count })
        for r in results.value { out.append(contentsOf: r) }
        return out
    }
}

/// A value handed to concurrent work that only touches disjoint parts of it
/// (each lane its own slot of a buffer). Shared by the package's targets.
package struct UncheckedSendable<T>: @unchecked Sendable {
    package let value: T
    package init(_ value: T) { self.value = value }
}

extension Tokenizer {
    /// Encodes an input of any size as one sequence, reading it in blocks:
    /// each block is cut at a ``safeCut(in:lower:upper:)`` position, encoded on
    /// `threads` threads, and handed to `emit` with the bytes it came from; the
    /// rest is carried into the next block. Memory stays near `blockSize`
    /// unless the input has no safe cut for a long stretch.
    ///
    /// - Parameters:
    ///   - read: appends up to the given number of bytes; returns false at the end.
    ///   - emit: receives the ids of each part in order, and the part's bytes.
    public func encodeStream(
        blockSize: Int = 4 << 20, threads: Int, allowedSpecial: AllowedSpecial = .none,
        read: (inout [UInt8], Int) throws -> Bool,
        emit: (ContiguousArray<UInt32>, UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        var buffer: [UInt8] = []
        var atEnd = false
        var searchedUpTo = 0
        let readSize = blockSize * max(threads, 1)
        while true {
            if !atEnd { atEnd = try !read(&buffer, readSize) }
            if buffer.isEmpty { break }
            let cut: Int? = buffer.withUnsafeBufferPointer { b in
                atEnd ? b.count : Tokenizer.safeCut(in: b, lower: max(searchedUpTo, 1), upper: b.count - 1)
            }
            guard let cut else {
                searchedUpTo = max(buffer.count - 8, 0)
                continue
            }
            try buffer.withUnsafeBufferPointer { b in
                let part = UnsafeBufferPointer(rebasing: b[0 ..< cut])
                try emit(encodeInParallel(part, threads: threads, allowedSpecial: allowedSpecial), part)
            }
            buffer.removeSubrange(0 ..< cut)
            searchedUpTo = 0
            if atEnd && buffer.isEmpty { break }
        }
    }
}
