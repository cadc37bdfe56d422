import Foundation
import TokBuild
import TokCorpus
import TokCounts
import TokData
import TokEncoding
import TokRuntime
import TokTraining

// `tok build`, `tok train` and `tok encode --format megatron` as calls: the
// options come as JSON (the Python package's keyword arguments), the
// library runs as the CLI runs it, and the report, summary or manifest comes
// back as JSON in the result's bytes. Warnings go to stderr as `tok: ...`
// lines, as the CLI writes them; progress lines only when asked.

private func decode<T: Decodable>(_ type: T.Type, _ json: UnsafePointer<CChar>) throws -> T {
    do {
        return try JSONDecoder().decode(T.self, from: Data(String(cString: json).utf8))
    } catch {
        throw CallError("options: \(error)")
    }
}

/// `value` as JSON in a new result's bytes, at `*result`.
private func hand(back value: some Encodable, to result: UnsafeMutablePointer<UnsafeMutableRawPointer?>) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let r = CallResult()
    r.bytes = Array(try encoder.encode(value))
    result.pointee = retained(r)
}

private func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

private func pattern(_ name: String?) throws -> PreTokenizer {
    let name = name ?? PreTokenizer.defaultName
    guard let p = PreTokenizer(named: name) else {
        throw CallError("unknown pattern '\(name)' (known: \(PreTokenizer.named.keys.sorted().joined(separator: ", ")))")
    }
    return p
}

/// `model`: `byte-level` (the default) or `sentencepiece`, with its user-defined symbols.
private func model(_ name: String?, userDefinedSymbols: [String]?) throws -> VocabularyModel {
    switch name ?? "byte-level" {
    case "byte-level":
        guard (userDefinedSymbols ?? []).isEmpty else { throw CallError("user_defined_symbols is for model='sentencepiece'") }
        return .byteLevel
    case "sentencepiece":
        var options = SentencePieceOptions()
        options.userDefinedSymbols = userDefinedSymbols ?? []
        return .sentencePiece(options)
    case let other: throw CallError("model takes byte-level or sentencepiece, not '\(other)'")
    }
}

private func threads(_ n: Int?) throws -> Int {
    guard let n else { return ProcessInfo.processInfo.activeProcessorCount }
    guard (1 ... 1024).contains(n) else { throw CallError("threads takes 1 to 1024, not \(n)") }
    return n
}

/// `tok build`'s options, by the Python package's names.
struct BuildCall: Decodable {
    var domains: [DomainInput]
    var output: String
    var vocab_size: Int?
    var special_tokens: [String]?
    var pattern: String?
    var threads: Int?
    var memory: Int?
    var held_out_per_mille: Int?
    var hold_out_by: String?
    var evaluation: [String: [String]]?
    var compare_pooled: Bool?
    var model: String?
    var user_defined_symbols: [String]?
    var progress: Bool?
}

@_cdecl("tok_build")
public func tok_build(
    _ json: UnsafePointer<CChar>, _ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ error: ErrorOut
) -> Int32 {
    call(error) {
        let c = try decode(BuildCall.self, json)
        var options = BuildOptions(domains: c.domains)
        if let size = c.vocab_size { options.vocabularySize = size }
        if let specials = c.special_tokens { options.specialTokens = specials }
        options.preTokenizer = try pattern(c.pattern)
        options.threads = try threads(c.threads)
        if let memory = c.memory { options.memoryBudget = memory }
        if let perMille = c.held_out_per_mille {
            guard (0 ... 1000).contains(perMille) else { throw CallError("held_out_per_mille takes 0 to 1000, not \(perMille)") }
            options.heldOutPerMille = perMille
        }
        if let unit = c.hold_out_by {
            guard let parsed = HoldOutUnit(unit) else { throw CallError("hold_out_by takes document, file or key:NAME, not '\(unit)'") }
            options.heldOutUnit = parsed
        }
        for (name, _) in c.evaluation ?? [:] where !c.domains.contains(where: { $0.name == name }) {
            throw CallError("evaluation names the domain '\(name)', which is not among the domains")
        }
        options.evaluation = c.evaluation ?? [:]
        options.comparePooled = c.compare_pooled ?? false
        options.model = try model(c.model, userDefinedSymbols: c.user_defined_symbols)
        let progress = c.progress ?? false
        let report = try buildVocabulary(options, output: c.output, log: { if progress { printError("tok build: " + $0) } },
                                         warn: { printError("tok: " + $0) },
                                         progress: { p in
            if progress { printError(String(format: "tok build: %@%@ %.0f%%", p.stage, p.domain.map { " " + $0 } ?? "", p.fraction * 100)) }
        })
        try hand(back: report, to: result)
    }
}

