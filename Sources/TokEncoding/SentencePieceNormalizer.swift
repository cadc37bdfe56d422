/// Byte strings matched longest first at a position: SentencePiece's
/// user-defined pieces, which are neither normalized nor merged. A 256-bit
/// set of first bytes answers most positions; the rest try each length that
/// a piece with that first byte has, longest first, in a hash set.
struct LongestMatcher: Sendable, Hashable {
    /// Bit per byte: some string starts with it.
    let firstBytes: [UInt64]
    /// Per first byte, the lengths of the strings that start with it, longest first.
    let lengths: [[Int]]
    /// The strings by the hash of their bytes (``hash(_:_:)``).
    let byHash: [UInt64: [[UInt8]]]

    init(_ strings: [[UInt8]]) {
        var first = [UInt64](repeating: 0, count: 4)
        var lengths = [[Int]](repeating: [], count: 256)
        var byHash: [UInt64: [[UInt8]]] = [:]
        for s in strings where !s.isEmpty {
            first[Int(s[0]) >> 6] |= 1 << UInt64(s[0] & 63)
            if !lengths[Int(s[0])].contains(s.count) { lengths[Int(s[0])].append(s.count) }
            byHash[s.withUnsafeBufferPointer { LongestMatcher.hash($0.baseAddress!, s.count) }, default: []].append(s)
        }
        for b in 0 ..< 256 { lengths[b].sort(by: >) }
        firstBytes = first
        self.lengths = lengths
        self.byHash = byHash
    }

    var isEmpty: Bool { byHash.isEmpty }

    func mayStart(_ b: UInt8) -> Bool { firstBytes[Int(b) >> 6] >> UInt64(b & 63) & 1 != 0 }

    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for k in 0 ..< n { h = (h ^ UInt64(p[k])) &* 0x0100_0000_01B3 }
        return h
    }

    /// The length of the longest string at `text[i...]`, or 0.
    func match(_ text: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        let p = text.baseAddress! + i
        for n in lengths[Int(text[i])] where n <= text.count - i {
            guard let candidates = byHash[LongestMatcher.hash(p, n)] else { continue }
            for c in candidates where c.elementsEqual(UnsafeBufferPointer(start: p, count: n)) { return n }
        }
        return 0
    }
}

/// SentencePiece's normalizer (`normalizer.cc`), writing tok's form of the
/// normalized text: the same text with every `▁` (U+2581), the one SentencePiece
/// writes for a space and any the input had, as a plain space (0x20) when
/// `escape_whitespaces` is on. Pieces are stored in the same form, so the
/// kernel and the caches see one byte where SentencePiece has three.
///
/// Step by step as SentencePiece does it: each position is taken by the
/// longest user-defined piece there (copied as it is), else the longest rule
/// of the charsmap (its replacement), else one character (an invalid UTF-8
/// byte becomes U+FFFD); with `remove_extra_whitespaces`, spaces at the
/// start, the spaces that follow a space, and spaces at the end go; the dummy
/// prefix goes before the text (after it with `treat_whitespace_as_suffix`).
public struct SentencePieceNormalizer: Sendable, Hashable {
    let charsmap: SentencePieceCharsmap?
    let addDummyPrefix: Bool
    let removeExtraWhitespaces: Bool
    let escapeWhitespaces: Bool
    let dummyPrefixAfter: Bool
    /// Write `▁` (and spaces) as 0x20: tok's form. Off for a denormalizer, which writes SentencePiece's own text.
    let spaceForm: Bool
    let userDefined: LongestMatcher
    /// Per byte below 0x80 that no user-defined piece starts with: its
    /// replacement when it is always one byte and no longer rule starts
    /// with it (0-127), nothing (`deleted`), or `slow`: ask the charsmap.
    let ascii: [Int16]
    static let deleted: Int16 = -1, slow: Int16 = -2
    /// Every ASCII byte is its own replacement and starts no user-defined piece.
    let asciiUnchanged: Bool

    init(spec: SentencePieceModelProto.NormalizerSpec, treatWhitespaceAsSuffix: Bool, userDefined: [[UInt8]],
         spaceForm: Bool = true) throws {
        charsmap = try SentencePieceCharsmap(spec.precompiledCharsmap)
        addDummyPrefix = spec.addDummyPrefix
        removeExtraWhitespaces = spec.removeExtraWhitespaces
        escapeWhitespaces = spec.escapeWhitespaces
        dummyPrefixAfter = treatWhitespaceAsSuffix
        self.spaceForm = spaceForm
        self.userDefined = LongestMatcher(userDefined)
        var ascii = [Int16](repeating: SentencePieceNormalizer.slow, count: 128)
        for b in 0 ..< 128 where !self.userDefined.mayStart(UInt8(b)) {
            guard let charsmap else { ascii[b] = Int16(b); continue }
            guard !charsmap.hasLongerKey(startingWith: UInt8(b)) else { continue }
            let one = [UInt8(b)]
            let rule = one.withUnsafeBufferPointer { charsmap.longestMatch($0, from: 0, to: 1) }
            guard let rule else { ascii[b] = Int16(b); continue }
            let replacement = charsmap.replacements[rule.replacement]
            if replacement.isEmpty {
                ascii[b] = SentencePieceNormalizer.deleted
            } else if replacement.count == 1, replacement.first! < 0x80 {
                ascii[b] = Int16(replacement.first!)
            }
        }
        self.ascii = ascii
        asciiUnchanged = (0 ..< 128).allSatisfy { ascii[$0] == Int16($0) }
    }

