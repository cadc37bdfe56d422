/// Extracts one string field from a JSON object on one line, without building
/// the object: the value's bytes are unescaped into `out`.
///
/// Returns false when the field is absent or not a string; throws for text that
/// is not a JSON object.
func extractJSONStringField(_ line: UnsafeBufferPointer<UInt8>, field: [UInt8], into out: inout [UInt8]) throws -> Bool {
    var p = JSONScanner(bytes: line)
    p.skipSpace()
    try p.expect(UInt8(ascii: "{"))
    p.skipSpace()
    if p.peek() == UInt8(ascii: "}") { return false }
    var found = false
    while true {
        p.skipSpace()
        let isField = try p.keyEquals(field)
        p.skipSpace()
        try p.expect(UInt8(ascii: ":"))
        p.skipSpace()
        if !found && isField && p.peek() == UInt8(ascii: "\"") {
            try p.string(into: &out)
            found = true
        } else {
            try p.skipValue()
        }
        p.skipSpace()
        if p.peek() == UInt8(ascii: ",") { p.i += 1; continue }
        try p.expect(UInt8(ascii: "}"))
        break
    }
    p.skipSpace()
    guard p.i == line.count else { throw JSONError() }
    return found
}

struct JSONError: Error {}

struct JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

    mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    mutating func expect(_ b: UInt8) throws {
        guard i < bytes.count, bytes[i] == b else { throw JSONError() }
        i += 1
    }

    /// Reads a key (a string) and tells whether it is `name`, without copying
    /// it unless it has escapes.
    mutating func keyEquals(_ name: [UInt8]) throws -> Bool {
        try expect(UInt8(ascii: "\""))
        let start = i
        while i < bytes.count && bytes[i] != UInt8(ascii: "\"") && bytes[i] != UInt8(ascii: "\\") { i += 1 }
        if i < bytes.count && bytes[i] == UInt8(ascii: "\"") {
            i += 1
            return name.elementsEqual(bytes[start ..< i - 1])
        }
        i = start - 1
        var key: [UInt8] = []
        try string(into: &key)
        return key == name
    }

    /// Steps over a string without keeping it.
    mutating func skipString() throws {
        try expect(UInt8(ascii: "\""))
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            if b == UInt8(ascii: "\"") { return }
            if b == UInt8(ascii: "\\") {
                guard i < bytes.count else { throw JSONError() }
                if bytes[i] == UInt8(ascii: "u") {
                    i += 1
                    _ = try hex4()
                } else {
                    guard [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                           UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t")].contains(bytes[i]) else { throw JSONError() }
                    i += 1
                }
            }
        }
        throw JSONError()
    }

    mutating func string(into out: inout [UInt8]) throws {
        try expect(UInt8(ascii: "\""))
        while i < bytes.count {
            // A run without quotes or backslashes is copied whole.
            var run = i
            while run < bytes.count && bytes[run] != UInt8(ascii: "\"") && bytes[run] != UInt8(ascii: "\\") { run += 1 }
            if run > i {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i ..< run]))
                i = run
                continue
            }
            let b = bytes[i]
            i += 1
            if b == UInt8(ascii: "\"") { return }
            guard i < bytes.count else { throw JSONError() }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800 ..< 0xDC00).contains(scalar), i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"),
                   bytes[i + 1] == UInt8(ascii: "u") {
                    let save = i
                    i += 2
                    let low = try hex4()
                    if (0xDC00 ..< 0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        i = save
                    }
                }
                // A lone surrogate has no UTF-8 form: it becomes U+FFFD.
                let s = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: String(s).utf8)
            default:
                throw JSONError()
            }
        }
        throw JSONError()
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw JSONError() }
        var v: UInt32 = 0
        for _ in 0 ..< 4 {
            let c = bytes[i]
            i += 1
            switch c {
            case 0x30 ... 0x39: v = v << 4 | UInt32(c - 0x30)
            case 0x41 ... 0x46: v = v << 4 | UInt32(c - 0x41 + 10)
            case 0x61 ... 0x66: v = v << 4 | UInt32(c - 0x61 + 10)
            default: throw JSONError()
            }
        }
        return v
    }

    mutating func skipValue() throws {
        guard let c = peek() else { throw JSONError() }
        switch c {
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            i += 1
            skipSpace()
            if peek() == close { i += 1; return }
            while true {
                skipSpace()
                if c == UInt8(ascii: "{") {
                    try skipString()
                    skipSpace()
                    try expect(UInt8(ascii: ":"))
                    skipSpace()
                }
                try skipValue()
                skipSpace()
                if peek() == UInt8(ascii: ",") { i += 1; continue }
                try expect(close)
                return
            }
        default:
            let start = i
            while i < bytes.count, !",}] \t\r\n".utf8.contains(bytes[i]) { i += 1 }
            let word = Array(bytes[start ..< i])
            guard ["true", "false", "null"].contains(where: { Array($0.utf8) == word })
                    || (!word.isEmpty && word.allSatisfy({ "0123456789+-.eE".utf8.contains($0) }))
            else { throw JSONError() }
        }
    }
}
