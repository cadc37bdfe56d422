import ArgumentParser
import Glibc
import TokCorpus
import TokEncoding
import TokRuntime

struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode text to token ids.",
        discussion: """
            Writes ids as decimal numbers separated by single spaces; the whole input \
            is one sequence. With --lines, each input line (without its newline) is \
            encoded alone and gives one output line. Any bytes are accepted: invalid \
            UTF-8 becomes byte tokens, and the count is reported on stderr.

            Inputs are read as 'tok count' reads them: a .zst file is decompressed, and \
            a .jsonl file (or .jsonl.zst) holds documents, one a line with the text in \
            --field, each encoded alone to one output line of ids.

            With --format megatron, writes a megatron-core indexed dataset \
            (PREFIX.bin, PREFIX.idx, PREFIX.manifest.json) from corpus inputs: a .txt \
            file is one document, a .jsonl line one. --shard-size splits it into \
            PREFIX-NNNNN shards; a stopped run started again resumes after its last \
            finished shard.

            Example:
              tok encode --vocab vocab/mixed notes.txt -o notes.ids
            """
    )

    /// Piece-cache entries per thread past which a typo, not a plan, is more likely (4 GiB a thread).
    static let maximumPieceCache = 1 << 26

    @OptionGroup var vocabulary: VocabularyOptions

    @Argument(help: "Input files ('-' or none: standard input). Several only with --count or --format megatron (files, folders, globs).")
    var inputs: [String] = []

    @Option(help: "Output format: ids (decimal text), u32 or u16 (raw little-endian ids), or megatron (an indexed dataset; -o names its prefix).")
    var format = TokenIdFormat.ids

    @OptionGroup var dataset: DatasetArguments

    @Option(name: .shortAndLong, help: "Output file (default: standard output). Written only if the run succeeds.")
    var output: String?

    @Flag(help: "Encode each line separately; one output line per input line.")
    var lines = false

    @Flag(help: "Print bytes, characters, tokens and bytes/token per file instead of ids.")
    var count = false

    @Option(help: ArgumentHelp("Special tokens to recognise in the input: all, none, or a comma-separated list.", valueName: "special"))
    var allowSpecial = AllowedSpecial.none

    @Flag(help: "Put the vocabulary's post-processor tokens around each document (each line with --lines), as HuggingFace's add_special_tokens=True does.")
    var addSpecial = false

    @OptionGroup var threads: ThreadOptions

    @Option(help: "Piece cache entries, 32 bytes each with a 64-byte line for every four, shared by the threads (default 524288: 24 MiB; each thread keeps 1.3 MiB more for long pieces and pair lookups; 0 turns every cache off). The ids do not depend on it.")
    var pieceCache: Int?

    func validate() throws {
        if format.rawWidth != nil && lines { throw ValidationError("--format \(format) writes one sequence; --lines does not apply") }
        if format == .megatron {
            guard output != nil, !inputs.isEmpty else { throw ValidationError("--format megatron needs inputs and -o PREFIX") }
            guard !count && !lines else { throw ValidationError("--format megatron writes documents; --count and --lines do not apply") }
        } else {
            if !count && inputs.count > 1 { throw ValidationError("encode takes one input file (several only with --count or --format megatron)") }
            if dataset.asksForDataset { throw ValidationError("--append-eod, --eod, --shard-size and --domain apply to --format megatron") }
        }
        if format.rawWidth != nil && !count, let input = inputs.first, readsDocuments(input) {
            throw ValidationError("--format \(format) writes one sequence, and \(input) holds documents: use --format ids (a line of ids a document) or megatron")
        }
        if let pieceCache, !(0 ... EncodeCommand.maximumPieceCache).contains(pieceCache) {
            throw ValidationError("--piece-cache takes 0 to \(EncodeCommand.maximumPieceCache) entries, not \(pieceCache)")
        }
    }

    /// JSON lines (by the name, as the corpus commands decide): documents, each encoded alone.
    func readsDocuments(_ input: String) -> Bool { input != "-" && CorpusFile(path: input).format == .jsonLines }

    func run() throws {
        var tokenizer = try vocabulary.load()
        try allowSpecial.check(against: tokenizer.vocabulary)
        // A batch job over large files: a larger cache than the library's default
        // (the sizes measured are in docs/performance.md).
        tokenizer = tokenizer.withPieceCache(entries: pieceCache ?? Tokenizer.largePieceCacheEntries)
        if format == .megatron { return try runMegatron(tokenizer) }
        if count { return try runCount(tokenizer) }
        if format == .u16 && tokenizer.vocabulary.idLimit > 65536 {
            throw CLIError("\(vocabulary.vocab): \(tokenizer.vocabulary.idLimit) ids do not fit --format u16")
        }
        let input = inputs.first ?? "-"
        let sink = try OutputSink(output)
        let name: String, invalid: Int
        if readsDocuments(input) {
            name = input
            invalid = try encodeDocuments(tokenizer, of: input, writingIds: true) { try sink.write($0.text) }.invalid
        } else {
            let reader = try BlockReader(input)
            name = reader.name
            invalid = lines ? try encodeLines(tokenizer, reader: reader, sink: sink) : try encodeSequence(tokenizer, reader: reader, sink: sink)
        }
        try sink.finish()
        if invalid > 0 { printError("tok: \(name): " + invalidUTF8Message(invalid, tokenizer)) }
    }

    /// Encodes the whole input as one sequence; returns the bytes of invalid UTF-8.
    func encodeSequence(_ tokenizer: Tokenizer, reader: BlockReader, sink: OutputSink) throws -> Int {
        var invalid = 0
        var first = true
        var text: [UInt8] = []
        let (before, after) = addSpecial ? tokenizer.postProcessor.surroundingIds : ([], [])
        func write(_ ids: ContiguousArray<UInt32>) throws {
            switch format {
            case .u32:
                // Little-endian hosts: 32-bit ids are already the output's bytes.
                try ids.withUnsafeBytes { try sink.write($0) }
            case .u16:
                text = [UInt8](unsafeUninitializedCapacity: 2 * ids.count) { bytes, count in
                    // 2 * ids.count bytes: two per id.
                    for (k, id) in ids.enumerated() {
                        bytes[2 * k] = UInt8(truncatingIfNeeded: id)
                        bytes[2 * k + 1] = UInt8(truncatingIfNeeded: id >> 8)
                    }
                    count = 2 * ids.count
                }
                try sink.write(text)
            case .ids, .megatron:
                text.removeAll(keepingCapacity: true)
                ids.withUnsafeBufferPointer { IdFormatter.append($0, leadingSpace: !first, to: &text) }
                first = first && ids.isEmpty
                try sink.write(text)
            }
        }
        if !before.isEmpty { try write(ContiguousArray(before)) }
        try tokenizer.encodeStream(threads: threads.count, allowedSpecial: allowSpecial, read: { buffer, n in
            try reader.read(into: &buffer, maximum: n)
        }, emit: { ids, part in
            invalid += invalidUTF8ByteCount(part)
            try write(ids)
        })
        if !after.isEmpty { try write(ContiguousArray(after)) }
        if format == .ids { try sink.write([0x0A]) }
        return invalid
    }

    func runCount(_ tokenizer: Tokenizer) throws {
        let files = inputs.isEmpty ? ["-"] : inputs
        let sink = try OutputSink(output)
        try sink.write(Array("file\tbytes\tcharacters\ttokens\tbytes/token\n".utf8))
        for file in files {
            var total = UnitCounts()
            let name: String
            if readsDocuments(file) {
                name = file
                total = try encodeDocuments(tokenizer, of: file, writingIds: false) { _ in }
            } else {
                let reader = try BlockReader(file)
                name = reader.name
                try tokenizer.encodeStream(threads: threads.count, allowedSpecial: allowSpecial, read: { buffer, n in
                    try reader.read(into: &buffer, maximum: n)
                }, emit: { ids, part in
                    total.add(part, tokens: ids.count)
                })
            }
            let ratio = total.tokens == 0 ? "-" : String(Double(Int(Double(total.bytes) / Double(total.tokens) * 1000)) / 1000)
            try sink.write(Array("\(name)\t\(total.bytes)\t\(total.characters)\t\(total.tokens)\t\(ratio)\n".utf8))
            if total.invalid > 0 { printError("tok: \(name): " + invalidUTF8Message(total.invalid, tokenizer)) }
        }
        try sink.finish()
    }
}
