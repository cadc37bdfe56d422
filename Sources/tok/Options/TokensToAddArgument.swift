import ArgumentParser
import TokBuild

/// `--add N` (a number of tokens, 0 for the base as it is) or `--add auto` (as few as meet `--target`).
struct TokensToAddArgument: CheckedArgument {
    /// Tokens at most: far past any vocabulary's growth, and inside the encoder's id range with any base.
    static let maximum = 1_000_000

    /// nil for `auto`.
    let count: Int?

    static func parse(_ argument: String) throws -> TokensToAddArgument {
        if argument == "auto" { return TokensToAddArgument(count: nil) }
        guard let n = Int(argument), (0 ... maximum).contains(n) else {
            throw ValidationError("--add takes auto or a number of tokens from 0 to \(maximum)")
        }
        return TokensToAddArgument(count: n)
    }
}

/// `--target NAME=FACTOR,...`: per domain, the bytes/token over the base's to reach (above 1, at most 100).
struct TargetFactors: CheckedArgument {
    let factors: [(name: String, factor: Double)]

    static func parse(_ argument: String) throws -> TargetFactors {
        TargetFactors(factors: try parseNamedValues(argument).map { name, value in
            guard let f = Double(value), f.isFinite, f > 1, f <= 100 else {
                throw ValidationError("\(name): '\(value)' is not a factor above 1 and at most 100")
            }
            return (name, f)
        })
    }
}
