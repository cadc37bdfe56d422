import CTokRuntime

/// Text as fixed-width code points, not UTF-8: how CPython keeps a `str`
/// (1, 2 or 4 bytes a character, by its widest one).
public struct CodePointText {
    public let start: UnsafeRawPointer
    /// Bytes a code point: 1, 2 or 4.
    public let width: Int
    /// Code points.
    public let count: Int

    public init(start: UnsafeRawPointer, width: Int, count: Int) {
        precondition(width == 1 || width == 2 || width == 4, "a code point is 1, 2 or 4 bytes")
        self.start = start
        self.width = width
        self.count = count
    }

    /// The most bytes of UTF-8 a code point of this width takes.
    public var maxUTF8: Int { width == 1 ? 2 : width + 1 }

    /// Appends the UTF-8 of code points `range` to `out`, by way of `staging`
    /// (room for `range.count * maxUTF8` bytes); false at a surrogate code point.
    func appendUTF8(_ range: Range<Int>, staging: UnsafeMutablePointer<UInt8>, to out: inout [UInt8]) -> Bool {
        let written = tok_utf8_from_code_points(start + range.lowerBound * width, Int32(width), range.count, staging)
        guard written >= 0 else { return false }
        out.append(contentsOf: UnsafeBufferPointer(start: staging, count: written))
        return true
    }
}

extension Tokenizer {
    /// Encodes `text` as its UTF-8 would be encoded, converting it a block at
    /// a time as it goes: no UTF-8 copy of the whole text is made, and the
    /// blocks' bytes stay near the core (a 101 MB `str` took CPython 0.29 s
    /// to give its UTF-8, most of it clearing fresh memory). Appends nothing
    /// and returns false when the text holds a surrogate code point, which
    /// has no UTF-8.
    ///
    /// The blocks end where the pre-tokenizer may cut and no added token is
    /// split (``BlockCutter``), so the ids are those of the whole text.
    public func encode(
        _ text: CodePointText, allowedSpecial: AllowedSpecial, into out: inout ContiguousArray<UInt32>
    ) -> Bool {
        let before = out.count
        let blockSize = 1 << 20
        let step = max(blockSize / text.maxUTF8, 1)
        let staging = UnsafeMutablePointer<UInt8>.allocate(capacity: step * text.maxUTF8)
        defer { staging.deallocate() }
        var converted = 0
        struct Surrogate: Error {}
        var cutter = blockCutter(blockSize: blockSize)
        // Where the output's mapped pages end (an address; 0: none mapped yet).
        var mapped = 0
        do {
            try withScratch { scratch in
                // Each block's ids straight into `out`: `encodeStream` hands them on in an array of their own.
                while case let n = try cutter.nextBlock(read: { buffer, _ in
                    let end = min(converted + step, text.count)
                    guard text.appendUTF8(converted ..< end, staging: staging, to: &buffer) else { throw Surrogate() }
                    converted = end
                    return converted < text.count
                }), n > 0 {
                    Tokenizer.mapOutput(&out, room: n, mappedTo: &mapped)
                    cutter.buffer.withUnsafeBufferPointer {
                        encode(UnsafeBufferPointer(rebasing: $0[0 ..< n]), allowedSpecial: allowedSpecial, scratch: &scratch, into: &out)
                    }
                    cutter.consume(n)
                }
            }
        } catch {
            out.removeSubrange(before...)
            return false
        }
        return true
    }
}
