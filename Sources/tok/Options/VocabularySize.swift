import ArgumentParser

/// The range of `--vocab-size` (ids in all: 256 bytes, merges, special tokens).
enum VocabularySize {
    /// 2^24 ids: 64 times the largest published vocabularies, well inside
    /// 32-bit ids, and past what training could fill in any sane time.
    static let maximum = 1 << 24

    /// Throws unless `size` holds the 256 byte tokens, `specialTokens` and at
    /// least `merges` merges, and is at most ``maximum``.
    static func validate(_ size: Int, specialTokens: Int, merges: Int) throws {
        let least = 256 + specialTokens + merges
        guard size >= least else {
            throw ValidationError("--vocab-size \(size) is less than \(least): 256 byte tokens and \(specialTokens) special tokens come first")
        }
        guard size <= maximum else { throw ValidationError("--vocab-size takes at most \(maximum) ids, not \(size)") }
    }
}
