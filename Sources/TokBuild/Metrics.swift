import Foundation
import TokCorpus
import TokEncoding
import TokRuntime

/// What encoding one domain's text with one vocabulary gave: its size in
/// bytes, characters, words and Han characters, its tokens, and how often
/// each id was used. Measurements of parts of a text add up (``add(_:)``).
public struct TextMeasurement: Sendable {
    public var bytes = 0
    public var units = TextUnits()
    public var tokens = 0
    /// Uses of each id, indexed by id.
    public var idCounts: [UInt64]

    public init(idLimit: Int) { idCounts = [UInt64](repeating: 0, count: idLimit) }

    /// Adds a text and its ids.
    ///
    /// - Complexity: O(text bytes + ids).
    public mutating func add(text: UnsafeBufferPointer<UInt8>, ids: some Collection<UInt32>) {
        bytes += text.count
        units += TextUnits(text)
        tokens += ids.count
        for id in ids where Int(id) < idCounts.count { idCounts[Int(id)] += 1 }
    }

    public mutating func add(_ other: TextMeasurement) {
        bytes += other.bytes
        units += other.units
        tokens += other.tokens
        for i in idCounts.indices { idCounts[i] += other.idCounts[i] }
    }

    /// Encodes `text` (on `threads` threads; the ids do not depend on them) and measures it.
    public static func of(_ text: UnsafeBufferPointer<UInt8>, tokenizer: Tokenizer, threads: Int) -> TextMeasurement {
        var m = TextMeasurement(idLimit: tokenizer.vocabulary.idLimit)
        m.add(text: text, ids: tokenizer.encodeInParallel(text, threads: threads))
        return m
    }

    /// Encodes the text of `files` (txt, jsonl with the text in `field`, zst) in blocks and measures it, in bounded memory.
    public static func of(files: [CorpusFile], tokenizer: Tokenizer, threads: Int, field: String = "text") throws -> TextMeasurement {
        let stream = CorpusStream(files: files, preTokenizer: tokenizer.preTokenizer, blockSize: 8 << 20, field: field,
                                  keepingWhole: tokenizer.tokensKeptWhole)
        var batch = TextBatch()
        var total = TextMeasurement(idLimit: tokenizer.vocabulary.idLimit)
        while try stream.next(&batch) {
            let lanes = max(1, min(threads, batch.ends.count))
            let shared = batch
            let parts: [TextMeasurement] = inParallel(lanes: lanes) { lane in
                var part = TextMeasurement(idLimit: tokenizer.vocabulary.idLimit)
                var scratch = tokenizer.makeScratch()
                var ids = ContiguousArray<UInt32>()
                var k = 0
                shared.forEachText { t in
                    defer { k += 1 }
                    guard k % lanes == lane else { return }
                    ids.removeAll(keepingCapacity: true)
                    if lanes == 1 {
                        ids = tokenizer.encodeInParallel(t, threads: threads)
                    } else {
                        tokenizer.encode(t, allowedSpecial: .none, scratch: &scratch, into: &ids)
                    }
                    part.add(text: t, ids: ids)
                }
                return part
            }
            for p in parts { total.add(p) }
        }
        return total
    }

    public var compression: Compression { Compression(bytes: bytes, characters: units.characters, tokens: tokens) }
}

/// Rényi entropy of order `alpha` of the distribution `counts`, over the
/// logarithm of `vocabularySize`: how evenly a text uses the vocabulary,
/// 1 when every id is used equally often (Zouhar et al. 2023 found α = 2.5
/// to correlate best with downstream quality).
///
/// - Complexity: O(counts).
public func renyiEfficiency(_ counts: [UInt64], vocabularySize: Int, alpha: Double = 2.5) -> Double {
    let total = Double(counts.reduce(0, +))
    guard total > 0, vocabularySize > 1 else { return 0 }
    var sum = 0.0
    for c in counts where c > 0 { sum += pow(Double(c) / total, alpha) }
    let entropy = log(sum) / (1 - alpha)
    return entropy / log(Double(vocabularySize))
}

/// One vocabulary's figures on one domain's evaluation text.
public struct DomainMetrics: Codable, Sendable, Equatable {
    public var bytes: Int
    public var characters: Int
    public var words: Int
    public var hanCharacters: Int
    public var tokens: Int
    public var bytesPerToken: Double
    public var charactersPerToken: Double
    /// Tokens per white-space-separated word (the figure for English and code).
    public var tokensPerWord: Double
    /// Tokens per Han character (the figure for Chinese); 0 without Han characters.
    public var tokensPerHanCharacter: Double
    /// ``renyiEfficiency(_:vocabularySize:alpha:)`` at α = 2.5.
    public var renyiEfficiency: Double
    /// Ids of the vocabulary (bytes and BPE tokens, not special tokens) this text never used, and their share.
    public var deadTokens: Int
    public var deadShare: Double
    /// Tokens per byte relative to a reference on the same text (the domain's
    /// own vocabulary in a build; in `tok stats`, the best vocabulary compared):
    /// 1 is parity, 1.05 means 5% more tokens.
    public var parity: Double?

