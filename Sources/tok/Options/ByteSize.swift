import ArgumentParser
import Foundation

/// A size in bytes as written on the command line: 4G, 512M, 64K, 1.5T or
/// 100000 (binary units, K = 1024), positive and at most ``maximum``.
struct ByteSize: CheckedArgument, CustomStringConvertible, Hashable, Sendable {
    let bytes: Int

    /// 1P: far beyond any machine's memory or disk, and far inside `Int`.
    static let maximum = 1 << 50
    private static let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50]

    init(bytes: Int) { self.bytes = bytes }

    static func parse(_ argument: String) throws -> ByteSize {
        var text = argument.uppercased()
        var scale = 1
        if let unit = text.last, let s = units[unit] {
            scale = s
            text.removeLast()
        }
        // NaN, infinities and overflow end here, before any conversion to Int can trap.
        guard let value = Double(text), value.isFinite, value > 0 else {
            throw ValidationError("a size is a positive number, with K, M, G, T or P after it or none (bytes)")
        }
        guard value * Double(scale) <= Double(maximum) else { throw ValidationError("more than the most, 1P") }
        return ByteSize(bytes: max(1, Int(value * Double(scale))))
    }

    /// "4.0G", "512M", "100000".
    var description: String {
        if let (unit, scale) = ByteSize.units.sorted(by: { $0.value > $1.value }).first(where: { bytes >= $0.value }) {
            let value = Double(bytes) / Double(scale)
            return value == value.rounded() ? "\(Int(value))\(unit)" : String(format: "%.1f%@", value, String(unit))
        }
        return String(bytes)
    }
}
