/// How well a vocabulary compresses a text.
public struct Compression: Codable, Sendable, Equatable {
    public var bytes: Int
    public var characters: Int
    public var tokens: Int

    public var bytesPerToken: Double { tokens == 0 ? 0 : Double(bytes) / Double(tokens) }
    public var charactersPerToken: Double { tokens == 0 ? 0 : Double(characters) / Double(tokens) }

    public init(bytes: Int, characters: Int, tokens: Int) {
        self.bytes = bytes
        self.characters = characters
        self.tokens = tokens
    }

    enum CodingKeys: String, CodingKey { case bytes, characters, tokens, bytesPerToken, charactersPerToken }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(characters, forKey: .characters)
        try c.encode(tokens, forKey: .tokens)
        try c.encode((bytesPerToken * 10000).rounded() / 10000, forKey: .bytesPerToken)
        try c.encode((charactersPerToken * 10000).rounded() / 10000, forKey: .charactersPerToken)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(bytes: try c.decode(Int.self, forKey: .bytes), characters: try c.decode(Int.self, forKey: .characters),
                  tokens: try c.decode(Int.self, forKey: .tokens))
    }
}
