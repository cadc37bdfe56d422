import TokEncoding

/// What a call hands back: ids (with each document's offsets for a batch),
/// bytes (with offsets for a batch of decodes) or counts. The caller reads
/// them in place through the accessors, which stay valid until
/// `tok_result_release`: a binding can wrap them without copying (the
/// Python package's numpy arrays do).
final class CallResult {
    var ids = ContiguousArray<UInt32>()
    var offsets = ContiguousArray<Int>()
    var bytes: [UInt8] = []
    var counts = ContiguousArray<Int>()
}

/// The first element of `array`, or a valid pointer for an empty one. The
/// result is not changed after the call that filled it, so the storage stays put.
private func start<T>(_ array: ContiguousArray<T>) -> UnsafePointer<T>? {
    array.withUnsafeBufferPointer { $0.baseAddress }
}

private func start<T>(_ array: [T]) -> UnsafePointer<T>? {
    array.withUnsafeBufferPointer { $0.baseAddress }
}

@_cdecl("tok_result_ids")
public func tok_result_ids(_ result: UnsafeRawPointer, _ count: UnsafeMutablePointer<Int>) -> UnsafePointer<UInt32>? {
    let r = object(result, as: CallResult.self)
    count.pointee = r.ids.count
    return start(r.ids)
}

@_cdecl("tok_result_offsets")
public func tok_result_offsets(_ result: UnsafeRawPointer, _ count: UnsafeMutablePointer<Int>) -> UnsafePointer<Int>? {
    let r = object(result, as: CallResult.self)
    count.pointee = r.offsets.count
    return start(r.offsets)
}

@_cdecl("tok_result_bytes")
public func tok_result_bytes(_ result: UnsafeRawPointer, _ count: UnsafeMutablePointer<Int>) -> UnsafePointer<UInt8>? {
    let r = object(result, as: CallResult.self)
    count.pointee = r.bytes.count
    return start(r.bytes)
}

@_cdecl("tok_result_counts")
public func tok_result_counts(_ result: UnsafeRawPointer, _ count: UnsafeMutablePointer<Int>) -> UnsafePointer<Int>? {
    let r = object(result, as: CallResult.self)
    count.pointee = r.counts.count
    return start(r.counts)
}

@_cdecl("tok_result_release")
public func tok_result_release(_ result: UnsafeMutableRawPointer?) {
    guard let result else { return }
    Unmanaged<CallResult>.fromOpaque(result).release()
}
