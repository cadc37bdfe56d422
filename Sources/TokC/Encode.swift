import Glibc
import TokEncoding
import TokRuntime

/// Which special tokens an encode matches, and which of them it refuses to
/// meet (tiktoken's `disallowed_special`): those are matched too, so that
/// their text is found, and the call fails when one is.
final class SpecialPolicy: Sendable {
    let matched: AllowedSpecial
    /// Refused ids and their text; `lowestRefused` spares the lookup for
    /// nearly every id (special tokens mostly follow the BPE tokens).
    let refused: [UInt32: String]
    let lowestRefused: UInt32

    init(matched: AllowedSpecial, refused: [UInt32: String]) {
        self.matched = matched
        self.refused = refused
        lowestRefused = refused.keys.min() ?? .max
    }

    /// The first refused special token among `ids`, and its position.
    func firstRefused(in ids: ContiguousArray<UInt32>) -> (position: Int, text: String)? {
        guard !refused.isEmpty else { return nil }
        // Nearly always none: a branch-free pass (vectorised) finds that first.
        guard ids.withUnsafeBufferPointer({ $0.reduce(0, max) }) >= lowestRefused else { return nil }
        for (position, id) in ids.enumerated() where id >= lowestRefused {
            if let text = refused[id] { return (position, text) }
        }
        return nil
    }

    static let ordinary = SpecialPolicy(matched: .none, refused: [:])
}

struct RefusedSpecialToken: TokError {
    var text: String
    var document: Int?
    var description: String {
        (document.map { "document \($0): " } ?? "")
            + "the text holds the special token '\(text)', which is not allowed: pass it in allowed_special to encode it "
            + "as a special token, or disallowed_special=() to encode it as text"
    }
}

/// `count` NUL-terminated strings one after another at `start`.
func strings(_ start: UnsafePointer<CChar>?, _ count: Int) -> [String] {
    guard var p = start else { return [] }
    var out: [String] = []
    for _ in 0 ..< count {
        let s = String(cString: p)
        out.append(s)
        p += strlen(p) + 1
    }
    return out
}

/// A policy (free with `tok_policy_release`): `allowedKind` 0 matches no
/// special token, 1 all, 2 the `allowedCount` names at `allowed`; the
/// `refusedCount` names at `refused` are matched and refused. Names that are
/// no special token of the vocabulary are passed over, as tiktoken does.
@_cdecl("tok_policy")
public func tok_policy(
    _ encoding: UnsafeRawPointer, _ allowedKind: Int32, _ allowed: UnsafePointer<CChar>?, _ allowedCount: Int,
    _ refused: UnsafePointer<CChar>?, _ refusedCount: Int
) -> UnsafeMutableRawPointer {
    let specials = object(encoding, as: EncodingHandle.self).tokenizer.vocabulary.specialTokens.filter(\.special)
    let refusedNames = Set(strings(refused, refusedCount))
    let refusedTokens = specials.filter { refusedNames.contains($0.content) }
    let matched: AllowedSpecial
    switch allowedKind {
    case 0 where refusedTokens.isEmpty: matched = .none
    case 1: matched = .all
    default:
        let names = Set(allowedKind == 2 ? strings(allowed, allowedCount) : []).union(refusedTokens.map(\.content))
        matched = specials.allSatisfy { names.contains($0.content) } ? .all : .only(names)
    }
    let refusedById = Dictionary(refusedTokens.map { ($0.id, $0.content) }, uniquingKeysWith: { a, _ in a })
    return retained(SpecialPolicy(matched: matched, refused: refusedById))
}

@_cdecl("tok_policy_release")
public func tok_policy_release(_ policy: UnsafeMutableRawPointer?) {
    guard let policy else { return }
    Unmanaged<SpecialPolicy>.fromOpaque(policy).release()
}

/// Encodes `length` bytes at `text` into `*result`'s ids: with `policy`'s
/// special tokens (NULL: none), and the post-processor's tokens around them
/// when `addSpecial` is not 0.
@_cdecl("tok_encode")
public func tok_encode(
    _ encoding: UnsafeRawPointer, _ text: UnsafePointer<UInt8>?, _ length: Int, _ policy: UnsafeRawPointer?,
    _ addSpecial: Int32, _ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ error: ErrorOut
) -> Int32 {
    call(error) {
        let input = bytes(text, length)
        result.pointee = try encodeOne(encoding, policy, addSpecial, utf8Bytes: input.count) { tokenizer, special, ids in
            tokenizer.encodeMappingOutput(input, allowedSpecial: special, into: &ids)
            return true
        }
    }
}

