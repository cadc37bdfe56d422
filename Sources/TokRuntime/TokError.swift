/// The errors of tok's libraries: each is one line naming what it concerns
/// (file, line, id), which the CLI prints as it is.
public protocol TokError: Error, CustomStringConvertible, Sendable {}
