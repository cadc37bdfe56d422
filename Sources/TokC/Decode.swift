import Glibc
import TokEncoding

/// The bytes of `count` ids at `ids` into `*result`'s bytes.
@_cdecl("tok_decode")
public func tok_decode(
    _ encoding: UnsafeRawPointer, _ ids: UnsafePointer<UInt32>?, _ count: Int,
    _ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ error: ErrorOut
) -> Int32 {
    call(error) {
        let tokenizer = object(encoding, as: EncodingHandle.self).tokenizer
        let r = CallResult()
        try tokenizer.decode(UnsafeBufferPointer(start: count > 0 ? ids : nil, count: max(count, 0)), into: &r.bytes)
        result.pointee = retained(r)
    }
}

/// `count` sequences of ids (sequence `k` is `ids[offsets[k] ..< offsets[k + 1]]`)
/// decoded into `*result`'s bytes and offsets (count + 1).
@_cdecl("tok_decode_batch")
public func tok_decode_batch(
    _ encoding: UnsafeRawPointer, _ ids: UnsafePointer<UInt32>?, _ offsets: UnsafePointer<Int>, _ count: Int,
    _ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ error: ErrorOut
) -> Int32 {
    call(error) {
        let tokenizer = object(encoding, as: EncodingHandle.self).tokenizer
        let r = CallResult()
        r.offsets = [0]
        for k in 0 ..< max(count, 0) {
            let n = offsets[k + 1] - offsets[k]
            do {
                try tokenizer.decode(UnsafeBufferPointer(start: n > 0 ? ids! + offsets[k] : nil, count: max(n, 0)), into: &r.bytes)
            } catch let failure as DecodeError {
                throw CallError("sequence \(k): \(failure)")
            }
            r.offsets.append(r.bytes.count)
        }
        result.pointee = retained(r)
    }
}

/// The id of the token whose bytes are the `length` bytes at `bytes` (a BPE
/// token, else an added token's text), or -1 when there is none.
@_cdecl("tok_token_id")
public func tok_token_id(_ encoding: UnsafeRawPointer, _ bytes: UnsafePointer<UInt8>?, _ length: Int) -> Int64 {
    let vocabulary = object(encoding, as: EncodingHandle.self).tokenizer.vocabulary
    let token = Array(UnsafeBufferPointer(start: length > 0 ? bytes : nil, count: max(length, 0)))
    if let id = vocabulary.id(of: token) { return Int64(id) }
    if let special = vocabulary.specialTokens.first(where: { Array($0.content.utf8) == token }) { return Int64(special.id) }
    return -1
}
