import Testing
@testable import TokEncoding
import TokRuntime

/// Characters entering the merges whole or in two parts (CharacterTokens.swift)
/// change no id: a vocabulary with tokens that cross a character's inner
/// boundaries, some ranked below the character's merges (so it must stay in
/// bytes beside them) and some above (so it may enter in its parts), against
/// plain byte-level merging.
struct CharacterTokenTests {
    static let ranked: [[UInt8]] = {
        let zhong = Array("中".utf8), wen = Array("文".utf8)  // E4 B8 AD, E6 96 87
        return (0 ..< 256).map { [UInt8($0)] } + [
            [0x20, 0xE4],  // a space, then 中's first byte: below 中
            [0xAD, 0x62],  // 中's last byte, then "b": below 中
            [0xE4, 0xB8], zhong,
            [0xE6, 0x96], wen,
            [0x87, 0x61],  // 文's last byte, then "a": above 文
            zhong + wen,
            [0xAD, 0xE6],  // 中's last byte, then 文's first: above 中
            [0x61, 0xE6],  // "a", then 文's first byte: above 文
            [0x20, 0xE4, 0xB8],
            [0x61, 0x61], [0x62, 0x61],
            // 字 (E5 AD 97) ends alone in E5AD and 97, 学 (E5 AD A6) in E5 and ADA6.
            [0x63, 0xE5],  // "c", then their first byte: below both
            [0xA6, 0x62],  // 学's last byte, then "b": below 学's merge
            [0xAD, 0xA6],
            [0x97, 0x62],  // 字's last byte, then "b": below 字's merge
            [0xE5, 0xAD],
            [0x97, 0x61],  // 字's last byte, then "a": above 字
            [0xE5, 0xAD, 0x97, 0x61],  // holds 字: above it
        ]
    }()

    /// Lowest-ranked adjacent pair first, leftmost on ties, by the ranks alone.
    static func referenceMerge(_ piece: [UInt8], _ rank: [[UInt8]: Int]) -> [[UInt8]] {
        var parts = piece.map { [$0] }
        while parts.count > 1 {
            var best: (rank: Int, at: Int)? = nil
            for i in 0 ..< parts.count - 1 {
                if let r = rank[parts[i] + parts[i + 1]], r < best?.rank ?? .max { best = (r, i) }
            }
            guard let (_, at) = best else { break }
            parts[at] += parts[at + 1]
            parts.remove(at: at + 1)
        }
        return parts
    }

    @Test func charactersEnterWholeOnlyWhereNoNeighbourCanCross() throws {
        let v = try Vocabulary.fromRanks(CharacterTokenTests.ranked)
        let tables = v.tables
        #expect(tables.characterMask >= 0)
        func whole(_ text: [UInt8], at k: Int) -> UInt32? {
            text.withUnsafeBufferPointer { b in withExtendedLifetime(v) { tables.characterToken(b.baseAddress!, k, b.count)?.id } }
        }
        let zhong = Array("中".utf8), wen = Array("文".utf8)
        let zhongId = try #require(v.id(of: zhong)), wenId = try #require(v.id(of: wen))
        #expect(whole(zhong, at: 0) == zhongId)
        #expect(whole([0x61] + zhong + [0x61], at: 1) == zhongId)
        #expect(whole([0x20] + zhong, at: 1) == nil)  // " \xe4" is ranked below 中
        #expect(whole(zhong + [0x62], at: 0) == nil)  // "\xad b" is ranked below 中
        #expect(whole(zhong + wen, at: 0) == zhongId)  // "\xad\xe6" is ranked above it
        #expect(whole([0x61] + wen + [0x61], at: 1) == wenId)
        #expect(whole(Array(zhong.prefix(2)), at: 0) == nil)  // cut short
    }

    @Test func charactersEnterInTwoPartsOnlyWhereNoNeighbourCanCross() throws {
        let v = try Vocabulary.fromRanks(CharacterTokenTests.ranked)
        let tables = v.tables
        func parts(_ text: [UInt8], at k: Int) -> [UInt32]? {
            text.withUnsafeBufferPointer { b in
                withExtendedLifetime(v) {
                    tables.characterToken(b.baseAddress!, k, b.count).map { $0.firstLength == 0 ? [$0.id] : [$0.id, $0.second] }
                }
            }
        }
        let zi = Array("字".utf8), xue = Array("学".utf8)
        let e5ad = try #require(v.id(of: [0xE5, 0xAD])), adA6 = try #require(v.id(of: [0xAD, 0xA6]))
        let b97 = try #require(v.id(of: [0x97])), bE5 = try #require(v.id(of: [0xE5]))
        #expect(v.id(of: zi) == nil && v.id(of: xue) == nil)
        #expect(parts(zi, at: 0) == [e5ad, b97])
        #expect(parts([0x61] + zi + [0x61], at: 1) == [e5ad, b97])  // "\x97a" and 字a are ranked above E5AD
        #expect(parts([0x63] + zi, at: 1) == nil)  // "c\xe5" is ranked below E5AD
        #expect(parts(xue, at: 0) == [bE5, adA6])
        #expect(parts([0x63] + xue, at: 1) == nil)  // and below ADA6
        #expect(parts(zi + [0x62], at: 0) == nil)  // "\x97b" is ranked below E5AD
        #expect(parts(xue + [0x62], at: 0) == nil)  // "\xa6b" below ADA6
        #expect(parts(xue + [0x61], at: 0) == [bE5, adA6])
        #expect(parts(zi + [0x61], at: 0) == [e5ad, b97])
        // A superword vocabulary's merges stopped at C keep characters in bytes when
        // a token the table enters one as, first or second part, is at C or above.
        let aa = try #require(v.id(of: [0x61, 0x61]))
        withExtendedLifetime(v) {
            #expect(tables.anyCharacterPart { $0 == e5ad })
            #expect(tables.anyCharacterPart { $0 == b97 })
            #expect(tables.anyCharacterPart { $0 == adA6 })
            #expect(!tables.anyCharacterPart { $0 == aa })
        }
    }

