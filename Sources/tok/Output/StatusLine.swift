import Foundation
import Synchronization

/// Progress on stderr: rewritten in place on a terminal (at most five times a
/// second), else a plain line every 30 seconds, so that logs of long runs show
/// where they are too. Thread-safe: counting lanes report from their threads.
final class StatusLine: Sendable {
    private let terminal: Bool
    private let enabled: Bool
    private let state = Mutex<(last: Double, shown: Bool)>((-1e9, false))

    init(enabled: Bool) {
        self.enabled = enabled
        terminal = isatty(2) != 0
    }

    func show(_ text: @autoclosure () -> String) {
        guard enabled else { return }
        let now = Date().timeIntervalSinceReferenceDate
        let due = state.withLock { s -> Bool in
            guard now - s.last >= (terminal ? 0.2 : 30) else { return false }
            s.last = now
            s.shown = true
            return true
        }
        guard due else { return }
        printError(terminal ? "\r" + text() + "\u{1B}[K" : text(), newline: !terminal)
    }

    /// Shows `last`, the finished state (100%), whatever the time since the
    /// last line, and ends the line: throttled updates would drop it.
    func complete(_ last: @autoclosure () -> String) {
        guard enabled else { return }
        state.withLock { $0.shown = true }
        printError(terminal ? "\r" + last() + "\u{1B}[K" : last(), newline: !terminal)
        finish()
    }

    /// Ends the status line (on a terminal), before other output.
    func finish() {
        guard enabled, terminal, state.withLock({ $0.shown }) else { return }
        printError("")
        state.withLock { $0 = (-1e9, false) }
    }

    /// "1h02m", "3m05s", "12s".
    static func duration(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, s % 3600 / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}
