import CTokICU
import Foundation
import TokCounts
import TokEncoding
import TokRuntime

// SentencePiece BPE, trained by tok's trainer.
//
// The pieces are learned as sentencepiece's BPE trainer learns them
// (bpe_model_trainer.cc, trainer_interface.cc): symbols are characters, a
// space is `▁` and starts a word (a run of spaces is one word, so that pieces
// of spaces alone can be learned), and no piece may hold `▁` past its start,
// two Unicode scripts (Hiragana and Katakana count as Han, a combining mark
// as the script before it), a digit with anything else, or more than
// ``SentencePieceOptions/maxPieceLength`` characters. The characters that
// make up ``SentencePieceOptions/characterCoverage`` of the text are pieces
// of their own; rarer ones are left to byte fallback and never merged. A
// merge whose piece another pair already made is skipped, as sentencepiece
// skips it.
//
// Those rules cut every counted word into segments no piece crosses, so the
// trainer (``TrainingState``, the byte-level one) runs on segments of
// character symbols. Each merged piece scores minus its rank: sentencepiece's
// encoder, which merges the adjacent pair whose concatenation is the piece of
// the best score, then takes the merges in tok's order. Every piece is checked
// to encode to itself when the model is made (``SentencePiece/tokenizer(modelFile:path:)``).

/// What kind of vocabulary a training or a build makes.
public enum VocabularyModel: Sendable, Equatable {
    /// Byte-level BPE: merges over bytes, text cut by a pattern (`tokenizer.json`, tiktoken ranks).
    case byteLevel
    /// SentencePiece BPE: merges over characters, `▁` for a space, byte
    /// fallback; written as a `tokenizer.model`.
    case sentencePiece(SentencePieceOptions)

    /// `byte-level` or `sentencepiece`.
    public var name: String {
        switch self {
        case .byteLevel: return "byte-level"
        case .sentencePiece: return "sentencepiece"
        }
    }
}

extension VocabularyModel {
    /// Ids a vocabulary of this model takes besides the merged tokens of
    /// `result`: the bytes and `specialTokens`, and for SentencePiece the
    /// meta, user-defined and alphabet pieces.
    public func reservedIds(_ result: BPETrainer.Result, specialTokens: Int) -> Int {
        reservedIds(alphabet: result.alphabet.count, specialTokens: specialTokens)
    }

    public func reservedIds(alphabet: Int, specialTokens: Int) -> Int {
        switch self {
        case .byteLevel: return 256 + specialTokens
        case .sentencePiece(let options): return options.reservedIds(controlSymbols: specialTokens, alphabet: alphabet)
        }
    }

    /// The vocabulary of `learned` (a training's merged tokens, in order)
    /// and `specialTokens`: byte-level, the 256 bytes, `learned` and the
    /// special tokens last, cut by `preTokenizer`; SentencePiece, the model
    /// of ``SentencePieceOptions/model(learned:alphabet:controlSymbols:)``
    /// with the special tokens as control pieces.
    public func tokenizer(learned: some Collection<[UInt8]>, alphabet: [[UInt8]], specialTokens: [String],
                          preTokenizer: PreTokenizer) throws -> Tokenizer {
        switch self {
        case .byteLevel:
            let specials = specialTokens.enumerated().map { SpecialToken(id: UInt32(256 + learned.count + $0.offset), content: $0.element) }
            let tokens = (0 ..< 256).map { [UInt8($0)] } + learned
            return Tokenizer(vocabulary: try Vocabulary.fromRanks(tokens, specialTokens: specials), preTokenizer: preTokenizer)
        case .sentencePiece(let options):
            return try options.tokenizer(learned: learned, alphabet: alphabet, controlSymbols: specialTokens)
        }
    }
}

