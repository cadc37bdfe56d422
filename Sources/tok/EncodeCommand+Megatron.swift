import ArgumentParser
import Foundation
import TokCorpus
import TokData
import TokEncoding

/// The options of `tok encode --format megatron`.
struct DatasetArguments: ParsableArguments {
    @Flag(help: "Append the end-of-text token to every non-empty document (megatron).")
    var appendEod = false

    @Option(help: "The end-of-text special token (default: <|endoftext|>, <|end_of_text|>, </s> or <eos>, as the vocabulary has it).")
    var eod: String?

    @Option(help: "The JSON field holding the text in .jsonl files (megatron).")
    var field: String = "text"

    @Flag(help: "Fail on a malformed or blank JSON line, or one without the field, instead of reporting and skipping it (megatron).")
    var strict = false

    @Option(help: "Split the dataset into shards of about this many .bin bytes, e.g. 1G (megatron).")
    var shardSize: String?

    @Option(help: "A domain name recorded in the manifest (megatron).")
    var domain: String?

    @Flag(help: "No progress on stderr.")
    var quiet = false
}

extension EncodeCommand {
    func runMegatron(_ tokenizer: Tokenizer, threads: Int) throws {
        var options = DatasetOptions(threads: threads)
        if dataset.appendEod { options.endOfText = try endOfTextToken(tokenizer, named: dataset.eod, vocabulary: vocabulary.vocab) }
        options.field = dataset.field
        options.strict = dataset.strict
        options.shardSize = try dataset.shardSize.map { try parseSize($0, option: "--shard-size") }
        options.allowedSpecial = allowed
        options.domain = dataset.domain
        let show = !dataset.quiet && isatty(2) != 0
        // The ETA needs the text's size up front: known for plain files, not for .zst.
        let files = try expandCorpusInputs(inputs)
        let total = files.contains(where: \.zstd) ? 0
            : files.reduce(0) { $0 + fileSizeOnDisk($1) }
        let manifest = try encodeDataset(
            inputs: inputs, vocabulary: vocabulary.vocab, tokenizer: tokenizer, options: options, prefix: output!,
            warn: { printError("tok: " + $0) },
            progress: { p in
                guard show else { return }
                let rate = Double(p.bytes) / max(p.seconds, 1e-9)
                let eta = total > p.bytes && rate > 0 ? String(format: ", ETA %.0f s", Double(total - p.bytes) / rate) : ""
                printError(String(format: "\rencoding: %.1f MB, %d documents, %d tokens, %.1f MB/s%@   ",
                                  Double(p.bytes) / 1e6, p.documents, p.tokens, rate / 1e6, eta), newline: false)
            })
        if show { printError("") }
        let s = manifest.statistics
        print("\(output!): \(manifest.documents) documents, \(manifest.tokens) tokens, \(manifest.dtype) ids, \(manifest.shards.count) shard(s)")
        if s.invalidUTF8Bytes > 0 { printError("tok: " + invalidUTF8Message(s.invalidUTF8Bytes, tokenizer)) }
        if s.malformedLines > 0 { printError("tok: \(s.malformedLines) malformed JSON lines skipped") }
        if s.linesWithoutField > 0 { printError("tok: \(s.linesWithoutField) JSON lines without a string \"\(dataset.field)\" skipped") }
    }
}
