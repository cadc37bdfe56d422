import CTokRuntime

/// What step 2 of ``PieceBatch/flush(tables:cache:scratch:into:)`` learnt of
/// a piece, for step 3.
@usableFromInline
enum PieceState {
    /// A short piece the shared cache held: the entry's head then, which
    /// vouches for its ids while the entry is unchanged
    /// (``PieceCacheView/copyIfUnchanged(slot:head:to:)``).
    case hit(head: UInt64)
    /// A short piece the shared cache did not hold: its hash, for the
    /// vocabulary's lookup table.
    case miss(hash: UInt64)
    /// A piece for the thread's ``LongPieceCache``: its hash.
    case long(hash: UInt64)
    /// A piece longer than any cache holds.
    case uncached
}

/// Up to ``capacity`` pieces waiting for their cache entries (see
/// ``Tokenizer/encodeInBatches(_:tables:cache:scratch:into:)``), in flat
/// arrays of one field each, indexed by the piece's place in the batch.
@usableFromInline
struct PieceBatch {
    @usableFromInline static let capacity = 128
    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline let end: UnsafePointer<UInt8>
    /// Each piece's offset in the text and its length in bytes.
    @usableFromInline let starts: UnsafeMutablePointer<Int>
    @usableFromInline let lengths: UnsafeMutablePointer<Int>
    /// How many ids each piece of the last flush gave.
    @usableFromInline let idCounts: UnsafeMutablePointer<Int>
    /// A short piece's key and its entry in the shared cache (step 1).
    @usableFromInline let keys: UnsafeMutablePointer<PieceKey>
    @usableFromInline let slots: UnsafeMutablePointer<Int>
    /// Each piece not yet served after step 2: what step 2 learnt.
    @usableFromInline let states: UnsafeMutablePointer<PieceState>
    /// The ids of the batch's hits, gathered here and appended to the output
    /// in one copy: an append per id checked the array's uniqueness and room
    /// each time. Room for every piece's most ids (each copy writes that
    /// many after the ones before it).
    @usableFromInline let staged: UnsafeMutablePointer<UInt32>
    @usableFromInline static let stagedCapacity = capacity * SharedPieceCache.maxIds
    @usableFromInline var count = 0

