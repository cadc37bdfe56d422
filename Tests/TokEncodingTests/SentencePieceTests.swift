import Testing
@testable import TokEncoding
import TokRuntime

/// SentencePiece models read by tok's own protobuf reader, and encoded by the
/// byte-level kernel exactly as sentencepiece's BPE does it (checked here
/// against a plain transcription of its rule; tests/oracle checks the real library).
struct SentencePieceTests {
    typealias Piece = SentencePieceModelProto.Piece

    /// A small BPE model: `<unk>`, `<s>`, `</s>`, characters and merged pieces with scores.
    static func model(byteFallback: Bool = false, userDefined: [String] = [], extra: [(String, Float)] = [],
                      removeExtraWhitespaces: Bool = true) -> SentencePieceModelProto {
        var m = SentencePieceModelProto()
        m.trainerSpec.modelType = .bpe
        m.trainerSpec.byteFallback = byteFallback
        m.normalizerSpec.removeExtraWhitespaces = removeExtraWhitespaces
        m.pieces = [Piece(bytes: Array("<unk>".utf8), score: 0, type: .unknown),
                    Piece(bytes: Array("<s>".utf8), score: 0, type: .control),
                    Piece(bytes: Array("</s>".utf8), score: 0, type: .control)]
        if byteFallback {
            for b in 0 ..< 256 {
                let hex = String(b, radix: 16, uppercase: true)
                m.pieces.append(Piece(bytes: Array("<0x\(b < 16 ? "0" : "")\(hex)>".utf8), score: 0, type: .byte))
            }
        }
        for u in userDefined { m.pieces.append(Piece(bytes: Array(u.utf8), score: 0, type: .userDefined)) }
        let merged: [(String, Float)] = [("▁a", -1), ("ab", -2), ("▁ab", -3), ("bc", -4), ("▁b", -5), ("ca", -6),
                                         ("abc", -7), ("▁▁", -8), ("中文", -9), ("c▁", -10)] + extra
        for (p, s) in merged { m.pieces.append(Piece(bytes: Array(p.utf8), score: s)) }
        for (k, c) in ["▁", "a", "b", "c", "中", "文"].enumerated() { m.pieces.append(Piece(bytes: Array(c.utf8), score: -100 - Float(k))) }
        return m
    }

    /// sentencepiece's BPE, transcribed plainly: characters (user-defined
    /// pieces whole), then the adjacent pair making the best-scored piece,
    /// leftmost first, until none; unknown characters as bytes or one `<unk>` a run.
    static func reference(_ text: String, _ m: SentencePieceModelProto) -> [UInt32] {
        var normalized = text.replacingOccurrences(of: "\u{2581}", with: " ")
        if m.normalizerSpec.removeExtraWhitespaces {
            normalized = normalized.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        }
        if normalized.isEmpty { return [] }
        normalized = "\u{2581}" + normalized.replacingOccurrences(of: " ", with: "\u{2581}")
        var ids: [String: Int] = [:], scores: [String: Float] = [:], types: [String: SentencePieceType] = [:]
        for (i, p) in m.pieces.enumerated() {
            let s = String(decoding: p.bytes, as: UTF8.self)
            ids[s] = i
            scores[s] = p.score
            types[s] = p.type
        }
        let user = m.pieces.filter { $0.type == .userDefined }.map { String(decoding: $0.bytes, as: UTF8.self) }
        var symbols: [(text: String, frozen: Bool)] = []
        var rest = Substring(normalized)
        while !rest.isEmpty {
            if let u = user.filter({ rest.hasPrefix($0) }).max(by: { $0.count < $1.count }) {
                symbols.append((u, true))
                rest = rest.dropFirst(u.count)
            } else {
                symbols.append((String(rest.first!), false))
                rest = rest.dropFirst()
            }
        }
        while true {
            var best: (score: Float, at: Int)? = nil
            for i in 0 ..< max(symbols.count - 1, 0) where !symbols[i].frozen && !symbols[i + 1].frozen {
                let joined = symbols[i].text + symbols[i + 1].text
                guard let type = types[joined], type == .normal, let s = scores[joined] else { continue }
                if best == nil || s > best!.score { best = (s, i) }
            }
            guard let (_, at) = best else { break }
            symbols[at].text += symbols[at + 1].text
            symbols.remove(at: at + 1)
        }
        var out: [UInt32] = []
        var previousUnknown = false
        for s in symbols {
            if let id = ids[s.text] {
                out.append(UInt32(id))
                previousUnknown = false
            } else if m.trainerSpec.byteFallback {
                for b in s.text.utf8 { out.append(UInt32(3 + Int(b))) }
            } else {
                if !previousUnknown { out.append(0) }
                previousUnknown = true
            }
        }
        return out
    }

