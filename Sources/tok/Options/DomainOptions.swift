import ArgumentParser
import TokBuild

/// NAME=VALUE,NAME=VALUE, as `--domains`, `--eval` and `--weights` take them:
/// each name non-empty and given once, each value non-empty; nil otherwise.
func parseNamedValues(_ text: String) -> [(name: String, value: String)]? {
    var pairs: [(name: String, value: String)] = []
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
        guard let eq = item.firstIndex(of: "="), eq != item.startIndex, item.index(after: eq) != item.endIndex else { return nil }
        pairs.append((String(item[..<eq]), String(item[item.index(after: eq)...])))
    }
    guard Set(pairs.map(\.name)).count == pairs.count else { return nil }
    return pairs
}

/// Domains as NAME=PATH[+PATH...],...: files, folders or globs per domain.
struct DomainList: ExpressibleByArgument {
    let domains: [DomainInput]

    init?(argument: String) {
        guard let pairs = parseNamedValues(argument) else { return nil }
        var domains: [DomainInput] = []
        for (name, value) in pairs {
            let inputs = value.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
            guard !inputs.contains(where: \.isEmpty) else { return nil }
            domains.append(DomainInput(name: name, inputs: inputs))
        }
        self.domains = domains
    }

    var names: [String] { domains.map(\.name) }

    /// Throws unless every name in `names` is one of `domains`'s.
    static func check(_ names: some Sequence<String>, of option: String, against domains: DomainList) throws {
        for name in names where !domains.names.contains(name) {
            throw ValidationError("\(option) names \(name), which is not one of --domains")
        }
    }
}

/// Domain weights as NAME=W,...: each a positive number up to ``maximum``.
struct DomainWeights: ExpressibleByArgument {
    /// Weights are relative: past a thousand to one, a domain's counts would
    /// swamp the others' (and large products overflow the scaled counts).
    static let maximum = 1000.0

    let weights: [(name: String, weight: Double)]

    init?(argument: String) {
        guard let pairs = parseNamedValues(argument) else { return nil }
        var weights: [(name: String, weight: Double)] = []
        for (name, value) in pairs {
            // Double("inf") and Double("nan") parse: only finite values in range pass.
            guard let w = Double(value), w.isFinite, w > 0, w <= DomainWeights.maximum else { return nil }
            weights.append((name, w))
        }
        self.weights = weights
    }
}
