import ArgumentParser
import Foundation
import Tracking

/// `pipe runs`: browse the run-tracking store under `runs/`.
public struct RunsCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List, show, compare and prune tracked runs; export them to MLflow and import them back.",
        discussion: """
            Every `pipe repro` and `pipe verify` is recorded in runs/pipe.sqlite with its git commit, params, \
            stage outcomes and metrics. RUN is a unique id prefix, @last or @last~N.
            """,
        subcommands: [
            ListRunsCommand.self, ShowRunCommand.self, DiffRunsCommand.self,
            RemoveRunsCommand.self, CollectRunsCommand.self, ExportRunsCommand.self, ImportRunsCommand.self,
        ],
        defaultSubcommand: ListRunsCommand.self)

    public init() {}
}

/// Options every `runs` subcommand shares.
struct StoreOptions: ParsableArguments {
    @Flag(
        help: """
            If the store is corrupt, move it aside (runs/pipe.sqlite.corrupt-TIME) and start a fresh one; if it lost \
            writes with its write-ahead log, accept it as it is.
            """)
    var repair = false

    /// The store of the workspace in the current directory.
    func openStore() throws -> RunStore { try RunStore.open(workspace: workspace, repair: repair) }

    /// The store for a command that only reads it: nothing written on the way in (a full disk), unless `--repair`.
    func openStoreForReading() throws -> RunStore {
        repair ? try openStore() : try RunStore.openForReading(workspace: workspace)
    }

    private var workspace: URL {
        URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
    }
}
