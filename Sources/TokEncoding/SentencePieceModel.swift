// SentencePiece BPE as tok's byte-level kernel runs it.
//
// SentencePiece starts from characters (and user-defined pieces, which never
// merge) and repeatedly merges the adjacent pair whose concatenation is a
// piece of the highest score, leftmost first (bpe_model.cc). tok's kernel
// starts from bytes and merges the pair of lowest rank. The two agree when:
// - every character's bytes are put back together first: each proper prefix
//   of a character gets a token of its own (not a piece: an id past the
//   pieces), and the merge of a prefix and the next byte has a rank below
//   every other merge, so a character is whole before anything else happens
//   (and enters the kernel whole, CharacterTokens.swift);
// - every split of a piece into two that could be symbols (pieces or single
//   characters) is a merge, ranked by the piece's score, highest first.
// A character no piece holds stays in parts; unused pieces get a token of
// their own past the pieces too. After the kernel, ``SentencePiece/resolve``
// turns those ids into SentencePiece's: the bytes under byte fallback, else
// `<unk>` (one for a run), and an unused piece the two it was made of.
//
// Spaces: the text and the pieces hold a plain space where SentencePiece has
// `▁` (``SentencePieceNormalizer``), so that a space is one byte for the
// kernel, the caches and the pre-tokenizer's cuts (``SentencePieceSegmenter``).

/// How a SentencePiece vocabulary differs from a byte-level one around the
/// kernel: its normalizer, where its text may be cut, what its ids past the
/// pieces stand for, and how its ids decode. A ``Tokenizer`` has one when its
/// vocabulary is a SentencePiece model (`tokenizer.model`) or the HuggingFace
/// form of one (a `Metaspace` `tokenizer.json`).
public struct SentencePiece: Sendable {
    /// Where the vocabulary's rules come from.
    public enum Form: Sendable {
        /// A `tokenizer.model`: sentencepiece's rules.
        case model(SentencePieceModelProto)
        /// A `tokenizer.json` with `Metaspace`: `tokenizers`' rules.
        case huggingFace(MetaspaceJSON)

        public var isModel: Bool { if case .model = self { return true } else { return false } }
    }

    public let form: Form
    /// Ids below this are the model's pieces; the kernel's own tokens come after.
    public let pieceCount: Int
    /// The model's normalizer (the HuggingFace form normalizes as ``MetaspaceJSON`` says).
    let normalizer: SentencePieceNormalizer?
    let segmenter: SentencePieceSegmenter
    /// Each piece's type.
    public let types: [SentencePieceType]
    /// The pieces whose text starts with `▁` (decoding drops it at the start).
    let startsWithMetaspace: [Bool]
    /// Pieces are stored with a space for `▁`.
    let spaceForm: Bool
    /// The id of each byte's piece under byte fallback; empty without it.
    let byteIds: [UInt32]
    /// Each byte piece's byte.
    let byteOfPiece: [UInt32: UInt8]
    let unknownId: UInt32?
    /// Consecutive unknown characters become one `<unk>` (sentencepiece always; `tokenizers` with `fuse_unk`).
    let fuseUnknown: Bool
    /// The kernel's token of an unused piece, and the two tokens it was made of.
    let unusedParts: [UInt32: (UInt32, UInt32)]
    /// What `<unk>` decodes to.
    let unknownSurface: [UInt8]
    /// Decoding drops the `▁` a first piece starts with (sentencepiece: with
    /// `add_dummy_prefix` or `remove_extra_whitespaces`).
    let dropsFirstSpace: Bool
    /// ... and keeps dropping while the text is empty (`remove_extra_whitespaces`).
    let dropsLeadingSpaces: Bool
    /// Applied to decoded text, when the model has one.
    let denormalizer: SentencePieceNormalizer?
    /// When pieces that merges make share a score: each such piece's score
    /// by its kernel token (NaN for any other token). sentencepiece then
    /// takes the leftmost of the best pairs whatever they make, which the
    /// kernel's ranks cannot say, so the cuts are merged by
    /// ``mergeByScores(_:scores:vocabulary:into:)`` instead.
    let tiedScores: [Float]?

