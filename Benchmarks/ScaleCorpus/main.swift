// Makes corpora of any size whose statistics grow like real text, for the
// scale benchmarks: an order-k model of a real corpus, sampled by copying it
// and, at each character boundary with probability `--jump`, jumping to a
// random other place in it that follows the same k bytes. With `--jump 1`
// this is exactly sampling the order-k Markov chain of the bytes; lower
// values copy longer stretches verbatim. Either way every k+1 bytes of output
// occur in the model text, so characters, UTF-8 and short words are real, and
// new pieces (words, identifiers, Han runs) appear at a steady rate, as they
// do in a growing real corpus. `Benchmarks/scale.py growth` compares the
// distinct pieces of generated and real text at the sizes we have.
//
//   tok-scale-corpus --model corpora/zh --size 4G --seed 1 -o /data/zh [--order 6] [--jump 0.5]
//
// Output: OUT/part-NNNNN.txt of --shard-size bytes (256M by default), each
// shard generated from its own seed, two at a time, so the same arguments
// always give the same bytes. Text is cut at a document end (a blank line).
import Foundation
import TokEncoding
import TokRuntime

struct Options {
    var model: [String] = []
    var size = 0
    var shardSize = 256 << 20
    var seed: UInt64 = 1
    var order = 6
    var jump = 0.5
    var output = ""
}

func parseSize(_ text: String) -> Int? {
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
    guard let last = text.last else { return nil }
    if let unit = units[last] { return Double(text.dropLast()).map { Int($0 * Double(unit)) } }
    return Int(text)
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("tok-scale-corpus: " + message + "\n").utf8))
    exit(2)
}

func number<T>(_ value: T?, _ flag: String, _ text: String) -> T {
    guard let value else { fail("\(flag): '\(text)' is not a valid value") }
    return value
}

var options = Options()
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let flag = args.removeFirst()
    guard let value = args.first else { fail("\(flag) needs a value") }
    args.removeFirst()
    switch flag {
    case "--model": options.model.append(value)
    case "--size": options.size = number(parseSize(value), flag, value)
    case "--shard-size": options.shardSize = number(parseSize(value), flag, value)
    case "--seed": options.seed = number(UInt64(value), flag, value)
    case "--order": options.order = number(Int(value), flag, value)
    case "--jump": options.jump = number(Double(value), flag, value)
    case "-o", "--output": options.output = value
    default: fail("unknown option \(flag)")
    }
}
guard !options.model.isEmpty, options.size > 0, !options.output.isEmpty else {
    fail("usage: tok-scale-corpus --model PATH... --size N[KMGT] -o DIR [--seed S] [--order K] [--jump P] [--shard-size N]")
}

/// The model text: every file under the model paths, sorted, separated by a blank line.
func modelText(_ paths: [String]) -> [UInt8] {
    var files: [String] = []
    for path in paths {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { fail("\(path): no such file") }
        if isDirectory.boolValue {
            let names = FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String } ?? []
            files += names.filter { !$0.hasPrefix(".") && !$0.contains("/.") }.map { path + "/" + $0 }
                .filter { var d: ObjCBool = false; return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && !d.boolValue }
        } else {
            files.append(path)
        }
    }
    var text: [UInt8] = []
    for file in files.sorted() {
        guard let data = FileManager.default.contents(atPath: file) else { fail("\(file): unreadable") }
        text += data
        text += [0x0A, 0x0A]
    }
    return text
}

/// The order-k index: for each position at a character boundary, `fanout`
/// random other positions that follow the same k bytes (itself when there are
/// none). Drawing one of a few fixed successors instead of any member of the
/// context keeps a jump to one cache miss (the text at the target); with the
/// choice of jumping or not at every character the paths through the model
/// still multiply without end.
struct ContextIndex {
    static let fanout = 4
    let text: [UInt8]
    let order: Int
    /// `links[p * fanout + r]`: the r-th successor of position p.
    var links: [UInt32]
    /// Positions just after a blank line: where a jump at the end of the text lands.
    var documentStarts: [UInt32] = []

