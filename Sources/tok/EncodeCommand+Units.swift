import Glibc
import TokCorpus
import TokEncoding
import TokRuntime

/// Bytes, characters, tokens and bytes of invalid UTF-8 of encoded text.
struct UnitCounts {
    var bytes = 0
    var characters = 0
    var tokens = 0
    var invalid = 0

    /// Adds `text`, which gave `tokens` ids; its characters only when `characters` (a pass of its own).
    mutating func add(_ text: UnsafeBufferPointer<UInt8>, tokens: Int, characters countCharacters: Bool = true) {
        bytes += text.count
        if countCharacters { characters += characterCount(text) }
        invalid += invalidUTF8ByteCount(text)
        self.tokens += tokens
    }

    mutating func add(_ other: UnitCounts) {
        bytes += other.bytes
        characters += other.characters
        tokens += other.tokens
        invalid += other.invalid
    }
}

/// Texts encoded each alone (input lines, or the documents of JSON lines),
/// and what a worker makes of them: a line of ids each, and their counts.
struct UnitBlock {
    var bytes: [UInt8] = []
    var units: [Range<Int>] = []
    var text: [UInt8] = []
    var counts = UnitCounts()
}

extension EncodeCommand {
    /// Encodes each unit of the blocks `produce` makes alone, on the worker
    /// threads, while this thread reads ahead and hands finished blocks to
    /// `consume` in order (``inOrderedPipeline``). With `writingIds`, a block's
    /// `text` is a line of ids per unit (and the post-processor's tokens with
    /// --add-special); else only its counts, characters included.
    func encodeUnits(_ tokenizer: Tokenizer, writingIds: Bool, produce: (inout UnitBlock) throws -> Bool,
                     consume: (inout UnitBlock) throws -> Void) throws -> UnitCounts {
        var total = UnitCounts()
        let allowed = allowSpecial, addSpecial = self.addSpecial && writingIds
        var scratches = (0 ..< threads.count).map { _ in tokenizer.makeScratch() }
        try inOrderedPipeline(workers: &scratches, item: { UnitBlock() }, produce: produce, work: { scratch, block in
            block.text.removeAll(keepingCapacity: true)
            block.counts = UnitCounts()
            var ids = ContiguousArray<UInt32>()
            block.bytes.withUnsafeBufferPointer { all in
                for range in block.units {
                    let unit = UnsafeBufferPointer(rebasing: all[range])
                    ids.removeAll(keepingCapacity: true)
                    tokenizer.encode(unit, allowedSpecial: allowed, scratch: &scratch, into: &ids)
                    if addSpecial { ids = tokenizer.postProcessor.apply(to: ids) }
                    block.counts.add(unit, tokens: ids.count, characters: !writingIds)
                    guard writingIds else { continue }
                    ids.withUnsafeBufferPointer { IdFormatter.append($0, leadingSpace: false, to: &block.text) }
                    block.text.append(0x0A)
                }
            }
        }, consume: { block in
            total.add(block.counts)
            try consume(&block)
        })
        return total
    }

    /// Encodes each line alone, a line of ids each; returns the bytes of invalid UTF-8.
    /// Blocks hold whole lines, about 1 MiB.
    func encodeLines(_ tokenizer: Tokenizer, reader: BlockReader, sink: OutputSink) throws -> Int {
        var pending: [UInt8] = []
        var atEnd = false
        return try encodeUnits(tokenizer, writingIds: true, produce: { block in
            // Whole lines only: at least 1 MiB up to its last newline, or what is left at the end.
            var noNewlineBefore = 0
            while true {
                if pending.count >= 1 << 20 || atEnd {
                    let end = pending[noNewlineBefore...].lastIndex(of: 0x0A).map { $0 + 1 } ?? (atEnd ? pending.count : nil)
                    if let end {
                        guard end > 0 else { return false }
                        block.bytes.removeAll(keepingCapacity: true)
                        block.bytes.append(contentsOf: pending[..<end])  // a last line may lack its newline
                        pending.removeSubrange(..<end)
                        block.units = lineRanges(block.bytes)
                        return true
                    }
                    noNewlineBefore = pending.count
                }
                if try !reader.read(into: &pending, maximum: 1 << 20) { atEnd = true }
            }
        }, consume: { try sink.write($0.text) }).invalid
    }

    /// Encodes each document of a JSON-lines file alone (the text in --field),
    /// read as the corpus commands read it; `consume` gets the blocks in order.
    func encodeDocuments(_ tokenizer: Tokenizer, of path: String, writingIds: Bool,
                         consume: (inout UnitBlock) throws -> Void) throws -> UnitCounts {
        let stream = CorpusStream(files: [CorpusFile(path: path)], preTokenizer: tokenizer.preTokenizer, blockSize: 1 << 20,
                                  field: dataset.jsonLines.field, strict: dataset.jsonLines.strict,
                                  keepingWhole: tokenizer.tokensKeptWhole)
        stream.documents = true  // every JSON line with the field is a document, an empty one too
        stream.warn = { printError("tok: " + $0) }
        var batch = TextBatch()
        let counts = try encodeUnits(tokenizer, writingIds: writingIds, produce: { block in
            guard try stream.next(&batch) else { return false }
            block.units = batch.ends.indices.map(batch.range)
            swap(&block.bytes, &batch.bytes)
            return true
        }, consume: consume)
        reportSkippedLines(stream.statistics, field: dataset.jsonLines.field, in: path)
        return counts
    }
}

/// The ranges of the lines of `text`, without their newlines.
func lineRanges(_ text: [UInt8]) -> [Range<Int>] {
    var ranges: [Range<Int>] = []
    text.withUnsafeBufferPointer { all in
        var start = 0
        while start < all.count {
            // start < all.count: memchr reads inside the buffer.
            let newline = memchr(all.baseAddress! + start, 0x0A, all.count - start)
            let end = newline.map { UnsafeRawPointer($0) - UnsafeRawPointer(all.baseAddress!) } ?? all.count
            ranges.append(start ..< end)
            start = end + 1
        }
    }
    return ranges
}