    /// The id `--add-special` puts before each sequence, and the one megatron datasets end documents with.
    public var bos: UInt32? { specialId(\.bosPiece, fallback: "<s>") }
    public var eos: UInt32? { specialId(\.eosPiece, fallback: "</s>") }

    func specialId(_ key: KeyPath<SentencePieceModelProto.TrainerSpec, [UInt8]>, fallback: String) -> UInt32? {
        switch form {
        case .model(let proto):
            let text = proto.trainerSpec[keyPath: key]
            return proto.pieces.firstIndex { $0.bytes == text && $0.type == .control }.map(UInt32.init)
        case .huggingFace(let json):
            return json.pieceIds[Array(fallback.utf8)]
        }
    }
}

/// Why a SentencePiece model cannot be used.
struct SentencePieceRefusal: Error { var reason: String }

extension SentencePiece {
    /// A tokenizer for a `tokenizer.model` of the BPE kind.
    ///
    /// - Throws: ``VocabularyError`` naming the file and what is wrong: not
    ///   a model, another model type, pieces that repeat, that are empty, or
    ///   that do not encode to themselves, byte pieces that are not 256.
    public static func tokenizer(modelFile bytes: [UInt8], path: String) throws -> Tokenizer {
        let proto = try SentencePieceModelProto(bytes, path: path)
        do {
            return try tokenizer(proto)
        } catch let refusal as SentencePieceRefusal {
            throw refusal.reason.hasPrefix("unsupported: ")
                ? VocabularyError.unsupported(path: path, construct: String(refusal.reason.dropFirst(13)))
                : VocabularyError.malformed(path: path, line: nil, reason: refusal.reason)
        } catch let error as VocabularyError {
            throw VocabularyError.inFile(path: path, error)
        } catch let error as ProtoReader.Malformed {
            throw VocabularyError.malformed(path: path, line: nil, reason: error.reason)
        }
    }

    static let metaspace: [UInt8] = [0xE2, 0x96, 0x81]

    /// `text` with each byte that starts no valid UTF-8 character replaced by
    /// U+FFFD; nil when it is valid.
    static func replacingInvalidUTF8(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var i = 0
        while i < text.count {
            let n = text.validScalarLength(at: i)
            if n == 0 { break }
            i += n
        }
        guard i < text.count else { return nil }
        var out = Array(text[..<i])
        while i < text.count {
            let n = text.validScalarLength(at: i)
            if n == 0 {
                out += [0xEF, 0xBF, 0xBD]
                i += 1
            } else {
                out += text[i ..< i + n]
                i += n
            }
        }
        return out
    }

    /// `bytes` with every `▁` a space.
    static func spaced(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var k = 0
        while k < bytes.count {
            if k + 2 < bytes.count && bytes[k] == 0xE2 && bytes[k + 1] == 0x96 && bytes[k + 2] == 0x81 {
                out.append(0x20)
                k += 3
            } else {
                out.append(bytes[k])
                k += 1
            }
        }
        return out
    }

    /// The byte a `<0xNN>` piece stands for.
    static func byteValue(_ piece: [UInt8]) -> UInt8? {
        guard piece.count == 6, piece.starts(with: Array("<0x".utf8)), piece[5] == UInt8(ascii: ">") else { return nil }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30 ... 0x39: return c - 0x30
            case 0x41 ... 0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        guard let high = hex(piece[3]), let low = hex(piece[4]) else { return nil }
        return high << 4 | low
    }

    static func quoted(_ bytes: [UInt8]) -> String { HuggingFaceJSON.jsonString(String(decoding: bytes, as: UTF8.self)) }

