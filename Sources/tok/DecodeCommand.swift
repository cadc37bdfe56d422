import ArgumentParser
import TokData
import TokEncoding

struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode token ids to bytes.",
        discussion: """
            Reads decimal ids separated by spaces or newlines and writes the bytes they \
            stand for. With --lines, each input line is one sequence and its bytes are \
            followed by a newline (the inverse of 'tok encode --lines').

            Example:
              tok decode --vocab vocab/mixed notes.ids -o notes.txt
            """
    )

    @OptionGroup var vocabulary: VocabularyOptions

    @Argument(help: "Input file of ids ('-' or none: standard input).")
    var input: String = "-"

    @Option(name: .shortAndLong, help: "Output file (default: standard output). Written only if the run succeeds.")
    var output: String?

    @Flag(help: "Decode each line as one sequence and end its bytes with a newline.")
    var lines = false

    @Option(help: "Input format: ids (decimal text), u32 or u16 (raw little-endian ids), or megatron (the input is a dataset PREFIX).")
    var format = TokenIdFormat.ids

    @Option(help: "With --format megatron: only this document (0-based).")
    var document: Int?

    func validate() throws {
        if let document {
            guard format == .megatron else { throw ValidationError("--document picks a document of a dataset: it needs --format megatron") }
            guard document >= 0 else { throw ValidationError("--document takes 0 or more, not \(document)") }
        }
        if lines && format != .ids { throw ValidationError("--lines reads lines of decimal ids: it needs --format ids") }
    }

    func run() throws {
        let tokenizer = try vocabulary.load()
        if format == .megatron { return try decodeDataset(tokenizer) }
        if let width = format.rawWidth { return try decodeRaw(tokenizer, width: width) }
        let reader = try BlockReader(input)
        let sink = try OutputSink(output)
        var buffer: [UInt8] = []
        var ids: [UInt32] = []
        var bytes: [UInt8] = []
        var line = 1
        var atEnd = false
        while !atEnd {
            atEnd = try !reader.read(into: &buffer, maximum: 4 << 20)
            // Parse up to the last separator, unless at the end.
            var limit = buffer.count
            if !atEnd {
                while limit > 0 && buffer[limit - 1] != 0x20 && buffer[limit - 1] != 0x0A { limit -= 1 }
            }
            var i = 0
            while i < limit {
                let b = buffer[i]
                if b == 0x20 || b == 0x09 || b == 0x0D {
                    i += 1
                } else if b == 0x0A {
                    try decodeFlush(tokenizer, &ids, &bytes, line: line)
                    if lines { bytes.append(0x0A) }
                    line += 1
                    i += 1
                } else if b >= 0x30 && b <= 0x39 {
                    var value: UInt64 = 0
                    while i < limit && buffer[i] >= 0x30 && buffer[i] <= 0x39 {
                        value = value * 10 + UInt64(buffer[i] - 0x30)
                        if value > UInt64(UInt32.max) { throw CLIError("\(reader.name):\(line): token id is too large") }
                        i += 1
                    }
                    if i < limit, ![0x20, 0x0A, 0x09, 0x0D].contains(buffer[i]) {
                        throw CLIError("\(reader.name):\(line): expected a token id, found \(String(decoding: buffer[i ..< min(i + 1, limit)], as: UTF8.self).debugDescription)")
                    }
                    ids.append(UInt32(value))
                } else {
                    throw CLIError("\(reader.name):\(line): expected a token id, found \(String(decoding: [b], as: UTF8.self).debugDescription)")
                }
            }
            // A SentencePiece sequence decodes whole: its first piece drops its space, and byte pieces join across ids.
            if !lines && (tokenizer.sentencePiece == nil || atEnd) { try decodeFlush(tokenizer, &ids, &bytes, line: line) }
            if bytes.count >= 1 << 20 || atEnd {
                try sink.write(bytes)
                bytes.removeAll(keepingCapacity: true)
            }
            buffer.removeSubrange(0 ..< limit)
        }
        if lines && !ids.isEmpty {
            try decodeFlush(tokenizer, &ids, &bytes, line: line)
            bytes.append(0x0A)
        }
        try sink.write(bytes)
        try sink.finish()

        func decodeFlush(_ tokenizer: Tokenizer, _ ids: inout [UInt32], _ bytes: inout [UInt8], line: Int) throws {
            do {
                try tokenizer.decode(ids, into: &bytes)
            } catch let error as DecodeError {
                throw CLIError("\(reader.name):\(line): token id \(error.id) is not in the vocabulary")
            }
            ids.removeAll(keepingCapacity: true)
        }
    }
}

extension DecodeCommand {
    /// Decodes raw little-endian ids of `width` bytes, as `tok encode --format u32|u16` writes them.
    func decodeRaw(_ tokenizer: Tokenizer, width: Int) throws {
        let reader = try BlockReader(input)
        let sink = try OutputSink(output)
        var buffer: [UInt8] = []
        var ids: [UInt32] = []
        var bytes: [UInt8] = []
        var position = 0
        // A SentencePiece sequence decodes whole (see run()): its ids are gathered first.
        let gather = tokenizer.sentencePiece != nil
        var more = true
        while more || !buffer.isEmpty {
            more = try reader.read(into: &buffer, maximum: 4 << 20)
            if gather && more { continue }
            let whole = buffer.count / width * width
            if whole == 0 { break }
            ids.removeAll(keepingCapacity: true)
            buffer.withUnsafeBytes { raw in
                for k in stride(from: 0, to: whole, by: width) {
                    ids.append(width == 4 ? UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: k, as: UInt32.self))
                                          : UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: k, as: UInt16.self))))
                }
            }
            bytes.removeAll(keepingCapacity: true)
            do {
                try tokenizer.decode(ids, into: &bytes)
            } catch let error as DecodeError {
                throw CLIError("\(reader.name): token id \(error.id) at id \(position + error.position) is not in the vocabulary")
            }
            position += ids.count
            try sink.write(bytes)
            buffer.removeSubrange(0 ..< whole)
        }
        guard buffer.isEmpty else { throw CLIError("\(reader.name): \(buffer.count) bytes left over, not a whole \(width * 8)-bit id") }
        try sink.finish()
    }

    /// Prints a dataset's documents (or one), each followed by a newline.
    func decodeDataset(_ tokenizer: Tokenizer) throws {
        let dataset = try MegatronDataset(prefix: input)
        let sink = try OutputSink(output)
        for n in document.map({ [$0] }) ?? Array(0 ..< dataset.documents) {
            var bytes: [UInt8] = []
            try tokenizer.decode(try dataset.document(n), into: &bytes)
            if document == nil { bytes.append(0x0A) }
            try sink.write(bytes)
        }
        try sink.finish()
    }
}
