import ArgumentParser
import TokCorpus
import TokEncoding

// The libraries' own types as option values, so that an option is checked
// when it is parsed. (The libraries do not depend on ArgumentParser; the
// conformances live with the command line.)

/// `--pattern NAME`: one of the named pre-tokenizers.
extension PreTokenizer: ExpressibleByArgument {
    public init?(argument: String) { self.init(named: argument) }
    public static var allValueStrings: [String] { PreTokenizer.named.keys.sorted() }
    public var defaultValueDescription: String { name }
}

/// `--behavior`: what a split does with its matches.
extension SplitBehavior: ExpressibleByArgument {}

/// `--hold-out-by document|file|key:NAME`.
extension HoldOutUnit: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
    public var defaultValueDescription: String {
        switch self {
        case .document: return "document"
        case .file: return "file"
        case .key(let name): return "key:" + name
        }
    }
}

/// `--allow-special all|none|NAME,...`.
extension AllowedSpecial: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "none": self = .none
        case "all": self = .all
        default:
            let names = argument.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard !names.contains(where: \.isEmpty) else { return nil }
            self = .only(Set(names))
        }
    }

    public var defaultValueDescription: String {
        switch self {
        case .none: return "none"
        case .all: return "all"
        case .only(let names): return names.sorted().joined(separator: ",")
        }
    }
}

/// `--special TEXT=ID` of `tok import`: an id below the largest vocabulary size.
extension SpecialToken: ExpressibleByArgument {
    public init?(argument: String) {
        guard let token = try? SpecialToken.parse(argument) else { return nil }
        self = token
    }

    static func parse(_ argument: String) throws -> SpecialToken {
        guard let eq = argument.lastIndex(of: "="), eq != argument.startIndex else { throw ValidationError("not TEXT=ID") }
        guard let id = UInt32(argument[argument.index(after: eq)...]), Int(id) < VocabularySize.maximum else {
            throw ValidationError("the id is a whole number from 0 to \(VocabularySize.maximum - 1)")
        }
        return SpecialToken(id: id, content: String(argument[..<eq]))
    }
}
