import Foundation

/// `tokenizer.bin`: the fast-loading form of a vocabulary folder. Every table of
/// ``TableStorage`` is stored as it lies in memory (little-endian), hash tables
/// included, in the order ``TableID`` lists them, so loading is a read, a
/// checksum and one copy per table: no parsing, no hashing, no re-deriving of
/// merges or reachability.
///
/// Layout: magic `TOKB`, format version, the header (merge order, normalizer,
/// split rules, merge count, unreachable tokens, special tokens), each table as
/// its element count (u64) and its bytes, and last a 64-bit ``Checksum`` of
/// everything before it. The version changes whenever a layout or the hash
/// function does; a file that fails the checksum is never used.
enum BinaryFormat {
    static let magic: [UInt8] = Array("TOKB".utf8)
    static let version: UInt32 = 6

    static func write(_ tokenizer: Tokenizer) -> [UInt8] {
        var w = Writer()
        w.bytes(magic)
        w.u32(version)
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
        for id in TableID.allCases {
            let table = v.storage.bytes(of: id)
            w.u64(UInt64(table.count / id.elementSize))
            w.bytes(table)
        }
        w.u64(Checksum.of(w.data))
        return w.data
    }

    static func read(_ data: [UInt8], path: String) throws -> Tokenizer {
        try data.withUnsafeBytes { try read($0, path: path) }
    }

    /// Reads a vocabulary from `data` (a mapped file), copying what it keeps.
    static func read(_ data: UnsafeRawBufferPointer, path: String) throws -> Tokenizer {
        var r = Reader(data: data, path: path)
        guard data.count >= 16, try r.bytes(4) == magic else { throw r.corrupt("not a tok binary vocabulary") }
        guard try r.u32() == version else { throw r.corrupt("written by another version of tok") }
        let stored = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: data.count - 8, as: UInt64.self))
        guard Checksum.of(UnsafeRawBufferPointer(rebasing: data[0 ..< data.count - 8])) == stored else { throw r.corrupt("checksum mismatch") }
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
        var where_: [TableID: (offset: Int, count: Int)] = [:]
        for id in TableID.allCases {
            let count = Int(try r.u64())
            guard count < Int(UInt32.max) else { throw r.corrupt("table \(id) too large") }
            where_[id] = (r.offset, count)
            _ = try r.skip(count * id.elementSize)
        }
        let storage = TableStorage(counts: where_.mapValues(\.count), resultIsRank: mergeOrder == .ranks) { id, memory in
            let (offset, count) = where_[id]!
            // offset + count * elementSize <= data.count: `skip` checked it above.
            memory.copyMemory(from: UnsafeRawBufferPointer(rebasing: data[offset ..< offset + count * id.elementSize]))
        }
        try check(storage, r)
        let vocabulary = Vocabulary(storage: storage, pairCount: pairCount, mergeOrder: mergeOrder,
                                    specialTokens: specials, unreachableTokens: unreachable)
        return Tokenizer(vocabulary: vocabulary, preTokenizer: preTokenizer, normalizer: normalizer, postProcessor: postProcessor)
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
              zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }),
              slots.count.nonzeroBitCount == 1, pairSlots.count.nonzeroBitCount == 1,
              s.elements(of: .byteTokens, as: UInt32.self).count == 256,
              s.elements(of: .byteTokens, as: UInt32.self).allSatisfy({ Int($0) < count }),
              s.elements(of: .wholePieceAllowed, as: UInt64.self).count == (count + 63) / 64,
              s.elements(of: .bytePairs, as: UInt64.self).count == 65536,
              s.elements(of: .pairFilter, as: UInt64.self).count.nonzeroBitCount == 1,
              slots.allSatisfy({ $0 == 0 || Int($0 & 0xFFFF_FFFF) <= count }),
              // A ranks vocabulary's rank is the token it makes; else it indexes the results.
              pairSlots.allSatisfy({ word in
                  let rank = Int(word & 0x3F_FFFF)
                  return word == PackedPairs.empty || (s.view.resultIsRank ? rank < count
                                                       : rank < results.count && Int(results[rank]) < count)
              }),
              characterTablesAreConsistent(s, tokenCount: count)
        else { throw r.corrupt("inconsistent vocabulary tables") }
    }

    /// Every character slot names a token and a mask that exist.
    static func characterTablesAreConsistent(_ s: TableStorage, tokenCount: Int) -> Bool {
        let slots = s.elements(of: .characterSlots, as: UInt64.self)
        let masks = s.elements(of: .characterMasks, as: UInt64.self)
        guard slots.isEmpty || (slots.count / 2).nonzeroBitCount == 1 && slots.count % 2 == 0, masks.count % 8 == 0
        else { return false }
        return stride(from: 0, to: slots.count, by: 2).allSatisfy {
            slots[$0] == 0 || (Int(slots[$0] >> 32) < masks.count / 8 && Int(slots[$0 + 1]) < tokenCount)
        }
    }

    struct Writer {
        var data: [UInt8] = []
        mutating func bytes(_ b: some Collection<UInt8>) { data.append(contentsOf: b) }
        mutating func bytes(_ b: UnsafeRawBufferPointer) { data.append(contentsOf: b) }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
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
        mutating func u64() throws -> UInt64 { try integer(UInt64.self) }

        mutating func string() throws -> String {
            let n = Int(try u32())
            return String(decoding: try bytes(n), as: UTF8.self)
        }
    }
}

/// A fast 64-bit checksum over bytes: four independent multiply-xor lanes over
/// 32-byte blocks (about 8 GB/s here), mixed at the end. Not cryptographic: it
/// catches damage, not tampering.
enum Checksum {
    static func of(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { of($0) } }
    static func of(_ bytes: ArraySlice<UInt8>) -> UInt64 { bytes.withUnsafeBytes { of($0) } }

    static func of(_ raw: UnsafeRawBufferPointer) -> UInt64 {
        let m: UInt64 = 0x9E37_79B9_7F4A_7C15
        var a: UInt64 = 0x243F_6A88_85A3_08D3, b: UInt64 = 0x1319_8A2E_0370_7344
        var c: UInt64 = 0xA409_3822_299F_31D0, d: UInt64 = 0x082E_FA98_EC4E_6C89
        @inline(__always) func mix(_ h: UInt64, _ w: UInt64) -> UInt64 {
            let x = (h ^ w) &* m
            return x ^ (x >> 29)
        }
        let n = raw.count
        var i = 0
        guard let p = raw.baseAddress else { return 0 }
        while i + 32 <= n {
            // i + 32 <= n: all four words are inside the buffer.
            a = mix(a, p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            b = mix(b, p.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self))
            c = mix(c, p.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self))
            d = mix(d, p.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self))
            i += 32
        }
        var h = mix(mix(mix(mix(UInt64(n), a), b), c), d)
        while i < n {
            h = mix(h, UInt64(p.load(fromByteOffset: i, as: UInt8.self)))
            i += 1
        }
        return h ^ (h >> 32)
    }
}