    init(text: [UInt8], order: Int, seed: UInt64) {
        self.text = text
        self.order = order
        links = (0 ..< UInt32(text.count)).flatMap { repeatElement($0, count: ContextIndex.fanout) }
        var keyed: [(UInt64, UInt32)] = []
        keyed.reserveCapacity(text.count)
        text.withUnsafeBufferPointer { t in
            for p in order ..< t.count where t[p] & 0xC0 != 0x80 {
                keyed.append((hashBytes(t.baseAddress! + p - order, order), UInt32(p)))
                if t[p - 1] == 0x0A && t[p - 2] == 0x0A && t[p] != 0x0A { documentStarts.append(UInt32(p)) }
            }
        }
        keyed.sort { $0 < $1 }
        var random = SplitMix(state: seed)
        var k = 0
        while k < keyed.count {
            var e = k + 1
            while e < keyed.count && keyed[e].0 == keyed[k].0 { e += 1 }
            for i in k ..< e {
                for r in 0 ..< ContextIndex.fanout {
                    links[Int(keyed[i].1) * ContextIndex.fanout + r] = keyed[k + Int(random.next() % UInt64(e - k))].1
                }
            }
            k = e
        }
        if documentStarts.isEmpty { documentStarts = [UInt32(order)] }
    }
}

/// Writes `size` bytes of generated text to `path`, ending at a document end.
func generate(_ index: ContextIndex, size: Int, seed: UInt64, jump: Double, to path: String) {
    var random = SplitMix(state: seed)
    let threshold = UInt64(min(max(jump, 0), 1) * Double(UInt64.max >> 11)) << 11
    let text = index.text
    var out: [UInt8] = []
    out.reserveCapacity(1 << 21)
    guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
        fail("\(path): cannot write")
    }
    var written = 0
    var p = Int(index.documentStarts[Int(random.next() % UInt64(index.documentStarts.count))])
    let k = index.order
    text.withUnsafeBufferPointer { t in
    index.links.withUnsafeBufferPointer { links in
        while true {
            if p >= t.count {
                p = Int(index.documentStarts[Int(random.next() % UInt64(index.documentStarts.count))])
                out += [0x0A, 0x0A]
            }
            if t[p] & 0xC0 != 0x80 {
                // At a character boundary: past the size, stop at the next document start.
                if written + out.count >= size && p >= 2 && t[p - 1] == 0x0A && t[p - 2] == 0x0A { break }
                let r = random.next()
                if r < threshold {
                    let q = Int(links[p * ContextIndex.fanout + Int(r & UInt64(ContextIndex.fanout - 1))])
                    // Same hash, so almost surely the same k bytes; a collision would splice unrelated text, so check.
                    if q >= k && memcmp(t.baseAddress! + q - k, t.baseAddress! + p - k, k) == 0 { p = q }
                }
            }
            out.append(t[p])
            p += 1
            if out.count >= 1 << 20 {
                file.write(Data(out))
                written += out.count
                out.removeAll(keepingCapacity: true)
            }
        }
    } }
    file.write(Data(out))
    file.closeFile()
}

let started = Date()
let text = modelText(options.model)
guard text.count > options.order * 2 else { fail("the model text is too short") }
let index = ContextIndex(text: text, order: options.order, seed: options.seed)
try? FileManager.default.createDirectory(atPath: options.output, withIntermediateDirectories: true)
let shards = (options.size + options.shardSize - 1) / options.shardSize
let settings = options
var nextShard = 0
let lock = NSLock()
_ = inParallel(lanes: min(2, ProcessInfo.processInfo.activeProcessorCount)) { _ in
    while true {
        let k = lock.withLock { nextShard += 1; return nextShard - 1 }
        guard k < shards else { break }
        let size = min(settings.shardSize, settings.size - k * settings.shardSize)
        let path = settings.output + String(format: "/part-%05d.txt", k)
        generate(index, size: size, seed: settings.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(k), jump: settings.jump, to: path + ".tmp")
        _ = rename(path + ".tmp", path)
    }
}
let seconds = Date().timeIntervalSince(started)
print(String(format: "%@: %d shards, %.1f MB from a %.1f MB model (order %d, jump %.2f) in %.1f s",
             options.output, shards, Double(options.size) / 1e6, Double(text.count) / 1e6, options.order, options.jump, seconds))
