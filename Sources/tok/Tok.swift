import ArgumentParser
import Foundation
import TokEncoding
import TokRuntime

@main
struct Tok: ParsableCommand {
    /// tok's version: `tok --version` prints it.
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "tok",
        abstract: "Build and use byte-level BPE vocabularies.",
        discussion: """
            Every failure is one line on stderr, 'tok: ...', naming the file (and line) \
            it concerns, and a non-zero exit status: 64 for a bad command line, 1 for \
            anything else. Outputs are written under a temporary name and renamed into \
            place, so a failed run leaves none half-written. When the reader of standard \
            output goes away (a closed pipe), tok stops quietly with status 141, as a \
            process that SIGPIPE ends.
            """,
        version: version,
        subcommands: [EncodeCommand.self, DecodeCommand.self, ImportCommand.self, ExportCommand.self, PretokenizeCommand.self,
                      CountCommand.self, TrainCommand.self, BuildCommand.self, ExtendCommand.self, StatsCommand.self]
    )

    /// 128 + SIGPIPE: how a shell reports a process that a closed pipe stopped.
    static let closedPipeStatus: Int32 = 141

    /// Parses and runs the command. Temporary files and staging folders go on
    /// SIGINT, SIGTERM and SIGHUP, and on every error.
    static func main() {
        TemporaryPaths.removeOnSignals()
        // A closed pipe then fails the write with EPIPE, and the run unwinds
        // (removing its temporaries) instead of dying mid-write.
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
            try StandardOutput.close()
        } catch {
            TemporaryPaths.waitIfStopping()
            fail(error)
        }
        TemporaryPaths.waitIfStopping()
    }

    /// Ends the run for `error`: help and `--version` as ArgumentParser prints
    /// them; everything else as one line, `tok: ...`.
    static func fail(_ error: any Error) -> Never {
        if error is StandardOutput.Closed { Foundation.exit(closedPipeStatus) }
        let code = exitCode(for: error)
        if code == .success { exit(withError: error) }
        let message = error is TokError ? "\(error)" : (describeSystemError(error) ?? message(for: error))
        if !message.isEmpty { printError("tok: " + oneLine(message)) }
        Foundation.exit(error is TokError ? 1 : code.rawValue)
    }

    /// A Foundation error as "PATH: reason" (its own description spans lines
    /// of dictionary dumps); nil for other errors.
    static func describeSystemError(_ error: any Error) -> String? {
        guard let cocoa = error as? CocoaError else { return nil }
        let info = cocoa.userInfo
        let path = (info[NSFilePathErrorKey] as? String) ?? cocoa.url?.path
        var reason = "cannot complete a file operation"
        if let underlying = info[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(underlying.code)))
        } else if let posix = cocoa.underlying as? POSIXError {
            reason = String(cString: strerror(posix.code.rawValue))
        }
        return path.map { "\($0): \(reason)" } ?? reason
    }

    /// `text` on one line: ArgumentParser's messages may span several.
    static func oneLine(_ text: String) -> String {
        var text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }
}
