import ContentStore
import Foundation
import Tracking

/// What `pipe runs export mlflow` asks for.
public struct MLflowExportOptions: Sendable, Equatable {
    /// The runs to send; nil means every finished run of the store.
    public var runs: [RunID]?
    /// Runs already on the server get what they lack (new metric values, params, tags, the final status).
    public var update = false
    /// Say what would be sent; send nothing, create nothing.
    public var dryRun = false
    /// Only runs the store has no link to this server for (the automatic export after a repro).
    public var onlyUnlinked = false

    public init(runs: [RunID]? = nil, update: Bool = false, dryRun: Bool = false, onlyUnlinked: Bool = false) {
        self.runs = runs
        self.update = update
        self.dryRun = dryRun
        self.onlyUnlinked = onlyUnlinked
    }
}

/// What an export did, run by run.
public struct MLflowExportReport: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        case created
        case updated
        case skipped(reason: String)
        case wouldCreate
        case wouldUpdate
    }

    public struct Entry: Sendable, Equatable {
        public var run: RunID
        public var action: Action
        public var mlflowRunID: String?
        public var params = 0
        public var metricValues = 0
        public var tags = 0
        public var artifacts = 0
        /// Things worth a line of their own (a param MLflow will not let change, an artifact changed since).
        public var notes: [String] = []
    }

    public var server: String
    public var experiment: String
    public var experimentID: String?
    public var entries: [Entry] = []
    /// HTTP requests the export sent.
    public var requests = 0
    /// Why artifacts were not uploaded (the server does not proxy them), nil when they were or there were none.
    public var artifactsNotServed: String?

    public func count(_ matches: (Action) -> Bool) -> Int { entries.filter { matches($0.action) }.count }
}

/// Sends runs from the store to an MLflow server: experiment by name (created when missing), then per run
/// `runs/create`, `runs/log-batch` (split to the API's limits), artifact uploads through the server's proxy and
/// `runs/update` with the final status. Idempotent: a run found on the server by its `pipe.run_id` tag is skipped
/// (or, with `update`, completed), and the pipe → MLflow mapping is kept in the store's `run_links`.
///
/// A run is linked only once `runs/update` succeeded; a run cut off half-way stays RUNNING on the server and the
/// next export completes it.
public final class MLflowExporter {
    public static let system = "mlflow"
    /// Above this many runs to check, one search lists the experiment's pipe runs instead of one search per run.
    static let searchPerRunLimit = 8

    let store: RunStore
    let client: MLflowClient
    let experiment: String

    public init(store: RunStore, client: MLflowClient, experiment: String) {
        self.store = store
        self.client = client
        self.experiment = experiment
    }

