import ArgumentParser
import TokCorpus

/// What a build or an extension holds out of each domain for evaluation.
struct HoldOutOptions: ParsableArguments {
    @Option(help: "Thousandths of each domain's documents to hold out (0 to 1000; up to 4 MB a domain).")
    var heldOutPerMille: Int = 20

    @Option(help: ArgumentHelp("What to hold out whole: document, file, or key:NAME (the sources a JSON-lines key names, e.g. key:source).", valueName: "unit"))
    var holdOutBy = HoldOutUnit.document

    func validate() throws {
        guard (0 ... 1000).contains(heldOutPerMille) else { throw ValidationError("--held-out-per-mille takes 0 to 1000, not \(heldOutPerMille)") }
    }
}
