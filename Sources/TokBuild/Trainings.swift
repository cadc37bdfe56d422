/// The trainings of a build, by role: each domain's own BPE (in the order of
/// the domains), the joint one whose ranks make the vocabulary, and the pooled
/// one when compared. `Each` is what a training is at a stage: its count file,
/// then its result.
struct Trainings<Each> {
    var own: [Each]
    var joint: Each
    var pooled: Each?

    /// Every training: the domains' own, the joint one, then the pooled one.
    var all: [Each] { own + [joint] + (pooled.map { [$0] } ?? []) }

    /// Each training's name in the report (its domain's, `joint`, `pooled`) with it.
    func named(_ domains: [String]) -> [(name: String, training: Each)] {
        precondition(domains.count == own.count, "a name for each domain")
        return Array(zip(domains + ["joint"] + (pooled == nil ? [] : ["pooled"]), all))
    }

    /// The trainings after a step that takes all of them at once (to run them
    /// side by side) and gives one result each, in the order of ``all``.
    func mapAll<Next>(_ step: ([Each]) throws -> [Next]) rethrows -> Trainings<Next> {
        let done = try step(all)
        precondition(done.count == all.count, "one result a training")
        return Trainings<Next>(own: Array(done.prefix(own.count)), joint: done[own.count],
                               pooled: pooled == nil ? nil : done[own.count + 1])
    }
}
