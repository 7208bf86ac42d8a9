import ArgumentParser
import Experiments
import Foundation
import PipelineEngine
import Tracking

/// `pipe exp job NAME INDEX`: one experiment, as an executor starts it (a child process here, a Slurm job on a
/// node): prepares its workspace, then reproduces it there as a run of the main workspace's store.
struct ExpJobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job", abstract: "Run one experiment of a recorded sweep (started by the executors).",
        shouldDisplay: false)

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "The sweep's name.")
    var name: String

    @Argument(help: "The experiment's number in the plan.")
    var index: Int

    func run() throws {
        let main = try workspaceOptions.workspace()
        let layout = SweepLayout(main: main.root)
        let plan = try SweepPlan.load(layout, name: name)
        guard let experiment = plan.experiment(index) else {
            throw ValidationError("sweep '\(name)' has no experiment \(index) (it has \(plan.experiments.count))")
        }
        let isolated = IsolatedWorkspace(main: main.root, root: plan.workspace(index))
        try isolated.prepare(sourceDeps: SweepPlanner.sourceDependencies(try main.loadGraph()))
        let workspace = Workspace(root: isolated.workspaceRoot, registry: BuiltinStages.registry())
        Console.output("experiment \(index) of '\(name)': \(experiment.label) in \(workspace.root.path)")
        var options = ReproOptions()
        options.targets = plan.stages
        options.overrides = try experiment.overrides.map(ParamOverride.init(parsing:))
        let bound = try ParamOverride.bind(options.overrides, to: try workspace.loadGraph().definition)
        for warning in try IsolatedWorkspace.writeOverrides(bound, into: workspace.root) {
            Console.error("warning: \(warning)")
        }
        options.signatureLockDirectory = layout.signatureLocks
        options.exitOnInterrupt = true
        options.commandLine = "pipe exp job \(name) \(index)"
        let reporter = ConsoleReporter(workspace: workspace.root, json: false)
        let tracked = try TrackedRun(
            workspace: workspace.root, kind: .repro, console: reporter,
            experiment: TrackedRun.Experiment(
                mainWorkspace: main.root,
                git: GitFacts(commit: plan.gitCommit, branch: plan.gitBranch, isDirty: plan.gitDirty),
                tag: SweepTag(sweepID: plan.id, sweepName: plan.name, experiment: index)))
        let summary = try tracked.track(options) { try workspace.repro($0, observer: $1) }
        reporter.finish(summary, dryRun: false)
        if !summary.succeeded { throw ExitCode(1) }
    }
}
