import ArgumentParser
import TokEncoding

/// Options every command that reads a vocabulary takes.
struct VocabularyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The vocabulary folder (vocab/NAME).", valueName: "folder"))
    var vocab: String

    func load() throws -> Tokenizer { try VocabularyFolder.load(vocab) }
}

/// Throws unless `path` can name a vocabulary folder of its own: `.`, `..`
/// and `/` name folders that hold other things (and cannot be renamed into
/// place), so they are refused before any work.
func checkOutputFolder(_ path: String) throws {
    let last = path.split(separator: "/").last.map(String.init) ?? "/"
    guard !path.isEmpty, last != ".", last != "..", last != "/" else {
        throw ValidationError("-o \(path) names a folder that holds other things; name a new folder, e.g. vocab/NAME")
    }
}
