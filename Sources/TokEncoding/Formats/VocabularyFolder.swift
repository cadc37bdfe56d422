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
        if let sentencePiece = tokenizer.sentencePiece {
            // Its own steps: a SentencePiece model's are in tokenizer.model, the HuggingFace form's in tokenizer.json.
            pattern = "sentencepiece"
            regexes = []
            switch sentencePiece.form {
            case .model(let proto):
                normalizer = proto.normalizerSpec.name.isEmpty ? "sentencepiece" : proto.normalizerSpec.name
                mergeOrder = "scores"
            case .huggingFace: normalizer = "metaspace"
            }
            size = sentencePiece.pieceCount
            bpeTokens = sentencePiece.pieceCount
        }
        self.specialTokens = v.specialTokens.sorted { $0.id < $1.id }
        self.unreachableTokens = v.unreachableTokens.count
        self.unicodeVersion = TokEncoding.unicodeVersion
        self.source = source
    }
}

/// A vocabulary on disk: a folder with `tokenizer.json` (HuggingFace's format,
/// the source of truth), `manifest.json`, and `tokenizer.bin` (the fast form,
/// which records the checksums of the two files it was made from).
///
/// Folders are written whole under a staging name and moved into place
/// (``writeStaged(to:protecting:_:)``), and what is at the destination is
/// replaced only when tok made it (``checkReplaceable(_:protecting:)``).
public enum VocabularyFolder {
    public static let jsonName = "tokenizer.json"
    /// A SentencePiece vocabulary's source of truth, in place of ``jsonName``: the model sentencepiece loads.
    public static let modelName = "tokenizer.model"
    public static let manifestName = "manifest.json"
    public static let binaryName = "tokenizer.bin"
    /// The reports `tok train`, `tok build` and `tok extend` write beside the vocabulary.
    public static let reportNames = ["training.json", "build-report.json", "build-report.html",
                                     "extend-report.json", "extend-report.html", "added.tsv"]
    /// The folder of `tok build`'s held-out text, `heldout/<domain>.txt`.
    public static let heldOutFolderName = "heldout"

    /// Writes a vocabulary folder at `directory`, staged: a failure leaves
    /// what was there as it was. Refuses (``FileError/notReplaced(path:reason:)``)
    /// to replace anything but a vocabulary folder tok made or an empty
    /// folder, and a folder holding any of `inputs`.
    public static func save(_ tokenizer: Tokenizer, to directory: String, name: String? = nil, source: String,
                            protecting inputs: [String] = []) throws {
        let name = name ?? URL(fileURLWithPath: directory).lastPathComponent
        try writeStaged(to: directory, protecting: inputs) { staging in
            try write(tokenizer, into: staging, name: name, source: source)
        }
    }

    /// Writes the vocabulary's files into `directory`, a folder being staged
    /// (the one ``writeStaged(to:protecting:_:)`` gives its body). Each file is
    /// written under a temporary name and renamed into place.
    public static func write(_ tokenizer: Tokenizer, into directory: String, name: String, source: String) throws {
        let manifest = VocabularyManifest(tokenizer: tokenizer, name: name, source: source)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let manifestBytes = Array(try encoder.encode(manifest)) + [0x0A]
        if case .huggingFace = tokenizer.sentencePiece?.form {
            // The tokenizer.json as read, and the manifest: made from them at each load.
            try writeFileAtomically(directory + "/" + jsonName, HuggingFaceJSON.write(tokenizer))
            return try writeFileAtomically(directory + "/" + manifestName, manifestBytes)
        }
        let json: [UInt8]
        if case .model(let proto) = tokenizer.sentencePiece?.form {
            // A SentencePiece model's source is its tokenizer.model, byte for byte the file imported.
            json = proto.serialized()
            try writeFileAtomically(directory + "/" + modelName, json)
        } else {
            json = HuggingFaceJSON.write(tokenizer)
            try writeFileAtomically(directory + "/" + jsonName, json)
        }
        try writeFileAtomically(directory + "/" + manifestName, manifestBytes)
        // No stamps: the two files were written just now (see ``FileStamp``); the first load after that records them.
        let made = BinarySource(json: Checksum.of(json), manifest: Checksum.of(manifestBytes))
        try writeFileAtomically(directory + "/" + binaryName, BinaryFormat.write(tokenizer, source: made))
    }

