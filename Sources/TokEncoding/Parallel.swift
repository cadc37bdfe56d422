import Dispatch

/// Runs `body(lane)` for lanes `0..<lanes` on as many threads at once and
/// returns the results in lane order; the first lane's error, if any, is thrown.
///
/// The package's one place where work crosses threads unchecked: `body` may
/// capture buffers and other non-Sendable state, on the contract that lanes
/// only read what they share and each writes its own result (or memory that no
/// other lane touches). Every parallel loop of the package goes through here.
package func inParallel<T, E: Error>(lanes: Int, _ body: (Int) throws(E) -> T) throws(E) -> [T] {
    if lanes <= 1 { return lanes == 1 ? [try body(0)] : [] }
    let results = UnsafeMutableBufferPointer<Result<T, E>?>.allocate(capacity: lanes)
    results.initialize(repeating: nil)
    defer {
        results.deinitialize()
        results.deallocate()
    }
    withoutActuallyEscaping(body) { body in
        let shared = UncheckedSendable((body, results))
        DispatchQueue.concurrentPerform(iterations: lanes) { lane in
            // lane < lanes: each lane writes only its own slot.
            shared.value.1[lane] = Result { () throws(E) -> T in try shared.value.0(lane) }
        }
    }
    var out: [T] = []
    out.reserveCapacity(lanes)
    for r in results { out.append(try r!.get()) }
    return out
}

/// A value handed across the threads of ``inParallel(lanes:_:)``.
package struct UncheckedSendable<T>: @unchecked Sendable {
    package let value: T
    package init(_ value: T) { self.value = value }
}