    static func tokenizer(_ proto: SentencePieceModelProto) throws -> Tokenizer {
        let spec = proto.trainerSpec
        guard spec.modelType == .bpe else {
            throw SentencePieceRefusal(reason: "unsupported: SentencePiece \(spec.modelType.name) model (tok encodes SentencePiece BPE models)")
        }
        let pieces = proto.pieces
        guard !pieces.isEmpty else { throw SentencePieceRefusal(reason: "the model has no pieces") }
        var seen: [BytesKey: Int] = [:]
        seen.reserveCapacity(pieces.count)
        var unknown: Int? = nil
        var byteIds = [UInt32](repeating: UInt32.max, count: 256)
        var byteOfPiece: [UInt32: UInt8] = [:]
        for (id, piece) in pieces.enumerated() {
            guard !piece.bytes.isEmpty else { throw SentencePieceRefusal(reason: "piece \(id) is empty") }
            if let other = seen.updateValue(id, forKey: BytesKey(piece.bytes)) {
                throw SentencePieceRefusal(reason: "piece \(id) repeats piece \(other), \(quoted(piece.bytes))")
            }
            guard String(validating: piece.bytes, as: UTF8.self) != nil else {
                throw SentencePieceRefusal(reason: "piece \(id) is not valid UTF-8")
            }
            guard !piece.score.isNaN else { throw SentencePieceRefusal(reason: "piece \(id) has no score (NaN)") }
            switch piece.type {
            case .unknown:
                if let unknown { throw SentencePieceRefusal(reason: "pieces \(unknown) and \(id) are both unknown pieces") }
                unknown = id
            case .byte:
                guard spec.byteFallback else {
                    throw SentencePieceRefusal(reason: "piece \(id) is a byte piece, but the model has no byte_fallback")
                }
                guard let b = byteValue(piece.bytes) else {
                    throw SentencePieceRefusal(reason: "byte piece \(id), \(quoted(piece.bytes)), is not <0x00> ... <0xFF>")
                }
                byteIds[Int(b)] = UInt32(id)
                byteOfPiece[UInt32(id)] = b
            case .control where piece.bytes.count <= 4 && Array(piece.bytes).withUnsafeBufferPointer({ $0.validScalarLength(at: 0) == $0.count }):
                throw SentencePieceRefusal(reason: "control piece \(id), \(quoted(piece.bytes)), is one character, which sentencepiece fails on")
            default: break
            }
        }
        guard unknown != nil else { throw SentencePieceRefusal(reason: "the model has no unknown piece (<unk>)") }
        if spec.byteFallback, let missing = byteIds.firstIndex(of: UInt32.max) {
            throw SentencePieceRefusal(reason: "byte_fallback without a piece for the byte 0x\(String(missing, radix: 16, uppercase: true)) (it needs all 256)")
        }
        let spaceForm = proto.normalizerSpec.escapeWhitespaces
        let user = pieces.indices.filter { pieces[$0].type == .userDefined }
        // Under escape_whitespaces the text never holds a space, so a piece holding one is never made.
        let neverMade = pieces.map { spaceForm && $0.bytes.contains(0x20) }
        var kernel = KernelTokens(pieces: pieces.indices.map { id in
            pieces[id].type == .byte ? [byteOfPiece[UInt32(id)]!] : spaceForm ? spaced(pieces[id].bytes) : pieces[id].bytes
        })
        // The tokens merges make and join: normal pieces, and unused ones through a copy past the pieces.
        var unusedCopy: [UInt32: UInt32] = [:]
        for (id, piece) in pieces.enumerated() where !neverMade[id] {
            switch piece.type {
            case .normal: kernel.index(UInt32(id), mergeable: true)
            case .userDefined: kernel.index(UInt32(id), mergeable: false)
            case .unused: unusedCopy[UInt32(id)] = kernel.add(kernel.tokens[id], mergeable: true)
            default: break
            }
        }
        // Every character of those tokens is a symbol, a piece or not.
        kernel.addCharacters()
        // Each split of a piece into two symbols merges at the piece's score.
        let madeByMerges = pieces.indices.filter { (pieces[$0].type == .normal || pieces[$0].type == .unused) && !neverMade[$0] }
        let scores = Array(Set(madeByMerges.map { pieces[$0].score })).sorted(by: >)
        let scoreRank = Dictionary(uniqueKeysWithValues: scores.enumerated().map { ($1, UInt32($0)) })
        for id in madeByMerges {
            let result = unusedCopy[UInt32(id)] ?? UInt32(id)
            let splits = kernel.splits(of: kernel.tokens[Int(result)])
            guard !splits.isEmpty else { continue }
            if pieces[id].type == .unused && splits.count > 1 {
                throw SentencePieceRefusal(reason: "unsupported: unused piece \(id), \(quoted(pieces[id].bytes)), is made of two pieces in \(splits.count) ways (sentencepiece splits it back the way it met last in the whole text)")
            }
            for (left, right) in splits { kernel.merge(left, right, into: result, rank: scoreRank[pieces[id].score]!) }
        }
        var specials: [SpecialToken] = []
        for (id, piece) in pieces.enumerated() where piece.type == .control || piece.type == .unknown {
            specials.append(SpecialToken(id: UInt32(id), content: String(decoding: piece.bytes, as: UTF8.self)))
        }
        let vocabulary = try kernel.vocabulary(specialTokens: specials, wholeAlways: Set(user.map(UInt32.init)))
            .keepingIds(below: pieces.count)
        let sentencePiece = try pipeline(proto, vocabulary: vocabulary)
        var unreachable = vocabulary.unreachableTokens.filter { pieces[Int($0)].type == .normal }
        if let scores = sentencePiece.tiedScores {
            // Checked by the merge that encodes them, not the kernel's.
            unreachable = []
            var out = ContiguousArray<UInt32>()
            for id in madeByMerges where pieces[id].type == .normal {
                out.removeAll(keepingCapacity: true)
                kernel.tokens[id].withUnsafeBufferPointer {
                    sentencePiece.mergeByScores($0, scores: scores, vocabulary: vocabulary, into: &out)
                }
                if out.count != 1 || out[0] != UInt32(id) { unreachable.append(UInt32(id)) }
            }
        }
        if let bad = unreachable.first {
            throw SentencePieceRefusal(reason: "\(unreachable.count) pieces do not encode to themselves (first: piece \(bad), \(quoted(pieces[Int(bad)].bytes)))")
        }
        return Tokenizer(vocabulary: vocabulary, sentencePiece: sentencePiece)
    }

