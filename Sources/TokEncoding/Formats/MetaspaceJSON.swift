import Foundation
import TokRuntime

/// The HuggingFace form of a SentencePiece BPE model: a `tokenizer.json`
/// whose text gets `▁` for spaces from a `Metaspace` pre-tokenizer or from
/// `Replace`/`Prepend` normalizers (as transformers' converters write them
/// for LLaMA-style tokenizers), with a BPE model over characters (`byte_fallback`,
/// `fuse_unk`, `ignore_merges`) and the decoders `Replace`, `ByteFallback`,
/// `Fuse`, `Strip` and `Metaspace`. Encoded and decoded with `tokenizers`'
/// rules; the kernel and the cuts are SentencePiece's (SentencePieceModel.swift).
public struct MetaspaceJSON: Sendable {
    /// The file as read: written back as it is.
    public let source: [UInt8]
    /// Normalizer steps other than the LLaMA converter's (run on the text before its spaces become `▁`).
    let steps: Normalizer
    /// `Prepend("▁")` among the normalizers: every text gets a `▁`.
    let prependAlways: Bool
    /// `Metaspace`'s `prepend_scheme`: `always`, `first` (only a text at the start of the input) or `never`.
    let metaspacePrepend: String?
    /// `Metaspace`'s `split`: a cut before each `▁`.
    let split: Bool
    /// `ignore_merges` with the whole text as one word: a text that is a token becomes it.
    let wholeTextFirst: Bool
    /// Each id's token as the file writes it.
    let keys: [[UInt8]]
    let pieceIds: [[UInt8]: UInt32]
    let decoders: [Decoder]

    enum Decoder: Sendable {
        case replace(pattern: [UInt8], content: [UInt8])
        case byteFallback, fuse
        case strip(content: [UInt8], start: Int, stop: Int)
        case metaspace(replacement: [UInt8], prependsFirst: Bool)
    }

    /// Whether `root` is this form: BPE, and `▁` for spaces from a
    /// `Metaspace` pre-tokenizer or (with none) a `Replace` normalizer.
    static func isMetaspace(_ root: [String: Any]) -> Bool {
        if (root["pre_tokenizer"] as? [String: Any])?["type"] as? String == "Metaspace" { return true }
        guard root["pre_tokenizer"] == nil || root["pre_tokenizer"] is NSNull else { return false }
        func replacesSpace(_ n: Any?) -> Bool {
            guard let n = n as? [String: Any] else { return false }
            if n["type"] as? String == "Sequence" { return (n["normalizers"] as? [Any] ?? []).contains(where: replacesSpace) }
            return n["type"] as? String == "Replace" && (n["pattern"] as? [String: Any])?["String"] as? String == " "
                && n["content"] as? String == "▁"
        }
        return replacesSpace(root["normalizer"])
    }

