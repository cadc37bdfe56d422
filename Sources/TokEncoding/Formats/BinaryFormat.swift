import Foundation
import TokRuntime

/// `tokenizer.bin`: the fast-loading form of a vocabulary folder. Every table of
/// ``TableStorage`` is stored as it lies in memory (little-endian), hash tables
/// included, in the order ``TableID`` lists them, so loading is a read, a
/// checksum and one copy per table: no parsing, no hashing, no re-deriving of
/// merges or reachability.
///
/// Layout: magic `TOKB`, format version, what the file was made from
/// (``BinarySource``: the checksums of the folder's `tokenizer.json` and
/// `manifest.json`), the stamps of those two files (``FileStamp``, 80 bytes,
/// which the checksum reads as zeros), the header (merge order, normalizer,
/// split rules, merge count, unreachable tokens, special tokens), each table as
/// its element count (u64), zeros up to the next multiple of 64 bytes, and its
/// bytes, and last a 64-bit ``TableChecksum`` of everything before it. The version
/// changes whenever a layout or the hash function does; a file that fails the
/// checksum is never used. A file whose source is not the folder's is never
/// used either (``VocabularyFolder/load(_:)``).
///
/// The file is read whole into the tables' own memory (``TableStorage``'s
/// arena, in huge pages), where each table already lies at a multiple of 64
/// bytes: no mapping of the file and no copy per table. Measured on o200k
/// (12 MB; `tok encode` of a 6-byte file, clock stamps): mapping, checksum
/// and the copies 5.2 ms before, the read with its checksum 4.4 after (most of
/// it the kernel clearing and filling fresh pages); the structural checks
/// 1.3 -> 0.4 ms. `tok encode`, one core, best of 11 interleaved: code 133.9
/// -> 138.9 MB/s, English 100.4 -> 106.9, mathematics and Chinese unchanged.
enum BinaryFormat {
    static let magic: [UInt8] = Array("TOKB".utf8)
    static let version: UInt32 = 14
    /// Where the stamps lie: after the magic, the version and the source.
    static let stampsOffset = 24
    static let stampsSize = 2 * FileStamp.size

    /// The file's bytes: `tokenizer` made from `source`, with `stamps` (of
    /// `tokenizer.json`, then `manifest.json`) when they may be trusted.
    static func write(_ tokenizer: Tokenizer, source: BinarySource = BinarySource(json: 0, manifest: 0),
                      stamps: [FileStamp]? = nil) -> [UInt8] {
        var w = Writer()
        w.bytes(magic)
        w.u32(version)
        w.u64(source.json)
        w.u64(source.manifest)
        w.bytes(repeatElement(0, count: stampsSize))  // zeros for the checksum; the stamps go in after it
        let v = tokenizer.vocabulary
        switch v.mergeOrder {
        case .ranks: w.u32(0)
        case .mergesList(ignoreMerges: true): w.u32(1)
        case .mergesList(ignoreMerges: false): w.u32(2)
        }
        // The pipeline as tokenizer.json writes it: read back by the same code.
        w.string(HuggingFaceJSON.normalizerJSON(tokenizer.normalizer))
        w.string(HuggingFaceJSON.preTokenizerJSON(tokenizer.preTokenizer))
        w.string(HuggingFaceJSON.postProcessorJSON(tokenizer.postProcessor))
        w.u32(UInt32(v.pairCount))
        w.u32(UInt32(v.unreachableTokens.count))
        for id in v.unreachableTokens { w.u32(id) }
        w.u32(UInt32(v.specialTokens.count))
        for s in v.specialTokens {
            w.u32(s.id)
            w.string(s.content)
            w.u32((s.special ? 1 : 0) | (s.lstrip ? 2 : 0) | (s.rstrip ? 4 : 0) | (s.singleWord ? 8 : 0) | (s.normalized ? 16 : 0))
        }
        // A SentencePiece model: its ids below the kernel's own, and the model, from which its steps are remade.
        if case .model(let proto) = tokenizer.sentencePiece?.form {
            let model = proto.serialized()
            w.u32(UInt32(v.count))
            w.u64(UInt64(model.count))
            w.bytes(model)
        } else {
            w.u32(0)
        }
        // A superword vocabulary's tables for encoding pieces from their words (made in about 0.1 s).
        if let superwords = tokenizer.superwordTables {
            w.u32(1)
            superwords.write(&w)
        } else {
            w.u32(0)
        }
        for id in TableID.allCases {
            let table = v.storage.bytes(of: id)
            w.u64(UInt64(table.count / id.elementSize))
            w.bytes(repeatElement(0, count: TableStorage.aligned(w.data.count) - w.data.count))
            w.bytes(table)
        }
        w.u64(TableChecksum.of(w.data))
        if let stamps {
            for (k, stamp) in stamps.prefix(2).enumerated() { stamp.store(into: &w.data, at: stampsOffset + k * FileStamp.size) }
        }
        return w.data
    }

