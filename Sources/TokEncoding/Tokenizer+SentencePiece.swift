extension Tokenizer {
    /// A tokenizer for a SentencePiece vocabulary. Its pre-tokenizer only
    /// describes it (a split before each space) and promises no cut, so a
    /// stream is encoded whole, as sentencepiece encodes one text; its
    /// post-processor puts the model's `<s>` before a sequence, as
    /// LLaMA-style tokenizers do with `add_bos`.
    public init(vocabulary: Vocabulary, sentencePiece: SentencePiece, postProcessor: PostProcessor? = nil) {
        let bos = sentencePiece.bos.map { id -> PostProcessor in
            let name = vocabulary.specialTokens.first { $0.id == id }?.content ?? "<s>"
            return .template(single: [.special(name: name, typeId: 0), .sequence(id: "A", typeId: 0)],
                             pair: [.special(name: name, typeId: 0), .sequence(id: "A", typeId: 0),
                                    .special(name: name, typeId: 1), .sequence(id: "B", typeId: 1)],
                             specialTokens: [TemplateSpecial(name: name, ids: [id], tokens: [name])])
        }
        self.init(vocabulary: vocabulary, preTokenizer: SentencePiece.describingPreTokenizer, normalizer: .none,
                  postProcessor: postProcessor ?? bos ?? .none, sentencePiece: sentencePiece)
    }

    /// SentencePiece's encoding of `text`: normalized, cut where merges
    /// cannot cross, merged, and the kernel's own ids turned into the model's.
    /// `atStart`: the text starts the input (a HuggingFace `Metaspace` with
    /// `prepend_scheme` `first` puts `▁` only there).
    func encodeSentencePiece(
        _ text: UnsafeBufferPointer<UInt8>, _ sentencePiece: SentencePiece, atStart: Bool = true,
        scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        var normalized: [UInt8] = []
        swap(&normalized, &scratch.normalized)
        defer {
            // Kept up to 16 MiB: a call on a whole large file does not hold its size for good.
            normalized.removeAll(keepingCapacity: normalized.capacity <= 1 << 24)
            swap(&normalized, &scratch.normalized)
        }
        sentencePiece.normalize(text, atStart: atStart, into: &normalized)
        guard !normalized.isEmpty else { return }
        if case .huggingFace(let json) = sentencePiece.form, json.wholeTextFirst,
           let id = vocabulary.id(of: normalized), Int(id) < sentencePiece.pieceCount {
            return out.append(id)
        }
        let start = out.count
        normalized.withUnsafeBufferPointer { text in
            guard let scores = sentencePiece.tiedScores else {
                encodePieces(text, splitter: sentencePiece.segmenter, scratch: &scratch, into: &out)
                return sentencePiece.resolve(&out, from: start, vocabulary: vocabulary)
            }
            encodeByScores(text, sentencePiece, scores: scores, scratch: &scratch, into: &out)
        }
    }

    /// The model's ids of the cuts of a model whose pieces share scores,
    /// each merged by sentencepiece's own loop. Cuts repeat (they are mostly
    /// words): each is merged once and then taken from a cache, as the
    /// kernel's pieces are: the shared cache for a cut it can hold, the
    /// thread's long-piece cache for a longer one (the thread's cache alone,
    /// 4,096 cuts, was emptied every few thousand words of English). No kernel
    /// piece of such a vocabulary ever reaches the shared cache. A cut of up
    /// to 7 bytes and 2 ids is also kept in the thread's ``BytePairScratch/shortPieces``,
    /// two words an entry: the shared cache's line was read mostly from beyond
    /// the core's own cache (a third of this loop's samples on mathematics).
    /// The caches hold kernel tokens; ``GatheredIds`` turns them into the
    /// model's ids a run at a time as they go to `out`.
    func encodeByScores(
        _ text: UnsafeBufferPointer<UInt8>, _ sentencePiece: SentencePiece, scores: [Float], scratch: inout BytePairScratch,
        into out: inout ContiguousArray<UInt32>
    ) {
        scratch.longPieces.prepare(for: vocabulary.tables)
        var shortPieces = PairCache(entries: 0)
        swap(&shortPieces, &scratch.shortPieces)
        defer { swap(&shortPieces, &scratch.shortPieces) }
        let base = text.baseAddress!, end = base + text.count, cache = pieceCache?.view
        let byteTokens = vocabulary.tables.byteTokens, pieceLimit = UInt32(sentencePiece.pieceCount)
        let byteFallback = !sentencePiece.byteIds.isEmpty
        // The kernel tokens of a cut that no cache held.
        var cutIds = ContiguousArray<UInt32>()
        withExtendedLifetime((pieceCache, vocabulary.storage)) {
            shortPieces.withView(for: vocabulary.tables) { short in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: GatheredIds.capacity) { buffer in
                var gathered = GatheredIds(staged: buffer.baseAddress!, sentencePiece: sentencePiece, vocabulary: vocabulary)
                sentencePiece.segmenter.forEachPiece(text) { piece in
                    let p = base + piece.lowerBound, n = piece.count
                    if n == 1 && p[0] < 0x80 {
                        // One ASCII character (a third of the cuts of mathematics: `\n`, `.`, `_`, digits):
                        // its own token, without the cache, and under byte fallback its byte piece at once.
                        let id = byteTokens[Int(p[0])]  // p[0] < 0x80: one of the 256
                        let slot = gathered.room(1, into: &out)
                        slot[0] = id < pieceLimit || !byteFallback ? id : sentencePiece.byteIds[Int(p[0])]
                        gathered.ready += 1
                        return
                    }
                    // A cut of up to 7 bytes: its bytes and length in one word, never `UInt64.max` (the top byte is the length).
                    let shortKey = n <= 7 ? PieceKey(p, n, end: end).w0 | UInt64(n) << 56 : 0
                    if let short, shortKey != 0, case let e = short.entry(for: shortKey), e[0] == shortKey {
                        let value = e[1], slot = gathered.room(2, into: &out)
                        slot[0] = UInt32(truncatingIfNeeded: value & 0x7FFF_FFFF)
                        slot[1] = UInt32(truncatingIfNeeded: value >> 31 & 0x7FFF_FFFF)
                        gathered.ready += Int(truncatingIfNeeded: value >> 62)
                        return
                    }
                    encodeCut(p, n, end: end, shortKey: shortKey, short: short, cache: cache, sentencePiece, scores: scores,
                              scratch: &scratch, cutIds: &cutIds, gathered: &gathered, into: &out)
                }
                gathered.flush(into: &out)
            }
            }
        }
    }

    /// A cut of ``encodeByScores(_:_:scores:scratch:into:)`` that is neither
    /// one ASCII character nor in the thread's table of short cuts (`shortKey`
    /// its key there, 0 past 7 bytes): out of line, so that the loop over the
    /// cuts stays small (with this inside it, every cut paid for saving and
    /// restoring a frame of 800 bytes).
    @inline(never)
    private func encodeCut(
        _ p: UnsafePointer<UInt8>, _ n: Int, end: UnsafePointer<UInt8>, shortKey: UInt64, short: PairCacheView?,
        cache: PieceCacheView?, _ sentencePiece: SentencePiece, scores: [Float], scratch: inout BytePairScratch,
        cutIds: inout ContiguousArray<UInt32>, gathered: inout GatheredIds, into out: inout ContiguousArray<UInt32>
    ) {
        // Keeps the ids of a short cut in its thread's entry when they fit: one or two, each below 2^31.
        @inline(__always) func keep(_ ids: UnsafeBufferPointer<UInt32>) {
            guard let short, shortKey != 0, ids.count <= 2, ids.allSatisfy({ $0 < 1 << 31 }) else { return }
            let e = short.entry(for: shortKey)
            e[0] = shortKey
            e[1] = UInt64(ids[0]) | UInt64(ids.count == 2 ? ids[1] : 0) << 31 | UInt64(ids.count) << 62
        }
        let cut = UnsafeBufferPointer(start: p, count: n)
        var key: PieceKey? = nil
        if let cache, n <= SharedPieceCache.maxBytes {
            key = PieceKey(p, n, end: end)
            // lookUp writes maxIds words.
            let slot = gathered.room(SharedPieceCache.maxIds, into: &out)
            if case let k = cache.lookUp(key!, n, to: slot), k > 0 {
                keep(UnsafeBufferPointer(start: slot, count: k))
                gathered.ready += k
                return
            }
        }
        cutIds.removeAll(keepingCapacity: true)
        if let cache, let key {
            sentencePiece.mergeByScores(cut, scores: scores, vocabulary: vocabulary, into: &cutIds)
            if cutIds.count <= SharedPieceCache.maxIds {
                cutIds.withUnsafeBufferPointer {
                    keep($0)
                    cache.store(key, n, ids: $0)
                }
            }
        } else if n > LongPieceCache.maxBytes {
            sentencePiece.mergeByScores(cut, scores: scores, vocabulary: vocabulary, into: &cutIds)
        } else if case let h = hashBytes(p, n), !scratch.longPieces.lookUp(p, n, hash: h, into: &cutIds) {
            sentencePiece.mergeByScores(cut, scores: scores, vocabulary: vocabulary, into: &cutIds)
            cutIds.withUnsafeBufferPointer {
                keep($0)
                scratch.longPieces.store(p, n, hash: h, ids: $0)
            }
        }
        // After what is gathered.
        gathered.flush(into: &out)
        cutIds.withUnsafeBufferPointer { gathered.appendResolved($0, into: &out) }
    }
}

