import ArgumentParser
import Experiments
import Foundation

/// `pipe exp remove NAME...`: drops sweeps' workspaces and plans; their runs stay in the store.
struct ExpRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove sweeps' temporary workspaces and plans (their runs stay in runs/; pipe runs rm drops those).")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "The sweeps' names.")
    var names: [String]

    func validate() throws {
        if names.isEmpty { throw ValidationError("name at least one sweep") }
    }

    func run() throws {
        let workspace = try workspaceOptions.workspace()
        let layout = SweepLayout(main: workspace.root)
        for name in names {
            try SweepPlan.checkName(name)
            let plan = try SweepPlan.load(layout, name: name)
            var removed = 0
            for experiment in plan.experiments {
                let isolated = IsolatedWorkspace(main: workspace.root, root: plan.workspace(experiment.index))
                if FileManager.default.fileExists(atPath: isolated.root.path) {
                    try isolated.remove()
                    removed += 1
                }
            }
            // The folder of the sweep's workspaces (under --workdir) and the plan's folder (under .cache/exp).
            for folder in [URL(fileURLWithPath: plan.workdir).appendingPathComponent(name), layout.folder(name)]
            where FileManager.default.fileExists(atPath: folder.path) {
                try IsolatedWorkspace(main: workspace.root, root: folder).remove()
            }
            Console.output("removed sweep '\(name)': \(removed) workspace\(removed == 1 ? "" : "s")")
        }
    }
}