    /// The text as SentencePiece normalizes it, in tok's form, appended to `out`.
    ///
    /// - Complexity: O(n) for text of n bytes; a byte with a table entry
    ///   costs a lookup, any other character a walk of the charsmap's trie.
    func normalize(_ text: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        guard !text.isEmpty else { return }
        (charsmap?.replacements ?? []).withUnsafeBufferPointer { normalize(text, replacements: $0, into: &out) }
    }

    private func normalize(_ text: UnsafeBufferPointer<UInt8>, replacements: UnsafeBufferPointer<UInt8>,
                           into out: inout [UInt8]) {
        let n = text.count
        let start = out.count
        var i = 0
        let space: [UInt8] = escapeWhitespaces && !spaceForm ? [0xE2, 0x96, 0x81] : [0x20]
        if removeExtraWhitespaces {
            while i < n {
                let (chunk, consumed) = prefix(text, i, replacements)
                guard chunk.count == 1 && chunk[0] == 0x20 else { break }
                i += consumed
            }
            if i == n { return }
        }
        out.reserveCapacity(start + n + n / 8 + 8)
        if !dummyPrefixAfter && addDummyPrefix { out.append(contentsOf: space) }
        var previousIsSpace = removeExtraWhitespaces
        // A space stays one space byte (tok's form, runs of spaces kept): then
        // every byte the table maps to itself is copied as it is; and without
        // a charsmap, so is every other character but `▁` (a space in tok's form).
        let plainSpaces = space.count == 1 && !removeExtraWhitespaces
        let plainOthers = charsmap == nil
        let marksSpaces = spaceForm && escapeWhitespaces
        let wordsUnchanged = asciiUnchanged && plainSpaces
        ascii.withUnsafeBufferPointer { ascii in
            /// The length of the character at `j` if it is copied as it is, else 0.
            @inline(__always) func unchanged(_ j: Int) -> Int {
                let b = text[j]  // j < n
                if b < 0x80 { return ascii[Int(b)] == Int16(b) && (b != 0x20 || plainSpaces) ? 1 : 0 }
                guard plainOthers && !userDefined.mayStart(b) else { return 0 }
                let length = text.validScalarLength(at: j)
                // ▁ is E2 96 81; length 3 means both bytes are in the text.
                if marksSpaces && length == 3 && b == 0xE2 && text[j + 1] == 0x96 && text[j + 2] == 0x81 { return 0 }
                return length
            }
            while i < n {
                let b = text[i]  // i < n
                if case let length = unchanged(i), length > 0 {
                    // A run of such characters in one copy: an append per byte checked the array's room each time.
                    let run = i
                    i += length
                    while i < n {
                        if wordsUnchanged {
                            // Eight ASCII bytes at a time when each is copied as it is (i + 8 <= n: inside the text).
                            while i + 8 <= n && UnsafeRawPointer(text.baseAddress! + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                                i += 8
                            }
                            guard i < n else { break }
                        }
                        guard case let next = unchanged(i), next > 0 else { break }
                        i += next
                    }
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: text[run ..< i]))
                    previousIsSpace = false
                    continue
                }
                if b < 0x80, case let a = ascii[Int(b)], a != SentencePieceNormalizer.slow {
                    // One byte to at most one byte: the common case, without the trie.
                    i += 1
                    if a == SentencePieceNormalizer.deleted { continue }
                    if a == 0x20 {
                        if !previousIsSpace { out.append(contentsOf: space) }
                        previousIsSpace = removeExtraWhitespaces
                    } else {
                        out.append(UInt8(a))
                        previousIsSpace = false
                    }
                    continue
                }
                let (chunk, consumed) = prefix(text, i, replacements)
                i += consumed
                var k = 0
                if previousIsSpace { while k < chunk.count && chunk[k] == 0x20 { k += 1 } }
                if k < chunk.count {
                    append(UnsafeBufferPointer(rebasing: chunk[k...]), space: space, to: &out)
                    previousIsSpace = chunk[chunk.count - 1] == 0x20
                }
                if !removeExtraWhitespaces { previousIsSpace = false }
            }
        }
        if removeExtraWhitespaces {
            while out.count > start && out.last == 0x20 { out.removeLast() }
            if !spaceForm && escapeWhitespaces {
                while out.count >= start + 3 && out[(out.count - 3)...].elementsEqual([0xE2, 0x96, 0x81]) { out.removeLast(3) }
            }
        }
        if dummyPrefixAfter && addDummyPrefix { out.append(contentsOf: space) }
    }

    /// One chunk's bytes: spaces escaped, and in tok's form every `▁` a space.
    @inline(__always)
    func append(_ chunk: UnsafeBufferPointer<UInt8>, space: [UInt8], to out: inout [UInt8]) {
        if !escapeWhitespaces { return out.append(contentsOf: chunk) }
        var k = 0
        while k < chunk.count {
            let b = chunk[k]
            if b == 0x20 {
                out.append(contentsOf: space)
                k += 1
            } else if spaceForm && b == 0xE2 && k + 2 < chunk.count && chunk[k + 1] == 0x96 && chunk[k + 2] == 0x81 {
                out.append(0x20)
                k += 3
            } else {
                out.append(b)
                k += 1
            }
        }
    }

    /// SentencePiece's `NormalizePrefix`: what the text at `i` becomes (in
    /// `text`, in `replacements`, or U+FFFD), and how many bytes that takes.
    func prefix(_ text: UnsafeBufferPointer<UInt8>, _ i: Int,
                _ replacements: UnsafeBufferPointer<UInt8>) -> (UnsafeBufferPointer<UInt8>, Int) {
        if userDefined.mayStart(text[i]), case let m = userDefined.match(text, at: i), m > 0 {
            return (UnsafeBufferPointer(rebasing: text[i ..< i + m]), m)
        }
        if let charsmap, let rule = charsmap.longestMatch(text, from: i, to: text.count) {
            return (UnsafeBufferPointer(rebasing: replacements[rule.replacement]), rule.length)
        }
        let length = text.validScalarLength(at: i)
        guard length > 0 else {
            return (SentencePieceNormalizer.replacementCharacter, 1)
        }
        return (UnsafeBufferPointer(rebasing: text[i ..< i + length]), length)
    }

    /// U+FFFD, for an invalid byte: memory that lives as long as the process
    /// (``prefix``'s result points into it), never written after it is made.
    nonisolated(unsafe) static let replacementCharacter: UnsafeBufferPointer<UInt8> = {
        let p = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 3)
        _ = p.initialize(from: [0xEF, 0xBF, 0xBD])
        return UnsafeBufferPointer(p)
    }()
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// The length of the valid UTF-8 character at `i` (no overlong forms, no
    /// surrogates, nothing past U+10FFFF), or 0 when the bytes there are not one.
    func validScalarLength(at i: Int) -> Int {
        let b0 = self[i]
        if b0 < 0x80 { return 1 }
        let rest = count - i
        @inline(__always) func trail(_ k: Int) -> UInt32? {
            let b = self[i + k]
            return b & 0xC0 == 0x80 ? UInt32(b & 0x3F) : nil
        }
        if b0 & 0xE0 == 0xC0, rest >= 2, let t1 = trail(1) {
            return (UInt32(b0 & 0x1F) << 6 | t1) >= 0x80 ? 2 : 0
        }
        if b0 & 0xF0 == 0xE0, rest >= 3, let t1 = trail(1), let t2 = trail(2) {
            let cp = UInt32(b0 & 0x0F) << 12 | t1 << 6 | t2
            return cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF) ? 3 : 0
        }
        if b0 & 0xF8 == 0xF0, rest >= 4, let t1 = trail(1), let t2 = trail(2), let t3 = trail(3) {
            let cp = UInt32(b0 & 0x07) << 18 | t1 << 12 | t2 << 6 | t3
            return cp >= 0x10000 && cp <= 0x10FFFF ? 4 : 0
        }
        return 0
    }
}

extension SentencePieceCharsmap {
    /// Whether some rule's key is longer than one byte and starts with `b`.
    func hasLongerKey(startingWith b: UInt8) -> Bool {
        guard let node = child(of: 0, root: true, b) else { return false }
        return (1 ..< 256).contains { child(of: node, root: false, UInt8($0)) != nil }
    }

    /// The node reached from `node` by the byte `c` (from the root when `root`).
    func child(of node: Int, root: Bool, _ c: UInt8) -> Int? {
        let base = root ? Int(SentencePieceCharsmap.offset(units[0])) : node
        let next = base ^ Int(c)
        guard next < units.count, SentencePieceCharsmap.label(units[next]) == UInt32(c) else { return nil }
        return next ^ Int(SentencePieceCharsmap.offset(units[next]))
    }
}
