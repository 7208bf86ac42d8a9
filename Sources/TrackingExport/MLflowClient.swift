import Foundation
import Transport

/// A client of MLflow's REST API 2.0 over the project's HTTP client (keep-alive connections, TLS from libssl).
///
/// Every call is one HTTP request; `requestCount` counts them (the export prints it, the benchmark compares it).
/// Errors are `MLflowError`s naming the server and the endpoint. Credentials go into the `Authorization` header of
/// each request and nowhere else. Thread-safe.
public final class MLflowClient: @unchecked Sendable {
    public let server: MLflowServer
    let http: HTTPClient
    private let counter = NSLock()
    private var sent = 0

    public init(server: MLflowServer, timeout: TimeInterval = 30) {
        self.server = server
        self.http = HTTPClient(timeout: timeout, userAgent: "pipe-mlflow/1")
    }

    /// HTTP requests sent so far.
    public var requestCount: Int { counter.withLock { sent } }

    // MARK: Experiments

    /// The id of the experiment named `name`, nil when there is none (or it is deleted).
    public func experimentID(named name: String) throws -> String? {
        do {
            let response: ExperimentResponse = try get(
                "mlflow/experiments/get-by-name", query: [("experiment_name", name)])
            return response.experiment.lifecycle_stage == "deleted" ? nil : response.experiment.experiment_id
        } catch let error as MLflowError where error.errorCode == "RESOURCE_DOES_NOT_EXIST" {
            return nil
        }
    }

    /// The id of the experiment named `name`, created when missing (another client creating it at the same time is
    /// fine: its id is used); `created` says whether this call made it (so it holds no runs yet).
    public func ensureExperiment(named name: String) throws -> (id: String, created: Bool) {
        if let id = try experimentID(named: name) { return (id, false) }
        do {
            let response: CreateExperimentResponse = try post(
                "mlflow/experiments/create", JSONText.object([("name", .string(name))]))
            return (response.experiment_id, true)
        } catch let error as MLflowError where error.errorCode == "RESOURCE_ALREADY_EXISTS" {
            if let id = try experimentID(named: name) { return (id, false) }
            throw error
        }
    }

    // MARK: Runs

    /// `runs/create`: a RUNNING run with its start time, name, user and first tags.
    public func createRun(
        experimentID: String, runName: String, startTime: Int64, user: String, tags: [MLflowKeyValue]
    ) throws -> MLflowRun {
        var tagList: [UInt8] = [UInt8(ascii: "[")]
        for (index, tag) in tags.enumerated() {
            if index > 0 { tagList.append(UInt8(ascii: ",")) }
            tagList += JSONText.keyValue(tag)
        }
        tagList.append(UInt8(ascii: "]"))
        let body = JSONText.object([
            ("experiment_id", .string(experimentID)), ("run_name", .string(runName)),
            ("start_time", .integer(startTime)), ("user_id", .string(user)), ("tags", .raw(tagList)),
        ])
        let response: RunResponse = try post("mlflow/runs/create", body)
        guard let run = response.run.run else {
            throw MLflowError.badResponse(server: server.name, endpoint: "runs/create", reason: "no run id")
        }
        return run
    }

    /// `runs/log-batch`, split to MLflow's limits; returns how many requests it took.
    @discardableResult
    public func logBatch(
        runID: String, metrics: [MLflowMetric], params: [MLflowKeyValue], tags: [MLflowKeyValue]
    ) throws -> Int {
        let batches = LogBatchSplitter.split(metrics: metrics, params: params, tags: tags)
        for batch in batches {
            let _: EmptyResponse = try post("mlflow/runs/log-batch", batch.body(runID: runID))
        }
        return batches.count
    }

    /// `runs/update`: the final status and end time.
    public func updateRun(runID: String, status: String, endTime: Int64?) throws {
        var fields: [(String, JSONValue)] = [("run_id", .string(runID)), ("status", .string(status))]
        if let endTime { fields.append(("end_time", .integer(endTime))) }
        let _: EmptyResponse = try post("mlflow/runs/update", JSONText.object(fields))
    }

