extension CorpusStatistics {
    /// What a corpus held besides clean text, one line each, for every command
    /// that reads corpora to report alike: bytes that are not UTF-8 (binary
    /// files have many) and JSON lines skipped. Empty for clean text.
    public var warnings: [String] {
        var lines: [String] = []
        if invalidUTF8Bytes > 0 { lines.append("\(invalidUTF8Bytes) bytes of invalid UTF-8 counted as byte pieces") }
        if malformedLines > 0 { lines.append("\(malformedLines) malformed JSON lines skipped") }
        return lines
    }
}