    /// The steps around the kernel for `proto`, whose kernel tables
    /// `vocabulary` holds (made by ``tokenizer(_:)``, or read back from
    /// `tokenizer.bin`): what cuts the text is derived from the pieces the
    /// merges make, and an unused piece's parts from the one merge that makes it.
    ///
    /// - Complexity: O(pieces + merges), no merging.
    static func pipeline(_ proto: SentencePieceModelProto, vocabulary: Vocabulary) throws -> SentencePiece {
        let pieces = proto.pieces, spec = proto.trainerSpec
        let spaceForm = proto.normalizerSpec.escapeWhitespaces
        var byteIds = [UInt32](repeating: UInt32.max, count: 256)
        var byteOfPiece: [UInt32: UInt8] = [:]
        for (id, piece) in pieces.enumerated() where piece.type == .byte {
            if let b = byteValue(piece.bytes) {
                byteIds[Int(b)] = UInt32(id)
                byteOfPiece[UInt32(id)] = b
            }
        }
        let user = pieces.filter { $0.type == .userDefined }.map(\.bytes)
        let unknown = pieces.firstIndex { $0.type == .unknown }.map(UInt32.init)
        // Every piece a merge makes, from the results of the pair table's ranks.
        let tables = vocabulary.tables
        var merged: [[UInt8]] = []
        var made = [Bool](repeating: false, count: tables.tokenCount)
        for result in vocabulary.storage.elements(of: .mergeResults, as: UInt32.self)
        where Int(result) < tables.tokenCount && !made[Int(result)] {
            made[Int(result)] = true
            merged.append(vocabulary.bytes(of: result))
        }
        // And every piece of two characters or more that sentencepiece's own
        // loop may make, which the kernel's ranks need not list (a model whose
        // pieces share scores merges its cuts with that loop).
        for piece in pieces where (piece.type == .normal || piece.type == .unused) && KernelTokens.characters(piece.bytes).count > 1 {
            merged.append(spaceForm ? spaced(piece.bytes) : piece.bytes)
        }
        // An unused piece's copy past the pieces, and the one pair that makes it.
        var unusedParts: [UInt32: (UInt32, UInt32)] = [:]
        for piece in pieces where piece.type == .unused && !(spaceForm && piece.bytes.contains(0x20)) {
            let bytes = spaceForm ? spaced(piece.bytes) : piece.bytes
            guard let copy = vocabulary.id(of: bytes) else { continue }
            for r in KernelTokens.characters(bytes).dropFirst() {
                guard let left = vocabulary.id(of: Array(bytes[..<r.lowerBound])),
                      let right = vocabulary.id(of: Array(bytes[r.lowerBound...])),
                      withExtendedLifetime(vocabulary, { UInt32(truncatingIfNeeded: tables.pair(left, right)) }) == copy
                else { continue }
                unusedParts[copy] = (left, right)
            }
        }
        // Scores shared by pieces merges make (normal and unused pieces of two characters or more).
        var tiedScores: [Float]? = nil
        var byScore: [Float: Int] = [:]
        var tied = false
        for piece in pieces where (piece.type == .normal || piece.type == .unused) && KernelTokens.characters(piece.bytes).count > 1 {
            byScore[piece.score, default: 0] += 1
            tied = tied || byScore[piece.score]! > 1
        }
        if tied {
            var scores = [Float](repeating: .nan, count: tables.tokenCount)
            for piece in pieces where (piece.type == .normal || piece.type == .unused) && !(spaceForm && piece.bytes.contains(0x20)) {
                if let token = vocabulary.id(of: spaceForm ? spaced(piece.bytes) : piece.bytes) { scores[Int(token)] = piece.score }
            }
            tiedScores = scores
        }
        return SentencePiece(
            form: .model(proto), pieceCount: pieces.count,
            normalizer: try SentencePieceNormalizer(spec: proto.normalizerSpec,
                                                    treatWhitespaceAsSuffix: spec.treatWhitespaceAsSuffix, userDefined: user),
            segmenter: SentencePieceSegmenter(merged: merged, userDefined: user.map { spaceForm ? spaced($0) : $0 }),
            types: pieces.map(\.type), startsWithMetaspace: pieces.map { $0.bytes.starts(with: metaspace) },
            spaceForm: spaceForm, byteIds: spec.byteFallback ? byteIds : [], byteOfPiece: byteOfPiece,
            unknownId: unknown, fuseUnknown: true, unusedParts: unusedParts, unknownSurface: spec.unkSurface,
            dropsFirstSpace: proto.normalizerSpec.addDummyPrefix || proto.normalizerSpec.removeExtraWhitespaces,
            dropsLeadingSpaces: proto.normalizerSpec.removeExtraWhitespaces,
            denormalizer: try proto.denormalizerSpec.map {
                try SentencePieceNormalizer(spec: $0, treatWhitespaceAsSuffix: false, userDefined: [], spaceForm: false)
            }, tiedScores: tiedScores)
    }

