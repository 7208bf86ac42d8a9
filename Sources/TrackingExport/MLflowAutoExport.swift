import Foundation
import Tracking

/// The export at the end of each `pipe repro` when a server is configured (`MLFLOW_TRACKING_URI` or
/// `tracking.mlflow.uri` in pipeline.yaml): every finished run not yet sent to that server, so that a run a down
/// server missed goes with the next one. Never throws: a failure is one line for a warning, and the local run is
/// untouched.
public enum MLflowAutoExport {
    /// How long a connect or a read may wait: a repro should not hang on a server that does not answer.
    public static let timeout: TimeInterval = 10

    public enum Outcome: Sendable, Equatable {
        /// No server configured: nothing was tried.
        case notConfigured
        case exported(MLflowExportReport)
        case failed(message: String)
    }

    public static func run(
        workspace: URL, store: RunStore, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Outcome {
        let target: MLflowTarget
        do {
            let settings = try MLflowPipelineSettings.read(workspace: workspace)
            guard
                let resolved = try MLflowTarget.resolve(
                    uri: nil, experiment: nil, configuredURI: settings.uri, configuredExperiment: settings.experiment,
                    workspace: workspace, environment: environment)
            else { return .notConfigured }
            target = resolved
        } catch {
            return .failed(message: "MLflow export not attempted: \(error)")
        }
        let client = MLflowClient(server: target.server, timeout: timeout)
        do {
            let report = try MLflowExporter(store: store, client: client, experiment: target.experiment)
                .export(MLflowExportOptions(onlyUnlinked: true))
            return .exported(report)
        } catch {
            return .failed(
                message: "MLflow export failed: \(error); the runs are kept here and the next export sends them")
        }
    }

    /// The line a repro prints after a successful export, nil when nothing was sent.
    public static func summary(_ report: MLflowExportReport) -> String? {
        let sent = report.entries.filter { $0.action == .created || $0.action == .updated }
        guard !sent.isEmpty else { return nil }
        let runs = sent.count == 1 ? "run \(sent[0].run)" : "\(sent.count) runs"
        return "exported \(runs) to MLflow \(report.server) (experiment '\(report.experiment)')"
    }
}
