import ArgumentParser
import ContentStore
import Foundation
import RemoteSync

struct GCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove cache objects that pipeline.lock (or any commit's) does not reference.",
        discussion: "Never while a repro holds the workspace. On a remote (-r NAME) only with --force.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Flag(name: [.customShort("w"), .long], help: "Keep what the workspace's pipeline.lock names (the default).")
    var workspace = false

    @Flag(name: [.customShort("a"), .long], help: "Keep what pipeline.lock names at any commit of any branch or tag.")
    var allCommits = false

    @Flag(help: "Also remove run-cache entries that no kept lock's stage signature names.")
    var runCache = false

    @Flag(help: "Print what would be removed; remove nothing.")
    var dry = false

    @Option(name: [.customShort("r"), .customLong("remote")], help: "Collect on this remote instead of .cache/.")
    var remote: String?

    @Flag(name: [.customShort("f"), .long], help: "Required to remove anything from a remote.")
    var force = false

    func validate() throws {
        if workspace && allCommits { throw ValidationError("give --workspace or --all-commits, not both") }
        if remote != nil && !force && !dry {
            throw ValidationError("gc on a remote removes objects other workspaces may need: add --force (or --dry)")
        }
    }

    func run() throws {
        var options = GCOptions()
        options.allCommits = allCommits
        options.runCache = runCache
        options.dryRun = dry
        options.remoteName = remote
        let summary = try RemoteSync(workspace: try workspaceOptions.workspace()).gc(options)
        let verb = dry ? "would remove" : "removed"
        for object in summary.removedObjects { Console.output("\(verb) \(object)") }
        for entry in summary.removedRunCacheEntries { Console.output("\(verb) run-cache entry \(entry)") }
        var line = "\(verb) \(summary.removedObjects.count) objects"
        if remote == nil { line += " (\(formatBytes(summary.removedBytes)))" }
        if runCache { line += " and \(summary.removedRunCacheEntries.count) run-cache entries" }
        Console.output(line + ", kept \(summary.keptObjects).")
    }
}
