import ArgumentParser
import Foundation
import PipelineEngine

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

    func run() throws {
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
