import ArgumentParser

/// An option value whose parser says why it refuses a value. Options of
/// these types are declared with `transform: T.parse`, so that ArgumentParser's
/// message carries the reason: "The value 'en=inf' is invalid for '--weights
/// <name=weight,...>': en: 'inf' is not a number from 0 to 1000".
protocol CheckedArgument: ExpressibleByArgument {
    static func parse(_ argument: String) throws -> Self
}

extension CheckedArgument {
    init?(argument: String) {
        guard let value = try? Self.parse(argument) else { return nil }
        self = value
    }
}
