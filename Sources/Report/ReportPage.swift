import Foundation
import Tracking

/// Builds the report's HTML from `ReportContent`: one self-contained page (inline CSS, JavaScript and SVG) whose
/// tables and charts are all in the markup, so it reads the same with JavaScript off; the script only adds sorting,
/// hiding runs, hover read-outs and the diff picker.
public struct ReportPage {
    public var content: ReportContent

    public init(content: ReportContent) { self.content = content }

    private var runs: [RunSummary] { content.listing.runs }

    /// The whole page.
    public func html() -> String {
        var out = HTMLBuffer(capacity: 1 << 20)
        out.append(
            """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; \
            script-src 'unsafe-inline'; img-src data:">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <link rel="icon" href="data:,">
            <title>pipe report
            """)
        out.text(" — \(runs.count) run\(runs.count == 1 ? "" : "s")")
        out.append("</title>\n<style>\(ReportStyle.css)\(ReportStyle.runClassRules)</style>\n</head><body>\n")
        out.append(header())
        out.append(runsTable())
        out.append(curves())
        out.append(evaluations())
        out.append(diffPanel())
        out.append(stageGraph())
        out.append("<script type=\"application/json\" id=\"report-data\">")
        out.append(HTMLText.scriptJSON(pageData()))
        out.append("</script>\n<script>\(ReportStyle.script)</script>\n</body></html>\n")
        return out.markup
    }

    // MARK: Header

    private func header() -> String {
        let facts = content.header
        var out = HTMLBuffer()
        out.append("<header><h1>pipe report</h1><dl class=\"facts\"><dt>workspace</dt><dd>")
        out.text(facts.workspace)
        out.append("</dd><dt>git commit</dt><dd>")
        if facts.git.commit.isEmpty {
            out.text("none (not a git repository)")
        } else {
            out.append("<code>")
            out.text(facts.git.commit)
            out.append("</code>")
            if let branch = facts.git.branch { out.text(" on \(branch)") }
            out.text(facts.git.isDirty ? " · dirty (uncommitted changes)" : " · clean")
        }
        out.append("</dd><dt>generated</dt><dd>")
        out.text(Self.isoTime(facts.generatedAt))
        out.append("</dd><dt>pipe version</dt><dd>")
        out.text(facts.pipeVersion)
        out.append("</dd><dt>runs</dt><dd>")
        out.text("\(runs.count): \(facts.selection)")
        out.append(
            "</dd></dl><nav aria-label=\"sections\"><ul><li><a href=\"#runs\">runs</a></li>"
                + "<li><a href=\"#curves\">learning curves</a></li><li><a href=\"#evaluation\">evaluation</a></li>"
                + "<li><a href=\"#diff\">diff</a></li><li><a href=\"#stages\">stages</a></li></ul></nav></header>\n")
        return out.markup
    }

    // MARK: Runs table

    /// The metric keys the runs table shows: `--metrics`, or every latest metric except evaluation structures and
    /// array elements (`train.epochs.7.loss`), which the evaluation panels and the curves show instead.
    var tableMetricKeys: [String] {
        if let filter = content.metricFilter { return filter }
        return content.listing.metricKeys.filter { !EvaluationMetrics.isEvaluationKey($0) && !Self.isArrayElement($0) }
    }

    /// For each shown metric, the runs (by index) holding its best value.
    func bestRuns() -> [String: Set<Int>] {
        var best: [String: Set<Int>] = [:]
        for key in tableMetricKeys {
            let values = runs.compactMap { $0.metrics[key] }
            guard let top = MetricDirection(key: key).best(values) else { continue }
            best[key] = Set(runs.indices.filter { runs[$0].metrics[key] == top })
        }
        return best
    }

