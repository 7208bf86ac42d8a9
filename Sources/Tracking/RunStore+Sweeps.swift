import Foundation
import GRDB

/// Which sweep, and which experiment of it, a run is (`pipe exp run`).
public struct SweepTag: Sendable, Equatable, Codable {
    public var sweepID: String
    public var sweepName: String
    /// 1-based position in the sweep's plan.
    public var experiment: Int

    public init(sweepID: String, sweepName: String, experiment: Int) {
        self.sweepID = sweepID
        self.sweepName = sweepName
        self.experiment = experiment
    }
}

/// A cluster job's end as the scheduler reported it (Slurm's state, reason and log).
public struct JobReport: Sendable, Equatable, Codable {
    public var jobID: String
    public var state: String?
    public var reason: String?
    public var logPath: String?

    public init(jobID: String, state: String? = nil, reason: String? = nil, logPath: String? = nil) {
        self.jobID = jobID
        self.state = state
        self.reason = reason
        self.logPath = logPath
    }
}

/// One run of a sweep, for `exp show`, `--resume` and the executors.
public struct SweepRun: Sendable, Equatable {
    public var run: RunID
    public var tag: SweepTag
    public var status: RunStatus
    public var job: JobReport?
}

extension RunStore {
    /// Marks `run` as experiment `tag.experiment` of a sweep.
    public func recordSweep(_ tag: SweepTag, run: RunID) throws {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO run_sweeps (runId, sweepId, sweepName, experiment) VALUES (?, ?, ?, ?)
                    ON CONFLICT (runId) DO UPDATE SET
                        sweepId = excluded.sweepId, sweepName = excluded.sweepName, experiment = excluded.experiment
                    """, arguments: [run, tag.sweepID, tag.sweepName, tag.experiment])
        }
    }

    /// Records the cluster job behind an experiment's run.
    public func recordJob(_ job: JobReport, run: RunID) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE run_sweeps SET jobId = ?, jobState = ?, jobReason = ?, jobLog = ? WHERE runId = ?",
                arguments: [job.jobID, job.state, job.reason, job.logPath, run])
        }
    }

    /// Every run of the sweep named `name`, by experiment then run id.
    public func sweepRuns(name: String) throws -> [SweepRun] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT s.runId, s.sweepId, s.sweepName, s.experiment, r.status,
                           s.jobId, s.jobState, s.jobReason, s.jobLog
                    FROM run_sweeps s JOIN runs r ON r.id = s.runId
                    WHERE s.sweepName = ? ORDER BY s.experiment, s.runId
                    """, arguments: [name]
            ).map { row in
                let jobID: String? = row[5]
                return SweepRun(
                    run: RunID(rawValue: row[0]),
                    tag: SweepTag(sweepID: row[1], sweepName: row[2], experiment: row[3]),
                    status: RunStatus(rawValue: row[4]) ?? .failed,
                    job: jobID.map { JobReport(jobID: $0, state: row[6], reason: row[7], logPath: row[8]) })
            }
        }
    }

    /// The sweep an experiment's run belongs to, or nil for a plain repro.
    public func sweepTag(of run: RunID) throws -> SweepTag? {
        try read { db in
            try Row.fetchOne(
                db, sql: "SELECT sweepId, sweepName, experiment FROM run_sweeps WHERE runId = ?", arguments: [run]
            ).map { SweepTag(sweepID: $0[0], sweepName: $0[1], experiment: $0[2]) }
        }
    }

    /// Sweep names, the most recently run first.
    public func sweepNames() throws -> [String] {
        try read { db in
            try String.fetchAll(
                db, sql: "SELECT sweepName FROM run_sweeps GROUP BY sweepName ORDER BY max(runId) DESC")
        }
    }
}
