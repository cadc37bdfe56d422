import ArgumentParser

@main
struct Tok: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tok",
        abstract: "Build and use byte-level BPE vocabularies.",
        subcommands: [EncodeCommand.self, DecodeCommand.self, ImportCommand.self, ExportCommand.self, PretokenizeCommand.self, CountCommand.self, TrainCommand.self, BuildCommand.self, StatsCommand.self]
    )
}