    private func runsTable() -> String {
        let paramKeys = content.listing.differingParamKeys
        let metricKeys = tableMetricKeys
        let best = bestRuns()
        var out = HTMLBuffer(capacity: 4096 + runs.count * (metricKeys.count + paramKeys.count + 5) * 64)
        out.append(
            "<section id=\"runs\" aria-labelledby=\"runs-h\"><h2 id=\"runs-h\">Runs</h2>"
                + "<p class=\"note\">The params that differ between these runs and each metric's last value. "
                + "★ marks the best value (lowest for names with loss or error, else highest). "
                + "<span class=\"noprint\">Sort by a column with its header button.</span></p>")
        let hidden = content.listing.metricKeys.count - metricKeys.filter(content.listing.metricKeys.contains).count
        if content.metricFilter == nil, hidden > 0 {
            out.append("<p class=\"note\">")
            out.text(
                "\(hidden) metric key\(hidden == 1 ? "" : "s") not in the table (evaluation matrices, per-class "
                    + "values, list elements): see the evaluation panels, or name them with --metrics.")
            out.append("</p>")
        }
        out.append(
            "<div class=\"scroll\"><table class=\"sortable runs\"><caption class=\"sr\">Selected runs</caption><thead><tr>"
        )
        func head(_ title: String, numeric: Bool, kind: String) {
            out.append("<th scope=\"col\" class=\"\(numeric ? "num " : "")\(kind)\"><button type=\"button\">")
            out.text(title)
            out.append("</button></th>")
        }
        head("id", numeric: false, kind: "f")
        head("start", numeric: false, kind: "f")
        head("duration", numeric: true, kind: "f")
        head("status", numeric: false, kind: "f")
        head("commit", numeric: false, kind: "f")
        for key in paramKeys {
            head(key, numeric: runs.allSatisfy { $0.params[key].map(Self.isNumber) ?? true }, kind: "p")
        }
        for key in metricKeys { head(key, numeric: true, kind: "m") }
        out.append("</tr></thead><tbody>")
        for (index, summary) in runs.enumerated() {
            let run = summary.run
            out.append(
                "<tr data-run=\"\(index)\" data-id=\"\(HTMLText.escape(run.id.rawValue))\"><th scope=\"row\" data-v=\"")
            out.text(run.id.rawValue)
            out.append("\"><code title=\"")
            out.text(run.id.rawValue)
            out.append("\">")
            out.text(summary.shortID)
            out.append("</code></th><td data-v=\"\(run.startedAt.timeIntervalSince1970)\">")
            out.text(Self.minuteTime(run.startedAt))
            let seconds = run.duration(now: content.listing.now)
            let known = run.endedAt != nil || run.status == .running
            out.append("</td><td class=\"num\" data-v=\"\(known ? String(seconds) : "")\">")
            out.text(known ? RunText.duration(seconds) : "-")
            out.append("</td><td data-v=\"\(run.status.rawValue)\">\(run.status.rawValue)</td><td data-v=\"")
            out.text(run.gitCommit)
            out.append("\"><code>")
            out.text(run.gitCommit.isEmpty ? "-" : run.git.shortDescription)
            out.append("</code></td>")
            for key in paramKeys {
                let value = summary.params[key]
                out.append("<td data-v=\"")
                out.text(value ?? "")
                out.append("\">")
                out.text(value ?? "-")
                out.append("</td>")
            }
            for key in metricKeys {
                guard let value = summary.metrics[key] else {
                    out.append("<td class=\"num\" data-v=\"\">-</td>")
                    continue
                }
                let exact = RunStore.formatNumber(value)
                let isBest = best[key]?.contains(index) == true
                out.append("<td class=\"num\(isBest ? " best" : "")\" data-v=\"\(exact)\" title=\"\(exact)\">")
                out.text(RunText.number(value))
                if isBest { out.append("<span class=\"sr\"> (best)</span>") }
                out.append("</td>")
            }
            out.append("</tr>\n")
        }
        out.append("</tbody></table></div></section>\n")
        return out.markup
    }

    // MARK: Learning curves

    /// Per metric with a history (two or more logged values in some run), one line per run, decimated for drawing.
    func charts() -> [LineChart] {
        var byKey: [String: [ChartLine]] = [:]
        for (index, summary) in runs.enumerated() {
            for (key, series) in content.histories[summary.run.id] ?? [:] {
                if let filter = content.metricFilter, !filter.contains(key) { continue }
                if EvaluationMetrics.isEvaluationKey(key) { continue }
                let curve = Self.curvePoints(series)
                guard curve.steps.count >= 2 else { continue }
                byKey[key, default: []].append(
                    ChartLine(
                        runIndex: index, label: summary.shortID, steps: curve.steps, values: curve.values,
                        loggedPoints: curve.steps.count))
            }
        }
        return byKey.keys.sorted().enumerated().compactMap { number, key in
            guard let lines = byKey[key] else { return nil }
            let budget = Decimation.pointsPerLine(lines: lines.count)
            let drawn = lines.map { line -> ChartLine in
                let kept = Decimation.indices(of: line.values, maxPoints: budget)
                guard kept.count < line.values.count else { return line }
                var copy = line
                copy.steps = kept.map { line.steps[$0] }
                copy.values = kept.map { line.values[$0] }
                return copy
            }
            return LineChart(key: key, id: "chart\(number)", lines: drawn, maxPointsPerLine: budget)
        }
    }

