import Foundation
import TokBuild

/// What a command that runs in stages (build, extend) shows on stderr: each
/// stage's line (unless quiet), what the input holds that the user should
/// know (always), and a status line with the stage and the time left; then
/// its report on stdout, as JSON or as a table.
struct StageOutput: Sendable {
    let command: String
    let quiet: Bool
    let status: StatusLine
    let started = Date()

    init(command: String, quiet: Bool) {
        self.command = command
        self.quiet = quiet
        status = StatusLine(enabled: !quiet)
    }

    var log: @Sendable (String) -> Void {
        { [self] line in
            status.finish()
            if !quiet { printError("tok \(command): " + line) }
        }
    }

    var warn: @Sendable (String) -> Void {
        { [status] line in
            status.finish()
            printError("tok: " + line)
        }
    }

    var progress: @Sendable (BuildProgress) -> Void {
        { [self] p in
            status.show(String(format: "tok %@: %@%@ %.0f%%, %@ left", command, p.stage, p.domain.map { " " + $0 } ?? "",
                               p.fraction * 100, StatusLine.duration(p.secondsLeft)))
        }
    }

    /// Ends the status line at 100%, with the time taken.
    func complete() {
        status.complete("tok \(command): 100%, " + StatusLine.duration(Date().timeIntervalSince(started)) + " in all")
    }

    /// Prints `report` on stdout: as JSON (sorted keys), or as `table()`.
    static func print(_ report: some Encodable, json: Bool, table: () -> String) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try StandardOutput.writeLine(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            try StandardOutput.writeLine(table())
        }
    }
}
