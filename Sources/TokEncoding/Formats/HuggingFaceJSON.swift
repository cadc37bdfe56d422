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
        if MetaspaceJSON.isMetaspace(root) { return try MetaspaceJSON.tokenizer(root, source: data, path: path, fail) }
        guard let model = root["model"] as? [String: Any] else { throw fail("no \"model\"") }
        let modelType = model["type"] as? String ?? "BPE"
        guard modelType == "BPE" else { throw fail("unsupported model type \"\(modelType)\": only byte-level BPE") }
        if model["byte_fallback"] as? Bool == true { throw fail("unsupported: BPE with byte_fallback (not byte-level)") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = model[key] as? String, !s.isEmpty { throw fail("unsupported: BPE \(key) \"\(s)\"") }
        }
        if let dropout = model["dropout"] as? Double, dropout > 0 { throw fail("unsupported: BPE dropout") }
        let ignoreMerges = model["ignore_merges"] as? Bool ?? false

        guard let vocab = model["vocab"] as? [String: Any] else { throw fail("model has no \"vocab\"") }
        var maxId = -1
        var entries: [(String, Int)] = []
        entries.reserveCapacity(vocab.count)
        for (key, value) in vocab {
            guard let id = value as? Int, id >= 0, id <= Int(UInt32.max) else { throw fail("vocab entry \(jsonString(key)) has no valid id") }
            entries.append((key, id))
            maxId = max(maxId, id)
        }
        // A bound on the id range, so that one stray id cannot make millions of empty ones.
        guard maxId < entries.count + SpecialToken.unusedIdAllowance else {
            let (key, id) = entries.first { $0.1 == maxId }!
            throw fail("vocab entry \(jsonString(key)) has id \(id): the \(entries.count) entries' ids must be below \(entries.count + SpecialToken.unusedIdAllowance)")
        }
        let specials = try readAddedTokens(root["added_tokens"], vocab: vocab, entries: entries, fail)

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

        // A special token that is also in the model's vocab stays out of BPE,
        // unless a merge makes it (then `tokenizers` requires it there).
        let specialIds = Set(specials.map(\.id))
        var madeByMerges = Set<UInt32>()
        if !specialIds.isEmpty {
            var byString: [String: UInt32] = [:]
            for (key, id) in entries where specialIds.contains(UInt32(id)) { byString[key] = UInt32(id) }
            for raw in rawMerges {
                let parts = (raw as? String).map { $0.split(separator: " ", maxSplits: 1).map(String.init) } ?? (raw as? [String] ?? [])
                if parts.count == 2, let id = byString[parts[0] + parts[1]] { madeByMerges.insert(id) }
            }
        }
        for id in tokens.indices where mergeable[id] && specialIds.contains(UInt32(id)) && !madeByMerges.contains(UInt32(id)) {
            mergeable[id] = false
        }

        let normalizer = try readNormalizer(root["normalizer"], fail)
        let preTokenizer = try readPreTokenizer(root["pre_tokenizer"], fail)
        let postProcessor = try readPostProcessor(root["post_processor"], fail)
        try checkDecoder(root["decoder"], fail)

        let vocabulary: Vocabulary
        do {
            vocabulary = try Vocabulary.fromMerges(
                tokens: tokens, mergeable: mergeable, merges: merges, ignoreMerges: ignoreMerges,
                specialTokens: specials)
        } catch let error as VocabularyError {
            throw VocabularyError.inFile(path: path, error)
        }
        return Tokenizer(vocabulary: vocabulary, preTokenizer: preTokenizer, normalizer: normalizer,
                         postProcessor: postProcessor)
    }

    /// The added tokens as special tokens (tok's own placeholders for unused
    /// ids excepted), each on the id `tokenizers` gives it, or a failure
    /// naming the first that is not.
    ///
    /// `tokenizers` does not take an added token's id from the file: a token
    /// that is a vocab entry gets the entry's id, and any other the next id
    /// after the vocab's entries and the added tokens before it, in the
    /// file's order (`AddedVocabulary::add_tokens`); a text given twice is
    /// added once. A file whose ids differ from those is refused (it would
    /// give one id in tok and another in `tokenizers`), and so is one whose
    /// added token lands on the id of another vocab entry (an id that would
    /// decode two ways).
    static func readAddedTokens(_ value: Any?, vocab: [String: Any], entries: [(String, Int)],
                                _ fail: (String) -> VocabularyError) throws -> [SpecialToken] {
        var specials: [SpecialToken] = []
        var given: [[UInt8]: Int] = [:]  // by bytes, as `tokenizers` compares texts
        var highest: Int? = nil
        var keyById: [Int: String]? = nil
        func entryId(_ content: String) -> Int? {
            // Swift's dictionary joins canonically equal texts: the entry must have the same bytes.
            guard let entry = vocab.index(forKey: content), Array(vocab[entry].key.utf8) == Array(content.utf8) else { return nil }
            return vocab[entry].value as? Int
        }
        for case let added as [String: Any] in value as? [Any] ?? [] {
            guard let id = added["id"] as? Int, let content = added["content"] as? String else {
                throw fail("an added token lacks id or content")
            }
            guard !content.isEmpty else { throw fail("added token \(id) is empty") }
            guard given[Array(content.utf8)] == nil else {
                throw fail("added token \(jsonString(content)) appears twice (ids \(given[Array(content.utf8)]!) and \(id))")
            }
            let theirs = entryId(content) ?? highest.map { $0 >= entries.count || entries.isEmpty ? $0 + 1 : entries.count } ?? entries.count
            guard id == theirs else {
                throw fail("added token \(jsonString(content)) has id \(id), but tokenizers gives it \(theirs) (an added token that is not a vocab entry takes the next id after the vocab and the added tokens before it)")
            }
            if entryId(content) == nil {
                if keyById == nil { keyById = Dictionary(entries.map { ($0.1, $0.0) }, uniquingKeysWith: { a, _ in a }) }
                if let key = keyById![id] {
                    throw fail("added token \(jsonString(content)) has id \(id), which is the vocab entry \(jsonString(key))")
                }
            }
            given[Array(content.utf8)] = id
            highest = max(highest ?? id, id)
            if content == HuggingFaceJSON.unusedIdContent(id) { continue }
            specials.append(readAddedToken(added, id: id, content: content))
        }
        return specials
    }

    static func readAddedToken(_ added: [String: Any], id: Int, content: String) -> SpecialToken {
        SpecialToken(id: UInt32(id), content: content, special: added["special"] as? Bool ?? true,
                     lstrip: added["lstrip"] as? Bool ?? false, rstrip: added["rstrip"] as? Bool ?? false,
                     singleWord: added["single_word"] as? Bool ?? false,
                     normalized: added["normalized"] as? Bool ?? false)
    }

    /// A `{"String": s}` or `{"Regex": r}` pattern as a regex (a string escaped), and the literal when it was a string.
    static func readPattern(_ value: Any?, _ what: String, _ fail: (String) -> VocabularyError) throws -> (regex: String, literal: String?) {
        guard let pattern = value as? [String: Any] else { throw fail("\(what) has no pattern") }
        if let regex = pattern["Regex"] as? String { return (regex, nil) }
        if let literal = pattern["String"] as? String { return (CompiledPattern.escaped(literal), literal) }
        throw fail("\(what) pattern is neither {\"String\": ...} nor {\"Regex\": ...}")
    }

    /// `body`, with a pattern it cannot compile named in one line.
    static func compiling<T>(_ what: String, _ fail: (String) -> VocabularyError, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PatternError {
            throw fail("unsupported \(what) pattern: \(error.reason) (\(error.pattern.debugDescription), offset \(error.offset))")
        }
    }

    static func readNormalizer(_ value: Any?, _ fail: (String) -> VocabularyError) throws -> Normalizer {
        guard let n = value as? [String: Any] else { return .none }
        let type = n["type"] as? String ?? "?"
        switch type {
        case "NFC": return Normalizer(steps: [.nfc])
        case "NFD": return Normalizer(steps: [.nfd])
        case "NFKC": return Normalizer(steps: [.nfkc])
        case "NFKD": return Normalizer(steps: [.nfkd])
        case "Lowercase": return Normalizer(steps: [.lowercase])
        case "Strip":
            return Normalizer(steps: [.strip(left: n["strip_left"] as? Bool ?? true, right: n["strip_right"] as? Bool ?? true)])
        case "Prepend":
            guard let prefix = n["prepend"] as? String else { throw fail("a Prepend normalizer has no \"prepend\"") }
            return Normalizer(steps: [.prepend(prefix)])
        case "Replace":
            let (regex, literal) = try readPattern(n["pattern"], "Replace", fail)
            let pattern = try compiling("Replace", fail) { try CompiledPattern(regex) }
            return Normalizer(steps: [.replace(pattern: pattern, literal: literal, content: n["content"] as? String ?? "")])
        case "Sequence":
            let inner = try (n["normalizers"] as? [Any] ?? []).flatMap { try readNormalizer($0, fail).steps }
            return Normalizer(steps: inner)
        default:
            throw fail("unsupported normalizer \"\(type)\" (supported: NFC, NFD, NFKC, NFKD, Lowercase, Strip, Prepend, Replace, Sequence)")
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
        var splits: [Split] = []
        var sawByteLevel = false, addPrefixSpace = false
        for step in steps {
            let type = step["type"] as? String ?? "?"
            switch type {
            case "Split":
                guard !sawByteLevel else { throw fail("unsupported: Split after ByteLevel") }
                let (regex, literal) = try readPattern(step["pattern"], "Split", fail)
                let pattern = try compiling("Split", fail) { try SplitPattern(huggingFaceRegex: regex) }
                guard let behavior = SplitBehavior(rawValue: step["behavior"] as? String ?? "") else {
                    throw fail("unsupported Split behavior \"\(step["behavior"] ?? "?")\"")
                }
                splits.append(Split(pattern, behavior: behavior, invert: step["invert"] as? Bool ?? false, literal: literal))
            case "Digits":
                // `char::is_numeric` one by one, or in runs: a split on \p{N}, written back as one.
                guard !sawByteLevel else { throw fail("unsupported: Digits after ByteLevel") }
                let individual = step["individual_digits"] as? Bool ?? false
                splits.append(Split(.compiled(try CompiledPattern(#"\p{N}"#)), behavior: individual ? .isolated : .contiguous))
            case "ByteLevel":
                guard !sawByteLevel else { throw fail("unsupported: two ByteLevel pre-tokenizers") }
                sawByteLevel = true
                if step["add_prefix_space"] as? Bool == true {
                    // A prefix space goes before each piece of the splits before it: only the first step can have one.
                    guard splits.isEmpty else { throw fail("unsupported: ByteLevel add_prefix_space after a Split") }
                    addPrefixSpace = true
                }
                if step["use_regex"] as? Bool ?? true { splits.append(Split(.rule(.r50k))) }
            default:
                throw fail("unsupported pre-tokenizer \"\(type)\" (supported: Split, Digits, ByteLevel, Sequence)")
            }
        }
        guard sawByteLevel else { throw fail("unsupported: no ByteLevel pre-tokenizer (not byte-level BPE)") }
        guard !splits.isEmpty else { throw fail("unsupported: no Split pre-tokenizer") }
        return PreTokenizer(splits: splits, addPrefixSpace: addPrefixSpace)
    }

    static func readPostProcessor(_ value: Any?, _ fail: (String) -> VocabularyError) throws -> PostProcessor {
        guard let p = value as? [String: Any] else { return .none }
        let type = p["type"] as? String ?? "?"
        func pair(_ key: String) throws -> TemplateSpecial {
            guard let item = p[key] as? [Any], item.count == 2, let name = item[0] as? String,
                  let id = (item[1] as? Int).flatMap(UInt32.init(exactly:)) else {
                throw fail("\(type) has no valid \"\(key)\"")
            }
            return TemplateSpecial(name: name, ids: [id], tokens: [name])
        }
        switch type {
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: p["add_prefix_space"] as? Bool ?? true, trimOffsets: p["trim_offsets"] as? Bool ?? true,
                              useRegex: p["use_regex"] as? Bool ?? true)
        case "TemplateProcessing":
            func pieces(_ key: String) throws -> [TemplatePiece] {
                try (p[key] as? [Any] ?? []).map { raw in
                    guard let item = raw as? [String: Any] else { throw fail("TemplateProcessing \(key) has a malformed piece") }
                    if let s = item["SpecialToken"] as? [String: Any], let name = s["id"] as? String {
                        return .special(name: name, typeId: s["type_id"] as? Int ?? 0)
                    }
                    if let s = item["Sequence"] as? [String: Any], let id = s["id"] as? String {
                        return .sequence(id: id, typeId: s["type_id"] as? Int ?? 0)
                    }
                    throw fail("TemplateProcessing \(key) has a malformed piece")
                }
            }
            var specials: [TemplateSpecial] = []
            for (name, raw) in p["special_tokens"] as? [String: Any] ?? [:] {
                guard let s = raw as? [String: Any], let ids = (s["ids"] as? [Int])?.compactMap(UInt32.init(exactly:)),
                      ids.count == (s["ids"] as? [Int])?.count else {
                    throw fail("TemplateProcessing special token \(name.debugDescription) has no valid ids")
                }
                specials.append(TemplateSpecial(name: name, ids: ids, tokens: s["tokens"] as? [String] ?? []))
            }
            specials.sort { $0.name < $1.name }
            let single = try pieces("single")
            for case .special(let name, _) in single where !specials.contains(where: { $0.name == name }) {
                throw fail("TemplateProcessing names \(name.debugDescription), which its special_tokens lack")
            }
            return .template(single: single, pair: try pieces("pair"), specialTokens: specials)
        case "RobertaProcessing":
            return .roberta(cls: try pair("cls"), sep: try pair("sep"), trimOffsets: p["trim_offsets"] as? Bool ?? true,
                            addPrefixSpace: p["add_prefix_space"] as? Bool ?? true)
        case "BertProcessing":
            return .bert(cls: try pair("cls"), sep: try pair("sep"))
        case "Sequence":
            return .sequence(try (p["processors"] as? [Any] ?? []).map { try readPostProcessor($0, fail) })
        default:
            throw fail("unsupported post-processor \"\(type)\" (supported: TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence)")
        }
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
        if case .huggingFace(let json) = tokenizer.sentencePiece?.form { return json.source }
        let vocabulary = tokenizer.vocabulary
        var out = ""
        out.reserveCapacity(vocabulary.count * 40)
        out += "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ["
        // `tokenizers` numbers added tokens after the vocabulary without gaps: an
        // unused id below a special token (o200k has 199,998 and 200,000-200,017)
        // gets a placeholder, so that every id means the same in both libraries.
        var added = vocabulary.specialTokens.map { ($0.id, $0.content) }
        let options = Dictionary(vocabulary.specialTokens.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let used = Set(added.map(\.0))
        for id in vocabulary.count ..< vocabulary.idLimit where !used.contains(UInt32(id)) {
            added.append((UInt32(id), unusedIdContent(id)))
        }
        for (i, token) in added.sorted(by: { $0.0 < $1.0 }).enumerated() {
            out += i == 0 ? "\n" : ",\n"
            out += "    " + addedTokenJSON(options[token.0] ?? SpecialToken(id: token.0, content: token.1))
        }
        out += added.isEmpty ? "],\n" : "\n  ],\n"
        out += "  \"normalizer\": " + normalizerJSON(tokenizer.normalizer) + ",\n"
        out += "  \"pre_tokenizer\": " + preTokenizerJSON(tokenizer.preTokenizer) + ",\n"
        out += "  \"post_processor\": " + postProcessorJSON(tokenizer.postProcessor) + ",\n"
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

    static func addedTokenJSON(_ t: SpecialToken) -> String {
        "{\"id\": \(t.id), \"content\": \(jsonString(t.content)), \"single_word\": \(t.singleWord), "
            + "\"lstrip\": \(t.lstrip), \"rstrip\": \(t.rstrip), \"normalized\": \(t.normalized), \"special\": \(t.special)}"
    }

    static func patternJSON(_ pattern: SplitPattern, literal: String?) -> String {
        if let literal { return "{\"String\": \(jsonString(literal))}" }
        return "{\"Regex\": \(jsonString(pattern.huggingFaceRegex))}"
    }

    /// The `normalizer` entry of `tokenizer.json`.
    public static func normalizerJSON(_ normalizer: Normalizer) -> String {
        func step(_ s: NormalizerStep) -> String {
            switch s {
            case .nfc: return "{\"type\": \"NFC\"}"
            case .nfd: return "{\"type\": \"NFD\"}"
            case .nfkc: return "{\"type\": \"NFKC\"}"
            case .nfkd: return "{\"type\": \"NFKD\"}"
            case .lowercase: return "{\"type\": \"Lowercase\"}"
            case .strip(let left, let right): return "{\"type\": \"Strip\", \"strip_left\": \(left), \"strip_right\": \(right)}"
            case .prepend(let p): return "{\"type\": \"Prepend\", \"prepend\": \(jsonString(p))}"
            case .replace(let pattern, let literal, let content):
                return "{\"type\": \"Replace\", \"pattern\": \(patternJSON(.compiled(pattern), literal: literal)), \"content\": \(jsonString(content))}"
            }
        }
        switch normalizer.steps.count {
        case 0: return "null"
        case 1: return step(normalizer.steps[0])
        default: return "{\"type\": \"Sequence\", \"normalizers\": [" + normalizer.steps.map(step).joined(separator: ", ") + "]}"
        }
    }

    /// The `pre_tokenizer` entry of `tokenizer.json`.
    public static func preTokenizerJSON(_ preTokenizer: PreTokenizer) -> String {
        if preTokenizer.addPrefixSpace {
            // Read only from a lone ByteLevel with its regex (GPT-2, RoBERTa): written back the same way.
            return "{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true}"
        }
        var out = "{\"type\": \"Sequence\", \"pretokenizers\": ["
        for split in preTokenizer.splits {
            out += "{\"type\": \"Split\", \"pattern\": \(patternJSON(split.pattern, literal: split.literal)), "
            out += "\"behavior\": \"\(split.behavior.rawValue)\", \"invert\": \(split.invert)}, "
        }
        return out + "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}]}"
    }

    /// The `post_processor` entry of `tokenizer.json`.
    public static func postProcessorJSON(_ p: PostProcessor) -> String {
        func pieces(_ list: [TemplatePiece]) -> String {
            "[" + list.map { piece -> String in
                switch piece {
                case .sequence(let id, let typeId): return "{\"Sequence\": {\"id\": \(jsonString(id)), \"type_id\": \(typeId)}}"
                case .special(let name, let typeId): return "{\"SpecialToken\": {\"id\": \(jsonString(name)), \"type_id\": \(typeId)}}"
                }
            }.joined(separator: ", ") + "]"
        }
        func pair(_ s: TemplateSpecial) -> String { "[\(jsonString(s.name)), \(s.ids.first ?? 0)]" }
        switch p {
        case .none: return "null"
        case .byteLevel(let prefix, let trim, let regex):
            return "{\"type\": \"ByteLevel\", \"add_prefix_space\": \(prefix), \"trim_offsets\": \(trim), \"use_regex\": \(regex)}"
        case .template(let single, let pairPieces, let specials):
            let specialsJSON = specials.map {
                "\(jsonString($0.name)): {\"id\": \(jsonString($0.name)), \"ids\": [\($0.ids.map(String.init).joined(separator: ", "))], \"tokens\": [\($0.tokens.map(jsonString).joined(separator: ", "))]}"
            }.joined(separator: ", ")
            return "{\"type\": \"TemplateProcessing\", \"single\": \(pieces(single)), \"pair\": \(pieces(pairPieces)), \"special_tokens\": {\(specialsJSON)}}"
        case .roberta(let cls, let sep, let trim, let prefix):
            return "{\"type\": \"RobertaProcessing\", \"sep\": \(pair(sep)), \"cls\": \(pair(cls)), \"trim_offsets\": \(trim), \"add_prefix_space\": \(prefix)}"
        case .bert(let cls, let sep):
            return "{\"type\": \"BertProcessing\", \"sep\": \(pair(sep)), \"cls\": \(pair(cls))}"
        case .sequence(let steps):
            return "{\"type\": \"Sequence\", \"processors\": [" + steps.map(postProcessorJSON).joined(separator: ", ") + "]}"
        }
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