    /// sentencepiece's own merge loop (bpe_model.cc) over one cut: symbols
    /// are its characters, and the adjacent pair whose concatenation is a
    /// merged piece of the highest score is merged, leftmost first on equal
    /// scores, until none is left; then each symbol's kernel token is
    /// appended (a piece, or a character's or its bytes' tokens, which
    /// ``resolve(_:from:vocabulary:)`` turns into sentencepiece's ids).
    ///
    /// - Complexity: O(n log n) in the characters of the cut.
    func mergeByScores(_ piece: UnsafeBufferPointer<UInt8>, scores: [Float], vocabulary: Vocabulary,
                       into out: inout ContiguousArray<UInt32>) {
        guard let base = piece.baseAddress else { return }
        withExtendedLifetime(vocabulary.storage) {
            let t = vocabulary.tables
            // The token of bytes `from ..< to` of the cut, looked up in place.
            @inline(__always) func token(_ from: Int, _ to: Int) -> UInt32? { t.find(base + from, to - from) }
            // A user-defined piece is a cut of its own, never merged (a lookup of the whole cut only when the model has such pieces).
            if !segmenter.userDefined.isEmpty, let id = token(0, piece.count), Int(id) < pieceCount, types[Int(id)] == .userDefined {
                return out.append(id)
            }
            var m = 0
            var i = 0
            while i < piece.count {
                i += max(piece.validScalarLength(at: i), 1)
                m += 1
            }
            typealias Candidate = (score: Float, left: Int, right: Int, size: Int, token: Int)
            // The symbols' bounds, links and tokens (-1 until a merge makes
            // the symbol: a single character's is looked up at the end), and
            // the heap (at most m - 1 pairs at first and two more per merge),
            // on the stack when small.
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 5 * m) { links in
            withUnsafeTemporaryAllocation(of: Candidate.self, capacity: 3 * m) { heapBuffer in
                let start = links.baseAddress!, end = start + m, next = end + m, previous = next + m, made = previous + m
                let heap = heapBuffer
                var heapCount = 0
                var j = 0, symbol = 0
                while j < piece.count {
                    start[symbol] = j
                    j += max(piece.validScalarLength(at: j), 1)
                    end[symbol] = j
                    next[symbol] = symbol + 1
                    previous[symbol] = symbol - 1
                    made[symbol] = -1
                    symbol += 1
                }
                // A merged-away symbol's start is set to -1: not alive.
                @inline(__always) func above(_ a: Candidate, _ b: Candidate) -> Bool {
                    a.score > b.score || (a.score == b.score && a.left < b.left)
                }
                // Every index below is < m, or < heapCount <= 3m.
                func push(_ left: Int, _ right: Int) {
                    guard let id = token(start[left], end[right]), case let score = scores[Int(id)], !score.isNaN else { return }
                    heap[heapCount] = (score, left, right, end[right] - start[left], Int(id))
                    var k = heapCount
                    heapCount += 1
                    while k > 0 && above(heap[k], heap[(k - 1) / 2]) {
                        heap.swapAt(k, (k - 1) / 2)
                        k = (k - 1) / 2
                    }
                }
                func pop() -> Candidate? {
                    guard heapCount > 0 else { return nil }
                    let top = heap[0]
                    heapCount -= 1
                    heap[0] = heap[heapCount]
                    var k = 0
                    while true {
                        var best = k
                        let first = 2 * k + 1
                        if first < heapCount && above(heap[first], heap[best]) { best = first }
                        if first + 1 < heapCount && above(heap[first + 1], heap[best]) { best = first + 1 }
                        if best == k { return top }
                        heap.swapAt(k, best)
                        k = best
                    }
                }
                for k in 0 ..< max(m - 1, 0) { push(k, k + 1) }
                while let top = pop() {
                    // Stale unless both symbols are as they were when the pair was found.
                    guard start[top.left] >= 0, start[top.right] >= 0, next[top.left] == top.right,
                          end[top.right] - start[top.left] == top.size else { continue }
                    end[top.left] = end[top.right]
                    made[top.left] = top.token
                    start[top.right] = -1
                    next[top.left] = next[top.right]
                    if next[top.right] < m { previous[next[top.right]] = top.left }
                    if previous[top.left] >= 0 { push(previous[top.left], top.left) }
                    if next[top.left] < m { push(top.left, next[top.left]) }
                }
                var k = 0
                while k < m {
                    if made[k] >= 0 {
                        out.append(UInt32(truncatingIfNeeded: made[k]))
                    } else if let id = token(start[k], end[k]) {
                        out.append(id)
                    } else {
                        for j in start[k] ..< end[k] { out.append(token(j, j + 1)!) }  // every byte has a token
                    }
                    k = next[k]
                }
            }
            }
        }
    }
}

