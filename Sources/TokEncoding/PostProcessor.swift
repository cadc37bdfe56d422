/// What `tokenizers` adds around an encoding when `add_special_tokens` is on:
/// its post-processors that change ids (`TemplateProcessing`,
/// `RobertaProcessing`, `BertProcessing`); `ByteLevel` only trims offsets.
public indirect enum PostProcessor: Sendable, Hashable {
    case none
    /// `ByteLevel` (offsets only): kept for export.
    case byteLevel(addPrefixSpace: Bool, trimOffsets: Bool, useRegex: Bool)
    /// A template: `single` and `pair` as pieces, and the ids of each named special token.
    case template(single: [TemplatePiece], pair: [TemplatePiece], specialTokens: [TemplateSpecial])
    /// `<s> A </s>` (Roberta) or `[CLS] A [SEP]` (Bert): `cls` and `sep` as (content, id).
    case roberta(cls: TemplateSpecial, sep: TemplateSpecial, trimOffsets: Bool, addPrefixSpace: Bool)
    case bert(cls: TemplateSpecial, sep: TemplateSpecial)
    case sequence([PostProcessor])

    /// `ids` of one sequence with this post-processor's special tokens around them.
    public func apply(to ids: ContiguousArray<UInt32>) -> ContiguousArray<UInt32> {
        switch self {
        case .none, .byteLevel: return ids
        case .template(let single, _, let specials):
            var out = ContiguousArray<UInt32>()
            out.reserveCapacity(ids.count + 8)
            for piece in single {
                switch piece {
                case .sequence: out.append(contentsOf: ids)
                case .special(let name, _):
                    if let s = specials.first(where: { $0.name == name }) { out.append(contentsOf: s.ids) }
                }
            }
            return out
        case .roberta(let cls, let sep, _, _), .bert(let cls, let sep):
            return ContiguousArray(cls.ids) + ids + ContiguousArray(sep.ids)
        case .sequence(let steps):
            return steps.reduce(ids) { $1.apply(to: $0) }
        }
    }

    /// The ids it puts before and after one sequence.
    public var surroundingIds: (before: [UInt32], after: [UInt32]) {
        let marked = apply(to: [UInt32.max])
        guard let k = marked.firstIndex(of: UInt32.max) else { return (Array(marked), []) }
        return (Array(marked[..<k]), Array(marked[(k + 1)...]))
    }
}

public enum TemplatePiece: Sendable, Hashable {
    /// `$A` / `$B`, with its type id.
    case sequence(id: String, typeId: Int)
    /// A special token by name, with its type id.
    case special(name: String, typeId: Int)
}

public struct TemplateSpecial: Sendable, Hashable {
    public var name: String
    public var ids: [UInt32]
    public var tokens: [String]

    public init(name: String, ids: [UInt32], tokens: [String]) {
        self.name = name
        self.ids = ids
        self.tokens = tokens
    }
}
