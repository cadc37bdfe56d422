// Measures the encoder in-process (no process start, no I/O): single-thread
// throughput per file, vocabulary load time, and the cost of one long piece.
// Driven by Benchmarks/encode.py, which runs tiktoken on the same text.
//
//   tok-bench VOCAB_DIR FILE...          -> one JSON object on stdout
//   tok-bench --giant MB VOCAB_DIR       -> one piece of MB megabytes of Han:
//                                           ms/MB and peak resident memory
//   tok-bench --cache VOCAB_DIR FILE...  -> the piece cache at several sizes
//   tok-bench --kernel VOCAB_DIR FILE    -> pieces separated by a zero byte, each
//                                           through the vocabulary alone: ns a piece
//   tok-bench --compiled PATTERN FILE... -> pre-tokenizer MB/s of the hand-written
//                                           rule against the same regex compiled
//   tok-bench --short VOCAB_DIR FILE     -> FILE.docs.json (a JSON array of short
//                                           documents) encoded one call each
import Foundation
import TokEncoding
import TokRuntime

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Best of `runs` timings: the machines are shared, the minimum is the least disturbed.
func best(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
    var t = Double.infinity
    for _ in 0 ..< runs { t = min(t, try seconds(body)) }
    return t
}

/// The piece cache's size for `entries` (rounded up to a power of two, as the
/// cache does): halves of 32 bytes and a 64-byte line for every four.
func cacheKiB(_ entries: Int) -> Int {
    guard entries > 0 else { return 0 }
    var halves = 1
    while halves < entries { halves <<= 1 }
    return (halves * 32 + max(halves / 4, 1) * 64) / 1024
}