/// Bytes as a dictionary key: hashed in one step (``hashBytes(_:_:)``), not
/// byte by byte as `[UInt8]` is, and a slice of a token's bytes needs no copy.
struct BytesKey: Hashable {
    let bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }
    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }

    func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.withUnsafeBytes { hashBytes($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, $0.count) })
    }

    static func == (a: BytesKey, b: BytesKey) -> Bool { a.bytes.elementsEqual(b.bytes) }
}

/// The kernel's tokens for a SentencePiece vocabulary while they are made:
/// the pieces (ids `0..<pieces`), then the tokens the kernel needs besides
/// them (single bytes, prefixes of characters, characters and unused pieces
/// no piece stands for), and the merges.
struct KernelTokens {
    var tokens: [[UInt8]]
    var indexed: [Bool]
    /// Tokens by bytes: those merges may join (``mergeable``) and all indexed ones.
    var mergeable: [BytesKey: UInt32] = [:]
    var byBytes: [BytesKey: UInt32] = [:]
    var merges: [(left: UInt32, right: UInt32, result: UInt32, rank: UInt32)] = []

    init(pieces: [[UInt8]]) {
        tokens = pieces
        indexed = [Bool](repeating: false, count: pieces.count)
        mergeable.reserveCapacity(pieces.count + pieces.count / 4)
        byBytes.reserveCapacity(pieces.count + pieces.count / 4)
    }

