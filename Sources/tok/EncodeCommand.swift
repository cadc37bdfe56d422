import ArgumentParser
import Dispatch
import Glibc
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

            With --format megatron, writes a megatron-core indexed dataset \
            (PREFIX.bin, PREFIX.idx, PREFIX.manifest.json) from corpus inputs as \
            'tok count' takes them: a .txt file is one document, a .jsonl line one \
            (text in --field), either may be .zst. --shard-size splits it into \
            PREFIX-NNNNN shards; a stopped run started again resumes after its last \
            finished shard.
            """
    )

    @OptionGroup var vocabulary: VocabularyOptions

    @Argument(help: "Input files ('-' or none: standard input). Several only with --count or --format megatron (files, folders, globs).")
    var inputs: [String] = []

    @Option(help: "Output format: ids (decimal text), u32 or u16 (raw little-endian ids), or megatron (an indexed dataset; -o names its prefix).")
    var format: String = "ids"

    @OptionGroup var dataset: DatasetArguments

    @Option(name: .shortAndLong, help: "Output file (default: standard output). Written only if the run succeeds.")
    var output: String?

    @Flag(help: "Encode each line separately; one output line per input line.")
    var lines = false

    @Flag(help: "Print bytes, characters, tokens and bytes/token per file instead of ids.")
    var count = false

    @Option(help: "Special tokens to recognise in the input: 'all', 'none', or a comma-separated list.")
    var allowSpecial: String = "none"

    @Flag(help: "Put the vocabulary's post-processor tokens around each document (each line with --lines), as HuggingFace's add_special_tokens=True does.")
    var addSpecial = false

    @Option(help: "Threads (default: all cores). The ids do not depend on it.")
    var threads: Int?

    @Option(help: "Piece cache entries, 64 bytes each, shared by the threads (default 262144: 16 MiB; each thread keeps 1.3 MiB more for long pieces and pair lookups; 0 turns every cache off). The ids do not depend on it.")
    var pieceCache: Int?

    func validate() throws {
        guard ["ids", "u32", "u16", "megatron"].contains(format) else { throw ValidationError("--format: ids, u32, u16 or megatron") }
        if (format == "u32" || format == "u16") && lines { throw ValidationError("--format \(format) writes one sequence; --lines does not apply") }
        if format == "megatron" {
            guard output != nil, !inputs.isEmpty else { throw ValidationError("--format megatron needs inputs and -o PREFIX") }
            guard !count && !lines else { throw ValidationError("--format megatron writes documents; --count and --lines do not apply") }
        } else if !count && inputs.count > 1 {
            throw ValidationError("encode takes one input file (several only with --count or --format megatron)")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let pieceCache, pieceCache < 0 { throw ValidationError("--piece-cache must be 0 or more") }
    }

    var allowed: AllowedSpecial {
        switch allowSpecial {
        case "none": return .none
        case "all": return .all
        default: return .only(Set(allowSpecial.split(separator: ",").map(String.init)))
        }
    }

    func run() throws {
        var tokenizer = try vocabulary.load()
        try allowed.check(against: tokenizer.vocabulary)
        // A batch job over large files: a larger cache than the library's default
        // (measured: 1-16 MiB, see docs/performance.md).
        tokenizer = tokenizer.withPieceCache(entries: pieceCache ?? 1 << 18)
        let threads = self.threads ?? defaultThreadCount()
        if format == "megatron" { return try runMegatron(tokenizer, threads: threads) }
        if count { return try runCount(tokenizer, threads: threads) }
        let reader = try BlockReader(inputs.first ?? "-")
        let sink = try OutputSink(output)
        var invalid = 0
        if lines {
            invalid = try encodeLines(tokenizer, reader: reader, sink: sink, threads: threads)
        } else {
            var first = true
            var text: [UInt8] = []
            let raw = format == "u32" || format == "u16"
            if format == "u16" && tokenizer.vocabulary.idLimit > 65536 {
                throw CLIError("\(vocabulary.vocab): \(tokenizer.vocabulary.idLimit) ids do not fit --format u16")
            }
            let (before, after) = addSpecial ? tokenizer.postProcessor.surroundingIds : ([], [])
            func write(_ ids: ContiguousArray<UInt32>) throws {
                if raw {
                    // Little-endian hosts: 32-bit ids are already the output's bytes.
                    if format == "u32" { return try ids.withUnsafeBytes { try sink.write($0) } }
                    text = [UInt8](unsafeUninitializedCapacity: 2 * ids.count) { bytes, count in
                        // 2 * ids.count bytes: two per id.
                        for (k, id) in ids.enumerated() {
                            bytes[2 * k] = UInt8(truncatingIfNeeded: id)
                            bytes[2 * k + 1] = UInt8(truncatingIfNeeded: id >> 8)
                        }
                        count = 2 * ids.count
                    }
                    return try sink.write(text)
                }
                text.removeAll(keepingCapacity: true)
                ids.withUnsafeBufferPointer { IdFormatter.append($0, leadingSpace: !first, to: &text) }
                first = first && ids.isEmpty
                try sink.write(text)
            }
            if !before.isEmpty { try write(ContiguousArray(before)) }
            try tokenizer.encodeStream(threads: threads, allowedSpecial: allowed, read: { buffer, n in
                try reader.read(into: &buffer, maximum: n)
            }, emit: { ids, part in
                invalid += invalidUTF8ByteCount(part)
                try write(ids)
            })
            if !after.isEmpty { try write(ContiguousArray(after)) }
            if !raw { try sink.write([0x0A]) }
        }
        try sink.finish()
        if invalid > 0 { printError("tok: \(reader.name): " + invalidUTF8Message(invalid, tokenizer)) }
    }

    /// Encodes each line alone: blocks of whole lines (about 1 MiB) go to
    /// `threads` workers, which encode and format them, while this thread reads
    /// ahead and writes finished blocks in order (``inOrderedPipeline``).
    func encodeLines(_ tokenizer: Tokenizer, reader: BlockReader, sink: OutputSink, threads: Int) throws -> Int {
        var pending: [UInt8] = []
        var atEnd = false
        var invalid = 0
        let allowed = self.allowed, addSpecial = self.addSpecial
        var scratches = (0 ..< threads).map { _ in tokenizer.makeScratch() }
        try inOrderedPipeline(workers: &scratches, item: { LineBlock() }, produce: { (block: inout LineBlock) throws -> Bool in
            // Whole lines only: at least 1 MiB up to its last newline, or what is left at the end.
            var noNewlineBefore = 0
            while true {
                if pending.count >= 1 << 20 || atEnd {
                    if let last = pending[noNewlineBefore...].lastIndex(of: 0x0A) {
                        block.lines.removeAll(keepingCapacity: true)
                        block.lines.append(contentsOf: pending[...last])
                        pending.removeSubrange(...last)
                        return true
                    }
                    noNewlineBefore = pending.count
                    if atEnd {
                        guard !pending.isEmpty else { return false }
                        block.lines.removeAll(keepingCapacity: true)
                        block.lines.append(contentsOf: pending)  // a last line without its newline
                        pending.removeAll()
                        return true
                    }
                }
                if try !reader.read(into: &pending, maximum: 1 << 20) { atEnd = true }
            }
        }, work: { (scratch: inout BytePairScratch, block: inout LineBlock) in
            block.text.removeAll(keepingCapacity: true)
            var ids = ContiguousArray<UInt32>()
            block.lines.withUnsafeBufferPointer { all in
                block.invalid = invalidUTF8ByteCount(all)
                var start = 0
                while start < all.count {
                    let newline = memchr(all.baseAddress! + start, 0x0A, all.count - start)
                    let end = newline.map { UnsafeRawPointer($0) - UnsafeRawPointer(all.baseAddress!) } ?? all.count
                    ids.removeAll(keepingCapacity: true)
                    tokenizer.encode(UnsafeBufferPointer(rebasing: all[start ..< end]), allowedSpecial: allowed,
                                     scratch: &scratch, into: &ids)
                    if addSpecial { ids = tokenizer.postProcessor.apply(to: ids) }
                    ids.withUnsafeBufferPointer { IdFormatter.append($0, leadingSpace: false, to: &block.text) }
                    block.text.append(0x0A)
                    start = end + 1
                }
            }
        }, consume: { (block: inout LineBlock) throws in
            invalid += block.invalid
            try sink.write(block.text)
        })
        return invalid
    }

    func runCount(_ tokenizer: Tokenizer, threads: Int) throws {
        let files = inputs.isEmpty ? ["-"] : inputs
        let sink = try OutputSink(output)
        try sink.write(Array("file\tbytes\tcharacters\ttokens\tbytes/token\n".utf8))
        for file in files {
            let reader = try BlockReader(file)
            var bytes = 0, characters = 0, tokens = 0, invalid = 0
            try tokenizer.encodeStream(threads: threads, allowedSpecial: allowed, read: { buffer, n in
                try reader.read(into: &buffer, maximum: n)
            }, emit: { ids, part in
                bytes += part.count
                characters += characterCount(part)
                invalid += invalidUTF8ByteCount(part)
                tokens += ids.count
            })
            let ratio = tokens == 0 ? "-" : String(Double(Int(Double(bytes) / Double(tokens) * 1000)) / 1000)
            try sink.write(Array("\(reader.name)\t\(bytes)\t\(characters)\t\(tokens)\t\(ratio)\n".utf8))
            if invalid > 0 { printError("tok: \(reader.name): " + invalidUTF8Message(invalid, tokenizer)) }
        }
        try sink.finish()
    }
}

/// A block of whole lines for ``EncodeCommand/encodeLines(_:reader:sink:threads:)``:
/// the lines, then their formatted ids and invalid UTF-8 bytes.
struct LineBlock {
    var lines: [UInt8] = []
    var text: [UInt8] = []
    var invalid = 0
}
