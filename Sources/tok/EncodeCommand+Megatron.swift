import ArgumentParser
import Foundation
import TokCorpus
import TokData
import TokEncoding

/// The options of `tok encode` for corpus inputs: how JSON lines are read,
/// and those of datasets (`--format megatron`).
struct DatasetArguments: ParsableArguments {
    @Flag(help: "Append the end-of-text token to every non-empty document (megatron).")
    var appendEod = false

    @Option(help: "The end-of-text special token (default: <|endoftext|>, <|end_of_text|>, </s> or <eos>, as the vocabulary has it).")
    var eod: String?

    @OptionGroup var jsonLines: JSONLinesOptions

    @Option(help: ArgumentHelp("Split the dataset into shards of about this many .bin bytes, e.g. 1G (megatron).", valueName: "size"), transform: ByteSize.parse)
    var shardSize: ByteSize?

    @Option(help: "A domain name recorded in the manifest (megatron).")
    var domain: String?

    @Flag(help: "No progress on stderr.")
    var quiet = false

    /// Options that only a dataset takes.
    var asksForDataset: Bool { appendEod || eod != nil || shardSize != nil || domain != nil }
}

extension EncodeCommand {
    func runMegatron(_ tokenizer: Tokenizer) throws {
        var options = DatasetOptions(threads: threads.count)
        if dataset.appendEod { options.endOfText = try endOfTextToken(tokenizer, named: dataset.eod, vocabulary: vocabulary.vocab) }
        options.field = dataset.jsonLines.field
        options.strict = dataset.jsonLines.strict
        options.shardSize = dataset.shardSize?.bytes
        options.allowedSpecial = allowSpecial
        options.domain = dataset.domain
        let status = StatusLine(enabled: !dataset.quiet)
        // The time left needs the text's size up front: known for plain files, not for .zst.
        let files = try expandCorpusInputs(inputs)
        let total = files.contains(where: \.zstd) ? 0 : files.reduce(0) { $0 + fileSizeOnDisk($1) }
        let manifest = try encodeDataset(
            inputs: inputs, vocabulary: vocabulary.vocab, tokenizer: tokenizer, options: options, prefix: output!,
            warn: { printError("tok: " + $0) },
            progress: { p in
                let rate = Double(p.bytes) / max(p.seconds, 1e-9)
                let left = total > p.bytes && rate > 0 ? Double(total - p.bytes) / rate : nil
                status.show(datasetLine(bytes: p.bytes, documents: p.documents, tokens: p.tokens, rate: rate,
                                        fraction: total > 0 ? Double(p.bytes) / Double(total) : nil, secondsLeft: left))
            })
        let s = manifest.statistics
        status.complete(datasetLine(bytes: s.bytes, documents: manifest.documents, tokens: manifest.tokens, rate: nil, fraction: 1,
                                    secondsLeft: 0))
        try StandardOutput.writeLine("\(output!): \(manifest.documents) documents, \(manifest.tokens) tokens, \(manifest.dtype) ids, \(manifest.shards.count) shard(s)")
        if s.invalidUTF8Bytes > 0 { printError("tok: " + invalidUTF8Message(s.invalidUTF8Bytes, tokenizer)) }
        reportSkippedLines(s, field: dataset.jsonLines.field)
    }
}

/// "encoding: 120.5 MB (41%), 20311 documents, 30120455 tokens, 25.1 MB/s, 1m10s left".
func datasetLine(bytes: Int, documents: Int, tokens: Int, rate: Double?, fraction: Double?, secondsLeft: Double?) -> String {
    String(format: "encoding: %.1f MB%@, %d documents, %d tokens%@, %@ left", Double(bytes) / 1e6,
           fraction.map { String(format: " (%.0f%%)", $0 * 100) } ?? "", documents, tokens,
           rate.map { String(format: ", %.1f MB/s", $0 / 1e6) } ?? "", StatusLine.duration(secondsLeft))
}
