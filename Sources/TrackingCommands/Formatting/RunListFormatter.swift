import Foundation
import Tracking

/// Renders `runs list` as a table, JSON, CSV or Markdown.
struct RunListFormatter {
    var format: RunListFormat
    /// Explicit `--columns`; nil shows id, start, duration, status, commit, differing params, all metrics.
    var columns: [RunField]?
    var cells = Cells()

    func render(_ listing: RunListing) -> String {
        let fields = columns ?? defaultColumns(listing)
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
            let rows = listing.runs.map { summary in fields.map { cells.cell($0, summary, now: listing.now) } }
            let right = Set(fields.indices.filter { isNumeric(fields[$0]) })
            return TextTable(header: fields.map(\.description), rows: rows, rightAligned: right).render()
        }
    }

    func defaultColumns(_ listing: RunListing) -> [RunField] {
        [.id, .start, .duration, .status, .commit]
            + listing.differingParamKeys.map(RunField.param)
            + listing.metricKeys.map(RunField.metric)
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
    }
}
