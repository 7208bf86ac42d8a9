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
    /// Every logged value of `runs`, by run and key, each series in step order (then logging order).
    ///
    /// One pass over the `metrics_run_key_step` index with raw rows: `pipe report` draws 200 runs × 20 metrics ×
    /// 100 steps from this, so it must not cost a query (or a Codable record) per run.
    public func histories(of runs: [RunID]) throws -> [RunID: [String: MetricSeries]] {
        try read { db in
            var result: [RunID: [String: MetricSeries]] = [:]
            for start in stride(from: 0, to: runs.count, by: 500) {
                let ids = Array(runs[start..<min(start + 500, runs.count)])
                let rows = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT runId, key, step, value, timestamp FROM metrics
                        WHERE runId IN (\(databaseQuestionMarks(count: ids.count)))
                        ORDER BY runId, key, step, timestamp, id
                        """,
                    arguments: StatementArguments(ids))
                var currentRun: String?
                var series: [String: MetricSeries] = [:]
                while let row = try rows.next() {
                    let run: String = row[0]
                    if run != currentRun {
                        if let currentRun { result[RunID(rawValue: currentRun)] = series }
                        currentRun = run
                        series = [:]
                    }
                    let key: String = row[1]
                    series[key, default: MetricSeries(key: key)].append(step: row[2], value: row[3], timestamp: row[4])
                }
                if let currentRun { result[RunID(rawValue: currentRun)] = series }
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
