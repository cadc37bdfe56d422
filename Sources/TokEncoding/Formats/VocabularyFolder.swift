import Foundation
import TokRuntime

/// What a vocabulary folder says about itself in `manifest.json`.
public struct VocabularyManifest: Codable, Sendable, Equatable {
    public var format = "tok-vocabulary"
    public var formatVersion = 1
    public var name: String
    /// The pre-tokenizer's name (`o200k`, `tok`, `deepseek-v3`, ...).
    public var pattern: String
    /// The regexes the pre-tokenizer is equivalent to, one per split, applied in order.
    public var regexes: [String]
    public var normalizer: String
    /// `ranks` (tiktoken), `merges` or `merges+ignore_merges` (HuggingFace).
    public var mergeOrder: String
    /// One more than the largest id, special tokens included.
    public var size: Int
    public var bpeTokens: Int
    public var specialTokens: [SpecialToken]
    public var unreachableTokens: Int
    public var unicodeVersion: String
    /// How the vocabulary was made.
    public var source: String

    public init(tokenizer: Tokenizer, name: String, source: String) {
        let v = tokenizer.vocabulary
        self.name = name
        self.pattern = tokenizer.preTokenizer.name
        self.regexes = tokenizer.preTokenizer.regexes
        self.normalizer = tokenizer.normalizer.rawValue
        switch v.mergeOrder {
        case .ranks: mergeOrder = "ranks"
        case .mergesList(let ignore): mergeOrder = ignore ? "merges+ignore_merges" : "merges"
        }
        self.size = v.idLimit
        self.bpeTokens = v.count
        self.specialTokens = v.specialTokens.sorted { $0.id < $1.id }
        self.unreachableTokens = v.unreachableTokens.count
        self.unicodeVersion = TokEncoding.unicodeVersion
        self.source = source
    }
}

/// A vocabulary on disk: a folder with `tokenizer.json` (HuggingFace's format,
/// the source of truth), `manifest.json`, and `tokenizer.bin` (the fast form).
public enum VocabularyFolder {
    public static let jsonName = "tokenizer.json"
    public static let manifestName = "manifest.json"
    public static let binaryName = "tokenizer.bin"

    /// Writes the folder. Files are written under temporary names and renamed
    /// into place, so an interrupted save never leaves a half-written file.
    public static func save(_ tokenizer: Tokenizer, to directory: String, name: String? = nil, source: String) throws {
        if fileExists(directory) && !isDirectory(directory) {
            throw VocabularyError.notAVocabularyFolder(path: directory, reason: "a file is there, not a folder")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let name = name ?? URL(fileURLWithPath: directory).lastPathComponent
        let manifest = VocabularyManifest(tokenizer: tokenizer, name: name, source: source)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let json = HuggingFaceJSON.write(tokenizer)
        let binary = BinaryFormat.write(tokenizer)
        try writeFileAtomically(directory + "/" + jsonName, json)
        try writeFileAtomically(directory + "/" + manifestName, Array(try encoder.encode(manifest)) + [0x0A])
        // Written last, so it is never older than the JSON it caches.
        try writeFileAtomically(directory + "/" + binaryName, binary)
    }

    /// Writes a folder in full under a staging name beside `destination`
    /// (`body` gets that path) and moves it into place only when `body`
    /// succeeds, replacing any folder there. A failure, or SIGINT/SIGTERM,
    /// leaves `destination` as it was and no staging folder behind.
    public static func writeStaged<T>(to destination: String, _ body: (String) throws -> T) throws -> T {
        let files = FileManager.default
        TemporaryPaths.removeStale(besides: destination)
        let staging = TemporaryPaths.name(besides: destination)
        TemporaryPaths.register(staging)
        defer {
            try? files.removeItem(atPath: staging)
            TemporaryPaths.unregister(staging)
        }
        try files.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let result = try body(staging)
        let old = TemporaryPaths.name(besides: destination)
        let replacing = files.fileExists(atPath: destination)
        if replacing { try files.moveItem(atPath: destination, toPath: old) }
        try files.moveItem(atPath: staging, toPath: destination)
        if replacing { try? files.removeItem(atPath: old) }
        return result
    }

    /// A fingerprint of the vocabulary: the checksum of its `tokenizer.json`
    /// (16 hex digits). Datasets record it, so a resumed run uses the same one.
    public static func fingerprint(_ directory: String) throws -> String {
        let sum = Checksum.of(try readFile(directory + "/" + jsonName))
        let hex = String(sum, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    public static func readManifest(_ directory: String) throws -> VocabularyManifest? {
        let path = directory + "/" + manifestName
        return try readJSONFile(VocabularyManifest.self, at: path) {
            VocabularyError.malformed(path: path, line: nil, reason: "not a valid manifest (\($0))")
        }
    }

    /// Loads a vocabulary folder: the fast form when it is at least as new as
    /// `tokenizer.json`, else `tokenizer.json` (and the fast form is rewritten).
    public static func load(_ directory: String) throws -> Tokenizer {
        guard isDirectory(directory) else {
            throw VocabularyError.notAVocabularyFolder(path: directory, reason: "no such directory")
        }
        let jsonPath = directory + "/" + jsonName
        let binaryPath = directory + "/" + binaryName
        if let binaryTime = modificationTime(binaryPath), binaryTime >= (modificationTime(jsonPath) ?? 0) {
            do {
                return try BinaryFormat.load(path: binaryPath)
            } catch VocabularyError.corrupt where fileExists(jsonPath) {
                // Damaged or from another version: never used; rebuilt from the JSON below.
            }
        }
        guard fileExists(jsonPath) else { throw VocabularyError.notAVocabularyFolder(path: directory, reason: "no \(jsonName)") }
        var tokenizer = try HuggingFaceJSON.read(try readFile(jsonPath), path: jsonPath)
        if try readManifest(directory)?.mergeOrder == "ranks" {
            let v = tokenizer.vocabulary
            let tokens = (0 ..< v.count).map { v.bytes(of: UInt32($0)) }
            tokenizer = tokenizer.with(vocabulary: try Vocabulary.fromRanks(tokens, specialTokens: v.specialTokens))
        }
        try? writeFileAtomically(binaryPath, BinaryFormat.write(tokenizer))
        return tokenizer
    }
}