    /// A `tokenizer.bin` read: the vocabulary, what it was made from, and the
    /// stamps it holds (of `tokenizer.json` and `manifest.json`; zeros when none were written).
    struct Loaded {
        var tokenizer: Tokenizer
        var source: BinarySource
        var stamps: [FileStamp]
        /// The stamp of the `tokenizer.bin` read (``FileStamp/none`` for bytes in memory).
        var file = FileStamp.none
    }

    /// Reads a vocabulary from the bytes of a `tokenizer.bin`.
    static func read(_ data: [UInt8], path: String) throws -> Loaded {
        let arena = HugePages.allocate(bytes: max(data.count, 1))
        data.withUnsafeBytes { arena.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let stamps = takeStamps(arena, size: data.count)
        var checksum = TableChecksum()
        checksum.add(UnsafeRawPointer(arena), upTo: max(data.count - 8, 0))
        return try read(arena: arena, size: data.count, checksum: checksum, stamps: stamps, path: path)
    }

    /// Reads the `tokenizer.bin` at `path` straight into the memory its tables
    /// will live in, 2 MiB a step, each step checksummed while it is still in
    /// the core's cache.
    static func load(path: String) throws -> Loaded {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FileError.errno(path, "open") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileError.errno(path, "stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw VocabularyError.corrupt(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        let arena = HugePages.allocate(bytes: max(size, 1))
        var checksum = TableChecksum()
        var stamps: [FileStamp] = []
        var done = 0
        while done < size {
            let n = Glibc.read(fd, arena + done, min(HugePages.size, size - done))  // done + n <= size
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                HugePages.release(arena, bytes: max(size, 1))
                if n < 0 { throw FileError.errno(path, "read") }
                throw VocabularyError.corrupt(path: path, reason: "truncated")
            }
            done += n
            // The stamps are taken out before the checksum reads their bytes (a step is at least a page: the first holds them).
            if stamps.isEmpty { stamps = takeStamps(arena, size: done) }
            checksum.add(UnsafeRawPointer(arena), upTo: min(done, size - 8))
        }
        var loaded = try read(arena: arena, size: size, checksum: checksum, stamps: stamps, path: path)
        loaded.file = FileStamp(st)
        return loaded
    }

    /// The stamps in the first `size` bytes at `arena`, which are then zeroed
    /// (as the checksum was taken); none when the bytes are too few to hold them.
    static func takeStamps(_ arena: UnsafeMutableRawPointer, size: Int) -> [FileStamp] {
        guard size >= stampsOffset + stampsSize else { return [] }
        let bytes = UnsafeRawBufferPointer(start: arena + stampsOffset, count: stampsSize)
        let stamps = (0 ..< 2).map { FileStamp(loading: bytes, at: $0 * FileStamp.size) }
        (arena + stampsOffset).initializeMemory(as: UInt8.self, repeating: 0, count: stampsSize)
        return stamps
    }

    /// Writes `stamps` into the `tokenizer.bin` at `path`, the file at
    /// `binary` when it was read (so that a file replaced since is left alone).
    /// Best effort: a folder tok may not write to keeps its file as it is.
    static func writeStamps(_ stamps: [FileStamp], path: String, binary: FileStamp) {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        guard let current = FileStamp(descriptor: fd), current.device == binary.device, current.inode == binary.inode,
              current.size == binary.size else { return }
        var bytes = [UInt8](repeating: 0, count: stampsSize)
        for (k, stamp) in stamps.prefix(2).enumerated() { stamp.store(into: &bytes, at: k * FileStamp.size) }
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, off_t(stampsOffset)) }
    }

    /// Reads a vocabulary from the `size` bytes of a `tokenizer.bin` at
    /// `arena` (from ``HugePages/allocate(bytes:)`` of `max(size, 1)` bytes,
    /// owned from here on: its tables become the vocabulary's), given the
    /// ``TableChecksum`` of its blocks so far and the stamps taken out of it.
    static func read(arena: UnsafeMutableRawPointer, size: Int, checksum: TableChecksum, stamps: [FileStamp],
                     path: String) throws -> Loaded {
        var owned = true
        defer { if owned { HugePages.release(arena, bytes: max(size, 1)) } }
        let data = UnsafeRawBufferPointer(start: arena, count: size)
        var r = Reader(data: data, path: path)
        guard data.count >= 16, try r.bytes(4) == magic else { throw r.corrupt("not a tok binary vocabulary") }
        guard try r.u32() == version else { throw r.corrupt("written by another version of tok") }
        let stored = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: data.count - 8, as: UInt64.self))
        guard checksum.finish(data.baseAddress!, count: data.count - 8) == stored else { throw r.corrupt("checksum mismatch") }
        let source = BinarySource(json: try r.u64(), manifest: try r.u64())
        _ = try r.skip(stampsSize)
        let mergeOrder: MergeOrder
        switch try r.u32() {
        case 0: mergeOrder = .ranks
        case 1: mergeOrder = .mergesList(ignoreMerges: true)
        case 2: mergeOrder = .mergesList(ignoreMerges: false)
        default: throw r.corrupt("unknown merge order")
        }
        func fragment() throws -> Any? {
            let text = try r.string()
            guard let value = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
                throw r.corrupt("pipeline entry is not JSON")
            }
            return value is NSNull ? nil : value
        }
        let fail = { (message: String) in r.corrupt(message) }
        let normalizer = try HuggingFaceJSON.readNormalizer(try fragment(), fail)
        let preTokenizer = try HuggingFaceJSON.readPreTokenizer(try fragment(), fail)
        let postProcessor = try HuggingFaceJSON.readPostProcessor(try fragment(), fail)
        let pairCount = Int(try r.u32())
        var unreachable: [UInt32] = []
        for _ in 0 ..< (try r.u32()) { unreachable.append(try r.u32()) }
        var specials: [SpecialToken] = []
        for _ in 0 ..< (try r.u32()) {
            let id = try r.u32()
            let content = try r.string()
            let flags = try r.u32()
            specials.append(SpecialToken(id: id, content: content, special: flags & 1 != 0, lstrip: flags & 2 != 0,
                                         rstrip: flags & 4 != 0, singleWord: flags & 8 != 0, normalized: flags & 16 != 0))
        }
        let pieceCount = Int(try r.u32())
        var model: [UInt8] = []
        if pieceCount > 0 {
            let n = try r.u64()
            guard n < UInt64(data.count) else { throw r.corrupt("SentencePiece model too large") }
            model = try r.bytes(Int(n))
        }
        let superwords = try r.u32() == 1 ? try SuperwordTables.Stored(&r) : nil
        var tables: [(offset: Int, count: Int)] = []
        for id in TableID.allCases {
            let count = Int(try r.u64())
            guard count < Int(UInt32.max) else { throw r.corrupt("table \(id) too large") }
            _ = try r.skip(TableStorage.aligned(r.offset) - r.offset)
            // Inside the arena (`skip` checks it) and at a multiple of 64 bytes, as the tables need.
            tables.append((try r.skip(count * id.elementSize), count))
        }
        let storage = TableStorage(adopting: arena, bytes: max(size, 1), tables: tables, resultIsRank: mergeOrder == .ranks)
        owned = false
        try check(storage, r)
        let vocabulary = Vocabulary(storage: storage, pairCount: pairCount, mergeOrder: mergeOrder,
                                    specialTokens: specials, unreachableTokens: unreachable)
        guard (superwords != nil) == (pieceCount == 0 && Tokenizer.usesSuperwordTables(vocabulary, preTokenizer, nil)) else {
            throw r.corrupt("superword tables for another kind of vocabulary")
        }
        if pieceCount > 0 {
            guard pieceCount <= storage.view.tokenCount else { throw r.corrupt("more pieces than tokens") }
            let pieces = vocabulary.keepingIds(below: pieceCount)
            let proto = try SentencePieceModelProto(model, path: path)
            guard proto.pieces.count == pieceCount else { throw r.corrupt("a SentencePiece model of another size") }
            let sentencePiece = try SentencePiece.pipeline(proto, vocabulary: pieces)
            return Loaded(tokenizer: Tokenizer(vocabulary: pieces, sentencePiece: sentencePiece, postProcessor: postProcessor),
                          source: source, stamps: stamps)
        }
        let tokenizer = Tokenizer(vocabulary: vocabulary, preTokenizer: preTokenizer, normalizer: normalizer,
                                  postProcessor: postProcessor, sentencePiece: nil,
                                  superwordTables: try superwords.map { try SuperwordTables($0, tables: storage.view, r) })
        return Loaded(tokenizer: tokenizer, source: source, stamps: stamps)
    }

    /// Structural checks, so that a file that passes the checksum but was made
    /// wrong fails here and not in the encoder: every index the kernel follows
    /// without a bounds check is in range.
    static func check(_ s: TableStorage, _ r: Reader) throws {
        let offsets = s.elements(of: .tokenOffsets, as: UInt32.self)
        let count = offsets.count - 1
        let slots = s.elements(of: .lookupSlots, as: UInt64.self)
        let pairSlots = s.elements(of: .pairSlots, as: UInt64.self), results = s.elements(of: .mergeResults, as: UInt32.self)
        guard count >= 256, offsets.first == 0, Int(offsets.last!) == s.elements(of: .tokenBytes, as: UInt8.self).count,
              slots.count.nonzeroBitCount == 1, pairSlots.count.nonzeroBitCount == 1,
              s.elements(of: .byteTokens, as: UInt32.self).count == 256,
              s.elements(of: .byteTokens, as: UInt32.self).allSatisfy({ Int($0) < count }),
              s.elements(of: .wholePieceAllowed, as: UInt64.self).count == (count + 63) / 64,
              s.elements(of: .bytePairs, as: UInt64.self).count == 65536,
              s.elements(of: .pairFilter, as: UInt64.self).count.nonzeroBitCount == 1,
              characterTablesAreConsistent(s, tokenCount: count)
        else { throw r.corrupt("inconsistent vocabulary tables") }
        // The large tables with integer arithmetic only, `bad` collecting sign
        // bits: no branch and no select, so the loops become vector code (12 MB
        // for o200k: `allSatisfy` closures took 1.3 ms of every start; the whole check 0.4 now).
        var bad: UInt64 = 0
        for k in 0 ..< count { bad |= (UInt64(offsets[k + 1]) &- UInt64(offsets[k])) >> 63 }  // k + 1 <= count < offsets.count
        // A slot's id is at most `count` (an empty slot is 0).
        for word in slots { bad |= (UInt64(count) &- (word & 0xFFFF_FFFF)) >> 63 }
        // A ranks vocabulary's rank is the token it makes; else it indexes the results.
        let rankLimit = UInt64(s.view.resultIsRank ? count : results.count)
        for word in pairSlots { bad |= outOfRange(word & 0x3F_FFFF, below: rankLimit, unlessNone: word) }  // rank < 2^22
        for result in results where !s.view.resultIsRank { bad |= (UInt64(count) &- 1 &- UInt64(result)) >> 63 }
        // Two bytes' pair value is none (all ones) or names the token the merge makes.
        for word in s.elements(of: .bytePairs, as: UInt64.self) {
            bad |= outOfRange(word & 0xFFFF_FFFF, below: UInt64(count), unlessNone: word)
        }
        guard bad == 0 else { throw r.corrupt("inconsistent vocabulary tables") }
    }

    /// 1 when `field` is `limit` or more and `word` is not all ones (an
    /// empty slot, a pair that does not merge), else 0: without a branch, so
    /// that the loops over the tables stay vector code.
    @inline(__always)
    static func outOfRange(_ field: UInt64, below limit: UInt64, unlessNone word: UInt64) -> UInt64 {
        let next = word &+ 1  // 0 only for all ones
        return (limit &- 1 &- field) >> 63 & (next | (0 &- next)) >> 63
    }

    /// Every character slot names tokens and a mask that exist, its tokens
    /// spell its character (a token, or two parts whose lengths the kernel
    /// steps by), and one slot at least is empty (a probe ends).
    static func characterTablesAreConsistent(_ s: TableStorage, tokenCount: Int) -> Bool {
        let slots = s.elements(of: .characterSlots, as: UInt64.self)
        let masks = s.elements(of: .characterMasks, as: UInt64.self)
        let bytes = s.elements(of: .tokenBytes, as: UInt8.self), offsets = s.elements(of: .tokenOffsets, as: UInt32.self)
        guard slots.isEmpty || (slots.count / 2).nonzeroBitCount == 1 && slots.count % 2 == 0, masks.count % 8 == 0
        else { return false }
        /// Token `id`'s bytes as a little-endian word, when it has 1-4 of them.
        func packed(_ id: Int) -> (word: UInt64, length: Int)? {
            guard id < tokenCount, case let length = Int(offsets[id + 1]) - Int(offsets[id]), (1 ... 4).contains(length)
            else { return nil }
            var word: UInt64 = 0
            for i in 0 ..< length { word |= UInt64(bytes[Int(offsets[id]) + i]) << UInt64(8 * i) }
            return (word, length)
        }
        var empty = slots.isEmpty
        for k in stride(from: 0, to: slots.count, by: 2) {
            let key = slots[k], parts = slots[k + 1], firstLength = Int(key >> 56)
            guard key != 0 else {
                empty = true
                continue
            }
            let character = key & 0xFFFF_FFFF, length = CharacterTokenTable.sequenceLength(UInt8(truncatingIfNeeded: key))
            guard length >= 2, Int(key >> 32 & 0xFF_FFFF) < masks.count / 8, let first = packed(Int(parts & 0xFFFF_FFFF))
            else { return false }
            if firstLength == 0 {
                guard first.length == length, first.word == character else { return false }
            } else {
                guard first.length == firstLength, firstLength < length, let second = packed(Int(parts >> 32)),
                      first.length + second.length == length,
                      first.word | second.word << UInt64(8 * first.length) == character
                else { return false }
            }
        }
        return empty
    }

    struct Writer {
        var data: [UInt8] = []
        mutating func bytes(_ b: some Collection<UInt8>) { data.append(contentsOf: b) }
        mutating func bytes(_ b: UnsafeRawBufferPointer) { data.append(contentsOf: b) }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        /// A count (u64) and the words.
        mutating func words(_ words: UnsafeBufferPointer<UInt64>) {
            u64(UInt64(words.count))
            for word in words { u64(word) }
        }
        mutating func string(_ s: String) {
            u32(UInt32(s.utf8.count))
            data.append(contentsOf: s.utf8)
        }
    }

    struct Reader {
        let data: UnsafeRawBufferPointer
        let path: String
        var offset = 0

        func corrupt(_ reason: String) -> VocabularyError { .corrupt(path: path, reason: reason) }

        /// Steps over `n` bytes and returns where they start.
        mutating func skip(_ n: Int) throws -> Int {
            guard n >= 0, offset + n <= data.count - 8 else { throw corrupt("truncated") }
            defer { offset += n }
            return offset
        }

        mutating func bytes(_ n: Int) throws -> [UInt8] {
            let start = try skip(n)
            return Array(data[start ..< start + n])
        }

        mutating func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
            let start = try skip(MemoryLayout<T>.size)
            return T(littleEndian: data.loadUnaligned(fromByteOffset: start, as: T.self))
        }

        mutating func u32() throws -> UInt32 { try integer(UInt32.self) }

        /// A count (u64) and that many little-endian words.
        mutating func words() throws -> [UInt64] {
            let n = try u64()
            guard n < UInt64(data.count) / 8 else { throw corrupt("truncated") }
            let start = try skip(Int(n) * 8)
            return (0 ..< Int(n)).map { UInt64(littleEndian: data.loadUnaligned(fromByteOffset: start + 8 * $0, as: UInt64.self)) }
        }
        mutating func u64() throws -> UInt64 { try integer(UInt64.self) }

        mutating func string() throws -> String {
            let n = Int(try u32())
            return String(decoding: try bytes(n), as: UTF8.self)
        }
    }
}

