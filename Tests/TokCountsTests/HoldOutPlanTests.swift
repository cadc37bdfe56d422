import Foundation
import Testing
import TokCorpus
import TokCounts
import TokEncoding
import TokRuntime

struct HoldOutPlanTests {
    @Test func eachPartStartsWhereTheWholeCorpusFillHasReached() throws {
        let scans = (0 ..< 3).map { uniqueTemporaryPath("scan\($0).json") }
        defer { for p in scans { unlink(p) } }
        // A capacity of 100: part 0 holds 40 + 50; part 1's 20 no longer fits but its 10 does; part 2 starts at 100.
        for (path, sizes) in zip(scans, ["[40,50]", "[20, 10]\n", "[]"]) { try writeFileAtomically(path, Array(sizes.utf8)) }
        let plan = try HoldOutPlan(scanFiles: scans, capacity: 100)
        #expect(plan.parts.map(\.heldOutBefore) == [0, 90, 100])
        #expect(plan.parts.map(\.scan) == scans)
        #expect(plan == HoldOutPlan(scans: scans, candidateSizes: [[40, 50], [20, 10], []], capacity: 100))
        #expect(String(decoding: plan.jsonLines, as: UTF8.self)
                == scans.enumerated().map { "{\"heldOutBefore\":\([0, 90, 100][$0.offset]),\"scan\":\"\($0.element)\"}\n" }.joined())
        // A path is a JSON string: quotes and backslashes escaped.
        let odd = HoldOutPlan(scans: ["a \"b\"\\c"], candidateSizes: [[1]], capacity: 1)
        #expect(odd.jsonLines == Array("{\"heldOutBefore\":0,\"scan\":\"a \\\"b\\\"\\\\c\"}\n".utf8))
    }

    @Test(arguments: ["", "{}", "[1,-2]", "[1,2.5]", "[0]", "not json"])
    func whatIsNotAScanIsRefusedNamingIt(text: String) throws {
        let good = uniqueTemporaryPath("good.json"), bad = uniqueTemporaryPath("bad.json")
        defer { for p in [good, bad] { unlink(p) } }
        try writeFileAtomically(good, Array("[3]".utf8))
        try writeFileAtomically(bad, Array(text.utf8))
        #expect(throws: HoldOutPlanError.notAScan(path: bad)) { try HoldOutPlan(scanFiles: [good, bad], capacity: 10) }
    }
}
