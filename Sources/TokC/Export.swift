import TokEncoding

/// The vocabulary as HuggingFace's `tokenizer.json` (`format` 0) or a
/// tiktoken ranks file (1), into `*result`'s bytes.
@_cdecl("tok_export")
public func tok_export(
    _ encoding: UnsafeRawPointer, _ format: Int32,
    _ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ error: ErrorOut
) -> Int32 {
    call(error) {
        let tokenizer = object(encoding, as: EncodingHandle.self).tokenizer
        let r = CallResult()
        switch format {
        case 0: r.bytes = HuggingFaceJSON.write(tokenizer)
        case 1: r.bytes = TiktokenFile.write(tokenizer.vocabulary)
        default: throw CallError("unknown export format \(format) (0: tokenizer.json, 1: tiktoken)")
        }
        result.pointee = retained(r)
    }
}