    /// A tokenizer for the file, or a failure naming what tok does not support.
    static func tokenizer(_ root: [String: Any], source: [UInt8], path: String,
                          _ fail: (String) -> VocabularyError) throws -> Tokenizer {
        guard let model = root["model"] as? [String: Any], model["type"] as? String ?? "BPE" == "BPE" else {
            throw fail("unsupported model type \"\((root["model"] as? [String: Any])?["type"] ?? "?")\" with Metaspace: only BPE")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = model[key] as? String, !s.isEmpty { throw fail("unsupported: BPE \(key) \"\(s)\"") }
        }
        if let dropout = model["dropout"] as? Double, dropout > 0 { throw fail("unsupported: BPE dropout") }
        guard let vocab = model["vocab"] as? [String: Any] else { throw fail("model has no \"vocab\"") }
        var entries: [(String, Int)] = []
        var maxId = -1
        for (key, value) in vocab {
            guard let id = value as? Int, id >= 0, id < vocab.count + SpecialToken.unusedIdAllowance else {
                throw fail("vocab entry \(HuggingFaceJSON.jsonString(key)) has no valid id")
            }
            entries.append((key, id))
            maxId = max(maxId, id)
        }
        let specials = try HuggingFaceJSON.readAddedTokens(root["added_tokens"], vocab: vocab, entries: entries, fail)
        var keys = [[UInt8]](repeating: [], count: max(maxId, specials.map { Int($0.id) }.max() ?? -1) + 1)
        var pieceIds: [[UInt8]: UInt32] = [:]
        for (key, id) in entries {
            keys[id] = Array(key.utf8)
            pieceIds[Array(key.utf8)] = UInt32(id)
        }
        for s in specials where Int(s.id) < keys.count && keys[Int(s.id)].isEmpty { keys[Int(s.id)] = Array(s.content.utf8) }

        // Pre-tokenizer and normalizers.
        var metaspacePrepend: String? = nil, split = false
        if let p = root["pre_tokenizer"] as? [String: Any] {
            guard p["replacement"] as? String ?? "▁" == "▁" else { throw fail("unsupported: Metaspace replacement other than ▁") }
            if let scheme = p["prepend_scheme"] as? String {
                guard ["always", "first", "never"].contains(scheme) else { throw fail("unsupported Metaspace prepend_scheme \"\(scheme)\"") }
                metaspacePrepend = scheme
            } else {
                metaspacePrepend = p["add_prefix_space"] as? Bool ?? true ? "always" : "never"
            }
            split = p["split"] as? Bool ?? true
        }
        let normalizer = try HuggingFaceJSON.readNormalizer(root["normalizer"], fail)
        var steps = normalizer.steps
        var prependAlways = false
        if let last = steps.last, case .replace(_, let literal, let content) = last, literal == " ", content == "▁" { steps.removeLast() }
        if steps.count == 1, case .prepend(let p) = steps[0], p == "▁" {
            prependAlways = true
            steps.removeAll()
        }
        if steps.contains(where: { if case .replace(_, let l, let c) = $0 { return l == " " && c == "▁" } else { return false } }) {
            throw fail("unsupported: Replace of \" \" by \"▁\" before other normalizers")
        }

        // The model: pieces in tok's form (a space for ▁), characters no piece holds from byte fallback or unk.
        let byteFallback = model["byte_fallback"] as? Bool ?? false
        let fuseUnknown = model["fuse_unk"] as? Bool ?? false
        let ignoreMerges = model["ignore_merges"] as? Bool ?? false
        let specialIds = Set(specials.map(\.id))
        var kernel = KernelTokens(pieces: keys.map { SentencePiece.spaced($0) })
        var byteIds = [UInt32](repeating: UInt32.max, count: 256)
        var byteOfPiece: [UInt32: UInt8] = [:]
        for (key, id) in entries {
            if let b = SentencePiece.byteValue(Array(key.utf8)) {
                byteIds[Int(b)] = UInt32(id)
                byteOfPiece[UInt32(id)] = b
            }
            // Added tokens are matched before the model; byte pieces come only from byte fallback.
            if byteOfPiece[UInt32(id)] == nil && !specialIds.contains(UInt32(id)) { kernel.index(UInt32(id), mergeable: true) }
        }
        let idByKey = pieceIds
        var merged: [[UInt8]] = []
        var lastRank: [UInt64: Int] = [:]  // a pair listed twice keeps its last place, as in `tokenizers`
        var listed: [(UInt32, UInt32, UInt32)] = []
        for (rank, raw) in (model["merges"] as? [Any] ?? []).enumerated() {
            let parts: [String]
            if let s = raw as? String {
                parts = s.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            } else if let pair = raw as? [String] {
                parts = pair
            } else {
                throw fail("merge \(rank) is neither \"a b\" nor [a, b]")
            }
            guard parts.count == 2, let left = idByKey[Array(parts[0].utf8)], let right = idByKey[Array(parts[1].utf8)] else {
                throw fail("merge \(rank) names a token that is not in the vocab")
            }
            guard let result = idByKey[Array((parts[0] + parts[1]).utf8)] else {
                throw fail("merge \(rank) makes a token that is not in the vocab")
            }
            lastRank[UInt64(left) << 32 | UInt64(right)] = rank
            listed.append((left, right, result))
        }
        for (rank, (left, right, result)) in listed.enumerated() where lastRank[UInt64(left) << 32 | UInt64(right)] == rank {
            kernel.merge(left, right, into: result, rank: UInt32(rank))
            merged.append(kernel.tokens[Int(result)])
        }
        kernel.addCharacters()
        let vocabulary: Vocabulary
        do {
            vocabulary = try kernel.vocabulary(specialTokens: specials, wholeAlways: [],
                                               ignoreMerges: ignoreMerges && split).keepingIds(below: keys.count)
        } catch let error as VocabularyError {
            throw VocabularyError.inFile(path: path, error)
        }
        let unknown = (model["unk_token"] as? String).flatMap { idByKey[Array($0.utf8)] }
        let json = MetaspaceJSON(
            source: source, steps: Normalizer(steps: steps), prependAlways: prependAlways, metaspacePrepend: metaspacePrepend,
            split: split, wholeTextFirst: ignoreMerges && !split, keys: keys, pieceIds: pieceIds,
            decoders: try readDecoders(root["decoder"], fail))
        var types = [SentencePieceType](repeating: .normal, count: keys.count)
        for id in byteOfPiece.keys { types[Int(id)] = .byte }
        let sentencePiece = SentencePiece(
            form: .huggingFace(json), pieceCount: keys.count, normalizer: nil,
            segmenter: SentencePieceSegmenter(merged: merged, userDefined: [], splitBeforeEverySpace: split),
            types: types, startsWithMetaspace: keys.map { $0.starts(with: SentencePiece.metaspace) }, spaceForm: true,
            byteIds: byteFallback && !byteIds.contains(UInt32.max) ? byteIds : [], byteOfPiece: byteOfPiece,
            unknownId: unknown, fuseUnknown: fuseUnknown, unusedParts: [:], unknownSurface: [],
            dropsFirstSpace: false, dropsLeadingSpaces: false, denormalizer: nil, tiedScores: nil)
        let postProcessor = try HuggingFaceJSON.readPostProcessor(root["post_processor"], fail)
        return Tokenizer(vocabulary: vocabulary, sentencePiece: sentencePiece, postProcessor: postProcessor)
    }

