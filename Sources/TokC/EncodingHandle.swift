import Foundation
import TokEncoding
import TokRuntime

/// A loaded tokenizer as the C ABI hands it out, with what the Python
/// package asks of it once (``description``).
final class EncodingHandle: @unchecked Sendable {  // `tokenizer` is written only in a forked child before it has threads (ForkSafety)
    var tokenizer: Tokenizer
    let name: String

    init(_ tokenizer: Tokenizer, name: String) {
        self.tokenizer = tokenizer
        self.name = name
    }

    /// The facts a binding needs, as JSON: name, pattern, sizes, special
    /// tokens and the ids `add_special` puts around a document.
    var description: String {
        let v = tokenizer.vocabulary
        let around = tokenizer.postProcessor.surroundingIds
        let facts: [String: Any] = [
            "name": name,
            "pattern": tokenizer.preTokenizer.name,
            "regexes": tokenizer.preTokenizer.regexes,
            "size": v.idLimit,
            "bpe_tokens": v.count,
            "special_tokens": v.specialTokens.sorted { $0.id < $1.id }.map {
                ["id": Int($0.id), "content": $0.content, "special": $0.special] as [String: Any]
            },
            "before": around.before.map(Int.init),
            "after": around.after.map(Int.init),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: facts, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Loads `path` (a vocabulary folder, a tokenizer.json, a SentencePiece model or a tiktoken ranks
/// file; `pattern` may be NULL) into `*encoding`.
@_cdecl("tok_load")
public func tok_load(
    _ path: UnsafePointer<CChar>, _ pattern: UnsafePointer<CChar>?,
    _ encoding: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ error: ErrorOut
) -> Int32 {
    call(error) {
        let path = String(cString: path)
        // Python's calls are mostly long texts and large batches: the cache `tok encode` uses.
        let tokenizer = try Tokenizer.load(path, pattern: pattern.map { String(cString: $0) })
            .withPieceCache(entries: Tokenizer.largePieceCacheEntries)
        let name: String
        if let manifest = try? VocabularyFolder.readManifest(path) {
            name = manifest.name
        } else {
            let file = URL(fileURLWithPath: path).lastPathComponent
            name = file.split(separator: ".").first.map(String.init) ?? file
        }
        let handle = EncodingHandle(tokenizer, name: name)
        ForkSafety.register(handle)
        encoding.pointee = retained(handle)
    }
}

@_cdecl("tok_release")
public func tok_release(_ encoding: UnsafeMutableRawPointer?) {
    guard let encoding else { return }
    ForkSafety.unregister(object(encoding, as: EncodingHandle.self))
    Unmanaged<EncodingHandle>.fromOpaque(encoding).release()
}

/// The handle's facts as JSON (free with `tok_free_string`).
@_cdecl("tok_describe")
public func tok_describe(_ encoding: UnsafeRawPointer) -> UnsafeMutablePointer<CChar>? {
    strdup(object(encoding, as: EncodingHandle.self).description)
}
