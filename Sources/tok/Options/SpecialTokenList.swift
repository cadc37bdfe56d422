import ArgumentParser

/// Special tokens as TEXT,TEXT,...: each non-empty and given once (an empty
/// argument: none). They take the last ids, in this order.
struct SpecialTokenList: CheckedArgument, CustomStringConvertible {
    let tokens: [String]

    init(_ tokens: [String]) { self.tokens = tokens }

    static func parse(_ argument: String) throws -> SpecialTokenList {
        guard !argument.isEmpty else { return SpecialTokenList([]) }
        let tokens = argument.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !tokens.contains(where: \.isEmpty) else { throw ValidationError("an empty token") }
        if let twice = tokens.enumerated().first(where: { tokens[..<$0.offset].contains($0.element) })?.element {
            throw ValidationError("\(twice) is given twice")
        }
        return SpecialTokenList(tokens)
    }

    var description: String { tokens.joined(separator: ",") }
}