/// A fast 64-bit checksum over bytes: four independent multiply-xor lanes over
/// 32-byte blocks (about 8 GB/s here), mixed at the end. Not cryptographic: it
/// catches damage, not tampering. Blocks may be added as the bytes arrive.
///
/// This is the vocabulary's fingerprint (``VocabularyFolder/fingerprint(_:)``,
/// over `tokenizer.json`) that datasets record to resume with the same
/// vocabulary: changing it would refuse every resume of a dataset begun
/// before. `tokenizer.bin`, which is rebuilt whenever its format changes,
/// has the faster ``TableChecksum``.
struct Checksum {
    private static let m: UInt64 = 0x9E37_79B9_7F4A_7C15
    private var a: UInt64 = 0x243F_6A88_85A3_08D3, b: UInt64 = 0x1319_8A2E_0370_7344
    private var c: UInt64 = 0xA409_3822_299F_31D0, d: UInt64 = 0x082E_FA98_EC4E_6C89
    /// The bytes taken so far: a multiple of 32.
    private var done = 0

    @inline(__always) fileprivate static func mix(_ h: UInt64, _ w: UInt64) -> UInt64 {
        let x = (h ^ w) &* m
        return x ^ (x >> 29)
    }

    /// Takes the whole 32-byte blocks of `base[0 ..< end]` not taken yet.
    mutating func add(_ p: UnsafeRawPointer, upTo end: Int) {
        var i = done
        while i + 32 <= end {
            // i + 32 <= end: all four words are inside the bytes given.
            a = Checksum.mix(a, p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            b = Checksum.mix(b, p.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self))
            c = Checksum.mix(c, p.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self))
            d = Checksum.mix(d, p.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self))
            i += 32
        }
        done = i
    }

    /// The checksum of `base[0 ..< n]`, of which the blocks added so far are the start.
    func finish(_ p: UnsafeRawPointer, count n: Int) -> UInt64 {
        var whole = self
        whole.add(p, upTo: n)
        var h = mix4(UInt64(n), whole)
        var i = whole.done
        while i < n {
            h = Checksum.mix(h, UInt64(p.load(fromByteOffset: i, as: UInt8.self)))
            i += 1
        }
        return h ^ (h >> 32)
    }

    private func mix4(_ n: UInt64, _ s: Checksum) -> UInt64 {
        Checksum.mix(Checksum.mix(Checksum.mix(Checksum.mix(n, s.a), s.b), s.c), s.d)
    }

    static func of(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { of($0) } }
    static func of(_ bytes: ArraySlice<UInt8>) -> UInt64 { bytes.withUnsafeBytes { of($0) } }

    static func of(_ raw: UnsafeRawBufferPointer) -> UInt64 {
        guard let p = raw.baseAddress else { return 0 }
        return Checksum().finish(p, count: raw.count)
    }

    /// The checksum of the file at `path` (equal to ``of(_:)-([UInt8])`` of
    /// its bytes), read 1 MiB at a time into one buffer: no copy of the file
    /// is kept, and no fresh memory taken for it.
    static func ofFile(_ path: String) throws -> UInt64 {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FileError.errno(path, "open") }
        defer { close(fd) }
        let capacity = 1 << 20  // a multiple of the 32-byte block: whole steps continue the lanes
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        defer { buffer.deallocate() }
        var state = Checksum()
        var total = 0
        while true {
            var filled = 0
            while filled < capacity {
                let n = Glibc.read(fd, buffer + filled, capacity - filled)  // filled + n <= capacity
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw FileError.errno(path, "read") }
                if n == 0 { break }
                filled += n
            }
            if filled < capacity { return state.finish(buffer, count: filled, after: total) }
            state.add(buffer, upTo: capacity)
            state.done = 0  // the next step reuses the buffer from its start
            total += capacity
        }
    }

    /// The checksum of `total` bytes taken already (whole blocks, the buffer
    /// since reused) followed by `base[0 ..< n]`.
    private func finish(_ p: UnsafeRawPointer, count n: Int, after total: Int) -> UInt64 {
        var whole = self
        whole.done = 0
        whole.add(p, upTo: n)
        var h = mix4(UInt64(total + n), whole)
        var i = whole.done
        while i < n {
            h = Checksum.mix(h, UInt64(p.load(fromByteOffset: i, as: UInt8.self)))
            i += 1
        }
        return h ^ (h >> 32)
    }
}

