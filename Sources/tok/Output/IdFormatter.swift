/// Token ids as decimal text, separated by single spaces.
enum IdFormatter {
    /// Ids formatted at a time, into a buffer on the stack (11 bytes each at most).
    static let chunk = 4096

    /// Appends `ids`, each after a space but the first when `leadingSpace` is false.
    ///
    /// Digits go into a stack buffer and reach `out` once a chunk: appending
    /// them one by one cost about 60 ns an id (half of `tok encode`'s time).
    static func append(_ ids: UnsafeBufferPointer<UInt32>, leadingSpace: Bool, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: chunk * 11) { buffer in
            let p = buffer.baseAddress!
            var space = leadingSpace
            var start = 0
            while start < ids.count {
                let end = min(start + chunk, ids.count)
                var used = 0
                for id in UnsafeBufferPointer(rebasing: ids[start ..< end]) {
                    // used <= 11 * (ids so far in this chunk) and a chunk holds `chunk` ids: in the buffer.
                    if space { p[used] = 0x20; used += 1 }
                    space = true
                    used += write(id, at: p + used)
                }
                out.append(contentsOf: UnsafeBufferPointer(start: p, count: used))
                start = end
            }
        }
    }

    /// Writes `id`'s digits at `p` (at most 10) and returns how many.
    @inline(__always)
    static func write(_ id: UInt32, at p: UnsafeMutablePointer<UInt8>) -> Int {
        var digits = 1
        var limit: UInt64 = 10
        while UInt64(id) >= limit { digits += 1; limit *= 10 }
        var n = id, i = digits
        repeat {
            i -= 1
            p[i] = 0x30 + UInt8(truncatingIfNeeded: n % 10)
            n /= 10
        } while n > 0
        return digits
    }
}
