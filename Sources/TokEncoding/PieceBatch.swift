import CTokRuntime

/// What step 2 of ``PieceBatch/flush(tables:cache:scratch:into:)`` learnt of
/// a piece it could not serve, for step 3.
@usableFromInline
enum PieceState {
    /// A short piece the shared cache did not hold: its hash, for the
    /// vocabulary's lookup table.
    case miss(hash: UInt64)
    /// A short piece whose half sends it to its line (its ids did not fit),
    /// which is now its entry.
    case forwarded
    /// A piece for the thread's ``LongPieceCache``: its hash.
    case long(hash: UInt64)
    /// A piece longer than any cache holds.
    case uncached
}

/// ``capacity`` pieces or more (a window's pieces join together, up to
/// ``room``) waiting for their cache entries (see
/// ``Tokenizer/encodeInBatches(_:tables:cache:scratch:into:)``), in flat
/// arrays of one field each, indexed by the piece's place in the batch.
@usableFromInline
struct PieceBatch {
    @usableFromInline static let capacity = 128
    /// Room in the arrays: a window's pieces (at most 64) join a batch that is not yet full.
    @usableFromInline static let room = capacity + 64
    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline let end: UnsafePointer<UInt8>
    /// Each piece's offset in the text and its length in bytes.
    @usableFromInline let starts: UnsafeMutablePointer<Int>
    @usableFromInline let lengths: UnsafeMutablePointer<Int>
    /// How many ids each piece of the last flush gave.
    @usableFromInline let idCounts: UnsafeMutablePointer<Int>
    /// A short piece's key and its entry in the shared cache (step 1; a forwarded piece's line from step 2).
    @usableFromInline let keys: UnsafeMutablePointer<PieceKey>
    @usableFromInline let entries: UnsafeMutablePointer<UnsafeMutablePointer<UInt64>>
    /// The pieces step 2 could not serve, in order (`missed` of them): each
    /// one's place in the batch, how many ids of hits were staged before
    /// it, and what step 2 learnt of it.
    @usableFromInline let missedPieces: UnsafeMutablePointer<Int>
    @usableFromInline let stagedBefore: UnsafeMutablePointer<Int>
    @usableFromInline let states: UnsafeMutablePointer<PieceState>
    /// The ids of the batch's hits, gathered here and appended to the output
    /// between the misses' in a copy per run: an append per id checked the
    /// array's uniqueness and room each time. Room for every piece's most
    /// ids (each copy writes that many after the ones before it).
    @usableFromInline let staged: UnsafeMutablePointer<UInt32>
    @usableFromInline static let stagedCapacity = room * SharedPieceCache.maxIds
    @usableFromInline var count = 0