/// The ``Checksum`` of `bytes` as 16 hex digits, as fingerprints are recorded.
package func checksumHex(_ bytes: [UInt8]) -> String { Checksum.hex(Checksum.of(bytes)) }

extension Checksum {
    /// `value` as 16 hex digits.
    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// What a `tokenizer.bin` was made from: the ``Checksum`` of its folder's
/// `tokenizer.json` (the vocabulary's fingerprint) and of its `manifest.json`
/// (0 when there was none), at the time it was written.
struct BinarySource: Equatable {
    var json: UInt64
    var manifest: UInt64
}

/// What identifies a file's contents without reading them: its device,
/// inode, size, and modification and status-change times in nanoseconds.
/// The status-change time is set by the kernel on every write, rename or
/// change of mode and cannot be set back (`cp -p`, `tar x` and `rsync -a`
/// restore the modification time only), so two equal stamps of a path taken
/// apart mean the same file, unchanged, unless it changed within one tick of
/// the file system's clock right after the first: a stamp is trusted only
/// when its status change is older than ``settled`` seconds.
struct FileStamp: Equatable {
    var device: UInt64 = 0, inode: UInt64 = 0, size: UInt64 = 0, modified: UInt64 = 0, changed: UInt64 = 0
    static let size = 40
    static let settled = 2
    /// No file: all zeros.
    static let none = FileStamp()