    /// Exports; `progress` gets one line per run as it goes. Throws on the first failure, as
    /// `MLflowError.run(id:server:underlying:)` once a run was involved; runs sent before stay linked.
    public func export(
        _ options: MLflowExportOptions, progress: (MLflowExportReport.Entry) -> Void = { _ in }
    ) throws -> MLflowExportReport {
        let serverName = client.server.name
        let startRequests = client.requestCount
        var report = MLflowExportReport(server: serverName, experiment: experiment)
        let links = try store.links(system: Self.system, server: serverName)
        let statuses = Dictionary(try store.allRuns().map { ($0.id, $0.status) }, uniquingKeysWith: { a, _ in a })
        var candidates: [RunID] = []
        for id in options.runs ?? statuses.keys.sorted() {
            guard let status = statuses[id] else { throw TrackingError.unknownRun(id: id.rawValue) }
            if status == .running {
                if options.runs != nil {
                    let entry = MLflowExportReport.Entry(run: id, action: .skipped(reason: "still running"))
                    report.entries.append(entry)
                    progress(entry)
                }
                continue
            }
            if options.onlyUnlinked, links[id] != nil { continue }
            candidates.append(id)
        }
        guard !candidates.isEmpty else {
            report.requests = client.requestCount - startRequests
            return report
        }

        let experimentID: String?
        var justCreated = false
        if options.dryRun {
            experimentID = try client.experimentID(named: experiment)
        } else {
            let ensured = try client.ensureExperiment(named: experiment)
            experimentID = ensured.id
            justCreated = ensured.created
        }
        report.experimentID = experimentID
        var onServer: [String: MLflowRun] = [:]
        // An experiment this export just created holds no runs: nothing to look for.
        if let experimentID, !justCreated {
            let found: [MLflowRun]
            if candidates.count > Self.searchPerRunLimit {
                found = try client.searchRuns(
                    experimentIDs: [experimentID], filter: "tags.`\(MLflowRunMapping.pipeRunIDTag)` LIKE '%'")
            } else {
                found = try candidates.flatMap {
                    try client.runs(taggedPipeRunID: $0.rawValue, experimentID: experimentID)
                }
            }
            for run in found {
                guard let pipeID = run.tag(MLflowRunMapping.pipeRunIDTag) else { continue }
                // Two MLflow runs for one pipe run (two exporters racing): keep the finished one.
                if let kept = onServer[pipeID], kept.status != "RUNNING" { continue }
                onServer[pipeID] = run
            }
        }

        var artifacts = ArtifactState()
        for id in candidates {
            do {
                let entry = try exportOne(
                    id, existing: onServer[id.rawValue], experimentID: experimentID, options: options,
                    artifacts: &artifacts)
                report.entries.append(entry)
                progress(entry)
            } catch let error as MLflowError {
                report.requests = client.requestCount - startRequests
                if case .unreachable = error { throw error }
                throw MLflowError.run(id: id.rawValue, server: serverName, underlying: error)
            }
        }
        report.artifactsNotServed = artifacts.notServed
        report.requests = client.requestCount - startRequests
        return report
    }

    /// Whether the server's artifact proxy has been seen to work, refuse, or not yet been tried.
    struct ArtifactState {
        var notServed: String?
    }

    private func exportOne(
        _ id: RunID, existing: MLflowRun?, experimentID: String?, options: MLflowExportOptions,
        artifacts: inout ArtifactState
    ) throws -> MLflowExportReport.Entry {
        let serverName = client.server.name
        if let existing, existing.status != "RUNNING", !options.update {
            if !options.dryRun, let experimentID {
                try link(id, experimentID: experimentID, mlflowRunID: existing.runID)
            }
            return MLflowExportReport.Entry(
                run: id, action: .skipped(reason: "already on the server"), mlflowRunID: existing.runID)
        }
        let payload = MLflowRunMapping.payload(try store.show(id))
        if options.dryRun {
            return MLflowExportReport.Entry(
                run: id, action: existing == nil ? .wouldCreate : .wouldUpdate, mlflowRunID: existing?.runID,
                params: payload.params.count, metricValues: payload.metrics.count, tags: payload.tags.count,
                artifacts: payload.artifacts.count)
        }
        guard let experimentID else {
            throw MLflowError.badResponse(server: serverName, endpoint: "experiments/create", reason: "no id")
        }
        var entry: MLflowExportReport.Entry
        let target: MLflowRun
        if let existing {
            target = existing
            entry = MLflowExportReport.Entry(run: id, action: .updated, mlflowRunID: existing.runID)
            let delta = try missing(payload, on: existing)
            entry.notes = delta.notes
            try client.logBatch(runID: existing.runID, metrics: delta.metrics, params: delta.params, tags: payload.tags)
            entry.params = delta.params.count
            entry.metricValues = delta.metrics.count
        } else {
            target = try client.createRun(
                experimentID: experimentID, runName: payload.runName, startTime: payload.startTime,
                user: payload.user, tags: [MLflowKeyValue(key: MLflowRunMapping.pipeRunIDTag, value: payload.pipeRunID)]
            )
            entry = MLflowExportReport.Entry(run: id, action: .created, mlflowRunID: target.runID)
            try client.logBatch(
                runID: target.runID, metrics: payload.metrics, params: payload.params, tags: payload.tags)
            entry.params = payload.params.count
            entry.metricValues = payload.metrics.count
        }
        entry.tags = payload.tags.count
        entry.artifacts = try upload(payload.artifacts, run: target, state: &artifacts, notes: &entry.notes)
        try client.updateRun(runID: target.runID, status: payload.status, endTime: payload.endTime)
        try link(id, experimentID: experimentID, mlflowRunID: target.runID)
        return entry
    }

