import TokRuntime

/// What can be wrong with the path or pattern given to ``Tokenizer/load(_:pattern:)``.
public struct TokenizerFileError: TokError, Equatable {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

extension Tokenizer {
    /// A tokenizer from any of the files tok reads: a vocabulary folder
    /// (``VocabularyFolder/load(_:)``), a HuggingFace `tokenizer.json`, a
    /// SentencePiece `tokenizer.model` (a `.model` file, or one that starts as
    /// its protobuf does), or a tiktoken ranks file, whose pre-tokenizer is `pattern` or, when none is
    /// given, the one its name tells (`o200k_base.tiktoken`: `o200k`). A ranks
    /// file of r50k, cl100k or o200k gets tiktoken's special tokens.
    ///
    /// - Throws: ``FileError`` when the path cannot be read,
    ///   ``TokenizerFileError`` for a pattern that is unknown, missing or
    ///   not the file's own, and the format's errors, each naming the file.
    public static func load(_ path: String, pattern: String? = nil) throws -> Tokenizer {
        let named = try pattern.map { name in
            guard let p = PreTokenizer(named: name) else {
                throw TokenizerFileError(path: path, reason: "unknown pattern '\(name)' (known: \(Tokenizer.patternNames))")
            }
            return p
        }
        if isDirectory(path) {
            let tokenizer = try VocabularyFolder.load(path)
            try checkPattern(named, of: tokenizer, path: path)
            return tokenizer
        }
        let data = try readFile(path)
        if data.first(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }) == UInt8(ascii: "{") {
            let tokenizer = try HuggingFaceJSON.read(data, path: path)
            try checkPattern(named, of: tokenizer, path: path)
            return tokenizer
        }
        // A protobuf's first field, pieces (1) or trainer_spec (2), both length-delimited: bytes no ranks file starts with.
        if path.hasSuffix(".model") || data.first == 0x0A || data.first == 0x12 {
            let tokenizer = try SentencePiece.tokenizer(modelFile: data, path: path)
            try checkPattern(named, of: tokenizer, path: path)
            return tokenizer
        }
        guard let preTokenizer = named ?? ranksPattern(forFile: path) else {
            throw TokenizerFileError(path: path, reason: "a tiktoken ranks file needs a pattern (\(Tokenizer.patternNames))")
        }
        do {
            let ranks = try TiktokenFile.read(data, path: path)
            let specials = TiktokenFile.standardSpecialTokens(pattern: preTokenizer.name)
            return Tokenizer(vocabulary: try Vocabulary.fromRanks(withGaps: ranks, specialTokens: specials), preTokenizer: preTokenizer)
        } catch let error as VocabularyError {
            throw error.description.hasPrefix(path) ? error : VocabularyError.inFile(path: path, error)
        }
    }

    /// The pattern a ranks file's name tells: its name up to `_base` or the
    /// extension (`cl100k_base.tiktoken`, `o200k.tiktoken`); tiktoken's
    /// p50k files use r50k's pattern.
    static func ranksPattern(forFile path: String) -> PreTokenizer? {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        let stem = file.split(separator: ".").first.map(String.init) ?? file
        let name = stem.hasSuffix("_base") ? String(stem.dropLast(5)) : stem
        return PreTokenizer(named: name == "p50k" ? "r50k" : name)
    }

    static var patternNames: String { PreTokenizer.named.keys.sorted().joined(separator: ", ") }

    static func checkPattern(_ pattern: PreTokenizer?, of tokenizer: Tokenizer, path: String) throws {
        if let pattern, pattern != tokenizer.preTokenizer {
            throw TokenizerFileError(path: path, reason: "its pre-tokenizer is \(tokenizer.preTokenizer.name), not \(pattern.name)")
        }
    }
}
