/// GPT-2's byte-level alphabet: each byte is shown as one printable code point,
/// so that `tokenizer.json` can hold byte strings as JSON strings. Bytes that
/// are printable Latin-1 map to themselves; the other 68 map to U+0100 onwards.
/// This is the only copy of the table: import, export and training share it.
public enum ByteLevel {
    /// The code point that stands for each byte.
    public static let scalarForByte: [Unicode.Scalar] = {
        var result = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for b in 0 ..< 256 {
            let printable = (0x21 ... 0x7E).contains(b) || (0xA1 ... 0xAC).contains(b) || (0xAE ... 0xFF).contains(b)
            if printable {
                result[b] = Unicode.Scalar(UInt32(b))!
            } else {
                result[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return result
    }()

    static let byteForScalar: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (b, s) in scalarForByte.enumerated() { map[s.value] = UInt8(b) }
        return map
    }()

    /// The byte-level string of `bytes`.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(scalarForByte[Int(b)]) }
        return String(s)
    }

    /// The bytes of a byte-level string, or nil if it holds a character outside the alphabet.
    public static func decode(_ string: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(string.unicodeScalars.count)
        for s in string.unicodeScalars {
            guard let b = byteForScalar[s.value] else { return nil }
            out.append(b)
        }
        return out
    }
}
