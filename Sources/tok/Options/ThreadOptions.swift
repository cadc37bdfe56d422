import ArgumentParser
import Foundation

/// `--threads`, for every command that runs on several cores.
struct ThreadOptions: ParsableArguments {
    /// More threads than any machine this runs on has cores: each costs a
    /// stack and a scratch, and a typo such as 100000 should not start them.
    static let maximum = 1024

    @Option(help: "Threads (default: all cores, at most \(ThreadOptions.maximum)). The output does not depend on it.")
    var threads: Int?

    func validate() throws {
        guard let threads else { return }
        guard (1 ... ThreadOptions.maximum).contains(threads) else {
            throw ValidationError("--threads takes 1 to \(ThreadOptions.maximum), not \(threads)")
        }
    }

    /// The threads asked for, or one per core.
    var count: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }
}
