import Foundation
import Tracking

/// Renders `runs diff` as text: the two runs, then params and metrics side by side with deltas.
struct RunDiffFormatter {
    var cells = Cells()

    func render(_ diff: RunDiff) -> String {
        var out = TextTable(header: ["", "", "", "", ""], rows: [header("A", diff.a), header("B", diff.b)]).render()
            .split(separator: "\n", omittingEmptySubsequences: false).dropFirst().joined(separator: "\n")
        out += section("params", diff.params, numericCells: false)
        out += section("metrics", diff.metrics, numericCells: true)
        return out
    }

    private func header(_ label: String, _ summary: RunSummary) -> [String] {
        let run = summary.run
        let commit = run.gitCommit.isEmpty ? "no commit" : "commit " + run.git.shortDescription
        return [
            label, summary.shortID, cells.time(run.startedAt), run.status.rawValue,
            commit + (run.gitBranch.map { " (\($0))" } ?? ""),
        ]
    }

    private func section(_ title: String, _ rows: [RunDiff.Row], numericCells: Bool) -> String {
        guard !rows.isEmpty else { return "\n\(title): no differences\n" }
        func show(_ text: String?) -> String {
            guard let text else { return "-" }
            if numericCells, let number = Double(text) { return RunText.number(number) }
            return text
        }
        let table = rows.map { row in [row.key, show(row.a), show(row.b), row.delta.map(RunText.delta) ?? ""] }
        return "\n"
            + TextTable(
                header: [title, "A", "B", "delta"], rows: table,
                rightAligned: numericCells ? [1, 2, 3] : [3]
            ).render()
    }
}
