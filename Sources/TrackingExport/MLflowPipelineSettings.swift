import Foundation
import Yams

/// `tracking: {mlflow: {uri: …, experiment: …}}` in pipeline.yaml: where every run is exported when it ends.
///
/// The engine lets the `tracking:` key through without reading it; this reads and checks it, with the file, line
/// and column of anything wrong. Credentials are refused here: pipeline.yaml is committed.
public struct MLflowPipelineSettings: Sendable, Equatable {
    public var uri: String?
    public var experiment: String?

    public init(uri: String? = nil, experiment: String? = nil) {
        self.uri = uri
        self.experiment = experiment
    }

    static let credentialKeys: Set<String> = ["token", "password", "username", "user", "secret", "auth"]

    /// The section of `workspace/pipeline.yaml`; empty when the file or the section is absent (or the YAML does not
    /// parse: the pipeline's own parser reports that).
    public static func read(workspace: URL) throws -> MLflowPipelineSettings {
        let url = workspace.appendingPathComponent("pipeline.yaml")
        guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8)
        else { return MLflowPipelineSettings() }
        return try parse(text, file: "pipeline.yaml")
    }

    public static func parse(_ text: String, file: String) throws -> MLflowPipelineSettings {
        guard let root = try? Yams.compose(yaml: text, .basic), let top = root.mapping,
            let tracking = top["tracking"]
        else { return MLflowPipelineSettings() }
        func location(_ node: Node) -> String {
            guard let mark = node.mark else { return file }
            return "\(file):\(mark.line):\(mark.column)"
        }
        if tracking.scalar.map({ ["", "~", "null"].contains($0.string) }) == true { return MLflowPipelineSettings() }
        guard let trackingMap = tracking.mapping else {
            throw MLflowError.badConfiguration(
                location: location(tracking), reason: "tracking: expected a mapping like {mlflow: {uri: …}}")
        }
        for (key, _) in trackingMap where key.string != "mlflow" {
            throw MLflowError.badConfiguration(
                location: location(key), reason: "unknown key 'tracking.\(key.string ?? "?")' (known: mlflow)")
        }
        guard let mlflow = trackingMap["mlflow"] else { return MLflowPipelineSettings() }
        guard let fields = mlflow.mapping else {
            throw MLflowError.badConfiguration(
                location: location(mlflow),
                reason: "tracking.mlflow: expected a mapping like {uri: http://host:5000, experiment: NAME}")
        }
        var settings = MLflowPipelineSettings()
        for (keyNode, valueNode) in fields {
            let key = keyNode.string ?? ""
            if credentialKeys.contains(key.lowercased()) {
                throw MLflowError.badConfiguration(
                    location: location(keyNode),
                    reason: "'tracking.mlflow.\(key)': credentials never go in pipeline.yaml (it is committed); set "
                        + "MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD")
            }
            guard key == "uri" || key == "experiment" else {
                throw MLflowError.badConfiguration(
                    location: location(keyNode), reason: "unknown key 'tracking.mlflow.\(key)' (known: uri, experiment)"
                )
            }
            guard let value = valueNode.scalar?.string, !value.isEmpty else {
                throw MLflowError.badConfiguration(
                    location: location(valueNode), reason: "tracking.mlflow.\(key): expected a non-empty string")
            }
            if key == "uri" {
                do {
                    _ = try MLflowServer(uri: value, credentials: .none)
                } catch let error as MLflowError {
                    throw MLflowError.badConfiguration(location: location(valueNode), reason: error.description)
                }
                settings.uri = value
            } else {
                settings.experiment = value
            }
        }
        return settings
    }
}