    init() {}

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = UInt64(st.st_size)
        modified = UInt64(bitPattern: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
        changed = UInt64(bitPattern: Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec))
    }

    /// The stamp of the file at `path`, ``none`` when there is none.
    init(path: String) {
        var st = stat()
        self = stat(path, &st) == 0 ? FileStamp(st) : .none
    }

    init?(descriptor fd: Int32) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        self.init(st)
    }

    init(loading bytes: UnsafeRawBufferPointer, at offset: Int) {
        func word(_ k: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 8 * k, as: UInt64.self)) }
        (device, inode, size, modified, changed) = (word(0), word(1), word(2), word(3), word(4))
    }

    func store(into bytes: inout [UInt8], at offset: Int) {
        for (k, word) in [device, inode, size, modified, changed].enumerated() {
            withUnsafeBytes(of: word.littleEndian) { bytes.replaceSubrange(offset + 8 * k ..< offset + 8 * k + 8, with: $0) }
        }
    }

    /// Whether the file's last change is old enough for the stamp to stand for its contents.
    var isSettled: Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let limit = (Int64(now.tv_sec) - Int64(FileStamp.settled)) * 1_000_000_000 + Int64(now.tv_nsec)
        return Int64(bitPattern: changed) <= limit
    }
}

/// `tokenizer.bin`'s checksum: ``Checksum``'s mixing in eight lanes over
/// 64-byte blocks, so that the multiplier is kept busy: every start checks the
/// whole file (8.5 MB for cl100k, 12 MB for o200k). Count files use it too.
/// A change within one 8-byte word (any single-bit flip) always changes it:
/// every step is a bijection of the lane it changes.
package struct TableChecksum {
    private var lanes: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (
        0x243F_6A88_85A3_08D3, 0x1319_8A2E_0370_7344, 0xA409_3822_299F_31D0, 0x082E_FA98_EC4E_6C89,
        0x4528_21E6_38D0_1377, 0xBE54_66CF_34E9_0C6C, 0xC0AC_29B7_C97C_50DD, 0x3F84_D5B5_B547_0917)
    /// The bytes taken so far: a multiple of 64.
    private var done = 0

    package init() {}

    /// Takes the whole 64-byte blocks of `base[0 ..< end]` not taken yet.
    mutating func add(_ p: UnsafeRawPointer, upTo end: Int) {
        var i = done
        var (a, b, c, d, e, f, g, h) = lanes
        while i + 64 <= end {
            // i + 64 <= end: all eight words are inside the bytes given.
            a = Checksum.mix(a, p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            b = Checksum.mix(b, p.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self))
            c = Checksum.mix(c, p.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self))
            d = Checksum.mix(d, p.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self))
            e = Checksum.mix(e, p.loadUnaligned(fromByteOffset: i + 32, as: UInt64.self))
            f = Checksum.mix(f, p.loadUnaligned(fromByteOffset: i + 40, as: UInt64.self))
            g = Checksum.mix(g, p.loadUnaligned(fromByteOffset: i + 48, as: UInt64.self))
            h = Checksum.mix(h, p.loadUnaligned(fromByteOffset: i + 56, as: UInt64.self))
            i += 64
        }
        lanes = (a, b, c, d, e, f, g, h)
        done = i
    }

    /// The checksum of `base[0 ..< n]`, of which the blocks added so far are the start.
    package func finish(_ p: UnsafeRawPointer, count n: Int) -> UInt64 {
        var whole = self
        whole.add(p, upTo: n)
        var x = UInt64(n)
        withUnsafeBytes(of: whole.lanes) { for lane in $0.bindMemory(to: UInt64.self) { x = Checksum.mix(x, lane) } }
        var i = whole.done
        while i < n {
            x = Checksum.mix(x, UInt64(p.load(fromByteOffset: i, as: UInt8.self)))
            i += 1
        }
        return x ^ (x >> 32)
    }

    package static func of(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { raw in raw.baseAddress.map { TableChecksum().finish($0, count: raw.count) } ?? 0 }
    }
}