/// How tok trains a SentencePiece BPE model: sentencepiece's trainer
/// options that shape the pieces, with the defaults of LLaMA-style models.
/// The model it makes: `<unk>`, `<s>`, `</s>` at 0, 1, 2, the control pieces
/// (special tokens), the user-defined pieces, `<0x00>` ... `<0xFF>`, the merged
/// pieces best first, then the alphabet; identity normalizer, a dummy prefix,
/// spaces kept, byte fallback.
public struct SentencePieceOptions: Sendable, Equatable {
    /// The share of the text's characters that get a piece each, most frequent first (sentencepiece's `character_coverage`).
    public var characterCoverage = 0.9995
    /// Longest merged piece, in characters (`max_sentencepiece_length`).
    public var maxPieceLength = 16
    /// Every digit is a piece of its own (`split_digits`).
    public var splitDigits = true
    /// No piece holds two scripts (`split_by_unicode_script`).
    public var splitByUnicodeScript = true
    /// Digits count as a script of their own (Common), not as any script (`split_by_number`).
    public var splitByNumber = true
    /// Runs of spaces may become pieces (`allow_whitespace_only_pieces`).
    public var allowWhitespaceOnlyPieces = true
    /// Pieces matched whole in the text before any merge and never merged (`user_defined_symbols`).
    public var userDefinedSymbols: [String] = []

    public init() {}

    /// The pattern SentencePiece vocabularies are counted with: words as
    /// sentencepiece's trainer cuts them, each starting at a run of spaces.
    public static let countingPattern = "sentencepiece"
    /// The pieces every model starts with: unknown, then the control pieces of a sequence's start and end.
    public static let metaPieces = ["<unk>", "<s>", "</s>"]

    /// Ids that are not merged pieces: the meta pieces, `controlSymbols`
    /// control pieces, the user-defined pieces, 256 byte pieces and the alphabet.
    public func reservedIds(controlSymbols: Int, alphabet: Int) -> Int {
        SentencePieceOptions.metaPieces.count + controlSymbols + userDefinedSymbols.count + 256 + alphabet
    }

    /// The model: the meta pieces, `controlSymbols`, the user-defined pieces,
    /// the byte pieces, `learned` (merged pieces, spaces as they are counted,
    /// best first: piece `k` scores `-k`), then `alphabet` (single
    /// characters, scored below every merged piece).
    public func model(learned: some Collection<[UInt8]>, alphabet: [[UInt8]], controlSymbols: [String]) -> SentencePieceModelProto {
        typealias Piece = SentencePieceModelProto.Piece
        var proto = SentencePieceModelProto()
        proto.trainerSpec.modelType = .bpe
        proto.trainerSpec.byteFallback = true
        proto.normalizerSpec.name = "identity"
        proto.normalizerSpec.addDummyPrefix = true
        proto.normalizerSpec.removeExtraWhitespaces = false
        proto.normalizerSpec.escapeWhitespaces = true
        var pieces = [Piece(bytes: Array("<unk>".utf8), score: 0, type: .unknown),
                      Piece(bytes: Array("<s>".utf8), score: 0, type: .control),
                      Piece(bytes: Array("</s>".utf8), score: 0, type: .control)]
        pieces += controlSymbols.map { Piece(bytes: Array($0.utf8), score: 0, type: .control) }
        pieces += userDefinedSymbols.map { Piece(bytes: Array($0.utf8), score: 0, type: .userDefined) }
        let hex = Array("0123456789ABCDEF".utf8)
        pieces += (0 ..< 256).map { b in Piece(bytes: Array("<0x".utf8) + [hex[b >> 4], hex[b & 15], UInt8(ascii: ">")], score: 0, type: .byte) }
        var rank = 0
        for piece in learned {
            pieces.append(Piece(bytes: SentencePieceOptions.metaspaced(piece), score: -Float(rank)))
            rank += 1
        }
        for c in alphabet {
            pieces.append(Piece(bytes: SentencePieceOptions.metaspaced(c), score: -Float(rank)))
            rank += 1
        }
        proto.pieces = pieces
        return proto
    }

    /// The tokenizer of ``model(learned:alphabet:controlSymbols:)``, checked
    /// as an imported model is (every piece encodes to itself).
    public func tokenizer(learned: some Collection<[UInt8]>, alphabet: [[UInt8]], controlSymbols: [String]) throws -> Tokenizer {
        let bytes = model(learned: learned, alphabet: alphabet, controlSymbols: controlSymbols).serialized()
        return try SentencePiece.tokenizer(modelFile: bytes, path: VocabularyFolder.modelName)
    }