    /// `runs/get`.
    public func run(id: String) throws -> MLflowRun {
        let response: RunResponse = try get("mlflow/runs/get", query: [("run_id", id)])
        guard let run = response.run.run else {
            throw MLflowError.badResponse(server: server.name, endpoint: "runs/get", reason: "no run id")
        }
        return run
    }

    /// Every run of the experiments matching `filter` (MLflow's search syntax), all pages.
    public func searchRuns(experimentIDs: [String], filter: String?, pageSize: Int = 1000) throws -> [MLflowRun] {
        var runs: [MLflowRun] = []
        var token: String?
        repeat {
            var fields: [(String, JSONValue)] = [
                ("experiment_ids", .strings(experimentIDs)), ("max_results", .integer(Int64(pageSize))),
            ]
            if let filter { fields.append(("filter", .string(filter))) }
            if let token { fields.append(("page_token", .string(token))) }
            let response: SearchRunsResponse = try post("mlflow/runs/search", JSONText.object(fields))
            runs += (response.runs ?? []).compactMap(\.run)
            token = response.next_page_token.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return runs
    }

    /// The runs tagged `pipe.run_id = id` in the experiment.
    public func runs(taggedPipeRunID id: String, experimentID: String) throws -> [MLflowRun] {
        try searchRuns(
            experimentIDs: [experimentID], filter: "tags.`\(MLflowRunMapping.pipeRunIDTag)` = '\(id)'", pageSize: 10)
    }

    /// Every value ever logged for `key` in the run, all pages.
    public func metricHistory(runID: String, key: String) throws -> [MLflowMetric] {
        var metrics: [MLflowMetric] = []
        var token: String?
        repeat {
            var query = [("run_id", runID), ("metric_key", key), ("max_results", "25000")]
            if let token { query.append(("page_token", token)) }
            let response: MetricHistoryResponse = try get("mlflow/metrics/get-history", query: query)
            metrics += (response.metrics ?? []).map(\.metric)
            token = response.next_page_token.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return metrics
    }

    // MARK: Artifacts

    /// Where the server's artifact proxy keeps the run's artifacts (`1/RUN/artifacts`), or nil when the run's
    /// artifact root is not proxied (a file path, `s3://`…: the server does not serve artifacts).
    public static func proxiedArtifactPath(artifactURI: String?) -> String? {
        guard let uri = artifactURI else { return nil }
        if uri.hasPrefix("mlflow-artifacts:") {
            var rest = Substring(uri.dropFirst("mlflow-artifacts:".count))
            if rest.hasPrefix("//") {  // mlflow-artifacts://host:port/path
                rest = rest.dropFirst(2)
                guard let slash = rest.firstIndex(of: "/") else { return nil }
                rest = rest[slash...]
            }
            return String(rest.drop { $0 == "/" })
        }
        let anchor = "/api/2.0/mlflow-artifacts/artifacts/"
        if uri.hasPrefix("http"), let range = uri.range(of: anchor) { return String(uri[range.upperBound...]) }
        return nil
    }

    /// Uploads a file through the artifact proxy (`PUT /api/2.0/mlflow-artifacts/artifacts/ROOT/PATH`).
    /// Returns false when the server answers that it does not serve artifacts (503, 404 on the route).
    public func uploadArtifact(root: String, relativePath: String, file: URL, size: Int64) throws -> Bool {
        let segments = (root.split(separator: "/") + relativePath.split(separator: "/")).map {
            String($0).addingPercentEncoding(withAllowedCharacters: .mlflowPathSegment) ?? String($0)
        }
        let endpoint = "mlflow-artifacts/artifacts/" + segments.joined(separator: "/")
        var headers = [(name: "Content-Type", value: MLflowClient.mimeType(relativePath))]
        let request = HTTPRequest(
            method: "PUT", url: url(endpoint), headers: authorized(&headers),
            body: .file(path: file.path, offset: 0, length: size))
        let (status, body) = try exchange(request, endpoint: endpoint)
        if status == 503 || status == 404 { return false }
        guard (200..<300).contains(status) else { throw failure(status: status, body: body, endpoint: endpoint) }
        return true
    }

    static func mimeType(_ path: String) -> String {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "svg": return "image/svg+xml"
        case "csv": return "text/csv"
        case "json": return "application/json"
        case "txt", "log": return "text/plain"
        default: return "application/octet-stream"
        }
    }

    // MARK: HTTP

    private struct EmptyResponse: Decodable {}

    private func url(_ endpoint: String, query: [(String, String)] = []) -> URL {
        var text = server.name + "/api/2.0/" + endpoint
        if !query.isEmpty {
            text +=
                "?"
                + query.map { key, value in
                    key + "=" + (value.addingPercentEncoding(withAllowedCharacters: .mlflowQueryValue) ?? value)
                }.joined(separator: "&")
        }
        return URL(string: text) ?? server.baseURL
    }

    private func authorized(_ headers: inout [(name: String, value: String)]) -> [(name: String, value: String)] {
        headers.append(("Accept", "application/json"))
        if let authorization = server.credentials.authorization { headers.append(("Authorization", authorization)) }
        return headers
    }

    private func get<Response: Decodable>(_ endpoint: String, query: [(String, String)]) throws -> Response {
        var headers: [(name: String, value: String)] = []
        return try decode(
            HTTPRequest(method: "GET", url: url(endpoint, query: query), headers: authorized(&headers)),
            endpoint: endpoint)
    }

    private func post<Response: Decodable>(_ endpoint: String, _ body: [UInt8]) throws -> Response {
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        return try decode(
            HTTPRequest(method: "POST", url: url(endpoint), headers: authorized(&headers), body: .bytes(body)),
            endpoint: endpoint)
    }

    private func decode<Response: Decodable>(_ request: HTTPRequest, endpoint: String) throws -> Response {
        let (status, body) = try exchange(request, endpoint: endpoint)
        guard (200..<300).contains(status) else { throw failure(status: status, body: body, endpoint: endpoint) }
        do {
            return try JSONDecoder().decode(Response.self, from: body.isEmpty ? Data("{}".utf8) : body)
        } catch {
            throw MLflowError.badResponse(
                server: server.name, endpoint: shortName(endpoint), reason: "not the expected JSON (\(error))")
        }
    }

    private func exchange(_ request: HTTPRequest, endpoint: String) throws -> (Int, Data) {
        counter.withLock { sent += 1 }
        do {
            let response = try http.send(request)
            let body = try response.readAll(limit: 256 << 20)
            return (response.head.status, body)
        } catch let error as TransportError {
            switch error {
            case .network(_, let reason), .untrustedServer(_, let reason):
                throw MLflowError.unreachable(server: server.name, reason: reason)
            case .httpStatus(_, let status, let reason):
                throw MLflowError.api(
                    server: server.name, endpoint: shortName(endpoint), status: status, errorCode: nil,
                    message: reason)
            }
        }
    }

    private func failure(status: Int, body: Data, endpoint: String) -> MLflowError {
        let parsed = try? JSONDecoder().decode(ErrorResponse.self, from: body)
        if status == 401 || status == 403 {
            return .unauthorized(
                server: server.name, endpoint: shortName(endpoint), status: status,
                hint: server.credentials.refusalHint)
        }
        let fallback = String(decoding: body.prefix(300), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
        return .api(
            server: server.name, endpoint: shortName(endpoint), status: status, errorCode: parsed?.error_code,
            message: parsed?.message ?? fallback)
    }

    /// `runs/create` for `mlflow/runs/create`.
    private func shortName(_ endpoint: String) -> String {
        endpoint.hasPrefix("mlflow/") ? String(endpoint.dropFirst("mlflow/".count)) : endpoint
    }
}

extension CharacterSet {
    /// RFC 3986 unreserved characters: everything else in a query value is percent-encoded.
    static let mlflowQueryValue = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    /// Unreserved characters plus the sub-delimiters a path segment may hold.
    static let mlflowPathSegment = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@")
}