/// Kernel tokens gathered in a buffer and appended to the output a run at a
/// time (an append per cut checked the array's room each time), each turned
/// into the model's ids as it goes
/// (``SentencePiece/appendResolved(_:to:previousUnknown:vocabulary:)``):
/// resolving the whole output at the end copied all of it past its first
/// byte piece, fresh pages and all.
private struct GatheredIds {
    static let capacity = 1024
    /// ``capacity`` words: the ids gathered are the first ``ready``.
    let staged: UnsafeMutablePointer<UInt32>
    var ready = 0
    let sentencePiece: SentencePiece
    let vocabulary: Vocabulary
    /// Whether the last id appended to the output was an `<unk>` for unknown characters.
    var previousUnknown = false

    init(staged: UnsafeMutablePointer<UInt32>, sentencePiece: SentencePiece, vocabulary: Vocabulary) {
        self.staged = staged
        self.sentencePiece = sentencePiece
        self.vocabulary = vocabulary
    }

    /// Where `k` (at most ``capacity``) more ids go, after the ready ones; the caller adds
    /// those it writes to ``ready``. Appends what is gathered first when they would not fit.
    @inline(__always)
    mutating func room(_ k: Int, into out: inout ContiguousArray<UInt32>) -> UnsafeMutablePointer<UInt32> {
        if ready + k > GatheredIds.capacity { flush(into: &out) }
        return staged + ready  // ready + k <= capacity
    }

