import ArgumentParser

/// Special tokens as TEXT,TEXT,...: each non-empty and given once (an empty
/// argument: none). They take the last ids, in this order.
struct SpecialTokenList: ExpressibleByArgument, CustomStringConvertible {
    let tokens: [String]

    init(_ tokens: [String]) { self.tokens = tokens }

    init?(argument: String) {
        guard !argument.isEmpty else {
            tokens = []
            return
        }
        let tokens = argument.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !tokens.contains(where: \.isEmpty), Set(tokens).count == tokens.count else { return nil }
        self.tokens = tokens
    }

    var description: String { tokens.joined(separator: ",") }
}
