import ArgumentParser
import Foundation
import PipelineEngine

struct ReproCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repro",
        abstract: "Bring stages up to date: run, restore from cache or skip each, saying why.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "Stages to reproduce (with their upstream stages); all when none are given.")
    var stages: [String] = []

    @Flag(name: .shortAndLong, help: "Run the selected stages even when they are up to date.")
    var force = false

    @Flag(name: .shortAndLong, help: "Only the named stages, not their upstream stages.")
    var singleItem = false

    @Flag(help: "The named stages and every stage downstream of them.")
    var downstream = false

    @Flag(help: "Show what would run and why; change nothing.")
    var dry = false

    @Flag(name: .shortAndLong, help: "After a failure, still run every stage that does not depend on it.")
    var keepGoing = false

    @Option(name: .shortAndLong, help: "Stages run at once (default: the number of cores).")
    var jobs: Int?

    @Option(name: [.customShort("S"), .customLong("set")], help: "Override a param for this run: STAGE.KEY=VALUE.")
    var overrides: [String] = []

    @Flag(help: "Never restore outputs from the run-cache; run stale stages.")
    var noRunCache = false

    @Flag(help: "Wait for another repro holding the workspace instead of failing.")
    var wait = false

    @Flag(help: "Print the results as JSON.")
    var json = false

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if singleItem && downstream { throw ValidationError("--single-item and --downstream cannot be combined") }
        if (singleItem || downstream) && stages.isEmpty {
            throw ValidationError("--single-item and --downstream need at least one stage name")
        }
    }

    func run() throws {
        let workspace = try workspaceOptions.workspace()
        var options = ReproOptions()
        options.targets = stages
        options.force = force
        options.singleItem = singleItem
        options.downstream = downstream
        options.dryRun = dry
        options.keepGoing = keepGoing
        if let jobs { options.jobs = jobs }
        options.overrides = try overrides.map(ParamOverride.init(parsing:))
        options.useRunCache = !noRunCache
        options.wait = wait
        options.exitOnInterrupt = true
        options.commandLine = (["pipe"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        let reporter = ConsoleReporter(workspace: workspace.root, json: json)
        if dry {
            let summary = try workspace.repro(options, observer: reporter)
            reporter.finish(summary, dryRun: true)
            return
        }
        let tracked = try TrackedRun(workspace: workspace.root, kind: .repro, console: reporter)
        let summary = try tracked.track(options) { try workspace.repro($0, observer: $1) }
        reporter.finish(summary, dryRun: false)
        tracked.exportToMLflow()
        if !summary.succeeded { throw ExitCode(1) }
    }
}