    /// Appends what is gathered to `out`, as the model's ids.
    mutating func flush(into out: inout ContiguousArray<UInt32>) {
        guard ready > 0 else { return }
        appendResolved(UnsafeBufferPointer(start: staged, count: ready), into: &out)
        ready = 0
    }

    /// Appends `ids` to `out` as the model's ids.
    mutating func appendResolved(_ ids: UnsafeBufferPointer<UInt32>, into out: inout ContiguousArray<UInt32>) {
        sentencePiece.appendResolved(ids, to: &out, previousUnknown: &previousUnknown, vocabulary: vocabulary)
    }
}

extension SentencePiece {
    /// What an SentencePiece tokenizer's ``Tokenizer/preTokenizer`` says: a
    /// split before each space (`Metaspace`'s). Encoding cuts with
    /// ``SentencePieceSegmenter`` instead.
    static let describingPreTokenizer = PreTokenizer(splits: [Split(.compiled(try! CompiledPattern(" ")), behavior: .mergedWithNext)])

    /// The normalized text in tok's form (a space for `▁`), appended to `out`.
    func normalize(_ text: UnsafeBufferPointer<UInt8>, atStart: Bool, into out: inout [UInt8]) {
        switch form {
        case .model: normalizer!.normalize(text, into: &out)
        case .huggingFace(let json): json.normalize(text, atStart: atStart, into: &out)
        }
    }

    /// Turns the kernel's ids from `start` on into the model's, as
    /// ``appendResolved(_:to:previousUnknown:vocabulary:)`` does.
    ///
    /// - Complexity: O(ids) when every id is a piece's, which a scan finds.
    func resolve(_ out: inout ContiguousArray<UInt32>, from start: Int, vocabulary: Vocabulary) {
        let limit = UInt32(pieceCount)
        var k = start
        while k < out.count && out[k] < limit { k += 1 }
        guard k < out.count else { return }
        let tail = Array(out[k...])
        out.removeSubrange(k...)
        var previousUnknown = false
        tail.withUnsafeBufferPointer { appendResolved($0, to: &out, previousUnknown: &previousUnknown, vocabulary: vocabulary) }
    }