    /// `bytes` with each space as `▁`, as a model's pieces hold it.
    static func metaspaced(_ bytes: [UInt8]) -> [UInt8] {
        bytes.flatMap { $0 == 0x20 ? [0xE2, 0x96, 0x81] : [$0] }
    }
}

extension BPETrainer {
    /// Trains on a count file with `model`'s rules, first dropping the
    /// rarest pieces if all of them would not fit in `memoryBudget` bytes.
    public func train(countFile path: String, model: VocabularyModel, memoryBudget: Int = .max,
                      progress: (Int, Int) -> Void = { _, _ in }) throws -> Result {
        guard case .sentencePiece(let options) = model else {
            return try train(countFile: path, memoryBudget: memoryBudget, progress: progress)
        }
        let (pieces, reduction) = try PieceCounts.load(countFile: path, budget: memoryBudget, cost: BPETrainer.memoryCost(of:))
        var result = try trainSentencePiece(pieces: pieces, options: options, progress: progress)
        result.reduction = reduction
        return result
    }

    /// SentencePiece BPE on `pieces` (words counted with the
    /// ``SentencePieceOptions/countingPattern``, a space for `▁`): merges the
    /// most frequent pair of symbols that may make a piece, ties to the pair
    /// of smaller symbols (the alphabet by frequency, then pieces in the
    /// order made), until ``vocabularySize`` ids are filled (meta, special,
    /// user-defined, byte and alphabet pieces included) or no pair is left.
    ///
    /// The result's ``Result/tokens`` are the 256 bytes (standing for the
    /// byte pieces) then the merged pieces, spaces as counted; its
    /// ``Result/alphabet`` the characters that are pieces, most frequent
    /// first; a merge's `left` and `right` number the alphabet first, then the
    /// merged pieces.
    ///
    /// - Complexity: O(total piece bytes) to cut the words; each merge then
    ///   touches only the segments that hold the merged pair.
    public func trainSentencePiece(pieces: PieceCounts, options: SentencePieceOptions,
                                   progress: (Int, Int) -> Void = { _, _ in }) throws -> Result {
        let started = Date()
        var segmenter = TrainingSegmenter(pieces: pieces, options: options)
        let alphabet = segmenter.alphabet
        let reserved = options.reservedIds(controlSymbols: specialTokens.count, alphabet: alphabet.count)
        let wanted = vocabularySize - reserved
        guard wanted >= 0 else {
            throw SentencePieceSizeError(size: vocabularySize, reserved: reserved, alphabet: alphabet.count,
                                         coverage: options.characterCoverage)
        }
        progress(0, wanted)
        var state = segmenter.trainingState(pieces)
        // Symbol ids: the alphabet, then the merged pieces.
        var symbols = alphabet
        var characters = alphabet.map { _ in 1 }
        var made = Set<[UInt8]>(alphabet)
        for text in SentencePieceOptions.metaPieces + specialTokens + options.userDefinedSymbols { made.insert(Array(text.utf8)) }
        var merges: [Merge] = []
        merges.reserveCapacity(wanted)
        while merges.count < wanted {
            guard let (key, count, tied) = state.popBest(tokenLength: { characters[Int($0)] }, maxLength: options.maxPieceLength),
                  count >= max(minFrequency, 1)
            else { break }
            let left = UInt32(key >> 32), right = UInt32(truncatingIfNeeded: key)
            let piece = symbols[Int(left)] + symbols[Int(right)]
            guard made.insert(piece).inserted else {
                // Another pair made this piece: sentencepiece's encoder merges any pair into it at its own
                // score, and its trainer skips the later pair; so does this one.
                state.pairs.counts[state.pairs.find(key)!] = TrainingState.neverMerged
                continue
            }
            let id = UInt32(symbols.count)
            symbols.append(piece)
            characters.append(characters[Int(left)] + characters[Int(right)])
            merges.append(Merge(left: left, right: right, count: count, tied: tied))
            state.merge(key: key, into: id)
            if merges.count % 1000 == 0 { progress(merges.count, wanted) }
        }
        let tokens = (0 ..< 256).map { [UInt8($0)] } + symbols[alphabet.count...]
        return Result(tokens: tokens, merges: merges, specialTokens: [], seconds: Date().timeIntervalSince(started),
                      alphabet: alphabet)
    }
}

