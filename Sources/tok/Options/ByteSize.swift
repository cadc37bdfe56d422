import ArgumentParser
import Foundation

/// A size in bytes as written on the command line: 4G, 512M, 64K, 1.5T or
/// 100000 (binary units, K = 1024), positive and at most ``maximum``.
struct ByteSize: ExpressibleByArgument, CustomStringConvertible, Hashable, Sendable {
    let bytes: Int

    /// 1P: far beyond any machine's memory or disk, and far inside `Int`.
    static let maximum = 1 << 50
    private static let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50]

    init(bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        var text = argument.uppercased()
        var scale = 1
        if let unit = text.last, let s = ByteSize.units[unit] {
            scale = s
            text.removeLast()
        }
        // NaN, infinities and overflow end here, before any conversion to Int can trap.
        guard let value = Double(text), value.isFinite, value > 0, value * Double(scale) <= Double(ByteSize.maximum) else { return nil }
        bytes = max(1, Int(value * Double(scale)))
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
