/// The general split: any pattern, any behavior, inverted or not, as
/// HuggingFace's `NormalizedString::split` does it.
extension PreTokenizer {
    @usableFromInline
    func splitGeneral(_ text: UnsafeBufferPointer<UInt8>, offset: Int, index: Int, _ body: (Range<Int>) -> Void) {
        let split = splits[index]
        let last = index == splits.count - 1
        func emit(_ r: Range<Int>) {
            guard !r.isEmpty else { return }  // empty pieces are dropped, as HuggingFace drops them
            if last {
                body(offset + r.lowerBound ..< offset + r.upperBound)
            } else {
                splitGeneral(UnsafeBufferPointer(rebasing: text[r]), offset: offset + r.lowerBound, index: index + 1, body)
            }
        }
        switch split.behavior {
        case .isolated:
            split.forEachSegment(text) { r, _ in emit(r) }
        case .removed:
            split.forEachSegment(text) { r, isMatch in if !isMatch { emit(r) } }
        case .contiguous, .mergedWithPrevious, .mergedWithNext:
            var segments: [(range: Range<Int>, isMatch: Bool)] = []
            split.forEachSegment(text) { segments.append(($0, $1)) }
            for r in SplitBehavior.merge(segments, split.behavior) { emit(r) }
        }
    }
}

extension SplitBehavior {
    /// The pieces of `segments` (in order, tiling the text) under a merging behavior.
    static func merge(_ segments: [(range: Range<Int>, isMatch: Bool)], _ behavior: SplitBehavior) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var previousMatch = false
        switch behavior {
        case .contiguous:
            for s in segments {
                if s.isMatch == previousMatch, let last = out.last {
                    out[out.count - 1] = last.lowerBound ..< s.range.upperBound
                } else {
                    out.append(s.range)
                }
                previousMatch = s.isMatch
            }
        case .mergedWithPrevious:
            for s in segments {
                if s.isMatch && !previousMatch, let last = out.last {
                    out[out.count - 1] = last.lowerBound ..< s.range.upperBound
                } else {
                    out.append(s.range)
                }
                previousMatch = s.isMatch
            }
        case .mergedWithNext:
            for s in segments.reversed() {
                if s.isMatch && !previousMatch, let last = out.last {
                    out[out.count - 1] = s.range.lowerBound ..< last.upperBound
                } else {
                    out.append(s.range)
                }
                previousMatch = s.isMatch
            }
            out.reverse()
        case .isolated, .removed:
            out = segments.map(\.range)
        }
        return out
    }
}

extension Split {
    /// Each match and each stretch between matches, in order, with `invert` applied.
    func forEachSegment(_ text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>, _ isMatch: Bool) -> Void) {
        let invert = self.invert
        switch pattern {
        case .compiled(let compiled):
            compiled.forEachSegment(text) { body($0, $1 != invert) }
        case .rule(let rule):
            // Hand-written rules never match empty.
            var i = 0, gapStart = 0
            let n = text.count
            while i < n {
                let length = rule.matchLength(text, at: i)
                if length > 0 {
                    if gapStart < i { body(gapStart ..< i, invert) }
                    body(i ..< i + length, !invert)
                    i += length
                    gapStart = i
                } else {
                    i += text.scalar(at: i).length
                }
            }
            if gapStart < n { body(gapStart ..< n, invert) }
        }
    }
}
