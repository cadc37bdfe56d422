// SentencePiece's `tokenizer.model`: a protobuf `ModelProto`
// (sentencepiece_model.proto), read and written here with a wire-format
// reader of its own, so that tok needs neither the sentencepiece nor a
// protobuf library. Only the fields that change encoding or decoding are
// kept as values; each spec's bytes are kept too, so that a model written
// back carries every field it came with.

/// The protobuf wire format, as much of it as `ModelProto` uses: varints,
/// 32-bit floats, length-delimited strings and messages. Groups (wire types
/// 3 and 4, which no SentencePiece model has) are refused.
struct ProtoReader {
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int

    struct Malformed: Error { var reason: String }

    init(_ bytes: [UInt8], range: Range<Int>? = nil) {
        self.bytes = bytes
        position = range?.lowerBound ?? 0
        end = range?.upperBound ?? bytes.count
    }

    /// The next field's number and wire type; nil at the end.
    mutating func nextField() throws -> (number: Int, wireType: Int)? {
        guard position < end else { return nil }
        let key = try varint()
        let number = Int(key >> 3), wireType = Int(key & 7)
        guard number > 0 else { throw Malformed(reason: "a field numbered 0 at byte \(position)") }
        return (number, wireType)
    }

    mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard position < end else { throw Malformed(reason: "truncated (a number runs past the end)") }
            let b = bytes[position]
            position += 1
            guard shift < 64 else { throw Malformed(reason: "a number longer than 10 bytes at byte \(position)") }
            value |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return value }
            shift += 7
        }
    }

    mutating func fixed32() throws -> UInt32 {
        guard end - position >= 4 else { throw Malformed(reason: "truncated (a 32-bit field runs past the end)") }
        var v: UInt32 = 0
        for k in 0 ..< 4 { v |= UInt32(bytes[position + k]) << UInt32(8 * k) }
        position += 4
        return v
    }

    /// The range of a length-delimited field's bytes.
    mutating func lengthDelimited() throws -> Range<Int> {
        let n = try varint()
        guard n <= UInt64(end - position) else { throw Malformed(reason: "truncated (a field of \(n) bytes at byte \(position) runs past the end)") }
        let start = position
        position += Int(n)
        return start ..< position
    }

    mutating func string() throws -> [UInt8] { Array(bytes[try lengthDelimited()]) }

    mutating func bool() throws -> Bool { try varint() != 0 }

    mutating func int32() throws -> Int32 { Int32(truncatingIfNeeded: try varint()) }

    /// Skips a field of `wireType` that is not read.
    mutating func skip(_ wireType: Int) throws {
        switch wireType {
        case 0: _ = try varint()
        case 1:
            guard end - position >= 8 else { throw Malformed(reason: "truncated (a 64-bit field runs past the end)") }
            position += 8
        case 2: _ = try lengthDelimited()
        case 5: _ = try fixed32()
        default: throw Malformed(reason: "wire type \(wireType) at byte \(position) (not a SentencePiece model)")
        }
    }

    /// Throws unless a field of `number` has `wireType`.
    func expect(_ wireType: Int, _ actual: Int, _ name: @autoclosure () -> String) throws {
        guard wireType == actual else { throw Malformed(reason: "\(name()) has wire type \(actual), not \(wireType)") }
    }
}

/// Writes the protobuf wire format.
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func key(_ number: Int, _ wireType: Int) { varint(UInt64(number << 3 | wireType)) }

    mutating func field(_ number: Int, varint v: UInt64) {
        key(number, 0)
        varint(v)
    }

    mutating func field(_ number: Int, int32 v: Int32) { field(number, varint: UInt64(bitPattern: Int64(v))) }

    mutating func field(_ number: Int, bool v: Bool) { field(number, varint: v ? 1 : 0) }

    mutating func field(_ number: Int, float v: Float) {
        key(number, 5)
        let bits = v.bitPattern
        for k in 0 ..< 4 { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(8 * k))) }
    }

    mutating func field(_ number: Int, bytes b: some Collection<UInt8>) {
        key(number, 2)
        varint(UInt64(b.count))
        bytes.append(contentsOf: b)
    }
}

/// The kind of a piece, as `ModelProto.SentencePiece.Type` numbers them.
public enum SentencePieceType: UInt8, Sendable, Hashable, CaseIterable {
    /// Made by merges, and produced from text.
    case normal = 1
    /// `<unk>`: what a character without a piece becomes when there is no byte fallback.
    case unknown = 2
    /// `<s>`, `</s>` and the like: never produced from text, decoded to nothing.
    case control = 3
    /// Matched whole in the text before any merge, never merged with anything.
    case userDefined = 4
    /// Made by merges like a normal piece, then split back into the two pieces it was made of.
    case unused = 5
    /// `<0x00>` ... `<0xFF>`: the bytes of a character without a piece, under byte fallback.
    case byte = 6

