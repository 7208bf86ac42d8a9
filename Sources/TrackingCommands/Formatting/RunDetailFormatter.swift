import Foundation
import Tracking

/// Renders `runs show` as text.
struct RunDetailFormatter {
    var cells = Cells()

    func render(_ detail: RunDetail, now: Date = Date()) -> String {
        let run = detail.summary.run
        var out = "run \(run.id)  (\(detail.summary.shortID))\n"
        var facts: [(String, String)] = [
            ("kind", run.kind.rawValue),
            ("status", run.status.rawValue),
            ("started", cells.time(run.startedAt, seconds: true)),
        ]
        if let end = run.endedAt {
            facts.append(
                (
                    "ended",
                    "\(cells.time(end, seconds: true))  (\(Cells.duration(end.timeIntervalSince(run.startedAt))))"
                ))
        } else if run.status == .running {
            facts.append(("running for", Cells.duration(run.duration(now: now))))
        }
        let commit = run.gitCommit.isEmpty ? "none" : run.gitCommit + (run.gitDirty ? " (dirty)" : "")
        facts.append(
            ("commit", commit + (run.gitBranch.map { " on \($0)" } ?? (run.gitCommit.isEmpty ? "" : " (detached)"))))
        facts.append(("command", run.argv.joined(separator: " ")))
        facts.append(("by", "\(run.user)@\(run.host), pid \(run.pid), pipe \(run.pipeVersion)"))
        facts.append(("folder", detail.folder))
        out += TextTable(header: ["", ""], rows: facts.map { [$0.0, $0.1] }, indent: "  ").render()
            .split(separator: "\n", omittingEmptySubsequences: false).dropFirst().joined(separator: "\n")

        out += "\nstages\n"
        if detail.stages.isEmpty {
            out += "  none recorded\n"
        } else {
            let rows = detail.stages.map { stage -> [String] in
                [
                    stage.stage, stage.outcome.rawValue, Cells.duration(stage.duration),
                    stage.exitStatus.map { "exit \($0)" } ?? "", String(stage.signature.prefix(12)),
                    stage.reason ?? "", stage.logPath ?? "",
                ]
            }
            out += TextTable(
                header: ["stage", "outcome", "time", "exit", "signature", "reason", "log"],
                rows: rows, rightAligned: [2], indent: "  "
            ).render()
        }

        out += "\nparams\n"
        if detail.params.isEmpty {
            out += "  none recorded\n"
        } else {
            out += TextTable(
                header: ["key", "value", ""],
                rows: detail.params.map { [$0.key, $0.value, $0.overridden ? "(-S override)" : ""] },
                indent: "  "
            ).render()
        }

        out += "\nmetrics\n"
        if detail.metrics.isEmpty {
            out += "  none recorded\n"
        } else {
            let rows = detail.metrics.map { metric -> [String] in
                [
                    metric.key, metric.stage, Cells.number(metric.first), Cells.number(metric.last),
                    Cells.number(metric.min), Cells.number(metric.max), String(metric.count),
                ]
            }
            out += TextTable(
                header: ["key", "stage", "first", "last", "min", "max", "steps"],
                rows: rows, rightAligned: [2, 3, 4, 5, 6], indent: "  "
            ).render()
        }

        if !detail.artifacts.isEmpty {
            out += "\nartifacts\n"
            let rows = detail.artifacts.map {
                [$0.path, $0.stage ?? "", String($0.sha256.prefix(12)), byteCount($0.size)]
            }
            out += TextTable(header: ["path", "stage", "sha256", "size"], rows: rows, rightAligned: [3], indent: "  ")
                .render()
        }
        return out
    }

    private func byteCount(_ size: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(size)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(size) B" : String(format: "%.1f %@", value, units[unit])
    }
}
