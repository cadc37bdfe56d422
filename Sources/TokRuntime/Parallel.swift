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

/// Runs items through one thread per element of `workers` in order: the
/// calling thread makes each item (`produce`, false at the end) and takes it
/// back when `work` is done with it (`consume`), in the order made, while the
/// workers run `work` on up to four items each at once (one being worked on,
/// the rest queued or waiting to be consumed, so that neither reading ahead
/// nor writing behind stalls them). There is no barrier between items: a
/// worker takes the next item as soon as it is free.
///
/// `work` gets its worker's own state (a scratch with a warm cache, say),
/// which the caller keeps afterwards; the items, reused once consumed, keep
/// their buffers between rounds. The first error of `produce` or `consume`
/// stops the workers (items not yet taken are dropped) and is thrown once
/// they have stopped.
package func inOrderedPipeline<Worker, Item>(
    workers: inout [Worker], item makeItem: () -> Item,
    produce: (inout Item) throws -> Bool,
    work: (inout Worker, inout Item) -> Void,
    consume: (inout Item) throws -> Void
) throws {
    let window = 4 * workers.count
    let items = (0 ..< window).map { _ in PipelineItem(makeItem()) }
    try workers.withUnsafeMutableBufferPointer { states in
        try withoutActuallyEscaping(work) { work in
            let shared = PipelineWork(work, states)
            let queue = PipelineQueue()
            let running = DispatchGroup()
            for worker in 0 ..< states.count {
                // A queue of its own each: a thread of its own, as the workers block.
                DispatchQueue(label: "tok.pipeline.\(worker)").async(group: running) {
                    while let k = queue.take() {
                        let item = items[k % window]
                        // worker < states.count: each worker touches only its own state.
                        shared.work!(&shared.states[worker], &item.value)
                        item.done.signal()
                    }
                }
            }
            defer {
                queue.finish(workers: states.count)
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
}

/// An item of ``inOrderedPipeline(workers:item:produce:work:consume:)``,
/// written by the calling thread until published, then by the one worker that
/// takes it until `done` is signalled: the queue's lock and the semaphore
/// order the two, so no two threads hold it at once.
private final class PipelineItem<Item>: @unchecked Sendable {
    var value: Item
    let done = DispatchSemaphore(value: 0)
    init(_ value: Item) { self.value = value }
}

/// The pipeline's `work` and the workers' states, read by the workers while
/// it runs (see ``inParallel(lanes:_:)`` for the contract).
private final class PipelineWork<Worker, Item>: @unchecked Sendable {
    var work: ((inout Worker, inout Item) -> Void)?
    let states: UnsafeMutableBufferPointer<Worker>
    init(_ work: @escaping (inout Worker, inout Item) -> Void, _ states: UnsafeMutableBufferPointer<Worker>) {
        self.work = work
        self.states = states
    }
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
