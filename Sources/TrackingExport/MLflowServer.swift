import Foundation

/// Credentials the way MLflow's own clients take them from the environment: `MLFLOW_TRACKING_TOKEN` (a bearer
/// token) or `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD` (basic). Never printed: `description` says
/// only which kind is in use.
public enum MLflowCredentials: Sendable, Equatable, CustomStringConvertible {
    case none
    case bearer(token: String)
    case basic(username: String, password: String)

    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> MLflowCredentials
    {
        if let token = environment["MLFLOW_TRACKING_TOKEN"], !token.isEmpty { return .bearer(token: token) }
        if let username = environment["MLFLOW_TRACKING_USERNAME"], !username.isEmpty {
            return .basic(username: username, password: environment["MLFLOW_TRACKING_PASSWORD"] ?? "")
        }
        return .none
    }

    /// The `Authorization` header's value, nil without credentials.
    var authorization: String? {
        switch self {
        case .none: return nil
        case .bearer(let token): return "Bearer \(token)"
        case .basic(let username, let password):
            return "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        }
    }

    public var description: String {
        switch self {
        case .none: return "no credentials"
        case .bearer: return "MLFLOW_TRACKING_TOKEN (bearer)"
        case .basic: return "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (basic)"
        }
    }

    /// What to tell a user whose request was refused with 401 or 403.
    var refusalHint: String {
        switch self {
        case .none:
            return "the server wants credentials: set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
                + "MLFLOW_TRACKING_PASSWORD"
        default: return "the credentials from \(description) were refused"
        }
    }
}

/// An MLflow tracking server: its base URL (scheme, host, port, an optional path prefix) and the credentials to
/// send. `name` is the URL as messages and the run store show it: never with credentials.
public struct MLflowServer: Sendable, Equatable {
    public let baseURL: URL
    public let credentials: MLflowCredentials

    /// Parses a tracking URI (`http://host:5000`, `https://host/prefix`). A URI with a user or password in it is
    /// refused: credentials come from the environment only.
    public init(uri: String, credentials: MLflowCredentials = .fromEnvironment()) throws {
        let trimmed = uri.trimmingCharacters(in: .whitespaces)
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw MLflowError.badURI(
                uri: MLflowServer.redacted(trimmed), reason: "expected http://HOST:PORT or https://HOST[/PATH]")
        }
        if components.user != nil || components.password != nil {
            throw MLflowError.badURI(
                uri: MLflowServer.redacted(trimmed),
                reason: "credentials do not go in the URI; set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME "
                    + "and MLFLOW_TRACKING_PASSWORD")
        }
        if components.query != nil || components.fragment != nil {
            throw MLflowError.badURI(uri: trimmed, reason: "a tracking URI has no query or fragment")
        }
        var clean = URLComponents()
        clean.scheme = scheme
        clean.host = host
        clean.port = components.port
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        clean.percentEncodedPath = path
        guard let url = clean.url else { throw MLflowError.badURI(uri: trimmed, reason: "not a valid URL") }
        self.baseURL = url
        self.credentials = credentials
    }

    /// The base URL as text: what messages name and the run store keys links by.
    public var name: String { baseURL.absoluteString }

    /// `text` with anything between `://` and `@` replaced by `***`, for messages about a URI that carried secrets.
    static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://"),
            let at = text[schemeEnd.upperBound...].firstIndex(of: "@"),
            !text[schemeEnd.upperBound..<at].contains("/")
        else { return text }
        return String(text[..<schemeEnd.upperBound]) + "***" + String(text[at...])
    }
}

/// Where runs go: the server and the experiment, from the flags, the environment or pipeline.yaml.
public struct MLflowTarget: Sendable, Equatable {
    public var server: MLflowServer
    public var experiment: String

    /// The URI: `--uri`, else `MLFLOW_TRACKING_URI`, else pipeline.yaml's `tracking.mlflow.uri`; nil when none is
    /// set. The experiment: `--experiment`, else `MLFLOW_EXPERIMENT_NAME`, else pipeline.yaml's
    /// `tracking.mlflow.experiment`, else the workspace folder's name.
    public static func resolve(
        uri: String?, experiment: String?, configuredURI: String?, configuredExperiment: String?,
        workspace: URL, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> MLflowTarget? {
        func nonEmpty(_ text: String?) -> String? {
            guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
            return text
        }
        guard
            let chosenURI = nonEmpty(uri) ?? nonEmpty(environment["MLFLOW_TRACKING_URI"]) ?? nonEmpty(configuredURI)
        else { return nil }
        let server = try MLflowServer(uri: chosenURI, credentials: .fromEnvironment(environment))
        let name =
            nonEmpty(experiment) ?? nonEmpty(environment["MLFLOW_EXPERIMENT_NAME"]) ?? nonEmpty(configuredExperiment)
            ?? workspace.standardizedFileURL.lastPathComponent
        return MLflowTarget(server: server, experiment: name)
    }
}
