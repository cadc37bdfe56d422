/// `tokenizer.bin`: the fast-loading form of a vocabulary folder. Every array of
/// ``Vocabulary`` is stored as it lies in memory (little-endian), hash tables
/// included, so loading is a read and a few copies: no parsing, no hashing, no
/// re-deriving of merges or reachability.
///
/// Layout: magic `TOKB`, format version, then length-prefixed sections in a
/// fixed order. The version changes whenever a layout or the hash function does.
enum BinaryFormat {
    static let magic: [UInt8] = Array("TOKB".utf8)
    static let version: UInt32 = 1

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
        w.string(tokenizer.normalizer.rawValue)
        w.u32(UInt32(tokenizer.preTokenizer.rules.count))
        for rule in tokenizer.preTokenizer.rules { w.string(rule.rawValue) }
        w.array(v.tokenBytes)
        w.array(v.tokenOffsets)
        w.array(v.lookup.slots)
        w.array(v.pairs.keys)
        w.array(v.pairs.values)
        w.u32(UInt32(v.pairs.count))
        w.array(v.byteTokens)
        w.array(v.wholePieceAllowed)
        w.array(ContiguousArray(v.unreachableTokens))
        w.u32(UInt32(v.specialTokens.count))
        for s in v.specialTokens {
            w.u32(s.id)
            w.string(s.content)
        }
        return w.data
    }

    static func read(_ data: [UInt8], path: String) throws -> Tokenizer {
        var r = Reader(data: data, path: path)
        guard try r.bytes(4) == magic else { throw r.error("not a tok binary vocabulary") }
        guard try r.u32() == version else { throw r.error("written by another version of tok; re-import it") }
        let mergeOrder: MergeOrder
        switch try r.u32() {
        case 0: mergeOrder = .ranks
        case 1: mergeOrder = .mergesList(ignoreMerges: true)
        case 2: mergeOrder = .mergesList(ignoreMerges: false)
        default: throw r.error("unknown merge order")
        }
        guard let normalizer = Normalizer(rawValue: try r.string()) else { throw r.error("unknown normalizer") }
        var rules: [SplitRule] = []
        for _ in 0 ..< (try r.u32()) {
            guard let rule = SplitRule(rawValue: try r.string()) else { throw r.error("unknown split rule") }
            rules.append(rule)
        }
        guard !rules.isEmpty else { throw r.error("no split rule") }
        let tokenBytes: ContiguousArray<UInt8> = try r.array()
        let tokenOffsets: ContiguousArray<UInt32> = try r.array()
        let slots: ContiguousArray<UInt64> = try r.array()
        let pairKeys: ContiguousArray<UInt64> = try r.array()
        let pairValues: ContiguousArray<UInt64> = try r.array()
        let pairCount = Int(try r.u32())
        let byteTokens: ContiguousArray<UInt32> = try r.array()
        let allowed: ContiguousArray<UInt64> = try r.array()
        let unreachable: ContiguousArray<UInt32> = try r.array()
        var specials: [SpecialToken] = []
        for _ in 0 ..< (try r.u32()) {
            let id = try r.u32()
            specials.append(SpecialToken(id: id, content: try r.string()))
        }
        // Cheap structural checks, so that a damaged file fails here and not in the encoder.
        let count = tokenOffsets.count - 1
        guard count >= 256, tokenOffsets.first == 0, Int(tokenOffsets.last!) == tokenBytes.count,
              zip(tokenOffsets, tokenOffsets.dropFirst()).allSatisfy({ $0 <= $1 }),
              slots.count.nonzeroBitCount == 1, pairKeys.count.nonzeroBitCount == 1, pairKeys.count == pairValues.count,
              byteTokens.count == 256, byteTokens.allSatisfy({ Int($0) < count }),
              allowed.count == (count + 63) / 64,
              slots.allSatisfy({ $0 == 0 || Int($0 & 0xFFFF_FFFF) <= count }),
              pairValues.allSatisfy({ Int($0 & 0xFFFF_FFFF) < count })
        else { throw r.error("inconsistent vocabulary arrays") }
        let vocabulary = Vocabulary(
            tokenBytes: tokenBytes, tokenOffsets: tokenOffsets, lookup: ByteStringTable(slots: slots),
            pairs: PairTable(keys: pairKeys, values: pairValues, count: pairCount), byteTokens: byteTokens,
            wholePieceAllowed: allowed, mergeOrder: mergeOrder, specialTokens: specials,
            unreachableTokens: Array(unreachable))
        return Tokenizer(vocabulary: vocabulary, preTokenizer: PreTokenizer(rules: rules), normalizer: normalizer)
    }

    struct Writer {
        var data: [UInt8] = []
        mutating func bytes(_ b: [UInt8]) { data.append(contentsOf: b) }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        mutating func string(_ s: String) {
            u32(UInt32(s.utf8.count))
            data.append(contentsOf: s.utf8)
        }
        mutating func array<T: FixedWidthInteger>(_ a: ContiguousArray<T>) {
            u64(UInt64(a.count))
            a.withUnsafeBytes { data.append(contentsOf: $0) }
        }
    }

    struct Reader {
        let data: [UInt8]
        let path: String
        var offset = 0

        func error(_ message: String) -> VocabularyError { VocabularyError("\(path): \(message)") }

        mutating func bytes(_ n: Int) throws -> [UInt8] {
            guard n >= 0, offset + n <= data.count else { throw error("truncated") }
            defer { offset += n }
            return Array(data[offset ..< offset + n])
        }

        mutating func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
            let size = MemoryLayout<T>.size
            guard offset + size <= data.count else { throw error("truncated") }
            defer { offset += size }
            return data.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        }

        mutating func u32() throws -> UInt32 { try integer(UInt32.self) }

        mutating func string() throws -> String {
            let n = Int(try u32())
            return String(decoding: try bytes(n), as: UTF8.self)
        }

        mutating func array<T: FixedWidthInteger>() throws -> ContiguousArray<T> {
            let n = Int(try integer(UInt64.self))
            let size = n * MemoryLayout<T>.stride
            guard n >= 0, n < Int(UInt32.max), offset + size <= data.count else { throw error("truncated") }
            let start = offset
            offset += size
            return ContiguousArray(unsafeUninitializedCapacity: n) { buffer, initialized in
                data.withUnsafeBytes { raw in
                    // start + size <= data.count was checked above.
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start ..< start + size]))
                }
                initialized = n
            }
        }
    }
}