    static func readDecoders(_ value: Any?, _ fail: (String) -> VocabularyError) throws -> [Decoder] {
        guard let d = value as? [String: Any] else { return [] }
        func text(_ key: String) -> [UInt8] { Array((d[key] as? String ?? "").utf8) }
        switch d["type"] as? String {
        case "Sequence": return try (d["decoders"] as? [Any] ?? []).flatMap { try readDecoders($0, fail) }
        case "ByteFallback": return [.byteFallback]
        case "Fuse": return [.fuse]
        case "Strip": return [.strip(content: text("content"), start: d["start"] as? Int ?? 0, stop: d["stop"] as? Int ?? 0)]
        case "Replace":
            guard let literal = (d["pattern"] as? [String: Any])?["String"] as? String else {
                throw fail("unsupported: a Replace decoder with a regex")
            }
            return [.replace(pattern: Array(literal.utf8), content: text("content"))]
        case "Metaspace":
            let scheme = d["prepend_scheme"] as? String ?? (d["add_prefix_space"] as? Bool ?? true ? "always" : "never")
            return [.metaspace(replacement: Array((d["replacement"] as? String ?? "▁").utf8), prependsFirst: scheme != "never")]
        case let other: throw fail("unsupported decoder \"\(other ?? "?")\" with Metaspace (supported: Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence)")
        }
    }

