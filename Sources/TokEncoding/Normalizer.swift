import CTokICU

/// Text normalization applied before pre-tokenization. Only what published
/// byte-level vocabularies use: none, or NFC (Qwen2/2.5), through ICU.
public enum Normalizer: String, Sendable, Hashable, Codable {
    case none
    case nfc

    /// `text` normalized, or nil when it is unchanged. Invalid UTF-8 bytes are
    /// kept as they are, and the valid runs between them are normalized alone.
    public func apply(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard self == .nfc else { return nil }
        // ASCII, and text under U+0300 (the first combining mark), is always NFC.
        if !text.contains(where: { $0 >= 0xCC }) { return nil }
        var result: [UInt8] = []
        var changed = false
        var runStart = 0, i = 0
        func flush(_ end: Int) {
            guard runStart < end else { return }
            let run = UnsafeBufferPointer(rebasing: text[runStart ..< end])
            if tok_icu_is_nfc(run.baseAddress, Int32(run.count)) == 1 {
                result.append(contentsOf: run)
                return
            }
            var capacity = run.count * 3 + 16
            while true {
                var buffer = [UInt8](repeating: 0, count: capacity)
                let n = tok_icu_nfc(run.baseAddress, Int32(run.count), &buffer, Int32(capacity))
                if n == Int32.min { result.append(contentsOf: run); return }
                if n < 0 { capacity = Int(-n) + 16; continue }
                result.append(contentsOf: buffer[0 ..< Int(n)])
                if !run.elementsEqual(buffer[0 ..< Int(n)]) { changed = true }
                return
            }
        }
        while i < text.count {
            let s = text.scalar(at: i)
            if s.length == 1 && text[i] >= 0x80 {
                flush(i)
                result.append(text[i])
                runStart = i + 1
            }
            i += s.length
        }
        flush(text.count)
        return changed ? result : nil
    }
}
