import Foundation
import GRDB

// One Codable record type per table (GRDB's recommended practice). Column names are the property names.
// Times are stored as seconds since 1970 (REAL), so SQL can subtract and compare them.

/// What started a run.
public enum RunKind: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case repro, verify
}

/// A run's lifecycle state. `interrupted` is set later, by whoever opens the store after the process died.
public enum RunStatus: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case running, succeeded, failed, interrupted
}

/// What happened to one stage in one run.
public enum StageOutcomeKind: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case ran, skipped, restored, failed
}

extension RunID: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { rawValue.databaseValue }
    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> RunID? {
        String.fromDatabaseValue(dbValue).map(RunID.init(rawValue:))
    }
}

/// Shared by the records: dates are REAL seconds since 1970 in the database.
public protocol TimestampedRecord: FetchableRecord, PersistableRecord {}
extension TimestampedRecord {
    public static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy {
        .timeIntervalSince1970
    }
    public static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy {
        .timeIntervalSince1970
    }
}

/// Table `runs`: one row per `pipe repro` or `pipe verify`.
public struct RunRecord: Codable, Sendable, Equatable, TimestampedRecord {
    public static let databaseTableName = "runs"
    public var id: RunID
    public var kind: RunKind
    public var status: RunStatus
    public var startedAt: Date
    public var endedAt: Date?
    /// The command line, stored as a JSON array.
    public var argv: [String]
    public var user: String
    public var host: String
    public var pid: Int32
    /// The process's start time in clock ticks since boot (Linux `/proc/PID/stat`), to tell a reused pid apart.
    public var pidStartTicks: Int64?
    public var pipeVersion: String
    public var gitCommit: String
    public var gitBranch: String?
    public var gitDirty: Bool

    /// Seconds between start and end; for a running run, until `now`.
    public func duration(now: Date = Date()) -> TimeInterval {
        (endedAt ?? (status == .running ? now : startedAt)).timeIntervalSince(startedAt)
    }

    public var git: GitFacts {
        GitFacts(
            commit: gitCommit, branch: gitBranch, isDetached: gitBranch == nil && !gitCommit.isEmpty, isDirty: gitDirty)
    }
}

/// Table `stage_runs`: one row per stage per run.
public struct StageRunRecord: Codable, Sendable, Equatable, TimestampedRecord {
    public static let databaseTableName = "stage_runs"
    public var id: Int64?
    public var runId: RunID
    public var stage: String
    public var signature: String
    public var outcome: StageOutcomeKind
    /// Why the stage ran (or was skipped), as the planner says it.
    public var reason: String?
    public var duration: Double
    public var exitStatus: Int32?
    /// Workspace-relative path of the stage's log, usually under `runs/<id>/`.
    public var logPath: String?
    public var finishedAt: Date

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// Table `params`: the full resolved parameter set of a run, dotted keys, values as text.
public struct ParamRecord: Codable, Sendable, Equatable, TimestampedRecord {
    public static let databaseTableName = "params"
    public var runId: RunID
    public var key: String
    public var value: String
    /// `value` as a number when the whole text is one (so `--where` and `--sort` compare numerically).
    public var number: Double?
    /// True when the value came from a `-S key=value` override.
    public var overridden: Bool
}

/// Table `metrics`: every logged value, so curves survive.
public struct MetricRecord: Codable, Sendable, Equatable, TimestampedRecord {
    public static let databaseTableName = "metrics"
    public var id: Int64?
    public var runId: RunID
    public var stage: String
    public var key: String
    public var value: Double
    public var step: Int64
    public var timestamp: Date

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// Table `latest_metrics`: per run and key, the value with the highest step. Maintained by a trigger on `metrics`.
public struct LatestMetricRecord: Codable, Sendable, Equatable, TimestampedRecord {
    public static let databaseTableName = "latest_metrics"
    public var runId: RunID
    public var key: String
    public var value: Double
    public var step: Int64
    public var timestamp: Date
}

/// Table `artifacts`: files a run produced, with their content hash.
public struct ArtifactRecord: Codable, Sendable, Equatable, TimestampedRecord {
    public static let databaseTableName = "artifacts"
    public var id: Int64?
    public var runId: RunID
    public var stage: String?
    public var path: String
    public var sha256: String
    public var size: Int64

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

// MARK: - Inputs the CLI passes in (plain values, no engine types)

/// One resolved parameter: dotted key, value as text, and whether `-S` overrode it.
public struct RunParam: Sendable, Equatable, Codable {
    public var key: String
    public var value: String
    public var overridden: Bool
    public init(key: String, value: String, overridden: Bool = false) {
        self.key = key
        self.value = value
        self.overridden = overridden
    }
}

/// One stage's result in a run.
public struct StageOutcome: Sendable, Equatable {
    public var stage: String
    public var signature: String
    public var outcome: StageOutcomeKind
    public var reason: String?
    public var duration: TimeInterval
    public var exitStatus: Int32?
    public var logPath: String?
    public var finishedAt: Date
    public init(
        stage: String, signature: String, outcome: StageOutcomeKind, reason: String? = nil,
        duration: TimeInterval, exitStatus: Int32? = nil, logPath: String? = nil, finishedAt: Date = Date()
    ) {
        self.stage = stage
        self.signature = signature
        self.outcome = outcome
        self.reason = reason
        self.duration = duration
        self.exitStatus = exitStatus
        self.logPath = logPath
        self.finishedAt = finishedAt
    }
}

/// One metric value at one step (epoch, iteration; 0 for final metrics).
public struct MetricPoint: Sendable, Equatable {
    public var key: String
    public var value: Double
    public var step: Int
    public var timestamp: Date
    public init(key: String, value: Double, step: Int = 0, timestamp: Date = Date()) {
        self.key = key
        self.value = value
        self.step = step
        self.timestamp = timestamp
    }
}

/// What `recordMetricsFile` recorded from one metrics file.
public struct RecordedMetricsFile: Sendable, Equatable {
    /// Numbers logged once, at step 0, sorted by key.
    public var scalars: [MetricPoint]
    /// One series per field of each per-step record list, sorted by key (timestamps left empty).
    public var histories: [MetricSeries]
    /// Matrices and tables, by key.
    public var structured: [String: JSONValue]
}

/// One file a run produced.
public struct RunArtifact: Sendable, Equatable {
    public var path: String
    public var sha256: String
    public var size: Int64
    public var stage: String?
    public init(path: String, sha256: String, size: Int64, stage: String? = nil) {
        self.path = path
        self.sha256 = sha256
        self.size = size
        self.stage = stage
    }
}

/// A strict number parse: the whole text must be a finite decimal number.
func strictNumber(_ text: String) -> Double? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    guard !trimmed.isEmpty, trimmed == text,
        !trimmed.lowercased().hasPrefix("0x"), !trimmed.lowercased().hasPrefix("-0x"),
        let number = Double(trimmed), number.isFinite
    else { return nil }
    return number
}