    /// Throws ``FileError/notReplaced(path:reason:)`` unless a vocabulary
    /// folder may be written at `destination`: nothing is there, an empty
    /// folder, or a folder tok wrote (a `manifest.json` of a tok vocabulary,
    /// and nothing but the files tok writes there: ``jsonName``,
    /// ``manifestName``, ``binaryName``, ``reportNames``, `heldout/*.txt`, and
    /// their temporaries), holding none of `inputs`. A symbolic link is judged
    /// by the folder it leads to (``outputTarget(_:)``).
    public static func checkReplaceable(_ destination: String, protecting inputs: [String] = []) throws {
        if let reason = try refusal(toReplace: outputTarget(destination), protecting: inputs) {
            throw FileError.notReplaced(path: destination, reason: reason)
        }
    }

    /// Why `path` may not be replaced by a vocabulary folder; nil when it may.
    static func refusal(toReplace path: String, protecting inputs: [String]) -> String? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return "a file is there, not a vocabulary folder" }
        if let folder = realPath(path) {
            for input in inputs {
                guard let file = realPath(input) else { continue }
                if file == folder { return "it is the input \(input)" }
                if file.hasPrefix(folder == "/" ? "/" : folder + "/") { return "it holds the input \(input)" }
            }
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else {
            return "its entries cannot be listed"
        }
        if names.isEmpty { return nil }
        let files = Set([jsonName, modelName, manifestName, binaryName] + reportNames)
        for name in names.sorted() {
            let entry = path + "/" + name
            guard lstat(entry, &st) == 0 else { continue }  // gone meanwhile
            let kind = st.st_mode & S_IFMT
            if kind == S_IFREG && (files.contains(name) || isTemporary(name, of: files)) { continue }
            if kind == S_IFDIR && name == heldOutFolderName {
                let inner = (try? FileManager.default.contentsOfDirectory(atPath: entry)) ?? []
                if let other = inner.sorted().first(where: { !$0.hasSuffix(".txt") && !$0.contains(".txt.tmp-") }) {
                    return "it holds \(name)/\(other), which tok did not write"
                }
                continue
            }
            return "it holds \(name), which tok did not write"
        }
        guard let data = try? readFile(path + "/" + manifestName),
              let manifest = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any],
              manifest["format"] as? String == "tok-vocabulary"
        else { return "it holds no \(manifestName) of a tok vocabulary" }
        return nil
    }

    /// `NAME.tmp-PID-N` for one of `names`: a temporary a tok run writes (``TemporaryPaths/name(besides:)``).
    static func isTemporary(_ entry: String, of names: Set<String>) -> Bool {
        guard let range = entry.range(of: ".tmp-") else { return false }
        return names.contains(String(entry[..<range.lowerBound]))
    }

    /// Writes a folder in full under a staging name beside `destination`
    /// (`body` gets that path) and moves it into place only when `body`
    /// succeeds. What is at `destination` is replaced only when
    /// ``checkReplaceable(_:protecting:)`` allows it, checked before `body`
    /// runs and again before the move. The move exchanges the two folders in
    /// one step where the kernel can (`renameat2`), then removes the old one.
    /// A failure, or SIGINT/SIGTERM, leaves `destination` as it was and no
    /// staging folder behind. Missing folders above `destination` are created
    /// (and removed again on failure), as ``AtomicFile`` does.
    public static func writeStaged<T>(to destination: String, protecting inputs: [String] = [],
                                      _ body: (String) throws -> T) throws -> T {
        let target = try folderTarget(destination)
        try checkReplaceable(target, protecting: inputs)
        let files = FileManager.default
        let created = try createMissingFolders(above: target)
        var placed = false
        defer { if !placed { removeEmptyFolders(created) } }
        TemporaryPaths.removeStale(besides: target)
        let staging = TemporaryPaths.name(besides: target)
        TemporaryPaths.register(staging)
        defer {
            try? files.removeItem(atPath: staging)
            TemporaryPaths.unregister(staging)
        }
        guard mkdir(staging, 0o755) == 0 else { throw FileError.errno(staging, "create the folder") }
        let result = try body(staging)
        try checkReplaceable(target, protecting: inputs)
        try replace(target, with: staging, named: destination)
        placed = true
        keepFolders(created)
        return result
    }

    /// Where a folder written at `destination` lands: the folder its links
    /// lead to, named without `.`, `..` or a trailing slash (`-o .` and
    /// `-o vocab/x/` are staged beside the folder, not in it).
    static func folderTarget(_ destination: String) throws -> String {
        let target = try outputTarget(destination)
        if let resolved = realPath(target) { return resolved }
        var bytes = Array(target.utf8)
        while bytes.count > 1 && bytes.last == 0x2F { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Moves the folder `staging` to `target`; the folder there before (one
    /// ``checkReplaceable(_:protecting:)`` allowed) ends at `staging` and is removed.
    static func replace(_ target: String, with staging: String, named destination: String) throws {
        var st = stat()
        if lstat(target, &st) != 0 {
            guard rename(staging, target) == 0 else { throw FileError.errno(destination, "move the new folder into place") }
            return
        }
        if exchange(staging, target) != 0 {
            // No exchange here (an old kernel or file system): two renames.
            let old = TemporaryPaths.name(besides: target)
            TemporaryPaths.register(old)
            defer { TemporaryPaths.unregister(old) }
            guard rename(target, old) == 0 else { throw FileError.errno(destination, "move the old folder aside") }
            guard rename(staging, target) == 0 else {
                let error = FileError.errno(destination, "move the new folder into place")
                _ = rename(old, target)
                throw error
            }
            guard rename(old, staging) == 0 else { return }
        }
        // `staging` now holds the old folder. Anything put there since the check is kept under another name.
        if refusal(toReplace: staging, protecting: []) != nil {
            _ = rename(staging, target + ".replaced-\(getpid())")
        }
    }

    /// `renameat2(a, b, RENAME_EXCHANGE)`: 0, or -1 where the C library or the file system lacks it.
    static func exchange(_ a: String, _ b: String) -> Int32 {
        typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
        // Not in Swift's Glibc module (a GNU extension): looked up in the C library, which has it since glibc 2.28.
        guard let symbol = dlsym(nil, "renameat2") else { return -1 }
        let renameat2 = unsafeBitCast(symbol, to: RenameAt2.self)
        let renameExchange: UInt32 = 1 << 1
        return renameat2(AT_FDCWD, a, AT_FDCWD, b, renameExchange)
    }

    /// A fingerprint of the vocabulary: the ``Checksum`` of its
    /// `tokenizer.json` (16 hex digits). Datasets record it, so a resumed run
    /// uses the same one; `tokenizer.bin` records it too, and is used only
    /// for the `tokenizer.json` it names.
    public static func fingerprint(_ directory: String) throws -> String {
        let model = directory + "/" + modelName
        return Checksum.hex(try Checksum.ofFile(fileExists(model) ? model : directory + "/" + jsonName))
    }

    public static func readManifest(_ directory: String) throws -> VocabularyManifest? {
        let path = directory + "/" + manifestName
        guard fileExists(path) else { return nil }
        return try decodeManifest(try readFile(path), path: path)
    }

    /// Loads a vocabulary folder: the fast form when it was made from the
    /// folder's `tokenizer.json` and `manifest.json` as they are now, else
    /// `tokenizer.json` (and the fast form is rewritten, where the folder
    /// may be written).
    ///
    /// The fast form's source is checked by the files' stamps (``FileStamp``)
    /// when they equal those it records, else by the checksums of the two
    /// files (and the stamps are recorded then, once settled, so that the
    /// next load need not read them). A fast form copied from another folder,
    /// or restored with `cp -p`, `tar x` or `rsync -a`, is therefore never
    /// used for a JSON it was not made from.
    ///
    /// - Complexity: a `stat` of each file and the fast form's read; O(size
    ///   of `tokenizer.json`) when the stamps differ.
    public static func load(_ directory: String) throws -> Tokenizer {
        guard isDirectory(directory) else {
            throw VocabularyError.notAVocabularyFolder(path: directory, reason: "no such directory")
        }
        // A SentencePiece model's folder has tokenizer.model where others have tokenizer.json.
        let modelPath = directory + "/" + modelName
        let jsonPath = fileExists(modelPath) ? modelPath : directory + "/" + jsonName
        let manifestPath = directory + "/" + manifestName
        let binaryPath = directory + "/" + binaryName
        // Taken before the files are read: a file changed after this cannot be taken for the one read.
        let stamps = [FileStamp(path: jsonPath), FileStamp(path: manifestPath)]
        guard stamps[0] != .none else { throw VocabularyError.notAVocabularyFolder(path: directory, reason: "no \(jsonName)") }
        if fileExists(binaryPath), let loaded = try? BinaryFormat.load(path: binaryPath) {
            if loaded.stamps == stamps { return loaded.tokenizer }
            let source = BinarySource(json: try Checksum.ofFile(jsonPath),
                                      manifest: stamps[1] == .none ? 0 : try Checksum.ofFile(manifestPath))
            if loaded.source == source {
                if stamps.allSatisfy(\.isSettled) { BinaryFormat.writeStamps(stamps, path: binaryPath, binary: loaded.file) }
                return loaded.tokenizer
            }
            // Made from other files, or damaged: never used; rebuilt from the JSON below.
        }
        let json = try readFile(jsonPath)
        let manifestBytes = stamps[1] == .none ? nil : try readFile(manifestPath)
        var tokenizer = jsonPath == modelPath ? try SentencePiece.tokenizer(modelFile: json, path: modelPath)
            : try HuggingFaceJSON.read(json, path: jsonPath)
        if let manifestBytes, try decodeManifest(manifestBytes, path: manifestPath).mergeOrder == "ranks" {
            let v = tokenizer.vocabulary
            // An id whose bytes are not its own token (a special token's, an unused one) is a gap among the ranks.
            let tokens: [[UInt8]?] = (0 ..< v.count).map { id in
                let bytes = v.bytes(of: UInt32(id))
                return !bytes.isEmpty && v.id(of: bytes) == UInt32(id) ? bytes : nil
            }
            tokenizer = tokenizer.with(vocabulary: try Vocabulary.fromRanks(withGaps: tokens, specialTokens: v.specialTokens))
        }
        // The HuggingFace form of a SentencePiece model has no fast form: it is made from tokenizer.json each time.
        if case .huggingFace = tokenizer.sentencePiece?.form { return tokenizer }
        let source = BinarySource(json: Checksum.of(json), manifest: manifestBytes.map { Checksum.of($0) } ?? 0)
        let unchanged = [FileStamp(path: jsonPath), FileStamp(path: manifestPath)] == stamps
        let trusted = unchanged && stamps.allSatisfy(\.isSettled) ? stamps : nil
        try? writeFileAtomically(binaryPath, BinaryFormat.write(tokenizer, source: source, stamps: trusted))
        return tokenizer
    }

    static func decodeManifest(_ bytes: [UInt8], path: String) throws -> VocabularyManifest {
        do {
            return try JSONDecoder().decode(VocabularyManifest.self, from: Data(bytes))
        } catch {
            throw VocabularyError.malformed(path: path, line: nil, reason: "not a valid manifest (\(error))")
        }
    }
}
