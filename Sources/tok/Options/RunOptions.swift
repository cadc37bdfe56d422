import ArgumentParser
import TokCounts

/// `--memory`, `--quiet` and `--json`, for the commands that count and train (count, train, build, extend).
struct RunOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Peak memory, e.g. 4G or 512M (default: a quarter of RAM, at most 16G). Counting spills sorted runs to disk past it; training drops the rarest pieces when all would not fit (and says so).", valueName: "size"), transform: ByteSize.parse)
    var memory: ByteSize?

    @Flag(help: "No progress on stderr.")
    var quiet = false

    @Flag(help: "Print a JSON summary on stdout.")
    var json = false

    var memoryBudget: Int { memory?.bytes ?? CountingOptions.defaultMemoryBudget }
}