    /// Appends the kernel's `ids` to `out` as the model's: a character no
    /// piece holds becomes its byte pieces under byte fallback, else `<unk>`
    /// (one for a run of them when ``fuseUnknown``); an unused piece the two
    /// it was made of. `previousUnknown`: whether the last id appended was an
    /// `<unk>` for such characters (a text's ids may be resolved a part at a
    /// time; then it is carried from part to part).
    ///
    /// - Complexity: O(ids).
    func appendResolved(_ ids: UnsafeBufferPointer<UInt32>, to out: inout ContiguousArray<UInt32>, previousUnknown: inout Bool,
                        vocabulary: Vocabulary) {
        let limit = UInt32(pieceCount)
        let tables = vocabulary.tables
        // A kernel token's bytes in place (valid while the storage lives, below): a fresh array
        // per id took a tenth of Mistral's mathematics, whose newlines are byte pieces.
        func bytes(_ id: UInt32) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(start: tables.tokenBytes + Int(tables.tokenOffsets[Int(id)]), count: tables.tokenLength(id))
        }
        func emit(_ id: UInt32) {
            if id < limit {
                out.append(id)
                previousUnknown = false
            } else if !unusedParts.isEmpty, let (left, right) = unusedParts[id] {
                emit(left)
                emit(right)
            } else if !byteIds.isEmpty {
                for b in bytes(id) { out.append(byteIds[Int(b)]) }
                previousUnknown = false
            } else if let unknownId {
                if fuseUnknown {
                    if !previousUnknown { out.append(unknownId) }
                } else {
                    // One `<unk>` a character: the parts of one character start one between them.
                    for b in bytes(id) where b & 0xC0 != 0x80 { out.append(unknownId) }
                }
                previousUnknown = true
            }
        }
        var j = 0
        withExtendedLifetime(vocabulary.storage) {
            while j < ids.count {
                // A run of pieces' own ids in one append (an emit per id took 5% of Mistral's mathematics).
                var end = j
                while end < ids.count && ids[end] < limit { end += 1 }
                if end > j {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: ids[j ..< end]))
                    previousUnknown = false
                    j = end
                    continue
                }
                emit(ids[j])
                j += 1
            }
        }
    }

    /// The text of `ids`, appended to `out`, as the vocabulary's library decodes it.
    ///
    /// - Throws: ``DecodeError`` for an id that is not a piece.
    func decode(_ ids: some Collection<UInt32>, vocabulary: Vocabulary, into out: inout [UInt8]) throws {
        for (position, id) in ids.enumerated() where Int(id) >= pieceCount {
            throw DecodeError(id: id, position: position)
        }
        switch form {
        case .model: decodeAsModel(ids, vocabulary: vocabulary, into: &out)
        case .huggingFace(let json): json.decode(ids, into: &out)
        }
    }

    /// sentencepiece's `Decode`: control pieces are nothing, `<unk>` its
    /// surface, a run of byte pieces its characters (U+FFFD for each byte
    /// that starts none), `▁` a space, and the `▁` a first piece starts with dropped.
    func decodeAsModel(_ ids: some Collection<UInt32>, vocabulary: Vocabulary, into out: inout [UInt8]) {
        let start = out.count
        var bytes: [UInt8] = []
        var atStart = true, droppedSpace = false
        for id in ids {
            let type = types[Int(id)]
            if type == .byte {
                bytes.append(byteOfPiece[id]!)
                continue
            }
            SentencePiece.appendValidating(&bytes, to: &out)
            if droppedSpace || out.count > start { atStart = false }
            droppedSpace = false
            switch type {
            case .control: continue
            case .unknown: out.append(contentsOf: unknownSurface)
            default:
                var piece = vocabulary.bytes(of: id)[...]
                if atStart && dropsFirstSpace && startsWithMetaspace[Int(id)] {
                    piece = piece.dropFirst(spaceForm ? 1 : 3)
                    droppedSpace = !dropsLeadingSpaces
                }
                out.append(contentsOf: spaceForm ? Array(piece) : SentencePiece.spaced(Array(piece)))
            }
        }
        SentencePiece.appendValidating(&bytes, to: &out)
        if let denormalizer {
            var text: [UInt8] = []
            Array(out[start...]).withUnsafeBufferPointer { denormalizer.normalize($0, into: &text) }
            out.replaceSubrange(start..., with: text)
        }
    }

    /// Appends `bytes` character by character, U+FFFD for each byte that
    /// starts no valid character, and empties it.
    static func appendValidating(_ bytes: inout [UInt8], to out: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBufferPointer { b in
            var i = 0
            while i < b.count {
                let n = b.validScalarLength(at: i)
                if n == 0 {
                    out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                    i += 1
                } else {
                    out.append(contentsOf: b[i ..< i + n])
                    i += n
                }
            }
        }
        bytes.removeAll(keepingCapacity: true)
    }
}
