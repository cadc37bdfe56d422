import TokRuntime

// A large call's ids go into a fresh array, and the kernel maps each 4 KiB
// page of it as it is first written: a trap, a clear and the bookkeeping,
// 1,024 ids at a time. Mapping a part's pages in one call before the part
// is encoded (`MADV_POPULATE_WRITE`) leaves only the clearing: through
// Python, one call over the 101 MB mixed text spent 0.11-0.15 s in the
// kernel before and 0.04-0.05 s after (docs/performance.md).

extension Tokenizer {
    /// ``encode(_:allowedSpecial:scratch:into:)`` for a large text into a
    /// fresh array with room reserved: a part of about a MiB at a time, cut
    /// where the pre-tokenizer may cut and no added token is split (so the
    /// ids are the whole text's), each part's room in `out` mapped first.
    public func encodeMappingOutput(
        _ text: UnsafeBufferPointer<UInt8>, allowedSpecial: AllowedSpecial, into out: inout ContiguousArray<UInt32>
    ) {
        withScratch { scratch in
            let cuts = partCuts(text, parts: text.count >> 20)
            var mapped = 0
            for (start, end) in zip(cuts, cuts.dropFirst()) {
                Tokenizer.mapOutput(&out, room: end - start, mappedTo: &mapped)
                encode(UnsafeBufferPointer(rebasing: text[start ..< end]), allowedSpecial: allowedSpecial, scratch: &scratch, into: &out)
            }
        }
    }

    /// Maps the pages the next `room` ids of `out` will take, when `out` has
    /// that room reserved (n bytes give at most n ids) and it is at least
    /// ``mapMinimum``. `mapped` is where the pages mapped so far end (an
    /// address; 0 before the first call).
    static func mapOutput(_ out: inout ContiguousArray<UInt32>, room: Int, mappedTo mapped: inout Int) {
        guard room >= mapMinimum, out.capacity - out.count >= room else { return }
        out.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let from = max(mapped, Int(bitPattern: base + buffer.count))
            let end = Int(bitPattern: base + buffer.count + room)  // within the reserved capacity
            guard end > from, let start = UnsafeMutableRawPointer(bitPattern: from) else { return }
            HugePages.populate(start, bytes: end - from)
            mapped = end
        }
    }

    /// The least room worth a call: a short text's few pages cost less than
    /// the call (a microsecond on every call of a few words through Python).
    static let mapMinimum = 1 << 16
}
