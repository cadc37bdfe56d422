/// Extracts one string field from a JSON object on one line, without building
/// the object: the value's bytes are unescaped into `out`. A key given twice
/// takes its last value, as Python's `json` (which megatron's
/// `preprocess_data.py` reads lines with) does.
///
/// Returns false when the field is absent or (last given) not a string; throws
/// for text that is not a JSON object.
///
/// - Complexity: O(n) in the line's length, in O(depth) memory: nested values
///   are stepped over without recursion, so no nesting overflows the stack.
func extractJSONStringField(_ line: UnsafeBufferPointer<UInt8>, field: [UInt8], into out: inout [UInt8]) throws -> Bool {
    var p = JSONScanner(bytes: line)
    let mark = out.count
    p.skipSpace()
    try p.expect(UInt8(ascii: "{"))
    p.skipSpace()
    if p.peek() == UInt8(ascii: "}") {
        p.i += 1
        p.skipSpace()
        guard p.i == line.count else { throw JSONError() }
        return false
    }
    var found = false
    while true {
        p.skipSpace()
        let isField = try p.keyEquals(field)
        p.skipSpace()
        try p.expect(UInt8(ascii: ":"))
        p.skipSpace()
        if isField {
            // A later value replaces an earlier one.
            out.removeSubrange(mark...)
            found = p.peek() == UInt8(ascii: "\"")
            if found { try p.string(into: &out) } else { try p.skipValue() }
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
        while i < bytes.count && bytes[i] != UInt8(ascii: "\"") && bytes[i] != UInt8(ascii: "\\") && bytes[i] >= 0x20 { i += 1 }
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
            guard b >= 0x20 else { throw JSONError() }  // a raw control character: Python's json refuses it
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
            while run < bytes.count && bytes[run] != UInt8(ascii: "\"") && bytes[run] != UInt8(ascii: "\\") && bytes[run] >= 0x20 {
                run += 1
            }
            if run > i {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i ..< run]))
                i = run
                continue
            }
            let b = bytes[i]
            i += 1
            if b == UInt8(ascii: "\"") { return }
            // A raw control character (below U+0020) in a string: Python's json refuses the line.
            guard b == UInt8(ascii: "\\"), i < bytes.count else { throw JSONError() }
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

    /// Steps over one value, however deeply nested: the open arrays and
    /// objects are a stack of bits, not calls.
    mutating func skipValue() throws {
        // Bit k of `open[k / 64]`: the k-th open container is an object.
        var open: [UInt64] = []
        var depth = 0
        func push(_ object: Bool) {
            if depth / 64 == open.count { open.append(0) }
            if object { open[depth / 64] |= 1 << UInt64(depth % 64) } else { open[depth / 64] &= ~(1 << UInt64(depth % 64)) }
            depth += 1
        }
        func innermostIsObject() -> Bool { open[(depth - 1) / 64] >> UInt64((depth - 1) % 64) & 1 == 1 }
        while true {
            // At a value's start.
            guard let c = peek() else { throw JSONError() }
            switch c {
            case UInt8(ascii: "\""):
                try skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                i += 1
                skipSpace()
                let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if peek() == close {
                    i += 1
                } else {
                    push(c == UInt8(ascii: "{"))
                    if c == UInt8(ascii: "{") { try skipKey() }
                    continue
                }
            default:
                try skipScalar()
            }
            // After a value: close containers or go on to the next member.
            while depth > 0 {
                skipSpace()
                if peek() == UInt8(ascii: ",") {
                    i += 1
                    skipSpace()
                    if innermostIsObject() { try skipKey() }
                    break
                }
                try expect(innermostIsObject() ? UInt8(ascii: "}") : UInt8(ascii: "]"))
                depth -= 1
            }
            if depth == 0 { return }
        }
    }

    /// Steps over an object member's key and its colon, to the value's start.
    private mutating func skipKey() throws {
        try skipString()
        skipSpace()
        try expect(UInt8(ascii: ":"))
        skipSpace()
    }

    /// Steps over `true`, `false`, `null` or a number.
    private mutating func skipScalar() throws {
        let start = i
        while i < bytes.count, !",}] \t\r\n".utf8.contains(bytes[i]) { i += 1 }
        let word = UnsafeBufferPointer(rebasing: bytes[start ..< i])
        // Python's json also takes NaN, Infinity and -Infinity.
        guard ["true", "false", "null", "NaN", "Infinity", "-Infinity"].contains(where: { $0.utf8.elementsEqual(word) })
                || JSONScanner.isNumber(word)
        else { throw JSONError() }
    }

    /// JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    static func isNumber(_ w: UnsafeBufferPointer<UInt8>) -> Bool {
        var k = 0
        func digits() -> Int {
            let start = k
            while k < w.count, (0x30 ... 0x39).contains(w[k]) { k += 1 }
            return k - start
        }
        if k < w.count, w[k] == UInt8(ascii: "-") { k += 1 }
        guard k < w.count else { return false }
        if w[k] == UInt8(ascii: "0") { k += 1 } else if digits() == 0 { return false }
        if k < w.count, w[k] == UInt8(ascii: ".") {
            k += 1
            guard digits() > 0 else { return false }
        }
        if k < w.count, w[k] == UInt8(ascii: "e") || w[k] == UInt8(ascii: "E") {
            k += 1
            if k < w.count, w[k] == UInt8(ascii: "+") || w[k] == UInt8(ascii: "-") { k += 1 }
            guard digits() > 0 else { return false }
        }
        return k == w.count
    }
}
