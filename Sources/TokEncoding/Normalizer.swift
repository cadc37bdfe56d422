import CTokICU
import CTokRuntime

/// One normalization step of HuggingFace `tokenizers` that byte-level models use.
public enum NormalizerStep: Sendable, Hashable {
    case nfc, nfd, nfkc, nfkd
    /// Full Unicode lowercasing (no locale).
    case lowercase
    /// Every match of `pattern` replaced by `content`; `literal` when the file gave `{"String": ...}`.
    case replace(pattern: CompiledPattern, literal: String?, content: String)
    /// `text` put before any non-empty input.
    case prepend(String)
    /// White_Space removed from the start and/or the end.
    case strip(left: Bool, right: Bool)
}

/// Text normalization applied before pre-tokenization: a sequence of steps,
/// through ICU for the Unicode forms and case mapping.
public struct Normalizer: Sendable, Hashable {
    public var steps: [NormalizerStep]

    public init(steps: [NormalizerStep]) { self.steps = steps }

    public static let none = Normalizer(steps: [])
    public static let nfc = Normalizer(steps: [.nfc])

    /// A short name for manifests and messages: `none`, `nfc`, or the steps joined by `+`.
    public var rawValue: String {
        if steps.isEmpty { return "none" }
        return steps.map { step -> String in
            switch step {
            case .nfc: return "nfc"
            case .nfd: return "nfd"
            case .nfkc: return "nfkc"
            case .nfkd: return "nfkd"
            case .lowercase: return "lowercase"
            case .replace: return "replace"
            case .prepend: return "prepend"
            case .strip: return "strip"
            }
        }.joined(separator: "+")
    }

    /// `text` normalized, or nil when it is unchanged. Invalid UTF-8 bytes are
    /// kept as they are, and the valid runs between them are normalized alone.
    public func apply(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard !steps.isEmpty else { return nil }
        if steps.count == 1 { return Normalizer.apply(steps[0], text) }
        var current: [UInt8]? = nil
        for step in steps {
            let next: [UInt8]?
            if let c = current {
                next = c.withUnsafeBufferPointer { Normalizer.apply(step, $0) }
            } else {
                next = Normalizer.apply(step, text)
            }
            if let next { current = next }
        }
        return current
    }

    static func apply(_ step: NormalizerStep, _ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        switch step {
        case .nfc:
            // ASCII, and text under U+0300 (the first combining mark), is always NFC.
            if !text.contains(where: { $0 >= 0xCC }) { return nil }
            return byValidRuns(text, keepingNewer: true) { run in
                tok_icu_is_nfc(run.baseAddress, Int32(run.count)) == 1 ? nil
                    : icu(run) { tok_icu_normalize(0, $0, $1, $2, $3) }
            }
        case .nfd, .nfkc, .nfkd:
            let form: Int32 = step == .nfd ? 1 : step == .nfkc ? 2 : 3
            if !text.contains(where: { $0 >= 0x80 }) { return nil }
            return byValidRuns(text, keepingNewer: true) { run in icu(run) { tok_icu_normalize(form, $0, $1, $2, $3) } }
        case .lowercase:
            if !text.contains(where: { $0 >= 0x80 || ($0 >= 0x41 && $0 <= 0x5A) }) { return nil }
            if !text.contains(where: { $0 >= 0x80 }) { return text.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 } }
            return byValidRuns(text) { run in icu(run) { tok_icu_lowercase($0, $1, $2, $3) } }
        case .replace(let pattern, _, let content):
            var out: [UInt8] = []
            var changed = false
            let replacement = Array(content.utf8)
            pattern.forEachSegment(text) { range, isMatch in
                if isMatch {
                    out.append(contentsOf: replacement)
                    changed = true
                } else {
                    out.append(contentsOf: text[range])
                }
            }
            return changed ? out : nil
        case .prepend(let prefix):
            guard !text.isEmpty, !prefix.isEmpty else { return nil }
            return Array(prefix.utf8) + Array(text)
        case .strip(let left, let right):
            var start = 0, end = text.count
            if left {
                while start < end {
                    let s = text.scalar(at: start)
                    guard s.isWhitespace else { break }
                    start += s.length
                }
            }
            if right {
                while end > start {
                    let p = CompiledPattern.previousBoundary(text, end, lower: start)
                    guard text.scalar(at: p).isWhitespace else { break }
                    end = p
                }
            }
            return start == 0 && end == text.count ? nil : Array(text[start ..< end])
        }
    }

    /// Applies `transform` to each run of valid UTF-8 (nil: the run is unchanged),
    /// keeping invalid bytes as they are; nil when nothing changed.
    ///
    /// With `keepingNewer`, code points that Unicode assigned after the tables
    /// of HuggingFace's normalizers (`unicode-normalization-alignments`: none
    /// of 12.0's are known to it) are kept as they are too, as it keeps them.
    static func byValidRuns(_ text: UnsafeBufferPointer<UInt8>, keepingNewer: Bool = false,
                            _ transform: (UnsafeBufferPointer<UInt8>) -> [UInt8]?) -> [UInt8]? {
        let newer = keepingNewer ? Normalizer.newerThanTables : []
        tok_ensure_unicode_classes()
        var result: [UInt8] = []
        result.reserveCapacity(text.count + 16)
        var changed = false
        var runStart = 0, i = 0
        func flush(_ end: Int) {
            guard runStart < end else { return }
            let run = UnsafeBufferPointer(rebasing: text[runStart ..< end])
            if let t = transform(run), !t.elementsEqual(run) {
                result.append(contentsOf: t)
                changed = true
            } else {
                result.append(contentsOf: run)
            }
        }
        while i < text.count {
            let s = text.scalar(at: i)
            // s.value <= 0x10FFFF, so the word index is inside the 0x110000-bit map.
            if (s.length == 1 && text[i] >= 0x80) || (!newer.isEmpty && newer[Int(s.value >> 6)] >> UInt64(s.value & 63) & 1 != 0) {
                flush(i)
                result.append(contentsOf: text[i ..< i + s.length])
                runStart = i + s.length
            }
            i += s.length
        }
        flush(text.count)
        return changed ? result : nil
    }

    /// One bit per code point assigned in Unicode 12.0 or later.
    static let newerThanTables: [UInt64] = {
        var bits = [UInt64](repeating: 0, count: 0x110000 / 64)
        for cp in UInt32(0x80) ..< 0x110000 where tok_icu_age_major(cp) >= 12 { bits[Int(cp >> 6)] |= 1 << UInt64(cp & 63) }
        return bits
    }()

    /// Runs an ICU conversion with a growing output buffer; nil on an ICU error.
    static func icu(_ run: UnsafeBufferPointer<UInt8>,
                    _ call: (UnsafePointer<UInt8>?, Int32, UnsafeMutablePointer<UInt8>, Int32) -> Int32) -> [UInt8]? {
        var capacity = run.count * 3 + 16
        while true {
            var buffer = [UInt8](repeating: 0, count: capacity)
            let n = buffer.withUnsafeMutableBufferPointer { call(run.baseAddress, Int32(run.count), $0.baseAddress!, Int32(capacity)) }
            if n == Int32.min { return nil }
            if n < 0 { capacity = Int(-n) + 16; continue }
            buffer.removeSubrange(Int(n)...)
            return buffer
        }
    }
}
