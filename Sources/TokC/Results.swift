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

/// Where `array`'s elements are (a valid pointer for an empty one), and
/// their number in `count`. A result is not changed after the call that
/// filled it, so its storage stays put while the result lives.
private func exposed<C: ContiguousCollection>(_ array: C, _ count: UnsafeMutablePointer<Int>) -> UnsafePointer<C.Element>? {
    count.pointee = array.count
    return array.withUnsafeBufferPointer { $0.baseAddress }
}

/// A contiguous array of the result: its elements' place is stable while it is not changed.
protocol ContiguousCollection: Collection {
    func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R
}
extension Array: ContiguousCollection {}
extension ContiguousArray: ContiguousCollection {}

@_cdecl("tok_result_ids")
public func tok_result_ids(_ result: UnsafeRawPointer, _ count: UnsafeMutablePointer<Int>) -> UnsafePointer<UInt32>? {
    exposed(object(result, as: CallResult.self).ids, count)
}

@_cdecl("tok_result_offsets")
public func tok_result_offsets(_ result: UnsafeRawPointer, _ count: UnsafeMutablePointer<Int>) -> UnsafePointer<Int>? {
    exposed(object(result, as: CallResult.self).offsets, count)
}

@_cdecl("tok_result_bytes")
public func tok_result_bytes(_ result: UnsafeRawPointer, _ count: UnsafeMutablePointer<Int>) -> UnsafePointer<UInt8>? {
    exposed(object(result, as: CallResult.self).bytes, count)
}

@_cdecl("tok_result_counts")
public func tok_result_counts(_ result: UnsafeRawPointer, _ count: UnsafeMutablePointer<Int>) -> UnsafePointer<Int>? {
    exposed(object(result, as: CallResult.self).counts, count)
}

@_cdecl("tok_result_release")
public func tok_result_release(_ result: UnsafeMutableRawPointer?) {
    guard let result else { return }
    Unmanaged<CallResult>.fromOpaque(result).release()
}
