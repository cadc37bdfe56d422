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
                return encodePieces(text, splitter: sentencePiece.segmenter, scratch: &scratch, into: &out)
            }
            encodeByScores(text, sentencePiece, scores: scores, scratch: &scratch, into: &out)
        }
        sentencePiece.resolve(&out, from: start, vocabulary: vocabulary)
    }

    /// The kernel tokens of the cuts of a model whose pieces share scores,
    /// each merged by sentencepiece's own loop. Cuts repeat (they are mostly
    /// words): each is merged once and then taken from a cache, as the
    /// kernel's pieces are: the shared cache for a cut it can hold, the
    /// thread's long-piece cache for a longer one (the thread's cache alone,
    /// 4,096 cuts, was emptied every few thousand words of English). No kernel
    /// piece of such a vocabulary ever reaches the shared cache. Hits are
    /// gathered in a buffer and appended a run at a time (an append per cut
    /// checked the array's room each time).
    func encodeByScores(
        _ text: UnsafeBufferPointer<UInt8>, _ sentencePiece: SentencePiece, scores: [Float], scratch: inout BytePairScratch,
        into out: inout ContiguousArray<UInt32>
    ) {
        scratch.longPieces.prepare(for: vocabulary.tables)
        let base = text.baseAddress!, cache = pieceCache?.view
        let stagedCapacity = 1024
        let byteTokens = vocabulary.tables.byteTokens, pieceLimit = UInt32(sentencePiece.pieceCount)
        let byteFallback = !sentencePiece.byteIds.isEmpty
        withExtendedLifetime((pieceCache, vocabulary.storage)) {
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: stagedCapacity) { stagedBuffer in
                let staged = stagedBuffer.baseAddress!
                var ready = 0
                sentencePiece.segmenter.forEachPiece(text) { piece in
                    let p = base + piece.lowerBound, n = piece.count
                    if n == 1 && p[0] < 0x80 {
                        // One ASCII character (a third of the cuts of mathematics: `\n`, `.`, `_`, digits):
                        // its own token, without the cache, and under byte fallback its byte piece at
                        // once, which ``resolve`` would make it (resolve fuses `<unk>`s across cuts).
                        if ready == stagedCapacity {
                            out.append(contentsOf: UnsafeBufferPointer(start: staged, count: ready))
                            ready = 0
                        }
                        let id = byteTokens[Int(p[0])]  // p[0] < 0x80: one of the 256
                        staged[ready] = id < pieceLimit || !byteFallback ? id : sentencePiece.byteIds[Int(p[0])]  // ready < capacity
                        ready += 1
                        return
                    }
                    let cut = UnsafeBufferPointer(start: p, count: n)
                    var entry: (key: PieceKey, slot: Int)? = nil
                    if let cache, n <= SharedPieceCache.maxBytes {
                        let key = PieceKey(p, n, end: base + text.count)
                        entry = (key, key.slot(n, cache.shift))
                        let head = cache.holds(key, n, slot: entry!.slot)
                        // copyIfUnchanged writes maxIds words: room for them after the `ready` ones.
                        if head != 0 && ready + SharedPieceCache.maxIds > stagedCapacity {
                            out.append(contentsOf: UnsafeBufferPointer(start: staged, count: ready))
                            ready = 0
                        }
                        if head != 0, case let k = cache.copyIfUnchanged(slot: entry!.slot, head: head, to: staged + ready), k > 0 {
                            ready += k
                            return
                        }
                    }
                    // Not a hit: what is gathered goes first.
                    out.append(contentsOf: UnsafeBufferPointer(start: staged, count: ready))
                    ready = 0
                    if let cache, let entry {
                        let before = out.count
                        sentencePiece.mergeByScores(cut, scores: scores, vocabulary: vocabulary, into: &out)
                        guard out.count - before <= SharedPieceCache.maxIds else { return }
                        return out.withUnsafeBufferPointer {
                            cache.store(entry.key, n, slot: entry.slot, ids: UnsafeBufferPointer(rebasing: $0[before...]))
                        }
                    }
                    guard n <= LongPieceCache.maxBytes else {
                        return sentencePiece.mergeByScores(cut, scores: scores, vocabulary: vocabulary, into: &out)
                    }
                    let h = hashBytes(p, n)
                    if scratch.longPieces.lookUp(p, n, hash: h, into: &out) { return }
                    let before = out.count
                    sentencePiece.mergeByScores(cut, scores: scores, vocabulary: vocabulary, into: &out)
                    out.withUnsafeBufferPointer { scratch.longPieces.store(p, n, hash: h, ids: UnsafeBufferPointer(rebasing: $0[before...])) }
                }
                out.append(contentsOf: UnsafeBufferPointer(start: staged, count: ready))
            }
        }
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

    /// Turns the kernel's ids from `start` on into the model's: a character no
    /// piece holds becomes its byte pieces under byte fallback, else `<unk>`
    /// (one for a run of them when ``fuseUnknown``); an unused piece the two
    /// it was made of.
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
            while j < tail.count {
                // A run of pieces' own ids in one append (an emit per id took 5% of Mistral's mathematics).
                var end = j
                while end < tail.count && tail[end] < limit { end += 1 }
                if end > j {
                    out.append(contentsOf: tail[j ..< end])
                    previousUnknown = false
                    j = end
                    continue
                }
                emit(tail[j])
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
