import ArgumentParser
import ContentStore
import Foundation
import PipelineEngine
import RemoteStorage
import RemoteSync

/// Options push, fetch and pull share.
struct TransferOptions: ParsableArguments {
    @Argument(help: "Stages whose outputs move; all stages of pipeline.lock when none are given.")
    var stages: [String] = []

    @Option(
        name: [.customShort("r"), .customLong("remote")], help: "A remote of pipeline.yaml (default: default_remote).")
    var remote: String?

    @Option(
        name: [.customShort("j"), .long], help: "Transfers at once (default 16 for S3, 2 × cores for a directory).")
    var jobs: Int?

    @Flag(help: "Also move run-cache entries, so a stale stage anyone pushed is restored instead of run.")
    var runCache = false

    @Flag(help: "The outputs that pipeline.lock names at every commit of every branch and tag.")
    var allCommits = false

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    var sync: SyncOptions {
        SyncOptions(targets: stages, remoteName: remote, jobs: jobs, runCache: runCache, allCommits: allCommits)
    }
}

struct PushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push", abstract: "Upload the cache objects of the locked outputs that the remote lacks.")

    @OptionGroup var workspaceOptions: WorkspaceOptions
    @OptionGroup var transfer: TransferOptions

    func run() throws {
        let sync = RemoteSync(workspace: try workspaceOptions.workspace())
        let summary = try sync.push(transfer.sync, progress: SyncProgress(verb: "pushed", emit: Console.progress))
        try report(summary, verb: "pushed", missingWhere: "locally")
    }
}

struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch", abstract: "Download the cache objects of the locked outputs into .cache/ (verified).")

    @OptionGroup var workspaceOptions: WorkspaceOptions
    @OptionGroup var transfer: TransferOptions

    func run() throws {
        let workspace = try workspaceOptions.workspace()
        let sync = RemoteSync(workspace: workspace)
        let summary = try workspace.withWorkspaceLock("pipe fetch") {
            try sync.fetch(transfer.sync, progress: SyncProgress(verb: "fetched", emit: Console.progress))
        }
        try report(summary, verb: "fetched", missingWhere: "on the remote")
    }
}

struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Fetch, then put every locked output in place in the workspace.")

    @OptionGroup var workspaceOptions: WorkspaceOptions
    @OptionGroup var transfer: TransferOptions

    @Flag(name: [.customShort("f"), .long], help: "Replace outputs whose changes are not in the cache.")
    var force = false

    func run() throws {
        let sync = RemoteSync(workspace: try workspaceOptions.workspace())
        let (summary, checkout) = try sync.pull(
            transfer.sync, force: force, progress: SyncProgress(verb: "fetched", emit: Console.progress))
        try report(summary, verb: "fetched", missingWhere: "on the remote")
        for path in checkout.missing { Console.error("warning: \(path) is not in the cache; not checked out") }
        for path in checkout.keptModified {
            Console.error(
                "warning: \(path) differs from pipeline.lock and its content is not in the cache; kept as it is "
                    + "(pipe repro records it, pipe pull --force replaces it)")
        }
        Console.output(
            "checked out \(checkout.restored.count) output\(checkout.restored.count == 1 ? "" : "s"), "
                + "\(checkout.upToDate) already up to date")
        if !checkout.missing.isEmpty || !checkout.keptModified.isEmpty { throw ExitCode(1) }
    }
}

/// One summary line (`pushed 152 objects, 93.9 MB, 148 already there`); exit 1 when something was missing.
private func report(_ summary: TransferSummary, verb: String, missingWhere: String) throws {
    for label in summary.missing { Console.error("warning: \(label): missing \(missingWhere), not \(verb)") }
    var line =
        "\(verb) \(summary.transferredObjects) object\(summary.transferredObjects == 1 ? "" : "s"), "
        + "\(formatBytes(summary.transferredBytes)), \(summary.alreadyThere) already there"
    if summary.runCacheEntries > 0 { line += ", \(summary.runCacheEntries) run-cache entries" }
    Console.output(line + String(format: " (%.2f s)", summary.seconds))
    if !summary.missing.isEmpty {
        Console.error(
            "error: \(summary.missing.count) output\(summary.missing.count == 1 ? "" : "s") missing \(missingWhere)")
        throw ExitCode(1)
    }
}
