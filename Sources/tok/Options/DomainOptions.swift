import ArgumentParser
import TokBuild

/// NAME=VALUE,NAME=VALUE, as `--domains`, `--eval` and `--weights` take them:
/// each name non-empty and given once, each value non-empty.
func parseNamedValues(_ text: String) throws -> [(name: String, value: String)] {
    var pairs: [(name: String, value: String)] = []
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
        guard let eq = item.firstIndex(of: "="), eq != item.startIndex, item.index(after: eq) != item.endIndex else {
            throw ValidationError("'\(item)' is not NAME=VALUE")
        }
        let name = String(item[..<eq])
        guard !pairs.contains(where: { $0.name == name }) else { throw ValidationError("\(name) is named twice") }
        pairs.append((name, String(item[item.index(after: eq)...])))
    }
    return pairs
}

/// Domains as NAME=PATH[+PATH...],...: files, folders or globs per domain.
struct DomainList: CheckedArgument {
    let domains: [DomainInput]

    static func parse(_ argument: String) throws -> DomainList {
        DomainList(domains: try parseNamedValues(argument).map { name, value in
            let inputs = value.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
            guard !inputs.contains(where: \.isEmpty) else { throw ValidationError("\(name): an empty path in '\(value)'") }
            return DomainInput(name: name, inputs: inputs)
        })
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
struct DomainWeights: CheckedArgument {
    /// Weights are relative: past a thousand to one, a domain's counts would
    /// swamp the others' (and large products overflow the scaled counts).
    static let maximum = 1000.0

    let weights: [(name: String, weight: Double)]

    static func parse(_ argument: String) throws -> DomainWeights {
        DomainWeights(weights: try parseNamedValues(argument).map { name, value in
            // Double("inf") and Double("nan") parse: only finite values in range pass.
            guard let w = Double(value), w.isFinite, w > 0, w <= maximum else {
                throw ValidationError("\(name): '\(value)' is not a number above 0 and at most \(Int(maximum))")
            }
            return (name, w)
        })
    }
}
