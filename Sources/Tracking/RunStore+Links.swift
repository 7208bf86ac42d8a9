import Foundation
import GRDB

/// Which way a run travelled between this store and another tracking system.
public enum RunLinkDirection: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    /// The run was recorded here and sent there.
    case export
    /// The run was recorded there and brought here.
    case `import`
}

/// Table `run_links`: a run's id on another tracking system (an MLflow server), so that exports and imports are
/// idempotent. `server` is the system's base URL without credentials.
public struct RunLinkRecord: Codable, Sendable, Equatable, TimestampedRecord {
    public static let databaseTableName = "run_links"
    public var runId: RunID
    public var system: String
    public var server: String
    public var experimentId: String
    public var remoteRunId: String
    public var direction: RunLinkDirection
    public var syncedAt: Date

    public init(
        runId: RunID, system: String, server: String, experimentId: String, remoteRunId: String,
        direction: RunLinkDirection, syncedAt: Date = Date()
    ) {
        self.runId = runId
        self.system = system
        self.server = server
        self.experimentId = experimentId
        self.remoteRunId = remoteRunId
        self.direction = direction
        self.syncedAt = syncedAt
    }
}

/// A run recorded by another tracking system, as `RunStore.insertImportedRun` writes it.
public struct ImportedRun: Sendable, Equatable {
    /// The id to keep (a pipe run that went out and comes back keeps its id); nil makes a new one.
    public var id: RunID?
    public var kind: RunKind
    public var status: RunStatus
    public var startedAt: Date
    public var endedAt: Date?
    public var argv: [String]
    public var user: String
    public var host: String
    public var pipeVersion: String
    public var git: GitFacts
    public var params: [RunParam]
    /// Every metric value with its step and time, under the stage it is filed with.
    public var metrics: [(stage: String, point: MetricPoint)]
    public var stages: [StageOutcome]

    public init(
        id: RunID?, kind: RunKind, status: RunStatus, startedAt: Date, endedAt: Date?, argv: [String], user: String,
        host: String, pipeVersion: String, git: GitFacts, params: [RunParam],
        metrics: [(stage: String, point: MetricPoint)], stages: [StageOutcome]
    ) {
        self.id = id
        self.kind = kind
        self.status = status
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.argv = argv
        self.user = user
        self.host = host
        self.pipeVersion = pipeVersion
        self.git = git
        self.params = params
        self.metrics = metrics
        self.stages = stages
    }

    public static func == (lhs: ImportedRun, rhs: ImportedRun) -> Bool {
        lhs.id == rhs.id && lhs.kind == rhs.kind && lhs.status == rhs.status && lhs.startedAt == rhs.startedAt
            && lhs.endedAt == rhs.endedAt && lhs.argv == rhs.argv && lhs.user == rhs.user && lhs.host == rhs.host
            && lhs.pipeVersion == rhs.pipeVersion && lhs.git == rhs.git && lhs.params == rhs.params
            && lhs.stages == rhs.stages && lhs.metrics.count == rhs.metrics.count
            && zip(lhs.metrics, rhs.metrics).allSatisfy { $0.stage == $1.stage && $0.point == $1.point }
    }
}

extension RunStore {
    // MARK: Links to other tracking systems

    /// Records (or replaces) where `link.runId` lives on `link.server`.
    public func recordLink(_ link: RunLinkRecord) throws {
        try write { db in try link.save(db) }
    }

    /// Every link to `server` of `system`, by pipe run.
    public func links(system: String, server: String) throws -> [RunID: RunLinkRecord] {
        let records = try read { db in
            try RunLinkRecord.filter(Column("system") == system).filter(Column("server") == server).fetchAll(db)
        }
        return Dictionary(records.map { ($0.runId, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Every run id, oldest first, with its status: what an export walks.
    public func allRuns() throws -> [(id: RunID, status: RunStatus)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, status FROM runs ORDER BY id").compactMap { row in
                guard let status = RunStatus(rawValue: row[1]) else { return nil }
                return (RunID(rawValue: row[0]), status)
            }
        }
    }

    /// True when the store holds a run with this id.
    public func contains(_ run: RunID) throws -> Bool {
        try read { db in try RunRecord.exists(db, key: run) }
    }

    /// Writes a whole run recorded elsewhere (facts, params, metric histories, stage outcomes) and its link, in one
    /// transaction, and returns its id. A run already linked to the same remote run is left alone and its id
    /// returned.
    @discardableResult
    public func insertImportedRun(_ run: ImportedRun, link: RunLinkRecord) throws -> RunID {
        try write { db -> RunID in
            if let existing = try RunID.fetchOne(
                db,
                sql: "SELECT runId FROM run_links WHERE system = ? AND server = ? AND remoteRunId = ?",
                arguments: [link.system, link.server, link.remoteRunId])
            {
                return existing
            }
            var id = run.id ?? RunID.make(at: run.startedAt)
            if try RunRecord.exists(db, key: id) { id = RunID.make(at: run.startedAt) }
            let record = RunRecord(
                id: id, kind: run.kind, status: run.status, startedAt: run.startedAt, endedAt: run.endedAt,
                argv: run.argv, user: run.user, host: run.host, pid: 0, pidStartTicks: nil,
                pipeVersion: run.pipeVersion, gitCommit: run.git.commit, gitBranch: run.git.branch,
                gitDirty: run.git.isDirty)
            try record.insert(db)
            for param in run.params {
                try ParamRecord(
                    runId: id, key: param.key, value: param.value, number: strictNumber(param.value),
                    overridden: param.overridden
                ).insert(db)
            }
            let statement = try db.cachedStatement(
                sql: "INSERT INTO metrics (runId, stage, key, value, step, timestamp) VALUES (?, ?, ?, ?, ?, ?)")
            for (stage, point) in run.metrics {
                try statement.execute(arguments: [
                    id, stage, point.key, point.value, point.step, point.timestamp.timeIntervalSince1970,
                ])
            }
            for stage in run.stages {
                let stageRecord = StageRunRecord(
                    id: nil, runId: id, stage: stage.stage, signature: stage.signature, outcome: stage.outcome,
                    reason: stage.reason, duration: stage.duration, exitStatus: stage.exitStatus,
                    logPath: stage.logPath, finishedAt: stage.finishedAt)
                try stageRecord.insert(db)
            }
            var stored = link
            stored.runId = id
            try stored.save(db)
            return id
        }
    }
}