    var name: String {
        switch self {
        case .normal: return "normal"
        case .unknown: return "unknown"
        case .control: return "control"
        case .userDefined: return "user-defined"
        case .unused: return "unused"
        case .byte: return "byte"
        }
    }
}

/// SentencePiece's model kinds (`TrainerSpec.ModelType`).
public enum SentencePieceModelType: Int, Sendable, Hashable {
    case unigram = 1, bpe = 2, word = 3, char = 4

    var name: String {
        switch self {
        case .unigram: return "Unigram"
        case .bpe: return "BPE"
        case .word: return "WORD"
        case .char: return "CHAR"
        }
    }
}

/// The fields of a `tokenizer.model` that change encoding or decoding, with
/// each spec's bytes as they were read.
public struct SentencePieceModelProto: Sendable, Hashable {
    public struct Piece: Sendable, Hashable {
        /// The piece's UTF-8 bytes, `▁` (U+2581) standing for a space.
        public var bytes: [UInt8]
        public var score: Float
        public var type: SentencePieceType

        public init(bytes: [UInt8], score: Float, type: SentencePieceType = .normal) {
            self.bytes = bytes
            self.score = score
            self.type = type
        }
    }

    /// `NormalizerSpec`: proto defaults where a field is absent.
    public struct NormalizerSpec: Sendable, Hashable {
        public var name = ""
        /// A darts-clone double-array trie of the rules and their replacements (``SentencePieceCharsmap``).
        public var precompiledCharsmap: [UInt8] = []
        public var addDummyPrefix = true
        public var removeExtraWhitespaces = true
        public var escapeWhitespaces = true
        /// The spec as read (empty for one made here).
        var raw: [UInt8] = []

        public init() {}
    }

    /// `TrainerSpec`: the fields encoding and decoding read.
    public struct TrainerSpec: Sendable, Hashable {
        public var modelType = SentencePieceModelType.unigram
        public var treatWhitespaceAsSuffix = false
        public var byteFallback = false
        public var unkSurface: [UInt8] = Array(" \u{2047} ".utf8)
        public var bosPiece: [UInt8] = Array("<s>".utf8), eosPiece: [UInt8] = Array("</s>".utf8)
        /// The spec as read (empty for one made here).
        var raw: [UInt8] = []

        public init() {}
    }

    public var pieces: [Piece] = []
    public var trainerSpec = TrainerSpec()
    public var normalizerSpec = NormalizerSpec()
    /// The spec `decode` applies to its output, when the model has one with a charsmap.
    public var denormalizerSpec: NormalizerSpec? = nil
    /// The file as read, written back as it is (empty for a model made here).
    var read: [UInt8] = []

    public init() {}

    /// Reads a `tokenizer.model`.
    ///
    /// - Throws: ``VocabularyError/malformed(path:line:reason:)`` for bytes
    ///   that are not a model (truncated, a field of the wrong kind).
    public init(_ bytes: [UInt8], path: String) throws {
        do {
            var r = ProtoReader(bytes)
            var sawTrainer = false
            var denormalizer = NormalizerSpec()
            while let (number, wireType) = try r.nextField() {
                switch number {
                case 1:
                    try r.expect(2, wireType, "a piece")
                    pieces.append(try SentencePieceModelProto.piece(bytes, try r.lengthDelimited(), index: pieces.count))
                case 2:
                    try r.expect(2, wireType, "trainer_spec")
                    // A message given twice is merged, as protobuf reads it.
                    try SentencePieceModelProto.trainer(bytes, try r.lengthDelimited(), into: &trainerSpec)
                    sawTrainer = true
                case 3:
                    try r.expect(2, wireType, "normalizer_spec")
                    try SentencePieceModelProto.normalizer(bytes, try r.lengthDelimited(), into: &normalizerSpec)
                case 5:
                    try r.expect(2, wireType, "denormalizer_spec")
                    try SentencePieceModelProto.normalizer(bytes, try r.lengthDelimited(), into: &denormalizer)
                default: try r.skip(wireType)
                }
            }
            denormalizerSpec = denormalizer.precompiledCharsmap.isEmpty ? nil : denormalizer
            guard !pieces.isEmpty || sawTrainer else { throw ProtoReader.Malformed(reason: "no pieces and no trainer_spec") }
            read = bytes
        } catch let error as ProtoReader.Malformed {
            throw VocabularyError.malformed(path: path, line: nil, reason: "not a SentencePiece model: \(error.reason)")
        }
    }

