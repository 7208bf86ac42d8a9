import ArgumentParser

/// `pipe runs export SYSTEM`: send runs to another tracking system.
struct ExportRunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Send runs to another tracking system (MLflow).",
        subcommands: [ExportMLflowCommand.self])
}
