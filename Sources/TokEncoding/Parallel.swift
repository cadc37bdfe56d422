import Dispatch
import Synchronization

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

/// Runs items through `workers` threads in order: the calling thread makes
/// each item (`produce`, false at the end) and takes it back when `work` is
/// done with it (`consume`), in the order made, while the workers run `work`
/// on up to `window` items at once. There is no barrier between items: a
/// worker takes the next item as soon as it is free, and reading ahead and
/// writing behind keep the workers busy.
///
/// `work` gets its worker's number (`0..<workers`) for state of its own; the
/// items, reused once consumed, keep their buffers between rounds. The first
/// error of `produce` or `consume` stops the workers (items not yet taken are
/// dropped) and is thrown once they have stopped.
package func inOrderedPipeline<Item>(
    workers: Int, window: Int, item makeItem: () -> Item,
    produce: (inout Item) throws -> Bool,
    work: (_ worker: Int, inout Item) -> Void,
    consume: (inout Item) throws -> Void
) throws {
    let items = (0 ..< window).map { _ in PipelineItem(makeItem()) }
    try withoutActuallyEscaping(work) { work in
        let shared = PipelineWork(work)
        let queue = PipelineQueue()
        let running = DispatchGroup()
        for worker in 0 ..< workers {
            // A queue of its own each: a thread of its own, as the workers block.
            DispatchQueue(label: "tok.pipeline.\(worker)").async(group: running) {
                while let k = queue.take() {
                    let item = items[k % window]
                    shared.work!(worker, &item.value)
                    item.done.signal()
                }
            }
        }
        defer {
            queue.finish(workers: workers)
            running.wait()
            shared.work = nil  // the workers' blocks may outlive this call; the closure must not
        }
        var made = 0, consumed = 0, atEnd = false
        while true {
            if made - consumed == window || (atEnd && consumed < made) {
                let item = items[consumed % window]
                item.done.wait()
                try consume(&item.value)
                consumed += 1
            } else if atEnd {
                return
            } else if try produce(&items[made % window].value) {
                made += 1
                queue.publish()
            } else {
                atEnd = true
            }
        }
    }
}

/// An item of ``inOrderedPipeline(workers:window:item:produce:work:consume:)``,
/// written by the calling thread until published, then by the one worker that
/// takes it until `done` is signalled: the queue's lock and the semaphore
/// order the two, so no two threads hold it at once.
private final class PipelineItem<Item>: @unchecked Sendable {
    var value: Item
    let done = DispatchSemaphore(value: 0)
    init(_ value: Item) { self.value = value }
}

/// The pipeline's `work`, read by the workers while it runs (see ``inParallel(lanes:_:)`` for the contract).
private final class PipelineWork<Item>: @unchecked Sendable {
    var work: ((Int, inout Item) -> Void)?
    init(_ work: @escaping (Int, inout Item) -> Void) { self.work = work }
}

/// The numbers of the items published and not yet taken by a worker.
private final class PipelineQueue: Sendable {
    private let state = Mutex<(published: Int, taken: Int, finished: Bool)>((0, 0, false))
    private let available = DispatchSemaphore(value: 0)

    func publish() {
        state.withLock { $0.published += 1 }
        available.signal()
    }

    /// The next item's number; nil once finished.
    func take() -> Int? {
        available.wait()
        return state.withLock { s in
            guard !s.finished, s.taken < s.published else { return nil }
            s.taken += 1
            return s.taken - 1
        }
    }

    /// Wakes every worker to stop.
    func finish(workers: Int) {
        state.withLock { $0.finished = true }
        for _ in 0 ..< workers { available.signal() }
    }
}
