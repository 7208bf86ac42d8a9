import Foundation
import GRDB

/// One metric's logged values in one run, in step order: a learning curve.
public struct MetricSeries: Sendable, Equatable {
    public var key: String
    public var steps: [Int64]
    public var values: [Double]
    /// Seconds since 1970, as stored.
    public var timestamps: [Double]

    public init(key: String, steps: [Int64] = [], values: [Double] = [], timestamps: [Double] = []) {
        self.key = key
        self.steps = steps
        self.values = values
        self.timestamps = timestamps
    }
}

extension RunStore {
    /// Every metric of `runs` logged at two or more steps (a curve), by run and key, each series in step order
    /// (then logging order). Metrics logged once are in the listing's latest values, not here.
    ///
    /// One grouped query finds the curves, then one cached statement per curve reads only numbers in the order of
    /// the `metrics_run_key_step` index (whose last column is the rowid, so no sort): `pipe report` draws 200 runs × 20 metrics × 100 steps from this, and decoding
    /// a run id and a key for each of 400,000 rows would cost more than the rest of the page.
    public func histories(of runs: [RunID]) throws -> [RunID: [String: MetricSeries]] {
        try read { db in
            var result: [RunID: [String: MetricSeries]] = [:]
            let points = try db.cachedStatement(
                sql: """
                    SELECT step, value, timestamp FROM metrics WHERE runId = ? AND key = ? ORDER BY step, id
                    """)
            for start in stride(from: 0, to: runs.count, by: 500) {
                let ids = Array(runs[start..<min(start + 500, runs.count)])
                let curves = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT runId, key FROM metrics WHERE runId IN (\(databaseQuestionMarks(count: ids.count)))
                        GROUP BY runId, key HAVING COUNT(*) > 1
                        """,
                    arguments: StatementArguments(ids))
                for curve in curves {
                    let run: String = curve[0]
                    let key: String = curve[1]
                    var series = MetricSeries(key: key)
                    let rows = try Row.fetchCursor(points, arguments: [run, key])
                    while let row = try rows.next() {
                        series.append(step: row[0], value: row[1], timestamp: row[2])
                    }
                    result[RunID(rawValue: run), default: [:]][key] = series
                }
            }
            return result
        }
    }
}

extension MetricSeries {
    fileprivate mutating func append(step: Int64, value: Double, timestamp: Double) {
        steps.append(step)
        values.append(value)
        timestamps.append(timestamp)
    }
}

extension RunListing {
    /// A listing of exactly these runs (as `pipe report RUN...` names them), with the differing param keys and
    /// metric keys computed the way `list` computes them.
    public init(runs: [RunSummary], now: Date) {
        self.init(
            runs: runs, differingParamKeys: RunStore.differingKeys(runs.map(\.params)),
            metricKeys: Set(runs.flatMap(\.metrics.keys)).sorted(), now: now)
    }
}
