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
                    "\(cells.time(end, seconds: true))  (\(RunText.duration(end.timeIntervalSince(run.startedAt))))"
                ))
        } else if run.status == .running {
            facts.append(("running for", RunText.duration(run.duration(now: now))))
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
                    stage.stage, stage.outcome.rawValue, RunText.duration(stage.duration),
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

        out += metrics(detail.metrics)
        out += structured(detail.summary.structuredMetrics)

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

    /// Values logged once as one table; each metric logged at several steps as a history: its step range and
    /// count, first → last, min and max.
    private func metrics(_ metrics: [MetricHistory]) -> String {
        var out = "\nmetrics\n"
        let single = metrics.filter { $0.count == 1 }
        let histories = metrics.filter { $0.count > 1 }
        if metrics.isEmpty { out += "  none recorded\n" }
        if !single.isEmpty {
            out += TextTable(
                header: ["key", "stage", "value"], rows: single.map { [$0.key, $0.stage, RunText.number($0.last)] },
                rightAligned: [2], indent: "  "
            ).render()
        }
        guard !histories.isEmpty else { return out }
        out += "\nhistories\n"
        let rows = histories.map { metric -> [String] in
            let steps = metric.steps.map(\.step)
            let range = "\(steps.min() ?? 0)…\(steps.max() ?? 0)"
            return [
                metric.key, metric.stage, String(metric.count), range,
                "\(RunText.number(metric.first)) → \(RunText.number(metric.last))", RunText.number(metric.min),
                RunText.number(metric.max),
            ]
        }
        out += TextTable(
            header: ["key", "stage", "steps", "range", "first → last", "min", "max"], rows: rows,
            rightAligned: [2, 4, 5, 6], indent: "  "
        ).render()
        return out
    }

    /// Matrices as grids (row and column numbers), tables with their row and column names, anything else as JSON.
    private func structured(_ values: [String: JSONValue]) -> String {
        guard !values.isEmpty else { return "" }
        var out = ""
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            out += "\n\(key)  (\(Cells.shape(value)))\n"
            out += grid(value) ?? "  \(value.compactText)\n"
        }
        return out
    }

    private func grid(_ value: JSONValue) -> String? {
        func text(_ cell: JSONValue?) -> String {
            cell.map { $0.scalarNumber.map(RunText.number) ?? $0.compactText } ?? "-"
        }
        switch value {
        case .array(let rows):
            let cells = rows.map { row -> [JSONValue]? in
                if case .array(let cells) = row { return cells }
                return nil
            }
            guard let width = cells.first??.count, cells.allSatisfy({ $0?.count == width }) else { return nil }
            let body = cells.enumerated().map { index, row in [String(index)] + (row ?? []).map { text($0) } }
            return TextTable(
                header: [""] + (0..<width).map(String.init), rows: body, rightAligned: Set(0...width), indent: "  "
            ).render()
        case .object(let rows):
            var columns: [String] = []
            for case .object(let cells) in rows.values { columns += cells.keys.filter { !columns.contains($0) } }
            columns.sort()
            let body = rows.keys.sorted().map { name -> [String] in
                guard case .object(let cells)? = rows[name] else { return [name] + columns.map { _ in "-" } }
                return [name] + columns.map { text(cells[$0]) }
            }
            return TextTable(
                header: [""] + columns, rows: body, rightAligned: Set(1...max(1, columns.count)), indent: "  "
            ).render()
        default:
            return nil
        }
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
