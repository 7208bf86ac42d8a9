import ArgumentParser
import Foundation
import Tracking
import TrackingExport

/// `pipe runs import mlflow --uri URI --experiment NAME`: an MLflow experiment's runs into the store.
struct ImportMLflowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlflow",
        abstract: "Bring an MLflow experiment's runs (params, metric histories, tags, git commit) into the store.",
        discussion: """
            Imported runs are listed, shown and compared like pipe's own. Runs imported before, and pipe runs \
            this store already holds, are skipped. The server is --uri, else MLFLOW_TRACKING_URI, else \
            tracking.mlflow.uri in pipeline.yaml; credentials as for `runs export mlflow`.
            """)

    @Option(help: ArgumentHelp("The tracking server, e.g. http://127.0.0.1:5000.", valueName: "URI"))
    var uri: String?

    @Option(help: ArgumentHelp("The experiment to import.", valueName: "NAME"))
    var experiment: String

    @OptionGroup var store: StoreOptions

    func run() throws {
        let runStore = try store.openStore()
        let settings = try MLflowPipelineSettings.read(workspace: runStore.workspace)
        guard
            let target = try MLflowTarget.resolve(
                uri: uri, experiment: experiment, configuredURI: settings.uri, configuredExperiment: nil,
                workspace: runStore.workspace)
        else { throw MLflowError.noTrackingURI }
        let client = MLflowClient(server: target.server)
        let report = try MLflowImporter(store: runStore, client: client).importExperiment(named: experiment) {
            entry in
            if let reason = entry.skipped {
                print("skipped MLflow run \(entry.mlflowRunID): \(reason)")
            } else {
                print(
                    "imported MLflow run \(entry.mlflowRunID) -> \(entry.run.map(\.rawValue) ?? "?") "
                        + "(\(entry.params) params, \(entry.metricValues) metric values)")
            }
        }
        let imported = report.entries.filter { $0.skipped == nil }.count
        print(
            "\(imported) imported, \(report.entries.count - imported) skipped from experiment '\(experiment)' "
                + "(id \(report.experimentID)) on \(report.server); \(report.requests) HTTP requests")
    }
}