/// `tok train`'s options, by the Python package's names.
struct TrainCall: Decodable {
    var inputs: [String]
    var output: String
    var vocab_size: Int
    var special_tokens: [String]?
    var pattern: String?
    var threads: Int?
    var memory: Int?
    var min_frequency: UInt64?
    var max_token_length: Int?
    var field: String?
    var strict: Bool?
    var model: String?
    var user_defined_symbols: [String]?
    var progress: Bool?
}

@_cdecl("tok_train")
public func tok_train(
    _ json: UnsafePointer<CChar>, _ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ error: ErrorOut
) -> Int32 {
    call(error) {
        let c = try decode(TrainCall.self, json)
        var counting = CountingOptions(preTokenizer: try pattern(c.pattern), threads: try threads(c.threads),
                                       memoryBudget: c.memory ?? CountingOptions.defaultMemoryBudget)
        counting.field = c.field ?? counting.field
        counting.strict = c.strict ?? false
        let specials = c.special_tokens ?? []
        guard c.vocab_size > 256 + specials.count else {
            throw CallError("vocab_size \(c.vocab_size) leaves no merge beside the 256 byte tokens and \(specials.count) special tokens")
        }
        var options = TrainingOptions(vocabularySize: c.vocab_size, counting: counting)
        options.trainer.minFrequency = c.min_frequency ?? 0
        options.trainer.maxTokenLength = c.max_token_length ?? .max
        options.trainer.specialTokens = specials
        options.model = try model(c.model, userDefinedSymbols: c.user_defined_symbols)
        let progress = c.progress ?? false
        let summary = try trainVocabulary(
            inputs: c.inputs, options: options, output: c.output, warn: { printError("tok: " + $0) },
            countingProgress: { p in if progress { printError(String(format: "tok train: counting %.1f MB", Double(p.bytes) / 1e6)) } },
            trainingProgress: { done, total in if progress && done % 1000 == 0 { printError("tok train: merge \(done) of \(total)") } })
        try hand(back: summary, to: result)
    }
}

/// `tok encode --format megatron`'s options, by the Python package's names.
struct DatasetCall: Decodable {
    var inputs: [String]
    var vocabulary: String
    var prefix: String
    var threads: Int?
    var append_eod: Bool?
    var eod: String?
    var field: String?
    var strict: Bool?
    var shard_size: Int?
    var allowed_special: [String]?
    var allow_all_special: Bool?
    var domain: String?
    var progress: Bool?
}

@_cdecl("tok_encode_dataset")
public func tok_encode_dataset(
    _ json: UnsafePointer<CChar>, _ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ error: ErrorOut
) -> Int32 {
    call(error) {
        let c = try decode(DatasetCall.self, json)
        let tokenizer = try VocabularyFolder.load(c.vocabulary)
        var options = DatasetOptions(threads: try threads(c.threads))
        if c.append_eod ?? false || c.eod != nil {
            options.endOfText = try endOfTextToken(tokenizer, named: c.eod, vocabulary: c.vocabulary)
        }
        options.field = c.field ?? options.field
        options.strict = c.strict ?? false
        if let size = c.shard_size {
            guard size > 0 else { throw CallError("shard_size must be positive, not \(size)") }
            options.shardSize = size
        }
        if c.allow_all_special ?? false {
            options.allowedSpecial = .all
        } else if let names = c.allowed_special, !names.isEmpty {
            options.allowedSpecial = .only(Set(names))
        }
        options.domain = c.domain
        let progress = c.progress ?? false
        let manifest = try encodeDataset(
            inputs: c.inputs, vocabulary: c.vocabulary, tokenizer: tokenizer, options: options, prefix: c.prefix,
            warn: { printError("tok: " + $0) },
            progress: { p in
                if progress { printError(String(format: "tok: encoding %.1f MB, %d documents, %d tokens", Double(p.bytes) / 1e6, p.documents, p.tokens)) }
            })
        try hand(back: manifest, to: result)
    }
}