/// A SentencePiece vocabulary too small for the pieces it must have besides merged ones.
public struct SentencePieceSizeError: TokError, Equatable {
    public var size: Int
    public var reserved: Int
    /// How many of the reserved pieces are the alphabet's characters, at `coverage`.
    public var alphabet: Int
    public var coverage: Double

    public var description: String {
        "a SentencePiece vocabulary of \(size) ids leaves no room after its \(reserved) meta, special, byte and character pieces "
            + "(\(alphabet) characters cover \(coverage) of the text): ask for more ids or a lower --character-coverage"
    }
}

/// Cuts counted words into the segments no SentencePiece piece may cross,
/// as symbol ids (the alphabet's), and finds the alphabet.
struct TrainingSegmenter {
    let options: SentencePieceOptions
    /// The characters that are pieces, most frequent first (ties by bytes).
    private(set) var alphabet: [[UInt8]] = []
    /// A character's symbol id, by its code point.
    private var symbolOf: [UInt32: UInt32] = [:]
    private var scripts: [UInt32: Int32] = [:]
    /// The user-defined symbols' bytes, longest first: cut out of the words.
    private let userDefined: [[UInt8]]

    static let space: UInt32 = 0x20
    /// A script no other character's script clashes with.
    static let anyScript = Int32.min

    init(pieces: PieceCounts, options: SentencePieceOptions) {
        self.options = options
        userDefined = options.userDefinedSymbols.map { Array($0.utf8) }.sorted { $0.count > $1.count }
        // 1. Count characters; the most frequent that cover the share asked for are the alphabet.
        var counts: [UInt32: UInt64] = [:]
        var total: UInt64 = 0
        pieces.forEach { bytes, count in
            TrainingSegmenter.forEachCharacter(bytes) { cp, _ in
                guard let cp, TrainingSegmenter.mayBePiece(cp) else { return }
                counts[cp, default: 0] += count
                total += count
            }
        }
        let ranked = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        var covered: UInt64 = 0
        let specials = Set((SentencePieceOptions.metaPieces + options.userDefinedSymbols).map { Array($0.utf8) })
        for (cp, count) in ranked {
            guard Double(covered) < options.characterCoverage * Double(total) else { break }
            covered += count
            let bytes = Array(String(Character(Unicode.Scalar(cp)!)).utf8)
            if specials.contains(bytes) { continue }
            symbolOf[cp] = UInt32(alphabet.count)
            alphabet.append(bytes)
        }
    }

    /// Neither NUL (sentencepiece refuses it) nor `▁` (a space once normalized).
    static func mayBePiece(_ cp: UInt32) -> Bool { cp != 0 && cp != 0x2581 }

    /// Calls `body` with each character's code point (nil for a byte that
    /// starts no valid UTF-8 character) and its length in bytes.
    static func forEachCharacter(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (UInt32?, Int) -> Void) {
        var i = 0
        while i < bytes.count {
            let (cp, n) = decode(bytes, at: i)
            body(cp, n)
            i += n
        }
    }

    /// The character at `i`: its code point (nil when invalid) and length.
    static func decode(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32?, Int) {
        let lead = b[i]
        if lead < 0x80 { return (UInt32(lead), 1) }
        let n: Int, min: UInt32
        var cp: UInt32
        switch lead {
        case 0xC2 ... 0xDF: (n, cp, min) = (2, UInt32(lead & 0x1F), 0x80)
        case 0xE0 ... 0xEF: (n, cp, min) = (3, UInt32(lead & 0x0F), 0x800)
        case 0xF0 ... 0xF4: (n, cp, min) = (4, UInt32(lead & 0x07), 0x10000)
        default: return (nil, 1)
        }
        guard i + n <= b.count else { return (nil, 1) }
        for k in 1 ..< n {
            let c = b[i + k]
            guard c & 0xC0 == 0x80 else { return (nil, 1) }
            cp = cp << 6 | UInt32(c & 0x3F)
        }
        guard cp >= min, cp <= 0x10FFFF, !(0xD800 ... 0xDFFF).contains(cp) else { return (nil, 1) }
        return (cp, n)
    }

