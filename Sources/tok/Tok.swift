import ArgumentParser
import Foundation
import TokEncoding
import TokRuntime

@main
struct Tok: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tok",
        abstract: "Build and use byte-level BPE vocabularies.",
        subcommands: [EncodeCommand.self, DecodeCommand.self, ImportCommand.self, ExportCommand.self, PretokenizeCommand.self, CountCommand.self, TrainCommand.self, BuildCommand.self, StatsCommand.self]
    )

    /// Parses and runs the command. Errors of the libraries and the commands
    /// are one line, `tok: ...` naming the file (and line), and exit status 1;
    /// temporary files and staging folders go on SIGINT, SIGTERM and SIGHUP.
    static func main() {
        TemporaryPaths.removeOnSignals()
        defer { TemporaryPaths.waitIfStopping() }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as ExitCode {
            exit(withError: error)
        } catch let error as TokError {
            TemporaryPaths.waitIfStopping()
            printError("tok: \(error)")
            Foundation.exit(1)
        } catch {
            TemporaryPaths.waitIfStopping()
            exit(withError: error)
        }
    }
}
