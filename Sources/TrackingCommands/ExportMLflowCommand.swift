import ArgumentParser
import Foundation
import Tracking
import TrackingExport

/// `pipe runs export mlflow [RUN...]`: send runs to an MLflow tracking server.
struct ExportMLflowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlflow",
        abstract: "Send runs to an MLflow tracking server: params, metric histories, status, git tags, artifacts.",
        discussion: """
            Runs already on the server (found by their pipe.run_id tag) are skipped unless --update is given. \
            The server is --uri, else MLFLOW_TRACKING_URI, else tracking.mlflow.uri in pipeline.yaml; the \
            experiment is --experiment, else MLFLOW_EXPERIMENT_NAME, else tracking.mlflow.experiment, else the \
            workspace folder's name. Credentials: MLFLOW_TRACKING_TOKEN (bearer) or MLFLOW_TRACKING_USERNAME and \
            MLFLOW_TRACKING_PASSWORD (basic).
            """)

    @Argument(
        help: ArgumentHelp("Runs to send (id prefix, @last, @last~N); every finished run by default.", valueName: "RUN")
    )
    var runs: [String] = []

    @Option(help: ArgumentHelp("The tracking server, e.g. http://127.0.0.1:5000.", valueName: "URI"))
    var uri: String?

    @Option(help: ArgumentHelp("The experiment's name (created when missing).", valueName: "NAME"))
    var experiment: String?

    @Flag(help: "Complete runs already on the server: add metric values, params and tags they lack; set the status.")
    var update = false

    @Flag(help: "Say what would be sent; send nothing.")
    var dry = false

    @OptionGroup var store: StoreOptions

    func run() throws {
        let runStore = try store.openStore()
        let ids = try runs.map(runStore.resolve)
        let settings = try MLflowPipelineSettings.read(workspace: runStore.workspace)
        guard
            let target = try MLflowTarget.resolve(
                uri: uri, experiment: experiment, configuredURI: settings.uri,
                configuredExperiment: settings.experiment, workspace: runStore.workspace)
        else { throw MLflowError.noTrackingURI }
        let client = MLflowClient(server: target.server)
        let exporter = MLflowExporter(store: runStore, client: client, experiment: target.experiment)
        print("MLflow server \(target.server.name), experiment '\(target.experiment)'")
        let report = try exporter.export(
            MLflowExportOptions(runs: ids.isEmpty ? nil : ids, update: update, dryRun: dry)
        ) { entry in
            print(MLflowReportText.line(entry))
            for note in entry.notes { print("  note: \(note)") }
        }
        if let reason = report.artifactsNotServed { print("artifacts not uploaded: \(reason)") }
        print(MLflowReportText.summary(report, dryRun: dry))
    }
}

/// The lines `runs export mlflow` prints.
enum MLflowReportText {
    static func line(_ entry: MLflowExportReport.Entry) -> String {
        let counts =
            "\(entry.params) params, \(entry.metricValues) metric values, \(entry.tags) tags, \(entry.artifacts) artifacts"
        let remote = entry.mlflowRunID ?? ""
        switch entry.action {
        case .created: return "exported \(entry.run) -> MLflow run \(remote) (\(counts))"
        case .updated: return "updated \(entry.run) -> MLflow run \(remote) (added \(counts))"
        case .skipped(let reason):
            return "skipped \(entry.run): \(reason)\(remote.isEmpty ? "" : " (MLflow run \(remote))")"
        case .wouldCreate: return "would export \(entry.run) (\(counts))"
        case .wouldUpdate: return "would update \(entry.run) -> MLflow run \(remote) (up to \(counts))"
        }
    }

    static func summary(_ report: MLflowExportReport, dryRun: Bool) -> String {
        let created = report.count { $0 == .created || $0 == .wouldCreate }
        let updated = report.count { $0 == .updated || $0 == .wouldUpdate }
        let skipped = report.count {
            if case .skipped = $0 { return true }
            return false
        }
        let verb = dryRun ? "would be " : ""
        return "\(created) \(verb)exported, \(updated) \(verb)updated, \(skipped) skipped; "
            + "\(report.requests) HTTP request\(report.requests == 1 ? "" : "s")"
    }
}