    public init(_ m: TextMeasurement, usable: Range<Int>) {
        func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : round4(Double(a) / Double(b)) }
        bytes = m.bytes
        characters = m.units.characters
        words = m.units.words
        hanCharacters = m.units.hanCharacters
        tokens = m.tokens
        bytesPerToken = ratio(m.bytes, m.tokens)
        charactersPerToken = ratio(m.units.characters, m.tokens)
        tokensPerWord = ratio(m.tokens, m.units.words)
        tokensPerHanCharacter = ratio(m.tokens, m.units.hanCharacters)
        let counts = Array(m.idCounts[usable])
        renyiEfficiency = round4(TokBuild.renyiEfficiency(counts, vocabularySize: usable.count))
        deadTokens = counts.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
        deadShare = round4(Double(deadTokens) / Double(max(usable.count, 1)))
    }
}

/// One vocabulary's figures on every domain's evaluation text, and those of
/// the vocabulary itself: dead tokens on all domains together, tokens used
/// only as merge intermediates, lengths per kind and the composition.
public struct VocabularyMetrics: Codable, Sendable {
    public var name: String
    /// Tokens: bytes, BPE tokens and special tokens (ids left unused between them not counted).
    public var size: Int
    public var domains: [String: DomainMetrics]
    /// Tokens (bytes and BPE) never used on any domain's text, and their share.
    public var deadTokens: Int
    public var deadShare: Double
    /// Tokens never used on any domain's text that are parts of merges leading
    /// to used tokens: kept only as stepping stones.
    public var intermediateOnlyTokens: Int
    /// Tokens per kind (``TokenKind``) by length in characters (bytes for
    /// partial UTF-8): entry `k` counts length `k + 1`, the last counts 16 and over.
    public var lengths: [String: [Int]]
    /// Tokens per kind, as in table 1 of the Pangu Ultra report.
    public var composition: [String: Int]
    /// The largest minus the smallest domain ``DomainMetrics/parity``.
    public var paritySpread: Double?

    /// Measures `tokenizer` on each domain's text.
    ///
    /// - Complexity: O(text bytes + vocabulary × domains).
    public init(name: String, tokenizer: Tokenizer, measurements: [(domain: String, measurement: TextMeasurement)]) {
        let vocabulary = tokenizer.vocabulary
        let usable = 0 ..< vocabulary.count
        self.name = name
        size = vocabulary.count + vocabulary.specialTokens.filter { Int($0.id) >= vocabulary.count }.count
        var domains: [String: DomainMetrics] = [:]
        var used = [Bool](repeating: false, count: vocabulary.count)
        for (domain, m) in measurements {
            domains[domain] = DomainMetrics(m, usable: usable)
            for id in usable where m.idCounts[id] > 0 { used[id] = true }
        }
        self.domains = domains
        // Special ids below `count` (imported vocabularies) are not merge tokens.
        let special = Set(vocabulary.specialTokens.map { Int($0.id) })
        // Nor are ids in a gap (no bytes: unused ids below an extension's new ones).
        let candidates = usable.filter { !special.contains($0) && !vocabulary.bytes(of: UInt32($0)).isEmpty }
        deadTokens = measurements.isEmpty ? 0 : candidates.filter { !used[$0] }.count
        deadShare = round4(Double(deadTokens) / Double(max(candidates.count, 1)))
        intermediateOnlyTokens = measurements.isEmpty ? 0 : VocabularyMetrics.intermediates(vocabulary, used: used)
        lengths = VocabularyMetrics.lengths(vocabulary)
        composition = Dictionary(uniqueKeysWithValues: TokenKind.table(vocabulary).map { ($0.key.rawValue, $0.value) })
    }

    /// Sets each domain's parity against `reference` tokens on the same text.
    public mutating func setParity(reference: [String: Int]) {
        var values: [Double] = []
        for (domain, m) in domains {
            guard let r = reference[domain], r > 0, m.tokens > 0 else { continue }
            let p = round4(Double(m.tokens) / Double(r))
            domains[domain]?.parity = p
            values.append(p)
        }
        paritySpread = values.isEmpty ? nil : round4(values.max()! - values.min()!)
    }

    /// Unused tokens that a used token is merged from, directly or through
    /// other tokens: walking the merges from the last, a token is needed when
    /// it is used or when a needed token is merged from it.
    ///
    /// - Complexity: O(merges log merges).
    static func intermediates(_ vocabulary: Vocabulary, used: [Bool]) -> Int {
        var needed = used
        for merge in vocabulary.merges.reversed() where Int(merge.result) < needed.count && needed[Int(merge.result)] {
            if Int(merge.left) < needed.count { needed[Int(merge.left)] = true }
            if Int(merge.right) < needed.count { needed[Int(merge.right)] = true }
        }
        return zip(needed, used).reduce(0) { $0 + ($1.0 && !$1.1 ? 1 : 0) }
    }

    /// Token lengths per kind: characters for text, bytes for partial UTF-8.
    static func lengths(_ vocabulary: Vocabulary) -> [String: [Int]] {
        var table: [String: [Int]] = [:]
        for id in 0 ..< vocabulary.count {
            let bytes = vocabulary.bytes(of: UInt32(id))
            guard !bytes.isEmpty else { continue }  // an id in a gap holds no token
            let kind = TokenKind.of(bytes)
            let length = String(validating: bytes, as: UTF8.self)?.unicodeScalars.count ?? bytes.count
            table[kind.rawValue, default: [Int](repeating: 0, count: 16)][min(length, 16) - 1] += 1
        }
        return table
    }
}

func round4(_ x: Double) -> Double { (x * 10000).rounded() / 10000 }
