import Foundation
import GRDB

/// SQL for `--where` and `--sort`, over the `runs` table aliased `r`.
///
/// Params and metrics are matched through `r.id IN (SELECT runId …)` subqueries so SQLite can drive them from
/// the `(key, value)` indexes; sorting by a metric reads `latest_metrics` by its primary key.
struct SQLFragment {
    var sql: String
    var arguments: StatementArguments

    init(_ sql: String, _ arguments: StatementArguments = []) {
        self.sql = sql
        self.arguments = arguments
    }
}

extension FilterExpression {
    /// A SQL condition (`1` for no comparisons) and its arguments. `now` is the end of runs still running.
    func sql(now: Date) -> SQLFragment {
        guard !comparisons.isEmpty else { return SQLFragment("1") }
        var parts: [String] = []
        var arguments = StatementArguments()
        for comparison in comparisons {
            let fragment = comparison.sql(now: now)
            parts.append("(\(fragment.sql))")
            arguments += fragment.arguments
        }
        return SQLFragment(parts.joined(separator: " AND "), arguments)
    }
}

extension FilterExpression.Comparison {
    func sql(now: Date) -> SQLFragment {
        let op = self.op.rawValue
        switch field {
        case .id:
            return SQLFragment("r.id \(op) ?", [value.text.uppercased()])
        case .kind:
            return SQLFragment("r.kind \(op) ?", [value.text])
        case .status:
            return SQLFragment("r.status \(op) ?", [value.text])
        case .user:
            return SQLFragment("r.user \(op) ?", [value.text])
        case .host:
            return SQLFragment("r.host \(op) ?", [value.text])
        case .version:
            return SQLFragment("r.pipeVersion \(op) ?", [value.text])
        case .sweep:
            // A run outside every sweep has the empty name, so `sweep != x` keeps plain repros.
            return SQLFragment(
                "coalesce((SELECT sweepName FROM run_sweeps WHERE runId = r.id), '') \(op) ?", [value.text])
        case .branch:
            return SQLFragment("coalesce(r.gitBranch, '') \(op) ?", [value.text])
        case .commit:
            // A short commit matches by prefix, as in git.
            let text = value.text.lowercased()
            if self.op == .equal || self.op == .notEqual, text.count < 40 {
                return SQLFragment("substr(r.gitCommit, 1, \(text.count)) \(op) ?", [text])
            }
            return SQLFragment("r.gitCommit \(op) ?", [text])
        case .dirty:
            return SQLFragment("r.gitDirty \(op) ?", [FilterExpression.boolean(value.text) == true ? 1 : 0])
        case .pid:
            return SQLFragment("r.pid \(op) ?", [strictNumber(value.text) ?? 0])
        case .start:
            return SQLFragment("r.startedAt \(op) ?", [FilterExpression.time(value) ?? 0])
        case .end:
            return SQLFragment("r.endedAt \(op) ?", [FilterExpression.time(value) ?? 0])
        case .duration:
            return SQLFragment(
                "(coalesce(r.endedAt, ?) - r.startedAt) \(op) ?",
                [now.timeIntervalSince1970, strictNumber(value.text) ?? 0])
        case .metric(let key):
            return SQLFragment(
                "r.id IN (SELECT runId FROM latest_metrics WHERE key = ? AND value \(op) ?)",
                [key, strictNumber(value.text) ?? 0])
        case .param(let key):
            switch value {
            case .number(let number, _):
                // Numeric when the stored value is a number too, text otherwise.
                // Numeric against numeric values, text against the rest; two index ranges of (key, number, value).
                return SQLFragment(
                    """
                    r.id IN (SELECT runId FROM params WHERE key = ? AND number \(op) ? \
                    UNION ALL SELECT runId FROM params WHERE key = ? AND number IS NULL AND value \(op) ?)
                    """, [key, number, key, value.text])
            case .text(let text):
                return SQLFragment("r.id IN (SELECT runId FROM params WHERE key = ? AND value \(op) ?)", [key, text])
            }
        }
    }
}

extension SortKey {
    /// An ORDER BY term; runs without the value sort last in either direction.
    func sql(now: Date) -> SQLFragment {
        let direction = descending ? "DESC" : "ASC"
        let expression: SQLFragment
        switch field {
        case .id, .start: expression = SQLFragment("r.id")
        case .kind: expression = SQLFragment("r.kind")
        case .status: expression = SQLFragment("r.status")
        case .end: expression = SQLFragment("r.endedAt")
        case .duration: expression = SQLFragment("(coalesce(r.endedAt, ?) - r.startedAt)", [now.timeIntervalSince1970])
        case .commit: expression = SQLFragment("r.gitCommit")
        case .branch: expression = SQLFragment("r.gitBranch")
        case .dirty: expression = SQLFragment("r.gitDirty")
        case .user: expression = SQLFragment("r.user")
        case .host: expression = SQLFragment("r.host")
        case .pid: expression = SQLFragment("r.pid")
        case .version: expression = SQLFragment("r.pipeVersion")
        case .sweep: expression = SQLFragment("(SELECT sweepName FROM run_sweeps WHERE runId = r.id)")
        case .metric(let key):
            expression = SQLFragment("(SELECT value FROM latest_metrics WHERE runId = r.id AND key = ?)", [key])
        case .param(let key):
            expression = SQLFragment(
                "(SELECT coalesce(number, value) FROM params WHERE runId = r.id AND key = ?)", [key])
        }
        return SQLFragment("\(expression.sql) \(direction) NULLS LAST", expression.arguments)
    }
}
