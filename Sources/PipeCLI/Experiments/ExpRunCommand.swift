import ArgumentParser
import Experiments
import Foundation
import PipelineEngine
import Tracking
import TrackingCommands

/// `pipe exp run`: plans a sweep, records it, and runs its experiments here (-j at once) or on Slurm.
struct ExpRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a sweep: each -S KEY=V1,V2 is an axis, the grid their product; each experiment is a run.",
        discussion: """
            Values follow Hydra's syntax: train.lr=1e-3,3e-3 · train.seed=range(1,9) · choice(a,b) · quoted strings \
            keep their commas · every value is YAML. Each experiment runs in its own checkout of HEAD plus the \
            uncommitted changes (under .cache/exp/NAME/), sharing .cache/ objects and run-cache, and lands in \
            runs/ with its sweep name: compare with pipe exp show NAME or pipe runs list --where "sweep = NAME".
            """)

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "Stages each experiment reproduces (with their upstream stages); all when none are given.")
    var stages: [String] = []

    @Option(name: [.customShort("S"), .customLong("set")], help: "A sweep axis: STAGE.KEY=V1,V2,... or range(...).")
    var sweeps: [String] = []

    @Flag(help: "Pair the lists (the i-th values together) instead of taking their product.")
    var zip = false

    @Option(name: .shortAndLong, help: "Experiments run at once by the local executor.")
    var jobs = 1

    @Option(help: "The sweep's name (default: exp-DATE-TIME).")
    var name: String?

    @Option(help: "local (this machine, -j at once) or slurm (one sbatch job per experiment).")
    var executor: ExecutorKind = .local

    @Flag(help: "Record the sweep without running it; start it later with --resume NAME.")
    var queue = false

    @Option(help: ArgumentHelp("Run what is not yet done of sweep NAME.", valueName: "NAME"))
    var resume: String?

    @Flag(help: "Print the plan; run nothing.")
    var dry = false

    @Flag(help: "Allow a grid of more than 10,000 experiments.")
    var yes = false

    @Option(help: "Where the experiments' workspaces go (default: .cache/exp; same filesystem as .cache/).")
    var workdir: String?

    @Option(help: "Slurm partition (sbatch --partition).")
    var partition: String?

    @Option(help: "Slurm time limit per experiment (sbatch --time), e.g. 30 or 1:00:00.")
    var time: String?

    @Option(help: "Slurm CPUs per experiment (sbatch --cpus-per-task).")
    var cpusPerTask: Int?

    @Option(help: "Slurm memory per experiment (sbatch --mem), e.g. 4G.")
    var mem: String?

    @Option(parsing: .unconditionalSingleValue, help: "Another sbatch argument, passed as it is (repeatable).")
    var sbatchArg: [String] = []

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if resume != nil, !sweeps.isEmpty || name != nil || zip || !stages.isEmpty {
            throw ValidationError("--resume NAME takes the plan as recorded: no -S, --name, --zip or stages")
        }
        if let cpusPerTask, cpusPerTask < 1 { throw ValidationError("--cpus-per-task must be at least 1") }
    }

    func run() throws {
        let workspace = try workspaceOptions.workspace()
        let layout = SweepLayout(main: workspace.root)
        var plan: SweepPlan
        var grid: ExperimentGrid?
        if let resume {
            plan = try SweepPlan.load(layout, name: resume)
            plan.jobs = jobs
        } else {
            let parsed = try ExperimentGrid(parsing: sweeps, zip: zip)
            grid = parsed
            var request = SweepPlanner.Request(grid: parsed, name: name ?? SweepPlan.defaultName())
            request.stages = stages
            request.workdir = workdir.map { URL(fileURLWithPath: $0, relativeTo: workspace.root) }
            request.executor = executor
            request.jobs = jobs
            request.slurm = SlurmOptions(
                partition: partition, time: time, cpusPerTask: cpusPerTask, memory: mem, extraArguments: sbatchArg)
            request.confirmed = yes
            plan = try SweepPlanner.plan(request, workspace: workspace)
            if FileManager.default.fileExists(atPath: layout.planURL(plan.name).path) {
                throw ExperimentError.sweepExists(name: plan.name)
            }
        }
        Console.output(SweepPlanner.describe(plan, grid: grid))
        if dry { return }
        if plan.executor == .slurm { try SlurmExecutor.checkAvailable() }
        if resume == nil { try plan.save(layout) }
        if queue {
            Console.output("queued sweep '\(plan.name)'; start it with: pipe exp run --resume \(plan.name)")
            return
        }
        let runner = SweepRunner(
            plan: plan, layout: layout, executable: JobCommand.currentExecutable(),
            pipeVersion: PipeCommand.version)
        let outcome = try runner.run { Console.output($0) }
        let store = try RunStore.open(workspace: workspace.root)
        Console.output("")
        Console.output(try ExpShowCommand.table(store: store, name: plan.name, plan: plan, sort: []))
        Console.output(outcome.summaryLine)
        if outcome.interrupted { throw ExitCode(130) }
        if !outcome.allSucceeded { throw ExitCode(1) }
    }
}