    @Test func modelsRoundTripThroughTheWireFormat() throws {
        var m = SentencePieceTests.model(byteFallback: true, userDefined: ["<sep>"])
        m.trainerSpec.treatWhitespaceAsSuffix = true
        m.normalizerSpec.addDummyPrefix = false
        let read = try SentencePieceModelProto(m.serialized(), path: "m.model")
        #expect(read.pieces == m.pieces)
        #expect(read.trainerSpec.modelType == .bpe && read.trainerSpec.byteFallback && read.trainerSpec.treatWhitespaceAsSuffix)
        #expect(!read.normalizerSpec.addDummyPrefix && read.normalizerSpec.removeExtraWhitespaces)
        #expect(read.serialized() == m.serialized())
    }

    @Test func damagedBytesAreNamed() throws {
        let bytes = SentencePieceTests.model().serialized()
        for cut in [1, 7, bytes.count / 2, bytes.count - 1] {
            #expect(throws: VocabularyError.self) { try SentencePieceModelProto(Array(bytes[..<cut]), path: "m.model") }
        }
        do {
            _ = try SentencePieceModelProto(Array(bytes[..<(bytes.count / 2)]), path: "m.model")
        } catch let error as VocabularyError {
            #expect(error.description.hasPrefix("m.model: not a SentencePiece model: truncated"))
        }
        // A group (wire type 3), which no model has.
        #expect(throws: VocabularyError.self) { try SentencePieceModelProto([0x0B, 0x0C], path: "m.model") }
    }

    @Test func unigramAndDuplicatesAreRefused() throws {
        var unigram = SentencePieceTests.model()
        unigram.trainerSpec.modelType = .unigram
        #expect(throws: VocabularyError.unsupported(path: "u.model", construct: "SentencePiece Unigram model (tok encodes SentencePiece BPE models)")) {
            try SentencePiece.tokenizer(modelFile: unigram.serialized(), path: "u.model")
        }
        var twice = SentencePieceTests.model()
        twice.pieces.append(twice.pieces[4])
        #expect(throws: VocabularyError.self) { try SentencePiece.tokenizer(modelFile: twice.serialized(), path: "d.model") }
    }

    @Test(arguments: [false, true])
    func idsEqualTheRuleOnRandomText(byteFallback: Bool) throws {
        for removeExtra in [true, false] {
            let m = SentencePieceTests.model(byteFallback: byteFallback, userDefined: ["<sep>", "ab▁"],
                                            removeExtraWhitespaces: removeExtra)
            let tokenizer = try SentencePiece.tokenizer(modelFile: m.serialized(), path: "m.model")
            var rng = SplitMix(state: 31)
            let alphabet = ["a", "b", "c", " ", "  ", "中", "文", "字", "<sep>", "ab ", "é", "\u{1F600}"]
            for _ in 0 ..< 400 {
                let text = (0 ..< Int(rng.next() % 24)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
                #expect(tokenizer.encode(text) == SentencePieceTests.reference(text, m), "\(text.debugDescription)")
            }
        }
    }

    /// Pieces that share a score: the leftmost of the best pairs goes first, whatever it makes.
    @Test func tiedScoresMergeLeftmostFirst() throws {
        let m = SentencePieceTests.model(extra: [("cb", -20), ("ba", -20), ("bb", -20), ("ac", -20), ("cc", -20)])
        let tokenizer = try SentencePiece.tokenizer(modelFile: m.serialized(), path: "m.model")
        #expect(tokenizer.sentencePiece?.tiedScores != nil)
        var rng = SplitMix(state: 7)
        let alphabet = ["a", "b", "c", " ", "中", "字"]
        for _ in 0 ..< 400 {
            let text = (0 ..< Int(rng.next() % 16)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
            #expect(tokenizer.encode(text) == SentencePieceTests.reference(text, m), "\(text.debugDescription)")
        }
    }

    @Test func decodingFollowsSentencePiece() throws {
        let m = SentencePieceTests.model(byteFallback: true)
        let tokenizer = try SentencePiece.tokenizer(modelFile: m.serialized(), path: "m.model")
        let ids = tokenizer.encode(" ab 字c")
        #expect(try tokenizer.decode(ids) == Array("ab 字c".utf8))
        // A lone lead byte and a stray continuation byte: U+FFFD each; controls decode to nothing, <unk> to " ⁇ ".
        let broken: [UInt32] = [1, 3 + 0xE4, 3 + 0x61, 3 + 0x80, 2, 0]
        #expect(try tokenizer.decode(broken) == [0xEF, 0xBF, 0xBD, 0x61, 0xEF, 0xBF, 0xBD] + Array(" \u{2047} ".utf8))
        #expect(throws: DecodeError.self) { try tokenizer.decode([UInt32(m.pieces.count)]) }
    }
}
