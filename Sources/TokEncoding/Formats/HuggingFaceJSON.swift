import Foundation

/// HuggingFace `tokenizer.json` for byte-level BPE: what `tokenizers` loads.
///
/// Reading accepts what published byte-level vocabularies use (GPT-2, Llama 3,
/// Qwen2/2.5/3, DeepSeek-V3, and what `tok` writes) and names anything else it
/// meets as unsupported; writing produces a file `tokenizers` reproduces
/// id for id.
public enum HuggingFaceJSON {
    // MARK: Reading

    public static func read(_ data: [UInt8], path: String) throws -> Tokenizer {
        func fail(_ message: String) -> VocabularyError {
            message.hasPrefix("unsupported")
                ? .unsupported(path: path, construct: String(message.drop { $0 != " " && $0 != ":" }.drop { $0 == ":" || $0 == " " }))
                : .malformed(path: path, line: nil, reason: message)
        }
        let root: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: Data(data)) as? [String: Any] else {
                throw fail("not a JSON object")
            }
            root = object
        } catch let error as VocabularyError {
            throw error
        } catch {
            throw fail("not valid JSON (\(error.localizedDescription))")
        }
        guard let model = root["model"] as? [String: Any] else { throw fail("no \"model\"") }
        let modelType = model["type"] as? String ?? "BPE"
        guard modelType == "BPE" else { throw fail("unsupported model type \"\(modelType)\": only byte-level BPE") }
        if model["byte_fallback"] as? Bool == true { throw fail("unsupported: BPE with byte_fallback (not byte-level)") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = model[key] as? String, !s.isEmpty { throw fail("unsupported: BPE \(key) \"\(s)\"") }
        }
        if let dropout = model["dropout"] as? Double, dropout > 0 { throw fail("unsupported: BPE dropout") }
        let ignoreMerges = model["ignore_merges"] as? Bool ?? false

        // Added tokens become special tokens (tok's own placeholders for unused ids excepted).
        var specials: [SpecialToken] = []
        for case let added as [String: Any] in root["added_tokens"] as? [Any] ?? [] {
            guard let id = added["id"] as? Int, let content = added["content"] as? String else {
                throw fail("an added token lacks id or content")
            }
            if content == HuggingFaceJSON.unusedIdContent(id) { continue }
            specials.append(SpecialToken(id: UInt32(id), content: content))
        }

        guard let vocab = model["vocab"] as? [String: Any] else { throw fail("model has no \"vocab\"") }
        var maxId = -1
        var entries: [(String, Int)] = []
        entries.reserveCapacity(vocab.count)
        for (key, value) in vocab {
            guard let id = value as? Int, id >= 0, id < 50_000_000 else { throw fail("vocab entry \"\(key)\" has no valid id") }
            entries.append((key, id))
            maxId = max(maxId, id)
        }
        var tokens = [[UInt8]?](repeating: nil, count: maxId + 1)
        var mergeable = [Bool](repeating: false, count: maxId + 1)
        var idByString: [String: UInt32] = [:]
        idByString.reserveCapacity(entries.count)
        for (key, id) in entries {
            idByString[key] = UInt32(id)
            if let bytes = ByteLevel.decode(key), !bytes.isEmpty {
                tokens[id] = bytes
                mergeable[id] = true
            } else {
                tokens[id] = Array(key.utf8)  // decodes as its text, as the ByteLevel decoder does
            }
        }
        let specialIds = Set(specials.map(\.id))
        for id in tokens.indices where mergeable[id] && specialIds.contains(UInt32(id)) { mergeable[id] = false }

        var merges: [(UInt32, UInt32)] = []
        let rawMerges = model["merges"] as? [Any] ?? []
        merges.reserveCapacity(rawMerges.count)
        for (index, raw) in rawMerges.enumerated() {
            let parts: [String]
            if let s = raw as? String {
                let split = s.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                parts = split.map(String.init)
            } else if let pair = raw as? [String] {
                parts = pair
            } else {
                throw fail("merge \(index) is neither \"a b\" nor [a, b]")
            }
            guard parts.count == 2, let left = idByString[parts[0]], let right = idByString[parts[1]] else {
                throw fail("merge \(index) names a token that is not in the vocab")
            }
            merges.append((left, right))
        }

        let normalizer = try readNormalizer(root["normalizer"], fail)
        let preTokenizer = try readPreTokenizer(root["pre_tokenizer"], fail)
        try checkDecoder(root["decoder"], fail)

        let vocabulary: Vocabulary
        do {
            vocabulary = try Vocabulary.fromMerges(
                tokens: tokens, mergeable: mergeable, merges: merges, ignoreMerges: ignoreMerges,
                specialTokens: specials)
        } catch let error as VocabularyError {
            throw VocabularyError.inFile(path: path, error)
        }
        return Tokenizer(vocabulary: vocabulary, preTokenizer: preTokenizer, normalizer: normalizer)
    }

    static func readNormalizer(_ value: Any?, _ fail: (String) -> VocabularyError) throws -> Normalizer {
        guard let n = value as? [String: Any] else { return .none }
        switch n["type"] as? String {
        case "NFC": return .nfc
        case "Sequence":
            let inner = try (n["normalizers"] as? [Any] ?? []).map { try readNormalizer($0, fail) }.filter { $0 != .none }
            guard inner.count <= 1 else { throw fail("unsupported normalizer: a Sequence of several") }
            return inner.first ?? .none
        case let other: throw fail("unsupported normalizer \"\(other ?? "?")\" (supported: none, NFC)")
        }
    }

    static func readPreTokenizer(_ value: Any?, _ fail: (String) -> VocabularyError) throws -> PreTokenizer {
        guard let p = value as? [String: Any] else { throw fail("unsupported: no pre_tokenizer (byte-level BPE needs one)") }
        let steps: [[String: Any]]
        if p["type"] as? String == "Sequence" {
            steps = (p["pretokenizers"] as? [Any] ?? []).compactMap { $0 as? [String: Any] }
        } else {
            steps = [p]
        }
        var rules: [SplitRule] = []
        var sawByteLevel = false
        for step in steps {
            let type = step["type"] as? String ?? "?"
            switch type {
            case "Split":
                guard !sawByteLevel else { throw fail("unsupported: Split after ByteLevel") }
                guard step["behavior"] as? String == "Isolated", step["invert"] as? Bool != true else {
                    throw fail("unsupported Split behavior \"\(step["behavior"] ?? "?")\" (supported: Isolated)")
                }
                guard let pattern = step["pattern"] as? [String: Any], let regex = pattern["Regex"] as? String else {
                    throw fail("unsupported Split pattern: only {\"Regex\": ...}")
                }
                guard let rule = SplitRule(huggingFaceRegex: regex) else { throw fail("unsupported pre-tokenizer regex \(regex.debugDescription)") }
                rules.append(rule)
            case "ByteLevel":
                sawByteLevel = true
                if step["add_prefix_space"] as? Bool == true { throw fail("unsupported: ByteLevel add_prefix_space") }
                if step["use_regex"] as? Bool ?? true { rules.append(.r50k) }
            default:
                throw fail("unsupported pre-tokenizer \"\(type)\"")
            }
        }
        guard sawByteLevel else { throw fail("unsupported: no ByteLevel pre-tokenizer (not byte-level BPE)") }
        guard !rules.isEmpty else { throw fail("unsupported: no Split pre-tokenizer") }
        return PreTokenizer(rules: rules)
    }

    static func checkDecoder(_ value: Any?, _ fail: (String) -> VocabularyError) throws {
        guard let d = value as? [String: Any] else { return }
        switch d["type"] as? String {
        case "ByteLevel": return
        case "Sequence":
            for inner in d["decoders"] as? [Any] ?? [] { try checkDecoder(inner, fail) }
        case let other: throw fail("unsupported decoder \"\(other ?? "?")\" (supported: ByteLevel)")
        }
    }

    // MARK: Writing

    /// The `tokenizer.json` of `tokenizer`. Deterministic: the same vocabulary
    /// gives the same bytes.
    public static func write(_ tokenizer: Tokenizer) -> [UInt8] {
        let vocabulary = tokenizer.vocabulary
        var out = ""
        out.reserveCapacity(vocabulary.count * 40)
        out += "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ["
        // `tokenizers` numbers added tokens after the vocabulary without gaps: an
        // unused id below a special token (o200k has 199,998 and 200,000-200,017)
        // gets a placeholder, so that every id means the same in both libraries.
        var added = vocabulary.specialTokens.map { ($0.id, $0.content) }
        let used = Set(added.map(\.0))
        for id in vocabulary.count ..< vocabulary.idLimit where !used.contains(UInt32(id)) {
            added.append((UInt32(id), unusedIdContent(id)))
        }
        for (i, token) in added.sorted(by: { $0.0 < $1.0 }).enumerated() {
            out += i == 0 ? "\n" : ",\n"
            out += "    {\"id\": \(token.0), \"content\": \(jsonString(token.1)), \"single_word\": false, "
            out += "\"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}"
        }
        out += added.isEmpty ? "],\n" : "\n  ],\n"
        out += "  \"normalizer\": " + (tokenizer.normalizer == .nfc ? "{\"type\": \"NFC\"}" : "null") + ",\n"
        out += "  \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
        for rule in tokenizer.preTokenizer.rules {
            out += "{\"type\": \"Split\", \"pattern\": {\"Regex\": \(jsonString(rule.huggingFaceRegex))}, \"behavior\": \"Isolated\", \"invert\": false}, "
        }
        out += "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}]},\n"
        out += "  \"post_processor\": null,\n"
        out += "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n"
        let ignoreMerges: Bool
        switch vocabulary.mergeOrder {
        case .ranks: ignoreMerges = true
        case .mergesList(let ignore): ignoreMerges = ignore
        }
        out += "  \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"continuing_subword_prefix\": null, "
        out += "\"end_of_word_suffix\": null, \"fuse_unk\": false, \"byte_fallback\": false, \"ignore_merges\": \(ignoreMerges),\n"
        out += "    \"vocab\": {"
        var names = [String](repeating: "", count: vocabulary.count)
        var first = true
        for id in 0 ..< vocabulary.count {
            let bytes = vocabulary.bytes(of: UInt32(id))
            guard !bytes.isEmpty else { continue }
            let name = vocabulary.id(of: bytes) == UInt32(id) ? ByteLevel.encode(bytes) : String(decoding: bytes, as: UTF8.self)
            names[id] = name
            out += first ? "\n      " : ",\n      "
            first = false
            out += "\(jsonString(name)): \(id)"
        }
        out += "\n    },\n    \"merges\": ["
        first = true
        for merge in vocabulary.merges {
            out += first ? "\n      " : ",\n      "
            first = false
            out += "[\(jsonString(names[Int(merge.left)])), \(jsonString(names[Int(merge.right)]))]"
        }
        out += "\n    ]\n  }\n}\n"
        return Array(out.utf8)
    }

    /// The placeholder written for an unused id between the vocabulary and a special token.
    static func unusedIdContent(_ id: Int) -> String { "<|tok_unused_\(id)|>" }

    /// A JSON string literal.
    public static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