    /// The text as `tokenizers` normalizes and pre-tokenizes it, in tok's form
    /// (a space for each `▁`). `atStart`: the text starts the input (for `prepend_scheme` `first`).
    func normalize(_ text: UnsafeBufferPointer<UInt8>, atStart: Bool, into out: inout [UInt8]) {
        // `tokenizers` reads text, so invalid UTF-8 has become U+FFFD, one for each byte.
        let valid = SentencePiece.replacingInvalidUTF8(text)
        let body: [UInt8]
        if let valid {
            body = valid.withUnsafeBufferPointer { steps.apply($0) } ?? valid
        } else {
            body = steps.apply(text) ?? Array(text)
        }
        guard !body.isEmpty else { return }
        let start = out.count
        if prependAlways { out.append(0x20) }
        let spaced = SentencePiece.spaced(body)
        if let scheme = metaspacePrepend, out.count == start, spaced.first != 0x20,
           scheme == "always" || (scheme == "first" && atStart) {
            out.append(0x20)
        }
        out += spaced
    }

    /// The text `tokenizers` decodes `ids` to (`skip_special_tokens` off).
    func decode(_ ids: some Collection<UInt32>, into out: inout [UInt8]) {
        var tokens = ids.map { keys[Int($0)] }
        for decoder in decoders {
            switch decoder {
            case .replace(let pattern, let content):
                tokens = tokens.map { MetaspaceJSON.replacing($0, pattern, content) }
            case .metaspace(let replacement, let prependsFirst):
                tokens = tokens.enumerated().map { i, t in
                    MetaspaceJSON.replacing(t, replacement, i == 0 && prependsFirst ? [] : [0x20])
                }
            case .byteFallback:
                var next: [[UInt8]] = [], bytes: [UInt8] = []
                func flush() {
                    guard !bytes.isEmpty else { return }
                    if String(validating: bytes, as: UTF8.self) != nil {
                        next.append(bytes)
                    } else {
                        next += Array(repeating: [0xEF, 0xBF, 0xBD], count: bytes.count)
                    }
                    bytes.removeAll()
                }
                for t in tokens {
                    if t.count == 6, t.starts(with: Array("<0x".utf8)), t[5] == UInt8(ascii: ">"),
                       let b = UInt8(String(decoding: t[3 ..< 5], as: UTF8.self), radix: 16) {
                        bytes.append(b)
                    } else {
                        flush()
                        next.append(t)
                    }
                }
                flush()
                tokens = next
            case .fuse:
                tokens = [tokens.flatMap { $0 }]
            case .strip(let content, let start, let stop):
                tokens = tokens.map { t in
                    var s = t[...]
                    for _ in 0 ..< start where s.starts(with: content) { s = s.dropFirst(content.count) }
                    for _ in 0 ..< stop where !content.isEmpty && s.reversed().starts(with: content.reversed()) {
                        s = s.dropLast(content.count)
                    }
                    return Array(s)
                }
            }
        }
        for t in tokens { out += t }
    }

    static func replacing(_ t: [UInt8], _ pattern: [UInt8], _ content: [UInt8]) -> [UInt8] {
        guard !pattern.isEmpty, t.count >= pattern.count else { return t }
        var out: [UInt8] = []
        var k = 0
        while k < t.count {
            if k + pattern.count <= t.count && t[k ..< k + pattern.count].elementsEqual(pattern) {
                out += content
                k += pattern.count
            } else {
                out.append(t[k])
                k += 1
            }
        }
        return out
    }
}

extension MetaspaceJSON {
    /// Why a SentencePiece model has no HuggingFace form with its own ids.
    public struct Refusal: TokError {
        public var reason: String
        public var description: String { reason }
    }

