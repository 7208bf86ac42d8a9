import Foundation

// The parts of MLflow's REST responses that pipe reads. MLflow writes int64 fields as JSON numbers, but protobuf's
// JSON mapping allows strings too, and non-finite doubles as "NaN" / "Infinity": the decoders take either.

/// An int64 field written as a number (a whole or a fractional one, truncated) or as a decimal string.
struct FlexibleInt64: Decodable, Sendable, Equatable {
    var value: Int64
    init(from decoder: Decoder) throws {
        value = try decodeNumberOrText(decoder, expected: "an integer", Int64.init) { container in
            // Int64(exactly:) after truncating: a double beyond Int64's range is refused, not trapped on.
            guard let double = try? container.decode(Double.self), double.isFinite else { return nil }
            return Int64(exactly: double.rounded(.towardZero))
        }
    }
}

/// A double field written as a number or as "NaN", "Infinity", "-Infinity" (or a decimal string).
struct FlexibleDouble: Decodable, Sendable, Equatable {
    var value: Double
    init(from decoder: Decoder) throws {
        value = try decodeNumberOrText(decoder, expected: "a number") { text in
            switch text {
            case "NaN": return .nan
            case "Infinity", "inf": return .infinity
            case "-Infinity", "-inf": return -.infinity
            default: return Double(text)
            }
        }
    }
}

/// A JSON number (or what `otherNumber` reads, when that fails), else a string that `parse` reads; anything else
/// is a decoding error naming what was expected.
private func decodeNumberOrText<Value: Decodable>(
    _ decoder: Decoder, expected: String, _ parse: (String) -> Value?,
    otherNumber: (SingleValueDecodingContainer) -> Value? = { _ in nil }
) throws -> Value {
    let container = try decoder.singleValueContainer()
    if let number = try? container.decode(Value.self) { return number }
    if let number = otherNumber(container) { return number }
    let text = try container.decode(String.self)
    guard let value = parse(text) else {
        throw DecodingError.dataCorruptedError(in: container, debugDescription: "not \(expected): \(text)")
    }
    return value
}

struct KeyValueJSON: Decodable, Sendable {
    var key: String
    var value: String?
}

struct MetricJSON: Decodable, Sendable {
    var key: String
    var value: FlexibleDouble?
    var timestamp: FlexibleInt64?
    var step: FlexibleInt64?

    var metric: MLflowMetric {
        MLflowMetric(key: key, value: value?.value ?? 0, timestamp: timestamp?.value ?? 0, step: step?.value ?? 0)
    }
}

/// A run as `runs/get`, `runs/create` and `runs/search` return it.
public struct MLflowRun: Sendable, Equatable {
    public var runID: String
    public var experimentID: String
    public var status: String
    public var startTime: Int64?
    public var endTime: Int64?
    public var artifactURI: String?
    public var userID: String?
    public var runName: String?
    /// The latest value of each metric (the server's `data.metrics`).
    public var latestMetrics: [MLflowMetric]
    public var params: [MLflowKeyValue]
    public var tags: [MLflowKeyValue]

    public func tag(_ key: String) -> String? { tags.last { $0.key == key }?.value }
}

struct RunJSON: Decodable, Sendable {
    struct Info: Decodable, Sendable {
        var run_id: String?
        var run_uuid: String?
        var experiment_id: String
        var status: String?
        var start_time: FlexibleInt64?
        var end_time: FlexibleInt64?
        var artifact_uri: String?
        var user_id: String?
        var run_name: String?
    }
    struct DataJSON: Decodable, Sendable {
        var metrics: [MetricJSON]?
        var params: [KeyValueJSON]?
        var tags: [KeyValueJSON]?
    }
    var info: Info
    var data: DataJSON?

    var run: MLflowRun? {
        guard let id = info.run_id ?? info.run_uuid else { return nil }
        return MLflowRun(
            runID: id, experimentID: info.experiment_id, status: info.status ?? "RUNNING",
            startTime: info.start_time?.value, endTime: info.end_time?.value, artifactURI: info.artifact_uri,
            userID: info.user_id, runName: info.run_name, latestMetrics: (data?.metrics ?? []).map(\.metric),
            params: (data?.params ?? []).map { MLflowKeyValue(key: $0.key, value: $0.value ?? "") },
            tags: (data?.tags ?? []).map { MLflowKeyValue(key: $0.key, value: $0.value ?? "") })
    }
}

struct RunResponse: Decodable, Sendable { var run: RunJSON }

struct SearchRunsResponse: Decodable, Sendable {
    var runs: [RunJSON]?
    var next_page_token: String?
}

struct ExperimentResponse: Decodable, Sendable {
    struct Experiment: Decodable, Sendable {
        var experiment_id: String
        var name: String?
        var artifact_location: String?
        var lifecycle_stage: String?
    }
    var experiment: Experiment
}

struct CreateExperimentResponse: Decodable, Sendable { var experiment_id: String }

struct MetricHistoryResponse: Decodable, Sendable {
    var metrics: [MetricJSON]?
    var next_page_token: String?
}

struct ErrorResponse: Decodable, Sendable {
    var error_code: String?
    var message: String?
}
