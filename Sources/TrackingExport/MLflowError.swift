import Foundation

/// Everything that can go wrong talking to an MLflow tracking server. Each message names the server (its URL
/// without credentials) and what failed; none ever holds a token, a password or an Authorization header.
/// The CLI maps `badURI` and `badConfiguration` to exit code 2, the rest to 1.
public indirect enum MLflowError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The tracking URI is not an http(s) URL, or carries credentials.
    case badURI(uri: String, reason: String)
    /// pipeline.yaml's `tracking:` section is malformed (or holds a credential); `location` is `file:line:col`.
    case badConfiguration(location: String, reason: String)
    /// No tracking URI: no `--uri`, no `MLFLOW_TRACKING_URI`, no `tracking.mlflow.uri` in pipeline.yaml.
    case noTrackingURI
    /// Connection refused, name not resolved, timeout, TLS failure: the server was not reached.
    case unreachable(server: String, reason: String)
    /// 401 or 403: the credentials were refused (or missing).
    case unauthorized(server: String, endpoint: String, status: Int, hint: String)
    /// Another non-2xx answer, with MLflow's `error_code` and message when it sent them.
    case api(server: String, endpoint: String, status: Int, errorCode: String?, message: String)
    /// A 2xx answer that is not the JSON the endpoint documents.
    case badResponse(server: String, endpoint: String, reason: String)
    /// The experiment named for an import does not exist on the server.
    case noSuchExperiment(server: String, name: String)
    /// A failure while exporting or importing one run: which run, then why.
    case run(id: String, server: String, underlying: MLflowError)

    public var description: String {
        switch self {
        case .badURI(let uri, let reason):
            return "bad MLflow tracking URI '\(uri)': \(reason)"
        case .badConfiguration(let location, let reason):
            return "\(location): \(reason)"
        case .noTrackingURI:
            return "no MLflow tracking server: give --uri, set MLFLOW_TRACKING_URI, or add "
                + "tracking: {mlflow: {uri: …}} to pipeline.yaml"
        case .unreachable(let server, let reason):
            return "MLflow server \(server) not reachable: \(reason)"
        case .unauthorized(let server, let endpoint, let status, let hint):
            return "MLflow server \(server) refused \(endpoint) with HTTP \(status): \(hint)"
        case .api(let server, let endpoint, let status, let errorCode, let message):
            let code = errorCode.map { " \($0)" } ?? ""
            let text = message.isEmpty ? "" : ": \(message)"
            return "MLflow server \(server): \(endpoint) failed with HTTP \(status)\(code)\(text)"
        case .badResponse(let server, let endpoint, let reason):
            return "MLflow server \(server): unexpected answer to \(endpoint): \(reason)"
        case .noSuchExperiment(let server, let name):
            return "MLflow server \(server) has no experiment named '\(name)'"
        case .run(let id, _, let underlying):
            return "run \(id): \(underlying)"
        }
    }

    /// True for mistakes in what the user gave (exit code 2) rather than failures of the server (exit code 1).
    public var isUsageError: Bool {
        switch self {
        case .badURI, .badConfiguration, .noTrackingURI: return true
        case .run(_, _, let underlying): return underlying.isUsageError
        default: return false
        }
    }

    /// The MLflow `error_code`, looking through `.run`.
    var errorCode: String? {
        switch self {
        case .api(_, _, _, let code, _): return code
        case .run(_, _, let underlying): return underlying.errorCode
        default: return nil
        }
    }
}