    /// A series as a curve: a final value a metrics file logs at step 0 after the per-step values (the summary
    /// of a training, such as its best validation loss) is not a point of the curve and is left out.
    static func curvePoints(_ series: MetricSeries) -> (steps: [Int64], values: [Double]) {
        var latest = -Double.infinity
        for (step, timestamp) in zip(series.steps, series.timestamps) where step > 0 { latest = max(latest, timestamp) }
        let isSummary = { (index: Int) in series.steps[index] == 0 && series.timestamps[index] >= latest }
        guard latest > -Double.infinity, series.steps.indices.contains(where: isSummary) else {
            return (series.steps, series.values)
        }
        let kept = series.steps.indices.filter { !isSummary($0) }
        return (kept.map { series.steps[$0] }, kept.map { series.values[$0] })
    }

    private func curves() -> String {
        let charts = charts()
        return section(id: "curves", headingID: "curves-h", title: "Learning curves") { out in
            guard !charts.isEmpty else {
                out.append("<p>No metric of these runs has a history (two or more logged steps).</p>")
                return
            }
            out.append(
                "<p class=\"note\">One chart per metric with a history, one line per run. "
                    + "<span class=\"noprint\">Point at a line (or focus a chart and use the arrow keys) to read run, "
                    + "step and value; a legend button hides or shows its run in every chart.</span></p>"
                    + "<div class=\"charts\">")
            for chart in charts {
                let direction = MetricDirection(key: chart.key)
                out.append(
                    "<figure class=\"chart\" aria-labelledby=\"\(chart.id)-h\"><figcaption><h3 id=\"\(chart.id)-h\">")
                out.text(chart.key)
                out.append("</h3><span class=\"note\">")
                out.text("\(direction == .lowerIsBetter ? "lower" : "higher") is better")
                if chart.decimated {
                    let most = chart.lines.map(\.loggedPoints).max() ?? 0
                    out.append("</span> <span class=\"note decimated\">")
                    out.text(
                        " · decimated for drawing: at most \(chart.maxPointsPerLine) of \(most) points per line "
                            + "(each stretch's lowest and highest kept)")
                }
                out.append("</span></figcaption>")
                out.append(chart.svg())
                out.append(
                    "<div class=\"tip\" role=\"status\" aria-live=\"polite\"></div><ul class=\"legend\" aria-label=\"")
                out.text("runs in \(chart.key)")
                out.append("\">")
                for line in chart.lines {
                    let runClass = line.runIndex % ReportStyle.runClasses
                    out.append(
                        "<li><button type=\"button\" class=\"c\(runClass)\" data-run=\"\(line.runIndex)\" aria-pressed=\"true\">"
                            + "<i class=\"\(runClass >= ReportStyle.palette.count ? "dash" : "")\"></i>")
                    out.text(line.label)
                    out.append("</button></li>")
                }
                out.append("</ul></figure>\n")
            }
            out.append("</div>")
        }
    }

    // MARK: Evaluation

    private func evaluations() -> String {
        section(id: "evaluation", headingID: "eval-h", title: "Evaluation") { out in
            var any = false
            for (index, summary) in runs.enumerated() {
                for (number, evaluation) in EvaluationMetrics.find(in: summary).enumerated() {
                    if !any {
                        out.append("<div class=\"evals\">")
                        any = true
                    }
                    out.append(EvaluationPanel(evaluation: evaluation, run: summary, id: "ev\(index)-\(number)").html())
                }
            }
            if any {
                out.append("</div>")
            } else {
                out.append(
                    "<p>No run here logged an evaluation (metric keys <code>….confusion.I.J</code> or "
                        + "<code>….per_class.CLASS.FIELD</code>).</p>")
            }
            out.append("")
        }
    }

    // MARK: Diff

    private func diffPanel() -> String {
        section(id: "diff", headingID: "diff-h", title: "Diff") { out in
            guard let diff = content.diff,
                let aIndex = runs.firstIndex(where: { $0.run.id == diff.a.run.id }),
                let bIndex = runs.firstIndex(where: { $0.run.id == diff.b.run.id })
            else {
                out.append("<p>One run only: nothing to compare.</p>")
                return
            }
            out.append(
                "<p class=\"note\">Params and latest metrics that differ between two runs, with deltas (B − A), as "
                    + "<code>pipe runs diff A B</code> prints them. Shown: the two newest runs.</p>"
                    + "<div class=\"diffpick\" role=\"group\" aria-label=\"runs to compare\">")
            for (label, id, selected) in [("A", "diff-a", aIndex), ("B", "diff-b", bIndex)] {
                out.append("<label>\(label) <select id=\"\(id)\">")
                for (index, summary) in runs.enumerated() {
                    out.append("<option value=\"\(index)\"\(index == selected ? " selected" : "")>")
                    out.text(
                        "\(summary.shortID) · \(Self.minuteTime(summary.run.startedAt)) · \(summary.run.status.rawValue)"
                    )
                    out.append("</option>")
                }
                out.append("</select></label>")
            }
            out.append("<label><input type=\"checkbox\" id=\"diff-all\"> every row, not only differences</label></div>")
            out.append("<div id=\"diff-body\" aria-live=\"polite\"><p>")
            out.text(
                "A \(diff.a.shortID) (\(diff.a.run.status.rawValue), \(Self.minuteTime(diff.a.run.startedAt)))  →  "
                    + "B \(diff.b.shortID) (\(diff.b.run.status.rawValue), \(Self.minuteTime(diff.b.run.startedAt)))")
            out.append("</p>")
            out.append(Self.diffTable("params", diff.params, numeric: false))
            out.append(Self.diffTable("metrics", diff.metrics, numeric: true))
            out.append("</div>")
        }
    }