    static func piece(_ bytes: [UInt8], _ range: Range<Int>, index: Int) throws -> Piece {
        var r = ProtoReader(bytes, range: range)
        var piece = Piece(bytes: [], score: 0)
        while let (number, wireType) = try r.nextField() {
            switch number {
            case 1:
                try r.expect(2, wireType, "piece \(index)'s text")
                piece.bytes = try r.string()
            case 2:
                try r.expect(5, wireType, "piece \(index)'s score")
                piece.score = Float(bitPattern: try r.fixed32())
            case 3:
                try r.expect(0, wireType, "piece \(index)'s type")
                let raw = try r.varint()
                guard let type = SentencePieceType(rawValue: UInt8(truncatingIfNeeded: raw)), raw <= 6 else {
                    throw ProtoReader.Malformed(reason: "piece \(index) has type \(raw), which SentencePiece does not define")
                }
                piece.type = type
            default: try r.skip(wireType)
            }
        }
        return piece
    }

    static func trainer(_ bytes: [UInt8], _ range: Range<Int>, into spec: inout TrainerSpec) throws {
        var r = ProtoReader(bytes, range: range)
        spec.raw += bytes[range]
        while let (number, wireType) = try r.nextField() {
            switch (number, wireType) {
            case (3, 0):
                let raw = try r.varint()
                guard let type = SentencePieceModelType(rawValue: Int(truncatingIfNeeded: raw)), raw <= 4 else {
                    throw ProtoReader.Malformed(reason: "model type \(raw), which SentencePiece does not define")
                }
                spec.modelType = type
            case (24, 0): spec.treatWhitespaceAsSuffix = try r.bool()
            case (35, 0): spec.byteFallback = try r.bool()
            case (44, 2): spec.unkSurface = try r.string()
            case (46, 2): spec.bosPiece = try r.string()
            case (47, 2): spec.eosPiece = try r.string()
            default: try r.skip(wireType)
            }
        }
        // An empty piece name means the default, as SentencePiece reads it.
        if spec.bosPiece.isEmpty { spec.bosPiece = Array("<s>".utf8) }
        if spec.eosPiece.isEmpty { spec.eosPiece = Array("</s>".utf8) }
    }

    static func normalizer(_ bytes: [UInt8], _ range: Range<Int>, into spec: inout NormalizerSpec) throws {
        var r = ProtoReader(bytes, range: range)
        spec.raw += bytes[range]
        while let (number, wireType) = try r.nextField() {
            switch (number, wireType) {
            case (1, 2): spec.name = String(decoding: try r.string(), as: UTF8.self)
            case (2, 2): spec.precompiledCharsmap = try r.string()
            case (3, 0): spec.addDummyPrefix = try r.bool()
            case (4, 0): spec.removeExtraWhitespaces = try r.bool()
            case (5, 0): spec.escapeWhitespaces = try r.bool()
            default: try r.skip(wireType)
            }
        }
    }

    /// The model's bytes: each spec as it was read, or made from its values
    /// when it was made here.
    public func serialized() -> [UInt8] {
        if !read.isEmpty { return read }
        var w = ProtoWriter()
        for piece in pieces {
            var p = ProtoWriter()
            p.field(1, bytes: piece.bytes)
            p.field(2, float: piece.score)
            if piece.type != .normal { p.field(3, varint: UInt64(piece.type.rawValue)) }
            w.field(1, bytes: p.bytes)
        }
        w.field(2, bytes: trainerSpec.raw.isEmpty ? SentencePieceModelProto.trainerBytes(trainerSpec) : trainerSpec.raw)
        w.field(3, bytes: normalizerSpec.raw.isEmpty ? SentencePieceModelProto.normalizerBytes(normalizerSpec) : normalizerSpec.raw)
        if let d = denormalizerSpec { w.field(5, bytes: d.raw.isEmpty ? SentencePieceModelProto.normalizerBytes(d) : d.raw) }
        return w.bytes
    }

    static func trainerBytes(_ spec: TrainerSpec) -> [UInt8] {
        var w = ProtoWriter()
        w.field(3, varint: UInt64(spec.modelType.rawValue))
        if spec.treatWhitespaceAsSuffix { w.field(24, bool: true) }
        if spec.byteFallback { w.field(35, bool: true) }
        w.field(44, bytes: spec.unkSurface)
        w.field(46, bytes: spec.bosPiece)
        w.field(47, bytes: spec.eosPiece)
        return w.bytes
    }

    static func normalizerBytes(_ spec: NormalizerSpec) -> [UInt8] {
        var w = ProtoWriter()
        w.field(1, bytes: Array(spec.name.utf8))
        if !spec.precompiledCharsmap.isEmpty { w.field(2, bytes: spec.precompiledCharsmap) }
        w.field(3, bool: spec.addDummyPrefix)
        w.field(4, bool: spec.removeExtraWhitespaces)
        w.field(5, bool: spec.escapeWhitespaces)
        return w.bytes
    }
}
