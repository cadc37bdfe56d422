import ArgumentParser

/// How token ids are written (`tok encode`) or read (`tok decode`).
enum TokenIdFormat: String, ExpressibleByArgument, CaseIterable {
    /// Decimal text, ids separated by spaces (lines by newlines).
    case ids
    /// Raw little-endian ids of 32 or 16 bits.
    case u32, u16
    /// A megatron-core indexed dataset, named by its prefix.
    case megatron

    /// Bytes per id of the raw formats; nil for the others.
    var rawWidth: Int? {
        switch self {
        case .u32: return 4
        case .u16: return 2
        case .ids, .megatron: return nil
        }
    }
}
