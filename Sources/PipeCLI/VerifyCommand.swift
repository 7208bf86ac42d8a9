import ArgumentParser
import Foundation
import PipelineEngine

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Rebuild every stage from scratch and prove the outputs match pipeline.lock.",
        discussion: """
            Fails (exit 1) when pipeline.lock does not describe the current inputs, or when a rebuilt output \
            differs from the hash the lock records, naming the output. The run-cache is not used and the lock \
            is not rewritten; a differing output is put back as the lock has it.
            """)

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "Stages to verify (with their upstream stages); all when none are given.")
    var stages: [String] = []

    @Option(name: .shortAndLong, help: "Stages run at once (default: the number of cores).")
    var jobs: Int?

    @Flag(help: "Print the results as JSON.")
    var json = false

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let workspace = try workspaceOptions.workspace()
        var options = ReproOptions()
        options.targets = stages
        if let jobs { options.jobs = jobs }
        options.commandLine = (["pipe"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        options.exitOnInterrupt = true
        let reporter = ConsoleReporter(workspace: workspace.root, json: json)
        let tracked = try TrackedRun(workspace: workspace.root, kind: .verify, console: reporter)
        let summary = try tracked.track(options) { try workspace.verify($0, observer: $1) }
        reporter.finish(summary, dryRun: false)
        guard summary.succeeded else { throw ExitCode(1) }
        if !json { Console.output("Verified: every output matches pipeline.lock.") }
    }
}