    /// What the server's copy of a run lacks: params not there (a param whose value differs cannot change in
    /// MLflow: noted, not sent) and metric values not in its history.
    private func missing(
        _ payload: MLflowRunPayload, on run: MLflowRun
    ) throws -> (params: [MLflowKeyValue], metrics: [MLflowMetric], notes: [String]) {
        let serverParams = Dictionary(run.params.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        var params: [MLflowKeyValue] = []
        var notes: [String] = []
        for param in payload.params {
            switch serverParams[param.key] {
            case .none: params.append(param)
            case .some(let value) where value != param.value:
                notes.append(
                    "param \(param.key) is '\(value)' on the server and '\(param.value)' here; MLflow params never change"
                )
            default: break
            }
        }
        let latestKeys = Set(run.latestMetrics.map(\.key))
        var metrics: [MLflowMetric] = []
        var byKey: [String: [MLflowMetric]] = [:]
        for metric in payload.metrics { byKey[metric.key, default: []].append(metric) }
        for key in byKey.keys.sorted() {
            let points = byKey[key] ?? []
            guard latestKeys.contains(key) else {
                metrics += points
                continue
            }
            let known = Set(try client.metricHistory(runID: run.runID, key: key).map(MetricIdentity.init))
            metrics += points.filter { !known.contains(MetricIdentity($0)) }
        }
        return (params, metrics, notes)
    }

    /// A metric value as MLflow identifies it (it stores duplicates, so a resend would double a curve).
    private struct MetricIdentity: Hashable {
        var step: Int64
        var timestamp: Int64
        var value: UInt64
        init(_ metric: MLflowMetric) {
            step = metric.step
            timestamp = metric.timestamp
            value = metric.value.isNaN ? Double.nan.bitPattern : metric.value.bitPattern
        }
    }

    private func upload(
        _ files: [ArtifactRecord], run: MLflowRun, state: inout ArtifactState, notes: inout [String]
    ) throws -> Int {
        guard !files.isEmpty, state.notServed == nil else { return 0 }
        guard let root = MLflowClient.proxiedArtifactPath(artifactURI: run.artifactURI) else {
            state.notServed = "the run's artifact root is \(run.artifactURI ?? "unknown"), not the server's proxy"
            return 0
        }
        var uploaded = 0
        for artifact in files {
            let file = store.workspace.appendingPathComponent(artifact.path)
            guard let hashed = try? FileHashing.hash(path: file.path) else {
                notes.append("artifact \(artifact.path) is gone from the workspace: not uploaded")
                continue
            }
            guard hashed.digest.hex == artifact.sha256 else {
                notes.append("artifact \(artifact.path) changed since the run: not uploaded")
                continue
            }
            guard try client.uploadArtifact(root: root, relativePath: artifact.path, file: file, size: hashed.size)
            else {
                state.notServed = "the server answered that it does not serve artifacts (run it with --serve-artifacts)"
                return uploaded
            }
            uploaded += 1
        }
        return uploaded
    }

    private func link(_ id: RunID, experimentID: String, mlflowRunID: String) throws {
        try store.recordLink(
            RunLinkRecord(
                runId: id, system: Self.system, server: client.server.name, experimentId: experimentID,
                remoteRunId: mlflowRunID, direction: .export))
    }
}
