import ArgumentParser
import Foundation
import PipelineEngine
import Tracking

/// `pipe doctor [--deep] [--fix]`: checks a workspace, one line per problem, and repairs what it can.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check a workspace: the lock against the files, the run store, stray temporaries, .cache/children.",
        discussion: """
            One line per problem (AREA: what and where), then a summary. Exit 0 when nothing is wrong, or with \
            --fix once everything found is fixed; 1 when problems remain. A stale stage is left to `pipe repro`.
            """)

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Flag(help: "Also re-hash every cache object, and run SQLite's full integrity check (reads everything).")
    var deep = false

    @Flag(
        help: """
            Repair what can be repaired: remove stray temporaries, stop what .cache/children names, quarantine \
            corrupt objects, checkpoint the WAL, mark dead runs interrupted, move a damaged store aside.
            """)
    var fix = false

    func run() throws {
        let workspace = try workspaceOptions.workspace()
        let findings = try WorkspaceDoctor(workspace: workspace, deep: deep).run(fix: fix)
        let storeFindings = RunStore.doctor(workspace: workspace.root, deep: deep, fix: fix)
        let lines =
            findings.map { Line(area: $0.area, text: $0.description, fixed: $0.fixed, failure: $0.fixFailure) }
            + storeFindings.map { Line(area: "runs", text: $0.description, fixed: $0.fixed, failure: $0.fixFailure) }
        for line in lines { Console.output(line.rendered) }
        let left = lines.filter { !$0.fixed }.count
        Console.output(summary(found: lines.count, left: left))
        if left > 0 { throw ExitCode(1) }
    }

    private func summary(found: Int, left: Int) -> String {
        guard found > 0 else {
            return "No problems found (lock, run store, temporaries, .cache/children"
                + (deep ? ", every cache object)." : ").")
        }
        var text = "\(found) problem\(found == 1 ? "" : "s") found"
        if fix { text += ", \(found - left) fixed" }
        if left > 0, fix { text += ", \(left) left" }
        return text + "."
    }

    private struct Line {
        var area: String
        var text: String
        var fixed: Bool
        var failure: String?

        var rendered: String {
            "\(area): \(text)" + (fixed ? " [fixed]" : "") + (failure.map { " [not fixed: \($0)]" } ?? "")
        }
    }
}