    /// Calls `body` with an empty batch over `text`, its arrays on the stack.
    @inlinable
    static func with<R>(text: UnsafeBufferPointer<UInt8>, _ body: (inout PieceBatch) -> R) -> R {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 4 * capacity) { ints in
            withUnsafeTemporaryAllocation(of: PieceKey.self, capacity: capacity) { keys in
                withUnsafeTemporaryAllocation(of: PieceState.self, capacity: capacity) { states in
                    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: stagedCapacity) { staged in
                        var batch = PieceBatch(text: text, ints: ints.baseAddress!, keys: keys.baseAddress!,
                                               states: states.baseAddress!, staged: staged.baseAddress!)
                        return body(&batch)
                    }
                }
            }
        }
    }

    /// A batch over `text` whose starts, lengths, slots and id counts are the
    /// four arrays of ``capacity`` at `ints`.
    @inlinable
    init(text: UnsafeBufferPointer<UInt8>, ints: UnsafeMutablePointer<Int>, keys: UnsafeMutablePointer<PieceKey>,
         states: UnsafeMutablePointer<PieceState>, staged: UnsafeMutablePointer<UInt32>) {
        self.staged = staged
        base = text.baseAddress!
        end = base + text.count
        starts = ints
        lengths = ints + PieceBatch.capacity
        slots = ints + 2 * PieceBatch.capacity
        idCounts = ints + 3 * PieceBatch.capacity
        self.keys = keys
        self.states = states
    }

    /// Adds a piece; true when the batch is full.
    @inlinable @inline(__always)
    mutating func add(_ piece: Range<Int>) -> Bool {
        starts[count] = piece.lowerBound  // count < capacity: flushed when it reaches it
        lengths[count] = piece.count
        count += 1
        return count == PieceBatch.capacity
    }

    /// Appends the ids of every piece in the batch, in order, and empties it.
    @inlinable
    mutating func flush(
        tables: BPETables, cache: PieceCacheView, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        // The arrays in locals: through `self` they were read again after every store.
        let count = self.count, base = self.base, end = self.end, starts = self.starts, lengths = self.lengths
        let keys = self.keys, slots = self.slots, states = self.states, staged = self.staged, idCounts = self.idCounts
        // Every index below is < count <= capacity.
        // 1. Request every short piece's cache line.
        for j in 0 ..< count {
            let n = lengths[j]
            guard n <= SharedPieceCache.maxBytes else { continue }
            let key = PieceKey(base + starts[j], n, end: end)
            let slot = key.slot(n, cache.shift)
            keys[j] = key
            slots[j] = slot
            tok_prefetch(cache.entry(slot))
        }
        // 2. For each that misses, request its slot in the vocabulary's lookup
        // table. Hits before the batch's first miss are served here already,
        // into `staged` (`ready` ids so far).
        var served = 0, ready = 0
        for j in 0 ..< count {
            let n = lengths[j]
            if n > SharedPieceCache.maxBytes {
                // A long piece (a Chinese clause): its hash for step 3, and the
                // lines its two lookups will read, requested now so that the
                // batch's misses overlap.
                guard n <= LongPieceCache.maxBytes else {
                    states[j] = .uncached
                    continue
                }
                let h = hashBytes(base + starts[j], n)
                states[j] = .long(hash: h)
                scratch.longPieces.prefetch(hash: h)
                tok_prefetch(tables.lookupSlot(hash: h))
                continue
            }
            let head = cache.holds(keys[j], n, slot: slots[j])
            guard head == 0 else {
                if served == j, case let k = cache.copyIfUnchanged(slot: slots[j], head: head, to: staged + ready), k > 0 {
                    ready &+= k  // at most maxIds a piece: within stagedCapacity
                    idCounts[j] = k
                    served = j &+ 1
                } else {
                    states[j] = .hit(head: head)
                }
                continue
            }
            let h = hashBytes(base + starts[j], n)
            states[j] = .miss(hash: h)
            tok_prefetch(tables.lookupSlot(hash: h))
        }
        // 3. Serve the rest in order: hits into `staged`, the others, after
        // what is staged, straight into `out`.
        for j in served ..< count {
            let start = base + starts[j], n = lengths[j]
            if case .hit(let head) = states[j] {
                // Still a hit if the entry's head has not changed (an earlier
                // piece of this batch, or another thread, may have taken the
                // entry since: its sequence number moved).
                let k = cache.copyIfUnchanged(slot: slots[j], head: head, to: staged + ready)
                if k > 0 {
                    ready &+= k
                    idCounts[j] = k
                    continue
                }
            }
            if ready > 0 {
                out.append(contentsOf: UnsafeBufferPointer(start: staged, count: ready))
                ready = 0
            }
            let before = out.count
            defer { idCounts[j] = out.count - before }
            switch states[j] {
            case .uncached:
                tables.encodePiece(start, n, scratch: &scratch, into: &out)
            case .long(let h):
                if scratch.longPieces.lookUp(start, n, hash: h, into: &out) { continue }
                tables.encodePiece(start, n, hash: h, scratch: &scratch, into: &out)
                out.withUnsafeBufferPointer { ids in
                    scratch.longPieces.store(start, n, hash: h, ids: UnsafeBufferPointer(rebasing: ids[before...]))
                }
            case .hit:
                encodeAndStore(j, hash: hashBytes(start, n), tables: tables, cache: cache, scratch: &scratch, into: &out)
            case .miss(let h):
                encodeAndStore(j, hash: h, tables: tables, cache: cache, scratch: &scratch, into: &out)
            }
        }
        if ready > 0 { out.append(contentsOf: UnsafeBufferPointer(start: staged, count: ready)) }
        self.count = 0
    }

    /// Short piece `j` by the vocabulary, its ids then stored in the shared
    /// cache if there are few enough.
    @inlinable @inline(__always)
    func encodeAndStore(
        _ j: Int, hash h: UInt64, tables: BPETables, cache: PieceCacheView, scratch: inout BytePairScratch,
        into out: inout ContiguousArray<UInt32>
    ) {
        let n = lengths[j]
        let before = out.count
        tables.encodePiece(base + starts[j], n, hash: h, scratch: &scratch, into: &out)
        guard out.count - before <= SharedPieceCache.maxIds else { return }
        out.withUnsafeBufferPointer { ids in
            cache.store(keys[j], n, slot: slots[j], ids: UnsafeBufferPointer(rebasing: ids[before...]))
        }
    }
}