    static func diffTable(_ title: String, _ rows: [RunDiff.Row], numeric: Bool) -> String {
        guard !rows.isEmpty else { return "<div><p>\(title): no differences</p></div>" }
        var out = HTMLBuffer()
        out.append(
            "<div><table class=\"diff\" data-section=\"\(title)\"><thead><tr><th>\(title)</th><th class=\"num\">A</th>"
                + "<th class=\"num\">B</th><th class=\"num\">delta</th></tr></thead><tbody>")
        func show(_ text: String?) -> String {
            guard let text else { return "-" }
            if numeric, let number = Double(text) { return RunText.number(number) }
            return text
        }
        for row in rows {
            out.append("<tr data-key=\"")
            out.text(row.key)
            out.append("\"><td>")
            out.text(row.key)
            out.append("</td><td class=\"num\">")
            out.text(show(row.a))
            out.append("</td><td class=\"num\">")
            out.text(show(row.b))
            out.append("</td><td class=\"num\">")
            out.text(row.delta.map(RunText.delta) ?? "")
            out.append("</td></tr>")
        }
        out.append("</tbody></table></div>")
        return out.markup
    }

    // MARK: Stage graph

    private func stageGraph() -> String {
        section(id: "stages", headingID: "stages-h", title: "Stages") { out in
            guard let newest = newestRun, !content.stages.isEmpty else {
                out.append("<p>No stages to show.</p>")
                return
            }
            out.append("<p class=\"note\">")
            out.text("The pipeline's stage graph with each stage's outcome in the newest run, \(newest.shortID).")
            if let note = content.stagesNote {
                out.append(" ")
                out.text(note)
            }
            out.append("</p>")
            out.append(StageGraphDrawing(stages: content.stages, run: newest.shortID).svg())
            out.append(
                "<table class=\"stages\"><thead><tr><th scope=\"col\">stage</th><th scope=\"col\">outcome</th>"
                    + "<th scope=\"col\" class=\"num\">duration</th><th scope=\"col\">reason</th></tr></thead><tbody>")
            for stage in content.stages {
                out.append("<tr><th scope=\"row\">")
                out.text(stage.name)
                out.append("</th><td>")
                out.text(stage.outcome?.rawValue ?? "not in this run")
                out.append("</td><td class=\"num\">")
                out.text(stage.duration.map(RunText.duration) ?? "-")
                out.append("</td><td>")
                out.text(stage.reason ?? "")
                out.append("</td></tr>")
            }
            out.append("</tbody></table>")
        }
    }

    /// A `<section>` named by its `<h2>`, with what `body` writes inside it.
    private func section(id: String, headingID: String, title: String, _ body: (inout HTMLBuffer) -> Void) -> String {
        var out = HTMLBuffer()
        out.append("<section id=\"\(id)\" aria-labelledby=\"\(headingID)\"><h2 id=\"\(headingID)\">\(title)</h2>")
        body(&out)
        out.append("</section>\n")
        return out.markup
    }

    private var newestRun: RunSummary? { content.newestRun }

    // MARK: Data for the script

    /// Each run's params and every latest metric, for the diff picker and the hover read-outs.
    func pageData() -> String {
        struct PageRun: Encodable {
            var id: String
            var short: String
            var start: String
            var status: String
            var params: [String: String]
            var metrics: [String: Double]
        }
        struct PageData: Encodable { var runs: [PageRun] }
        let data = PageData(
            runs: runs.map {
                PageRun(
                    id: $0.run.id.rawValue, short: $0.shortID, start: Self.minuteTime($0.run.startedAt),
                    status: $0.run.status.rawValue, params: $0.params, metrics: $0.metrics)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(data)).map { String(decoding: $0, as: UTF8.self) } ?? "{\"runs\":[]}"
    }

    // MARK: Helpers

    static func isArrayElement(_ key: String) -> Bool {
        key.split(separator: ".").contains { part in !part.isEmpty && part.allSatisfy(\.isNumber) }
    }

    static func isNumber(_ text: String) -> Bool { Double(text) != nil }

    private static let minuteFormatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter
    }()

    static func minuteTime(_ date: Date) -> String { minuteFormatter.string(from: date) }

    static func isoTime(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
