#if canImport(Glibc)
import Glibc
#endif
/// Pieces (byte strings) with 64-bit counts, flat: every piece's bytes back to
/// back in ``bytes``, piece `k` ending at `ends[k]`, its count in `counts[k]`.
/// The one form counts take from counting through count files, the trainer
/// and the build: one allocation per array, none per piece.
public struct PieceCounts: Sendable, Equatable {
    public private(set) var bytes = ContiguousArray<UInt8>()
    public private(set) var ends = ContiguousArray<Int>()
    public var counts = ContiguousArray<UInt64>()

    public init() {}

    /// Pieces and counts from pairs (tests and small inputs).
    public init(_ pieces: [(bytes: [UInt8], count: UInt64)]) {
        for p in pieces { append(p.bytes, count: p.count) }
    }

    /// Every entry of a count file, read in one pass.
    public init(countFile path: String) throws {
        try CountFile.forEachEntry(path) { append($0, count: $1) }
    }

    /// Number of pieces.
    public var count: Int { counts.count }

    /// Sum of the counts.
    public var total: UInt64 { counts.reduce(0, &+) }

    /// Bytes this holds, roughly.
    public var memoryBytes: Int { bytes.capacity + ends.capacity * 8 + counts.capacity * 8 }

    /// Where piece `k` starts in ``bytes``.
    @inlinable public func start(_ k: Int) -> Int { k == 0 ? 0 : ends[k - 1] }

    /// The length of piece `k`.
    @inlinable public func length(_ k: Int) -> Int { ends[k] - start(k) }

    public mutating func append(_ piece: UnsafeBufferPointer<UInt8>, count: UInt64) {
        bytes.append(contentsOf: piece)
        ends.append(bytes.count)
        counts.append(count)
    }

    public mutating func append(_ piece: [UInt8], count: UInt64) {
        piece.withUnsafeBufferPointer { append($0, count: count) }
    }

    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        counts.removeAll(keepingCapacity: true)
    }

    /// Calls `body` with each piece's bytes and count, in order.
    public func forEach(_ body: (UnsafeBufferPointer<UInt8>, UInt64) throws -> Void) rethrows {
        try bytes.withUnsafeBufferPointer { all in
            var start = 0
            for k in counts.indices {
                try body(UnsafeBufferPointer(rebasing: all[start ..< ends[k]]), counts[k])
                start = ends[k]
            }
        }
    }

    /// The bytes of piece `k`.
    public func piece(_ k: Int) -> [UInt8] { Array(bytes[start(k) ..< ends[k]]) }

    /// Whether piece `k` is `other`, byte for byte.
    public func pieceEquals(_ k: Int, _ other: UnsafeBufferPointer<UInt8>) -> Bool {
        let s = start(k)
        guard ends[k] - s == other.count else { return false }
        return bytes.withUnsafeBufferPointer { b in other.isEmpty || memcmp(b.baseAddress! + s, other.baseAddress!, other.count) == 0 }
    }
}