    /// The script a character counts as in a piece: the ICU script, Han for
    /// Hiragana and Katakana, Common for a digit (any script without
    /// `split_by_number`), nil for a combining mark (the script before it).
    mutating func script(_ cp: UInt32) -> Int32? {
        let s: Int32
        if let known = scripts[cp] { s = known } else {
            s = tok_icu_piece_script(cp)
            scripts[cp] = s
        }
        switch s {
        case -1: return options.splitByNumber ? 0 : TrainingSegmenter.anyScript
        case -2: return nil
        default: return s
        }
    }

    /// The segments of every word, each with its count, in a trainer's state.
    mutating func trainingState(_ pieces: PieceCounts) -> TrainingState {
        var segments: [[UInt32]: UInt64] = [:]
        pieces.forEach { bytes, count in
            forEachSegment(bytes) { segments[$0, default: 0] += count }
        }
        // In a fixed order, so that the trainer's ties do not depend on hashing.
        let ordered = segments.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        return TrainingState(segments: ordered)
    }

    /// Calls `body` with each segment of two symbols or more of `word`.
    mutating func forEachSegment(_ word: UnsafeBufferPointer<UInt8>, _ body: ([UInt32]) -> Void) {
        var current: [UInt32] = []
        var currentScript = TrainingSegmenter.anyScript
        func flush() {
            if current.count >= 2 { body(current) }
            current.removeAll(keepingCapacity: true)
            currentScript = TrainingSegmenter.anyScript
        }
        // A run of spaces starts the word: its last space begins the rest (`▁word`),
        // the others are a segment of their own (pieces of spaces alone).
        var i = 0
        while i < word.count && word[i] == 0x20 { i += 1 }
        if i > 0, let space = symbolOf[TrainingSegmenter.space] {
            let run = i == word.count ? i : i - 1
            if options.allowWhitespaceOnlyPieces {
                current = [UInt32](repeating: space, count: run)
                flush()
            }
            if i < word.count { current = [space] }
        }
        while i < word.count {
            if !userDefined.isEmpty, let user = userDefined.first(where: { u in word.count - i >= u.count && zip(u, word[i...]).allSatisfy { $0 == $1 } }) {
                flush()
                i += user.count
                continue
            }
            let (cp, n) = TrainingSegmenter.decode(word, at: i)
            i += n
            guard let cp, let symbol = symbolOf[cp], cp != TrainingSegmenter.space else {
                flush()  // a rare character, invalid UTF-8 or a space inside a word: left to byte fallback
                continue
            }
            if options.splitDigits && tok_icu_piece_script(cp) == -1 {
                flush()  // a digit is a piece alone, "▁1" included
                continue
            }
            let s = script(cp) ?? currentScript
            if options.splitByUnicodeScript && s != TrainingSegmenter.anyScript && currentScript != TrainingSegmenter.anyScript
                && s != currentScript {
                flush()
            }
            current.append(symbol)
            currentScript = s
        }
        flush()
    }
}

extension TrainingState {
    /// A state over `segments` of symbols with their counts.
    init(segments: [(key: [UInt32], value: UInt64)]) {
        for (symbols, count) in segments {
            wordStart.append(self.symbols.count)
            wordLength.append(Int32(symbols.count))
            wordCount.append(count)
            wordSeen.append(-1)
            self.symbols.append(contentsOf: symbols)
        }
        countAllPairs()
    }
}

/// `training.json` of a SentencePiece training: the alphabet and every merged
/// piece (`▁` for a space) with its count and whether it was tied.
func sentencePieceTrainingReport(_ result: BPETrainer.Result) -> [UInt8] {
    func quoted(_ bytes: [UInt8]) -> String { HuggingFaceJSON.jsonString(String(decoding: SentencePieceOptions.metaspaced(bytes), as: UTF8.self)) }
    var out = "{\"model\": \"sentencepiece\", \"alphabet\": [" + result.alphabet.map(quoted).joined(separator: ", ") + "],\n\"pieces\": [\n"
    for (i, m) in result.merges.enumerated() {
        out += "[\(quoted(result.tokens[256 + i])), \(m.count), \(m.tied)]" + (i + 1 < result.merges.count ? ",\n" : "\n")
    }
    out += "]}\n"
    return Array(out.utf8)
}
