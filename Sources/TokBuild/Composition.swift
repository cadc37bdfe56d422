import TokEncoding

/// What a vocabulary's tokens are made of, in the form of the Pangu Ultra
/// report's table 1: tokens per script or kind.
public enum TokenKind: String, CaseIterable, Codable, Sendable {
    case englishLatin = "English/Latin"
    case chinese = "Chinese"
    case japanese = "Japanese"
    case korean = "Korean"
    case arabic = "Arabic"
    case otherScripts = "other scripts"
    case digitsMath = "digits and mathematics"
    case codePunctuationWhitespace = "code punctuation and whitespace"
    case fragments = "partial UTF-8"
    case byteAndSpecial = "byte and special tokens"

    /// The kind of a token's bytes: by the script of its letters (kana over Han,
    /// so Japanese words with kanji count as Japanese); without letters, digits
    /// and math symbols, or else punctuation and whitespace.
    public static func of(_ bytes: [UInt8]) -> TokenKind {
        if bytes.count == 1 { return .byteAndSpecial }
        guard let text = String(validating: bytes, as: UTF8.self) else { return .fragments }
        var scripts = Set<ScriptClass>()
        var digitsOrMath = false
        for scalar in text.unicodeScalars {
            let script = ScriptClass(scalar)
            if script != .common {
                scripts.insert(script)
            } else if scalar.properties.numericType != nil || scalar.properties.generalCategory == .mathSymbol {
                digitsOrMath = true
            }
        }
        if scripts.contains(.kana) { return .japanese }
        if scripts.contains(.hangul) { return .korean }
        if scripts.contains(.han) { return .chinese }
        if scripts.contains(.arabic) { return .arabic }
        if scripts.contains(.latin) { return .englishLatin }
        if !scripts.isEmpty { return .otherScripts }
        return digitsOrMath ? .digitsMath : .codePunctuationWhitespace
    }

    /// Tokens per kind for a vocabulary.
    public static func table(_ vocabulary: Vocabulary) -> [TokenKind: Int] {
        var table: [TokenKind: Int] = [:]
        for id in 0 ..< vocabulary.count {
            let bytes = vocabulary.bytes(of: UInt32(id))
            if !bytes.isEmpty { table[of(bytes), default: 0] += 1 }  // an id in a gap holds no token
        }
        table[.byteAndSpecial, default: 0] += vocabulary.specialTokens.count
        return table
    }
}