/// As `tok_encode`, for text given as `length` code points of `width` bytes
/// each (1, 2 or 4: a CPython `str`'s own storage, at `text`), converted to
/// UTF-8 a block at a time. Returns ``CallStatus/surrogates``, with no
/// result, when the text holds a surrogate code point.
@_cdecl("tok_encode_code_points")
public func tok_encode_code_points(
    _ encoding: UnsafeRawPointer, _ text: UnsafeRawPointer?, _ width: Int32, _ length: Int, _ policy: UnsafeRawPointer?,
    _ addSpecial: Int32, _ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ error: ErrorOut
) -> Int32 {
    guard width == 1 || width == 2 || width == 4 else {
        return call(error) { throw CallError("a code point is 1, 2 or 4 bytes, not \(width)") }
    }
    let input = text.map { CodePointText(start: $0, width: Int(width), count: max(length, 0)) }
    var surrogates = false
    let status = call(error) {
        result.pointee = try encodeOne(encoding, policy, addSpecial, utf8Bytes: input.map { $0.count * $0.maxUTF8 } ?? 0) {
            tokenizer, special, ids in
            guard let input, input.count > 0 else { return true }
            surrogates = !tokenizer.encode(input, allowedSpecial: special, into: &ids)
            return !surrogates
        }
    }
    return surrogates ? CallStatus.surrogates.rawValue : status
}

/// A single text's result: `encode` appends its ids between the
/// post-processor's tokens (when `addSpecial` is not 0); nil when it returns false.
private func encodeOne(
    _ encoding: UnsafeRawPointer, _ policy: UnsafeRawPointer?, _ addSpecial: Int32, utf8Bytes: Int,
    _ encode: (Tokenizer, AllowedSpecial, inout ContiguousArray<UInt32>) -> Bool
) throws -> UnsafeMutableRawPointer? {
    let tokenizer = object(encoding, as: EncodingHandle.self).tokenizer
    let policy = policy.map { object($0, as: SpecialPolicy.self) } ?? .ordinary
    let r = CallResult()
    let around = addSpecial != 0 ? tokenizer.postProcessor.surroundingIds : (before: [], after: [])
    // Room for more ids than text has (a byte a token is rare; half as many
    // ids as bytes is more than any domain measured), so that the array is
    // not copied as it grows: untouched room costs no memory. It is left in
    // 4 KiB pages: a fresh huge page's first write costs from a tenth to
    // five times as much a MiB as 4 KiB pages, by whether the host still
    // backs the memory (docs/performance.md), and 4 KiB pages cost the same
    // every time.
    r.ids.reserveCapacity(utf8Bytes / 2 + around.before.count + around.after.count + 16)
    r.ids.append(contentsOf: around.before)
    guard encode(tokenizer, policy.matched, &r.ids) else { return nil }
    if let found = policy.firstRefused(in: r.ids) { throw RefusedSpecialToken(text: found.text) }
    r.ids.append(contentsOf: around.after)
    return retained(r)
}

/// The tokenizer, the policy and the documents of a batch call.
private func batchInput(
    _ encoding: UnsafeRawPointer, _ texts: UnsafePointer<UnsafePointer<UInt8>?>?, _ lengths: UnsafePointer<Int>?,
    _ count: Int, _ policy: UnsafeRawPointer?
) -> (Tokenizer, SpecialPolicy, [UnsafeBufferPointer<UInt8>]) {
    (object(encoding, as: EncodingHandle.self).tokenizer, policy.map { object($0, as: SpecialPolicy.self) } ?? .ordinary,
     (0 ..< max(count, 0)).map { bytes(texts![$0], lengths![$0]) })
}

/// `count` documents (`texts[k]`, `lengths[k]` bytes) encoded on up to
/// `threads` threads into `*result`'s ids and offsets (count + 1) or, when
/// `countOnly` is not 0, only the number of ids of each into its counts (no
/// refused special token is looked for then).
@_cdecl("tok_encode_batch")
public func tok_encode_batch(
    _ encoding: UnsafeRawPointer, _ texts: UnsafePointer<UnsafePointer<UInt8>?>?, _ lengths: UnsafePointer<Int>?,
    _ count: Int, _ policy: UnsafeRawPointer?, _ addSpecial: Int32, _ threads: Int, _ countOnly: Int32,
    _ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ error: ErrorOut
) -> Int32 {
    call(error) {
        let tokenizer = object(encoding, as: EncodingHandle.self).tokenizer
        let policy = policy.map { object($0, as: SpecialPolicy.self) } ?? .ordinary
        let documents = (0 ..< max(count, 0)).map { bytes(texts![$0], lengths![$0]) }
        let r = CallResult()
        if countOnly != 0 {
            r.counts = ContiguousArray(documents.withUnsafeBufferPointer {
                tokenizer.countBatch($0, threads: threads, allowedSpecial: policy.matched, addSpecialTokens: addSpecial != 0)
            })
            result.pointee = retained(r)
            return
        }
        let batch = documents.withUnsafeBufferPointer {
            tokenizer.encodeBatch($0, threads: threads, allowedSpecial: policy.matched, addSpecialTokens: addSpecial != 0)
        }
        if let found = policy.firstRefused(in: batch.ids) {
            // The document whose ids hold the position: the last offset at or before it.
            var low = 0, high = count
            while high - low > 1 {
                let mid = (low + high) / 2
                if batch.offsets[mid] <= found.position { low = mid } else { high = mid }
            }
            throw RefusedSpecialToken(text: found.text, document: low)
        }
        r.ids = batch.ids
        r.offsets = batch.offsets
        result.pointee = retained(r)
    }
}