    /// The HuggingFace form of a SentencePiece model, as transformers'
    /// converter writes it for LLaMA-style tokenizers (`Prepend("▁")` and
    /// `Replace(" ", "▁")` normalizers, BPE with `byte_fallback` and
    /// `fuse_unk`, merges ordered by the score of the piece they make, the
    /// `Replace`, `ByteFallback`, `Fuse`, `Strip` decoders, `<s>` before a
    /// sequence), for a model that form encodes alike: no charsmap, spaces
    /// kept, the dummy prefix before the text, no unused pieces, no pieces
    /// sharing a score.
    ///
    /// - Throws: ``Refusal`` naming what the form cannot say.
    public static func write(_ tokenizer: Tokenizer) throws -> [UInt8] {
        guard let sentencePiece = tokenizer.sentencePiece, case .model(let proto) = sentencePiece.form else {
            throw Refusal(reason: "not a SentencePiece model")
        }
        let n = proto.normalizerSpec
        if !n.precompiledCharsmap.isEmpty { throw Refusal(reason: "its normalizer (\(n.name.isEmpty ? "a charsmap" : n.name)) has no HuggingFace form that normalizes alike; only identity models do") }
        if n.removeExtraWhitespaces { throw Refusal(reason: "it removes extra whitespace, which the HuggingFace form does not") }
        if !n.escapeWhitespaces || proto.trainerSpec.treatWhitespaceAsSuffix {
            throw Refusal(reason: "its spaces are not ▁ before the text, as the HuggingFace form has them")
        }
        if sentencePiece.tiedScores != nil { throw Refusal(reason: "pieces share scores, which a merges list cannot say") }
        if proto.pieces.contains(where: { $0.type == .unused }) { throw Refusal(reason: "it has unused pieces") }
        let pieces = proto.pieces
        func name(_ id: Int) -> String { String(decoding: pieces[id].bytes, as: UTF8.self) }
        var out = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ["
        let added = pieces.indices.filter { [.control, .unknown, .userDefined].contains(pieces[$0].type) }
        for (k, id) in added.enumerated() {
            out += k == 0 ? "\n    " : ",\n    "
            out += HuggingFaceJSON.addedTokenJSON(SpecialToken(id: UInt32(id), content: name(id),
                                                               special: pieces[id].type != .userDefined))
        }
        out += added.isEmpty ? "],\n" : "\n  ],\n"
        let space = HuggingFaceJSON.jsonString("▁")
        out += "  \"normalizer\": " + (n.addDummyPrefix
            ? "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \(space)}, {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \(space)}]},\n"
            : "{\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \(space)},\n")
        out += "  \"pre_tokenizer\": null,\n"
        out += "  \"post_processor\": " + HuggingFaceJSON.postProcessorJSON(tokenizer.postProcessor) + ",\n"
        out += "  \"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Replace\", \"pattern\": {\"String\": \(space)}, \"content\": \" \"}, "
        out += "{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}" + (n.addDummyPrefix ? ", {\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 0}" : "") + "]},\n"
        let unknown = pieces.firstIndex { $0.type == .unknown }.map { HuggingFaceJSON.jsonString(name($0)) } ?? "null"
        out += "  \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": \(unknown), \"continuing_subword_prefix\": null, "
        out += "\"end_of_word_suffix\": null, \"fuse_unk\": true, \"byte_fallback\": \(proto.trainerSpec.byteFallback), \"ignore_merges\": false,\n"
        out += "    \"vocab\": {"
        for id in pieces.indices { out += (id == 0 ? "\n      " : ",\n      ") + "\(HuggingFaceJSON.jsonString(name(id))): \(id)" }
        out += "\n    },\n    \"merges\": ["
        // Each split of a piece into two pieces, best-scored piece first, as sentencepiece merges them.
        var byText: [String: Int] = [:]
        for (id, p) in pieces.enumerated() where p.type == .normal { byText[name(id)] = id }
        var merges: [(score: Float, result: Int, left: Int, right: Int)] = []
        for (id, p) in pieces.enumerated() where p.type == .normal {
            for r in KernelTokens.characters(p.bytes).dropFirst() {
                if let left = byText[String(decoding: p.bytes[..<r.lowerBound], as: UTF8.self)],
                   let right = byText[String(decoding: p.bytes[r.lowerBound...], as: UTF8.self)] {
                    merges.append((p.score, id, left, right))
                }
            }
        }
        merges.sort { ($0.score, $1.result, $1.left) > ($1.score, $0.result, $0.left) }
        for (k, m) in merges.enumerated() {
            out += (k == 0 ? "\n      " : ",\n      ") + "[\(HuggingFaceJSON.jsonString(name(m.left))), \(HuggingFaceJSON.jsonString(name(m.right)))]"
        }
        out += "\n    ]\n  }\n}\n"
        return Array(out.utf8)
    }
}
