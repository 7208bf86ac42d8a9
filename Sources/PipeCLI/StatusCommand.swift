import ArgumentParser
import Foundation
import PipelineEngine
import RemoteSync

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Say which stages are stale and why, without running anything.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "Stages to check (with their upstream stages); all when none are given.")
    var stages: [String] = []

    @Flag(help: "Print the status as JSON.")
    var json = false

    @Flag(help: "Exit with status 1 when any stage is stale (for CI).")
    var check = false

    @Option(
        name: .customLong("remote"),
        help: ArgumentHelp(
            "Compare the cache with a remote instead: per stage and output, in sync, missing on the remote or "
                + "missing locally. `--remote` alone uses the default remote.", valueName: "name"))
    var remote: String?

    /// What `--remote` given without a name becomes (see `PipeCommand.expandingBareRemote`).
    static let defaultRemoteMarker = "@default"

    func run() throws {
        if let remote {
            try runRemote(remote == Self.defaultRemoteMarker ? nil : remote)
            return
        }
        let statuses = try workspaceOptions.workspace().status(targets: stages)
        let stale = statuses.filter { $0.reason.isStale }
        if json {
            let items = statuses.map {
                StatusJSON(
                    stage: $0.stage, stale: $0.reason.isStale, reason: $0.reason.code, detail: $0.reason.description)
            }
            Console.output(try JSONText.encode(items))
        } else if stale.isEmpty {
            Console.output("Pipeline is up to date (\(statuses.count) stage\(statuses.count == 1 ? "" : "s")).")
        } else {
            for status in statuses { Console.output("\(status.stage): \(status.reason)") }
            Console.output("\(stale.count) of \(statuses.count) stages stale.")
        }
        if check && !stale.isEmpty { throw ExitCode(1) }
    }
}

extension StatusCommand {
    private func runRemote(_ name: String?) throws {
        let statuses = try RemoteSync(workspace: try workspaceOptions.workspace()).status(
            SyncOptions(targets: stages, remoteName: name))
        let outOfSync = statuses.filter { $0.state != .inSync }
        if json {
            Console.output(try JSONText.encode(statuses))
        } else {
            for status in statuses { Console.output("\(status.stage): \(status.path): \(status.state.rawValue)") }
            Console.output(
                outOfSync.isEmpty
                    ? "Cache and remote are in sync (\(statuses.count) output\(statuses.count == 1 ? "" : "s"))."
                    : "\(outOfSync.count) of \(statuses.count) outputs not in sync.")
        }
        if check && !outOfSync.isEmpty { throw ExitCode(1) }
    }
}

struct StatusJSON: Encodable {
    var stage: String
    var stale: Bool
    var reason: String
    var detail: String
}

enum JSONText {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