/// The benchmark itself; a failure (a missing vocabulary or file) ends with one line on stderr.
func benchmark() throws {
let args = CommandLine.arguments.dropFirst()
if args.first == "--giant", let mb = Int(args.dropFirst().first ?? ""), let vocab = args.dropFirst(2).first {
    // Han with no punctuation: one piece under o200k, so the whole input goes through the kernel.
    let tokenizer = try VocabularyFolder.load(vocab)
    let unit = Array("中文分词测试汉字长句没有标点".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(mb << 20)
    while text.count + unit.count <= mb << 20 { text += unit }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let before = Double(usage.ru_maxrss) / 1024
    var tokens = 0
    let t = seconds { tokens = text.withUnsafeBufferPointer { tokenizer.encode(bytes: $0).count } }
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let peak = Double(usage.ru_maxrss) / 1024
    let result: [String: Any] = [
        "piece_mb": Double(text.count) / 1e6, "tokens": tokens, "ms_per_mb": t * 1000 / (Double(text.count) / 1e6),
        "peak_rss_mb": peak, "rss_before_mb": before,
        "bytes_per_input_byte": (peak - before) * 1e6 * 1.048576 / Double(text.count),
    ]
    print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    exit(0)
}
if args.first == "--compiled", let name = args.dropFirst().first, let handWritten = PreTokenizer(named: name) {
    // The pattern compiler against the hand-written matcher of the same regex: pieces must agree.
    var rows: [[String: Any]] = []
    let compiledSplits = try handWritten.splits.map { Split(.compiled(try CompiledPattern($0.pattern.huggingFaceRegex))) }
    let compiled = PreTokenizer(splits: compiledSplits)
    for file in args.dropFirst(2) {
        let text = try readFile(file)
        var pieces = (0, 0)
        var hash = (0, 0)
        let (hand, comp) = text.withUnsafeBufferPointer { t -> (Double, Double) in
            let a = best(5) { pieces.0 = 0; hash.0 = 0; handWritten.forEachPiece(t) { pieces.0 += 1; hash.0 = hash.0 &* 31 &+ $0.upperBound } }
            let b = best(5) { pieces.1 = 0; hash.1 = 0; compiled.forEachPiece(t) { pieces.1 += 1; hash.1 = hash.1 &* 31 &+ $0.upperBound } }
            return (a, b)
        }
        let mb = Double(text.count) / 1e6
        rows.append(["file": file, "pattern": name, "hand_written_mb_per_s": mb / hand, "compiled_mb_per_s": mb / comp,
                     "ratio": hand / comp, "same_pieces": pieces.0 == pieces.1 && hash.0 == hash.1])
    }
    print(String(decoding: try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys]), as: UTF8.self))
    exit(0)
}
if args.first == "--short", let vocab = args.dropFirst().first, let file = args.dropFirst(2).first {
    // Short documents, one call each, as a server meets them: the per-call overhead.
    let tokenizer = try VocabularyFolder.load(vocab)
    let docs = try JSONSerialization.jsonObject(with: Data(try readFile(file + ".docs.json"))) as! [String]
    var count = 0
    let t = seconds { for d in docs { count += tokenizer.encode(d).count } }
    print(String(decoding: try JSONSerialization.data(withJSONObject: ["seconds": t, "count": count, "calls": docs.count]), as: UTF8.self))
    exit(0)
}
if args.first == "--kernel", let vocab = args.dropFirst().first, let file = args.dropFirst(2).first {
    // Pieces (FILE: their bytes, separated by a zero byte) through the vocabulary
    // alone, one after another: the whole-token lookup and the merges, without
    // the pre-tokenizer, the piece cache or batches. Several passes, each timed.
    let tokenizer = try VocabularyFolder.load(vocab)
    let data = try readFile(file)
    var ranges: [Range<Int>] = []
    var start = 0
    for k in data.indices where data[k] == 0 {
        if k > start { ranges.append(start ..< k) }
        start = k + 1
    }
    if data.count > start { ranges.append(start ..< data.count) }
    var scratch = BytePairScratch()
    var out = ContiguousArray<UInt32>()
    out.reserveCapacity(data.count)
    var rows: [[String: Any]] = []
    for pass in 0 ..< 5 {
        out.removeAll(keepingCapacity: true)
        let t = seconds {
            data.withUnsafeBufferPointer { d in
                for r in ranges { tokenizer.vocabulary.encodePiece(UnsafeBufferPointer(rebasing: d[r]), scratch: &scratch, into: &out) }
            }
        }
        rows.append(["pass": pass, "pieces": ranges.count, "ids": out.count, "ns_per_piece": t / Double(ranges.count) * 1e9,
                     "mb_per_s": Double(data.count - ranges.count + 1) / t / 1e6])
    }
    print(String(decoding: try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys]), as: UTF8.self))
    exit(0)
}
if args.first == "--cache", let vocab = args.dropFirst().first {
    // The piece cache at several sizes (0: every cache off), one thread: each size with a
    // cold cache (one pass, as a job meets a corpus) and warm (a second pass).
    // Sizes take turns over several rounds and the best of each is kept, so
    // that the machine's noise falls on all of them alike.
    let tokenizer = try VocabularyFolder.load(vocab)
    let sizes = ProcessInfo.processInfo.environment["TOK_BENCH_CACHE_SIZES"].map { $0.split(separator: ",").compactMap { Int($0) } }
        ?? [0, 1 << 10, 1 << 12, 1 << 14, 1 << 15, 1 << 16, 1 << 18]
    var rows: [[String: Any]] = []
    for file in args.dropFirst(2) {
        let text = try readFile(file)
        var reference: ContiguousArray<UInt32>? = nil
        var cold = [Double](repeating: .infinity, count: sizes.count), warm = cold
        var equal = [Bool](repeating: true, count: sizes.count)
        for _ in 0 ..< 5 {
            for (k, entries) in sizes.enumerated() {
                var out = ContiguousArray<UInt32>()
                out.reserveCapacity(text.count / 2)
                // A fresh cache each round: cold, then warm.
                let sized = tokenizer.withPieceCache(entries: entries)
                var scratch = sized.makeScratch()
                cold[k] = min(cold[k], seconds {
                    text.withUnsafeBufferPointer { sized.encode($0, allowedSpecial: .none, scratch: &scratch, into: &out) }
                })
                if reference == nil { reference = out }
                equal[k] = equal[k] && out == reference!
                out.removeAll(keepingCapacity: true)
                warm[k] = min(warm[k], seconds {
                    text.withUnsafeBufferPointer { sized.encode($0, allowedSpecial: .none, scratch: &scratch, into: &out) }
                })
                equal[k] = equal[k] && out == reference!
            }
        }
        for (k, entries) in sizes.enumerated() {
            rows.append(["file": file, "entries": entries, "cache_kib": cacheKiB(entries),
                         "cold_mb_per_s": Double(text.count) / cold[k] / 1e6,
                         "warm_mb_per_s": Double(text.count) / warm[k] / 1e6, "ids_equal": equal[k]])
        }
    }
    print(String(decoding: try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self))
    exit(0)
}
guard let vocab = args.first else {
    FileHandle.standardError.write(Data("usage: tok-bench VOCAB_DIR FILE...\n".utf8))
    exit(2)
}
var tokenizer: Tokenizer!
let load = try best(5) { tokenizer = try VocabularyFolder.load(vocab) }
var result: [String: Any] = ["vocab": vocab, "load_ms": load * 1000]
var files: [[String: Any]] = []
for file in args.dropFirst() {
    let text = try readFile(file)
    var tokens = 0
    let t = best(3) {
        tokens = text.withUnsafeBufferPointer { tokenizer.encode(bytes: $0).count }
    }
    let threads = ProcessInfo.processInfo.activeProcessorCount
    let tp = best(3) { _ = text.withUnsafeBufferPointer { tokenizer.encodeInParallel($0, threads: threads) } }
    // The pre-tokenizer alone: it bounds everything else.
    var pieceCount = 0
    let tpre = best(3) {
        pieceCount = 0
        text.withUnsafeBufferPointer { tokenizer.preTokenizer.forEachPiece($0) { _ in pieceCount += 1 } }
    }
    files.append(["file": file, "bytes": text.count, "tokens": tokens, "seconds": t, "pieces": pieceCount,
                  "pretokenize_mb_per_s": Double(text.count) / tpre / 1e6,
                  "mb_per_s": Double(text.count) / t / 1e6, "parallel_mb_per_s": Double(text.count) / tp / 1e6,
                  "threads": threads])
}
result["files"] = files
// One 1 MB piece of each hard kind, against ordinary text.
var pieces: [String: Double] = [:]
let han = Array(String(repeating: "中文分词测试汉字长句没有标点", count: 1 << 20 / 42).utf8)
let kinds: [(String, [UInt8])] = [
    ("han_1mb", han),
    ("one_byte_1mb", [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)),
    ("digits_1mb", (0 ..< (1 << 20)).map { UInt8(ascii: "0") + UInt8($0 * 7 % 10) }),
]
for (name, bytes) in kinds {
    let t = best(2) { _ = bytes.withUnsafeBufferPointer { tokenizer.encode(bytes: $0) } }
    pieces[name + "_ms_per_mb"] = t * 1000 / (Double(bytes.count) / 1e6)
}
result["long_pieces"] = pieces
let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .prettyPrinted])
print(String(decoding: json, as: UTF8.self))
}

do {
    try benchmark()
} catch {
    FileHandle.standardError.write(Data("tok-bench: \(error)\n".utf8))
    exit(1)
}
