import Foundation
import Tracking

/// What an import did.
public struct MLflowImportReport: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var mlflowRunID: String
        public var run: RunID?
        /// nil when imported; otherwise why not.
        public var skipped: String?
        public var params = 0
        public var metricValues = 0
    }

    public var server: String
    public var experiment: String
    public var experimentID: String
    public var entries: [Entry] = []
    public var requests = 0
}

/// Brings an MLflow experiment's runs into the store: params, every metric's whole history, the git commit and
/// branch, the status and times, and the stage outcomes pipe's own export tagged. Idempotent: a run already
/// imported from this server, or one that is a pipe run this store already holds, is skipped.
public final class MLflowImporter {
    let store: RunStore
    let client: MLflowClient

    public init(store: RunStore, client: MLflowClient) {
        self.store = store
        self.client = client
    }

    public func importExperiment(
        named name: String, progress: (MLflowImportReport.Entry) -> Void = { _ in }
    ) throws -> MLflowImportReport {
        let serverName = client.server.name
        let startRequests = client.requestCount
        guard let experimentID = try client.experimentID(named: name) else {
            throw MLflowError.noSuchExperiment(server: serverName, name: name)
        }
        var report = MLflowImportReport(server: serverName, experiment: name, experimentID: experimentID)
        let imported = Set(
            try store.links(system: MLflowExporter.system, server: serverName).values.map(\.remoteRunId))
        let runs = try client.searchRuns(experimentIDs: [experimentID], filter: nil)
        // Oldest first, so that the new ids sort in the order the runs started.
        for run in runs.sorted(by: { ($0.startTime ?? 0, $0.runID) < ($1.startTime ?? 0, $1.runID) }) {
            var entry = MLflowImportReport.Entry(mlflowRunID: run.runID)
            if imported.contains(run.runID) {
                entry.skipped = "already in the store"
            } else if let pipeID = run.tag(MLflowRunMapping.pipeRunIDTag), RunID.isWellFormed(pipeID),
                try store.contains(RunID(rawValue: pipeID))
            {
                entry.run = RunID(rawValue: pipeID)
                entry.skipped = "pipe run \(pipeID) is already in the store"
            } else {
                do {
                    var histories: [String: [MLflowMetric]] = [:]
                    for key in Set(run.latestMetrics.map(\.key)).sorted() {
                        histories[key] = try client.metricHistory(runID: run.runID, key: key)
                    }
                    let value = MLflowRunMapping.importedRun(run, histories: histories, server: serverName)
                    let id = try store.insertImportedRun(
                        value,
                        link: RunLinkRecord(
                            runId: value.id ?? RunID(rawValue: ""), system: MLflowExporter.system, server: serverName,
                            experimentId: experimentID, remoteRunId: run.runID, direction: .import))
                    entry.run = id
                    entry.params = value.params.count
                    entry.metricValues = value.metrics.count
                } catch let error as MLflowError {
                    report.requests = client.requestCount - startRequests
                    if case .unreachable = error { throw error }
                    throw MLflowError.run(id: run.runID, server: serverName, underlying: error)
                }
            }
            report.entries.append(entry)
            progress(entry)
        }
        report.requests = client.requestCount - startRequests
        return report
    }
}