    /// Calls `body` with an empty batch over `text`, its arrays on the stack.
    @inlinable
    static func with<R>(text: UnsafeBufferPointer<UInt8>, _ body: (inout PieceBatch) -> R) -> R {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 5 * room) { ints in
            withUnsafeTemporaryAllocation(of: PieceKey.self, capacity: room) { keys in
                withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<UInt64>.self, capacity: room) { entries in
                    withUnsafeTemporaryAllocation(of: PieceState.self, capacity: room) { states in
                        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: stagedCapacity) { staged in
                            var batch = PieceBatch(text: text, ints: ints.baseAddress!, keys: keys.baseAddress!,
                                                   entries: entries.baseAddress!, states: states.baseAddress!,
                                                   staged: staged.baseAddress!)
                            return body(&batch)
                        }
                    }
                }
            }
        }
    }

    /// A batch over `text` whose starts, lengths, id counts, missed pieces
    /// and their staged counts are the five arrays of ``room`` at `ints`.
    @inlinable
    init(text: UnsafeBufferPointer<UInt8>, ints: UnsafeMutablePointer<Int>, keys: UnsafeMutablePointer<PieceKey>,
         entries: UnsafeMutablePointer<UnsafeMutablePointer<UInt64>>, states: UnsafeMutablePointer<PieceState>,
         staged: UnsafeMutablePointer<UInt32>) {
        self.staged = staged
        base = text.baseAddress!
        end = base + text.count
        starts = ints
        lengths = ints + PieceBatch.room
        idCounts = ints + 2 * PieceBatch.room
        missedPieces = ints + 3 * PieceBatch.room
        stagedBefore = ints + 4 * PieceBatch.room
        self.keys = keys
        self.entries = entries
        self.states = states
    }

    /// Adds a piece; true when the batch is full.
    @inlinable @inline(__always)
    mutating func add(_ piece: Range<Int>) -> Bool {
        starts[count] = piece.lowerBound  // count < capacity: flushed when it reaches it
        lengths[count] = piece.count
        count += 1
        return count >= PieceBatch.capacity
    }

    /// Adds the pieces a window decides (``PieceSplitter/forEachPiece(_:_:window:)``),
    /// which the batch has room for while it is not full; true when it is full.
    @inlinable @inline(__always)
    mutating func add(window i: Int, ends: UInt64) -> Bool {
        // The count and arrays in locals: through `self`, the count was read
        // back after every store into the arrays.
        var k = count, e = ends, start = i
        let starts = self.starts, lengths = self.lengths
        while e != 0 {
            let end = i &+ e.trailingZeroBitCount
            starts[k] = start  // k < capacity + 64 = room: the batch was not full, and a window has at most 64 pieces
            lengths[k] = end &- start
            start = end
            k &+= 1
            e &= e &- 1
        }
        count = k
        return k >= PieceBatch.capacity
    }

    /// Appends the ids of every piece in the batch, in order, and empties it.
    @inlinable
    mutating func flush(
        tables: BPETables, cache: PieceCacheView, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        // The arrays in locals: through `self` they were read again after every store.
        let count = self.count, base = self.base, end = self.end, starts = self.starts, lengths = self.lengths
        let keys = self.keys, entries = self.entries, states = self.states, staged = self.staged, idCounts = self.idCounts
        let missedPieces = self.missedPieces, stagedBefore = self.stagedBefore
        // Every index below is < count <= room.
        // 1. Request every short piece's cache line.
        for j in 0 ..< count {
            let n = lengths[j]
            guard n <= SharedPieceCache.maxBytes else { continue }
            let key = PieceKey(base + starts[j], n, end: end)
            let e = cache.entry(key, n)
            keys[j] = key
            entries[j] = e
            tok_prefetch(e)
        }
        // 2. Serve every hit into `staged` (`ready` ids so far); for each
        // other piece, note where it falls among them and request the lines
        // step 3 will read.
        var ready = 0, missed = 0
        for j in 0 ..< count {
            let n = lengths[j]
            if n <= SharedPieceCache.maxBytes {
                let half = PieceCacheView.inHalf(keys[j], n)
                let head = cache.holds(keys[j], n, at: entries[j], half: half)
                if head != 0 && half && PieceCacheView.isForwarded(head) {
                    states[missed] = .forwarded
                    entries[j] = cache.line(keys[j], n)
                    tok_prefetch(entries[j])
                } else {
                    if head != 0, case let k = cache.copyIfUnchanged(entries[j], half: half, head: head, to: staged + ready),
                       k > 0 {
                        ready &+= k  // at most maxIds a piece: within stagedCapacity
                        idCounts[j] = k
                        continue
                    }
                    let h = hashBytes(base + starts[j], n)
                    states[missed] = .miss(hash: h)
                    tok_prefetch(tables.lookupSlot(hash: h))
                }
            } else if n <= LongPieceCache.maxBytes {
                // A long piece (a Chinese clause): its hash for step 3, and the
                // lines its two lookups will read, requested now so that the
                // batch's misses overlap.
                let h = hashBytes(base + starts[j], n)
                states[missed] = .long(hash: h)
                scratch.longPieces.prefetch(hash: h)
                tok_prefetch(tables.lookupSlot(hash: h))
            } else {
                states[missed] = .uncached
            }
            missedPieces[missed] = j
            stagedBefore[missed] = ready
            missed &+= 1
        }
        // 3. The missed pieces in order, each after the hits staged before it.
        var copied = 0
        for i in 0 ..< missed {
            let j = missedPieces[i], start = base + starts[j], n = lengths[j]
            if stagedBefore[i] > copied {
                out.append(contentsOf: UnsafeBufferPointer(start: staged + copied, count: stagedBefore[i] - copied))
                copied = stagedBefore[i]
            }
            let before = out.count
            defer { idCounts[j] = out.count - before }
            switch states[i] {
            case .uncached:
                tables.encodePiece(start, n, scratch: &scratch, into: &out)
            case .long(let h):
                if scratch.longPieces.lookUp(start, n, hash: h, into: &out) { continue }
                tables.encodePiece(start, n, hash: h, scratch: &scratch, into: &out)
                out.withUnsafeBufferPointer { ids in
                    scratch.longPieces.store(start, n, hash: h, ids: UnsafeBufferPointer(rebasing: ids[before...]))
                }
            case .miss(let h):
                encodeAndStore(j, hash: h, tables: tables, cache: cache, scratch: &scratch, into: &out)
            case .forwarded:
                // Its line, requested in step 2. Past the hits' ids there is room for its 7 words:
                // this piece is no hit, so ready <= 7 * (room - 1).
                let line = entries[j]
                let head = cache.holds(keys[j], n, at: line, half: false)
                if head != 0, case let k = cache.copyIfUnchanged(line, half: false, head: head, to: staged + ready), k > 0 {
                    out.append(contentsOf: UnsafeBufferPointer(start: staged + ready, count: k))
                    continue
                }
                encodeAndStore(j, hash: hashBytes(start, n), tables: tables, cache: cache, scratch: &scratch, into: &out)
            }
        }
        if ready > copied { out.append(contentsOf: UnsafeBufferPointer(start: staged + copied, count: ready - copied)) }
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
            cache.store(keys[j], n, ids: UnsafeBufferPointer(rebasing: ids[before...]))
        }
    }
}
