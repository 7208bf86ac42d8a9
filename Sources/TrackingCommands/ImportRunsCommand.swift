import ArgumentParser

/// `pipe runs import SYSTEM`: bring runs from another tracking system into the store.
struct ImportRunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bring runs from another tracking system (MLflow) into the store.",
        subcommands: [ImportMLflowCommand.self])
}
