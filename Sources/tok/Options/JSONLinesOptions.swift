import ArgumentParser

/// How `.jsonl` inputs are read, by every command that reads corpora.
struct JSONLinesOptions: ParsableArguments {
    @Option(help: "The JSON field holding the text in .jsonl files.")
    var field: String = "text"

    @Flag(help: "Fail on a malformed or blank JSON line, or one without the field, instead of reporting and skipping it.")
    var strict = false
}
