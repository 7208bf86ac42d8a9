import Foundation
import Tracking

/// Renders `runs list` as a table, JSON, CSV or Markdown.
///
/// Columns: `--columns` exactly; `--all`, CSV and Markdown every column (run facts, differing params, every metric
/// with headlines first, structured values); the table without either fits `width` like `dvc exp show`, ending
/// with a line that counts the columns left out.
struct RunListFormatter {
    var format: RunListFormat
    /// Explicit `--columns`; nil chooses them as above.
    var columns: [RunField]?
    var cells = Cells()
    /// The table's width in characters; nil for no limit (every column).
    var width: Int? = nil

    /// The run facts every listing starts with.
    static let factColumns: [RunField] = [.id, .start, .duration, .status, .commit]

    func render(_ listing: RunListing) -> String {
        let fields = columns ?? allColumns(listing)
        switch format {
        case .json:
            return (try? RunJSON.encode(listing.runs.map(JSONRun.init))) ?? "[]\n"
        case .csv:
            let rows = listing.runs.map { summary in
                fields.map { cells.cell($0, summary, now: listing.now, full: true) }
            }
            return ([fields.map(\.description)] + rows).map { $0.map(csvEscape).joined(separator: ",") }
                .joined(separator: "\n") + "\n"
        case .md:
            let header = fields.map(\.description)
            var lines = [
                "| " + header.map(markdownEscape).joined(separator: " | ") + " |",
                "|" + fields.map { isNumeric($0) ? " ---: |" : " --- |" }.joined(),
            ]
            for summary in listing.runs {
                lines.append(
                    "| "
                        + fields.map { markdownEscape(cells.cell($0, summary, now: listing.now)) }
                        .joined(separator: " | ") + " |")
            }
            return lines.joined(separator: "\n") + "\n"
        case .table:
            if listing.runs.isEmpty { return "no runs\n" }
            guard columns == nil, let width else { return table(fields, listing) }
            let shown = fittedColumns(listing, width: width)
            let hidden = fields.count - shown.count
            guard hidden > 0 else { return table(shown, listing) }
            return table(shown, listing) + "… \(hidden) more column\(hidden == 1 ? "" : "s") (--columns K,..., --all)\n"
        }
    }

    private func table(_ fields: [RunField], _ listing: RunListing) -> String {
        let rows = listing.runs.map { summary in fields.map { cells.cell($0, summary, now: listing.now) } }
        let right = Set(fields.indices.filter { isNumeric(fields[$0]) })
        return TextTable(header: fields.map(\.description), rows: rows, rightAligned: right).render()
    }

    /// Every column: the run facts, the differing params, the metrics (headlines first, then the rest by key with
    /// list elements and per-class or confusion cells of older stores last), then the structured values.
    func allColumns(_ listing: RunListing) -> [RunField] {
        Self.factColumns + listing.differingParamKeys.map(RunField.param)
            + orderedMetricKeys(listing).map(RunField.metric)
            + listing.structuredMetricKeys.map(RunField.metric)
    }

    func orderedMetricKeys(_ listing: RunListing) -> [String] {
        let present = Set(listing.metricKeys)
        let headlines = listing.headlineMetricKeys.filter(present.contains)
        let rest = listing.metricKeys.filter { !headlines.contains($0) }
        return headlines + rest.filter { !Self.isCellKey($0) } + rest.filter(Self.isCellKey)
    }

    /// The run facts the fitted table always shows; the duration only when there is room after the params.
    static let alwaysShown: [RunField] = [.id, .start, .status, .commit]

    /// The columns that fit `width`: id, start, status and commit always; then, while they fit, the headline
    /// metrics, the differing params, the duration and the other metrics, in that order of priority, shown as
    /// facts, params, headlines, other metrics.
    func fittedColumns(_ listing: RunListing, width: Int) -> [RunField] {
        var used = -2
        var chosen = Set<RunField>()
        func take(_ field: RunField, always: Bool = false) {
            let cellWidth = listing.runs.map { cells.cell(field, $0, now: listing.now).count }.max() ?? 0
            let needed = max(field.description.count, cellWidth) + 2
            guard always || used + needed <= width else { return }
            used += needed
            chosen.insert(field)
        }
        let metricKeys = orderedMetricKeys(listing)
        let headlines = Set(listing.headlineMetricKeys)
        for field in Self.alwaysShown { take(field, always: true) }
        for key in metricKeys where headlines.contains(key) { take(.metric(key)) }
        for key in listing.differingParamKeys { take(.param(key)) }
        take(.duration)
        for key in metricKeys where !headlines.contains(key) { take(.metric(key)) }
        return allColumns(listing).filter(chosen.contains)
    }

    /// `train.epochs.7.loss`, `eval.confusion.0.1`, `eval.per_class.N.f1`: one cell of a list or table, as stores
    /// before structured values held them.
    static func isCellKey(_ key: String) -> Bool {
        let parts = key.split(separator: ".")
        return parts.contains { $0.allSatisfy(\.isNumber) } || parts.dropLast().contains { $0 == "per_class" }
    }

    private func isNumeric(_ field: RunField) -> Bool {
        switch field {
        case .metric, .duration, .pid: return true
        default: return false
        }
    }

    private func csvEscape(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private func markdownEscape(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|")
    }
}

/// The JSON shape of one listed run.
private struct JSONRun: Encodable {
    var id: String
    var shortId: String
    var kind: String
    var status: String
    var start: Date
    var end: Date?
    var durationSeconds: Double?
    var commit: String
    var branch: String?
    var dirty: Bool
    var user: String
    var host: String
    var argv: [String]
    var pipeVersion: String
    var params: [String: String]
    var overriddenParams: [String]
    var metrics: [String: Double]
    /// Matrices and tables, as JSON values.
    var structuredMetrics: [String: JSONValue]

    init(_ summary: RunSummary) {
        let run = summary.run
        id = run.id.rawValue
        shortId = summary.shortID
        kind = run.kind.rawValue
        status = run.status.rawValue
        start = run.startedAt
        end = run.endedAt
        durationSeconds = run.endedAt.map { $0.timeIntervalSince(run.startedAt) }
        commit = run.gitCommit
        branch = run.gitBranch
        dirty = run.gitDirty
        user = run.user
        host = run.host
        argv = run.argv
        pipeVersion = run.pipeVersion
        params = summary.params
        overriddenParams = summary.overriddenParams
        metrics = summary.metrics
        structuredMetrics = summary.structuredMetrics
    }
}
