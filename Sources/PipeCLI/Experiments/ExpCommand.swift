import ArgumentParser
import Experiments

/// `pipe exp`: sweeps of params in isolated workspaces, compared in the run store.
struct ExpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exp",
        abstract: "Run, compare, apply and remove experiments: sweeps of params in isolated workspaces.",
        subcommands: [
            ExpRunCommand.self, ExpShowCommand.self, ExpApplyCommand.self, ExpRemoveCommand.self,
            ExpJobCommand.self,
        ])
}

extension ExecutorKind: ExpressibleByArgument {}