    mutating func index(_ id: UInt32, mergeable isMergeable: Bool) {
        indexed[Int(id)] = true
        byBytes[BytesKey(tokens[Int(id)])] = id
        if isMergeable { mergeable[BytesKey(tokens[Int(id)])] = id }
    }

    /// A token past the pieces.
    mutating func add(_ bytes: [UInt8], mergeable isMergeable: Bool) -> UInt32 {
        let id = UInt32(tokens.count)
        tokens.append(bytes)
        indexed.append(false)
        index(id, mergeable: isMergeable)
        return id
    }

    mutating func merge(_ left: UInt32, _ right: UInt32, into result: UInt32, rank: UInt32) {
        merges.append((left, right, result, rank))
    }

    /// The characters of `bytes`, each as its byte range.
    static func characters(_ bytes: [UInt8]) -> [Range<Int>] {
        bytes.withUnsafeBufferPointer { p in
            var out: [Range<Int>] = []
            var i = 0
            while i < p.count {
                let n = max(p.validScalarLength(at: i), 1)
                out.append(i ..< i + n)
                i += n
            }
            return out
        }
    }

    /// Every character of the mergeable tokens, as a mergeable token.
    mutating func addCharacters() {
        var characters = Set<UInt64>()  // up to 4 bytes, packed
        for key in mergeable.keys {
            let bytes = Array(key.bytes)
            for r in KernelTokens.characters(bytes) { characters.insert(CharacterTokenTable.pack(bytes[r]) | UInt64(r.count) << 32) }
        }
        for packed in characters.sorted() {
            let c = (0 ..< Int(packed >> 32)).map { UInt8(truncatingIfNeeded: packed >> UInt64(8 * $0)) }
            if byBytes[BytesKey(c)] != nil { continue }  // a piece, or a user-defined character: never merged
            _ = add(c, mergeable: true)
        }
    }

    /// The ways `bytes` splits at a character boundary into two mergeable tokens.
    func splits(of bytes: [UInt8]) -> [(UInt32, UInt32)] {
        var out: [(UInt32, UInt32)] = []
        for r in KernelTokens.characters(bytes).dropFirst() {
            if let left = mergeable[BytesKey(bytes[..<r.lowerBound])], let right = mergeable[BytesKey(bytes[r.lowerBound...])] {
                out.append((left, right))
            }
        }
        return out
    }

    /// The vocabulary: single bytes and prefixes of characters added, each
    /// character's own merges ranked below all others.
    mutating func vocabulary(specialTokens: [SpecialToken], wholeAlways: Set<UInt32>,
                             ignoreMerges: Bool = false) throws -> Vocabulary {
        func token(_ bytes: [UInt8]) -> UInt32 { byBytes[BytesKey(bytes)] ?? add(bytes, mergeable: false) }
        for b in 0 ..< 256 { _ = token([UInt8(b)]) }
        // Each character (and prefix) that is more than a byte: its prefix and its last byte merge into it.
        var characterMerges: [(UInt32, UInt32, UInt32)] = []
        let characters = mergeable.filter { $0.key.bytes.count > 1 && KernelTokens.characters(Array($0.key.bytes)).count == 1 }
        var made = Set<UInt32>()
        for (key, id) in characters.sorted(by: { $0.value < $1.value }) {
            let bytes = Array(key.bytes)
            var result = id
            var n = bytes.count
            while n > 1 && made.insert(result).inserted {
                let prefix = token(Array(bytes[..<(n - 1)]))
                characterMerges.append((prefix, token([bytes[n - 1]]), result))
                result = prefix
                n -= 1
            }
        }
        let base = UInt32(characterMerges.count)
        var pairs = PairTable(minimumCapacity: characterMerges.count + merges.count)
        for (rank, m) in characterMerges.enumerated() { pairs.insert(left: m.0, right: m.1, rank: UInt32(rank), result: m.2) }
        for m in merges { pairs.insert(left: m.left, right: m.right, rank: base + m.rank, result: m.result) }
        var storage = Vocabulary.Storage(tokens: tokens)
        try storage.indexAll(indexed)
        return try storage.finish(pairs: pairs, mergeOrder: .mergesList(ignoreMerges: ignoreMerges), specialTokens: specialTokens,
                                  wholeAlways: wholeAlways)
    }
}