    /// `tokenizer.bin`'s check refuses a character slot whose tokens do not
    /// spell its character (a two-part slot's lengths are what the tree steps
    /// by) and a table with no empty slot (a probe for a character it does
    /// not hold would not end).
    @Test func aCraftedCharacterSlotIsRefusedOnLoad() throws {
        let v = try Vocabulary.fromRanks(CharacterTokenTests.ranked)
        let original = v.storage
        let zi = CharacterTokenTable.pack(Array("字".utf8)), aa = UInt64(try #require(v.id(of: [0x61, 0x61])))
        func accepted(_ change: (UnsafeMutableBufferPointer<UInt64>) -> Void) -> Bool {
            let counts = Dictionary(uniqueKeysWithValues: TableID.allCases.map { ($0, original.tables[$0.rawValue].count) })
            let copy = TableStorage(counts: counts, resultIsRank: true) { id, memory in
                memory.copyMemory(from: original.bytes(of: id))
            }
            let table = copy.tables[TableID.characterSlots.rawValue]
            change(UnsafeMutableBufferPointer(start: table.memory.assumingMemoryBound(to: UInt64.self), count: table.count))
            return withExtendedLifetime(copy) { BinaryFormat.characterTablesAreConsistent(copy, tokenCount: v.count) }
        }
        func ziSlot(_ slots: UnsafeMutableBufferPointer<UInt64>) -> Int {
            stride(from: 0, to: slots.count, by: 2).first { slots[$0] & 0xFFFF_FFFF == zi }!
        }
        #expect(accepted { _ in })
        #expect(!accepted { slots in  // the second part a two-byte token, not 字's last byte
            let k = ziSlot(slots)
            slots[k + 1] = slots[k + 1] & 0xFFFF_FFFF | aa << 32
        })
        #expect(!accepted { slots in  // a first part of one byte
            let k = ziSlot(slots)
            slots[k] = slots[k] & ~(0xFF << 56) | 1 << 56
        })
        #expect(!accepted { slots in  // every slot full (each a copy of 字's)
            let k = ziSlot(slots)
            for j in stride(from: 0, to: slots.count, by: 2) { (slots[j], slots[j + 1]) = (slots[k], slots[k + 1]) }
        })
    }

    @Test func idsEqualPlainByteMergingOnRandomPieces() throws {
        let v = try Vocabulary.fromRanks(CharacterTokenTests.ranked)
        let rank = Dictionary(uniqueKeysWithValues: CharacterTokenTests.ranked.enumerated().map { ($1, $0) })
        let units: [[UInt8]] = [Array("中".utf8), Array("文".utf8), [0x20], [0x61], [0x62], Array("中文".utf8),
                                [0xE4], [0xAD], [0xE4, 0xB8], Array("é".utf8), Array("字".utf8), Array("学".utf8),
                                [0x63], [0xE5], [0x97], [0xE5, 0xAD]]
        var rng = SplitMix(state: 7)
        var scratch = BytePairScratch(caching: false)
        for round in 0 ..< 3000 {
            // Short pieces go to the scan, long ones (over 128 bytes) to the tree.
            let count = round % 3 == 0 ? Int(rng.next() % 80) + 10 : Int(rng.next() % 10) + 1
            let piece = (0 ..< count).flatMap { _ in units[Int(rng.next() % UInt64(units.count))] }
            var ids = ContiguousArray<UInt32>()
            piece.withUnsafeBufferPointer { v.encodePiece($0, scratch: &scratch, into: &ids) }
            let expected = CharacterTokenTests.referenceMerge(piece, rank).map { UInt32(rank[$0]!) }
            #expect(Array(ids) == expected, "piece \(piece)")
        }
    }
    /// A character's right partners name every token it merges with as a
    /// pair's left (a partner missing would leave a merge undone).
    @Test func rightPartnersHoldEveryMergeOfTheCharacter() throws {
        let v = try Vocabulary.fromRanks(CharacterTokenTests.ranked)
        let tables = v.tables
        let zhong = Array("中".utf8), wen = Array("文".utf8)
        let zhongId = try #require(v.id(of: zhong)), wenId = try #require(v.id(of: wen))
        let partners = try #require(zhong.withUnsafeBufferPointer { b in
            withExtendedLifetime(v) { tables.characterToken(b.baseAddress!, 0, b.count)?.partners }
        })
        var rightsOfZhong: [UInt32] = []
        for right in 0 ..< UInt32(v.count) where tables.pair(zhongId, right) != UInt64.max { rightsOfZhong.append(right) }
        #expect(rightsOfZhong == [wenId])  // 中文
        for right in rightsOfZhong { #expect(partners & BPETables.partnerBit(right) != 0) }
        #expect(partners.nonzeroBitCount == rightsOfZhong.count)
    }
}
