import Foundation

/// One metric value as MLflow stores it: key, value, milliseconds since 1970, step.
public struct MLflowMetric: Sendable, Equatable, Hashable {
    public var key: String
    public var value: Double
    public var timestamp: Int64
    public var step: Int64
}

/// A param or a tag: key and text value.
public struct MLflowKeyValue: Sendable, Equatable, Hashable {
    public var key: String
    public var value: String
}

/// The limits of one `runs/log-batch` request (MLflow's `MAX_*_PER_BATCH` and `MAX_BATCH_LOG_REQUEST_SIZE`).
public struct LogBatchLimits: Sendable, Equatable {
    public var metrics = 1000
    public var params = 100
    public var tags = 100
    public var entities = 1000
    /// Bytes of JSON per request; MLflow refuses more than 1,000,000.
    public var bytes = 1_000_000

    public init() {}
    public static let mlflow = LogBatchLimits()
}

/// One `runs/log-batch` request body's entities, already encoded as JSON objects.
public struct LogBatch: Sendable, Equatable {
    public var metrics: [[UInt8]] = []
    public var params: [[UInt8]] = []
    public var tags: [[UInt8]] = []

    var entityCount: Int { metrics.count + params.count + tags.count }

    /// `{"run_id":"…","metrics":[…],"params":[…],"tags":[…]}`.
    public func body(runID: String) -> [UInt8] {
        var out = Array("{\"run_id\":".utf8)
        JSONText.appendString(runID, to: &out)
        for (name, items) in [("metrics", metrics), ("params", params), ("tags", tags)] {
            out += Array(",\"\(name)\":[".utf8)
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out += item
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The size `body(runID:)` has for a run id of `runIDLength` ASCII characters.
    static func bodySize(metrics: Int, params: Int, tags: Int, items: Int, runIDLength: Int) -> Int {
        // {"run_id":"ID","metrics":[],"params":[],"tags":[]} plus one comma between items of a list.
        let fixed = "{\"run_id\":\"\",\"metrics\":[],\"params\":[],\"tags\":[]}".utf8.count + runIDLength
        let commas = max(0, metrics - 1) + max(0, params - 1) + max(0, tags - 1)
        return fixed + items + commas
    }
}

/// Splits a run's params, tags and metrics into as few `runs/log-batch` requests as MLflow's limits allow.
///
/// Each request takes as many params as fit, then tags, then fills up with metrics (in the order given: MLflow keeps
/// the order within a kind), so params and tags share requests and metrics fill what is left. Every request stays
/// within 1,000 metrics, 100 params, 100 tags, 1,000 entities and 1,000,000 bytes of JSON. A single entity larger
/// than the byte budget goes alone (the server then says what is wrong with it).
public enum LogBatchSplitter {
    /// MLflow run ids are 32 hex characters; the size budget assumes at most this many.
    static let runIDBudget = 64

    public static func split(
        metrics: [MLflowMetric], params: [MLflowKeyValue], tags: [MLflowKeyValue],
        limits: LogBatchLimits = .mlflow
    ) -> [LogBatch] {
        let encodedParams = params.map(JSONText.keyValue)
        let encodedTags = tags.map(JSONText.keyValue)
        let encodedMetrics = metrics.map(JSONText.metric)
        var next = (params: 0, tags: 0, metrics: 0)
        var batches: [LogBatch] = []
        while next.params < encodedParams.count || next.tags < encodedTags.count
            || next.metrics < encodedMetrics.count
        {
            var batch = LogBatch()
            var itemBytes = 0
            func fits(_ size: Int, params: Int = 0, tags: Int = 0, metrics: Int = 0) -> Bool {
                let counts = (batch.params.count + params, batch.tags.count + tags, batch.metrics.count + metrics)
                guard counts.0 <= limits.params, counts.1 <= limits.tags, counts.2 <= limits.metrics,
                    counts.0 + counts.1 + counts.2 <= limits.entities
                else { return false }
                let bytes = LogBatch.bodySize(
                    metrics: counts.2, params: counts.0, tags: counts.1, items: itemBytes + size,
                    runIDLength: runIDBudget)
                return bytes <= limits.bytes || batch.entityCount == 0 && size + 200 > limits.bytes
            }
            while next.params < encodedParams.count, fits(encodedParams[next.params].count, params: 1) {
                batch.params.append(encodedParams[next.params])
                itemBytes += encodedParams[next.params].count
                next.params += 1
            }
            while next.tags < encodedTags.count, fits(encodedTags[next.tags].count, tags: 1) {
                batch.tags.append(encodedTags[next.tags])
                itemBytes += encodedTags[next.tags].count
                next.tags += 1
            }
            while next.metrics < encodedMetrics.count, fits(encodedMetrics[next.metrics].count, metrics: 1) {
                batch.metrics.append(encodedMetrics[next.metrics])
                itemBytes += encodedMetrics[next.metrics].count
                next.metrics += 1
            }
            guard batch.entityCount > 0 else { break }  // cannot happen: an empty batch takes any one entity
            batches.append(batch)
        }
        return batches
    }
}

/// Hand-written JSON for the request bodies: exact sizes for the batch budget, and no encoder per entity
/// (an export of 1,000 runs encodes 200,000 metric values).
enum JSONText {
    static func keyValue(_ item: MLflowKeyValue) -> [UInt8] {
        var out = Array("{\"key\":".utf8)
        appendString(item.key, to: &out)
        out += Array(",\"value\":".utf8)
        appendString(item.value, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    static func metric(_ metric: MLflowMetric) -> [UInt8] {
        var out = Array("{\"key\":".utf8)
        appendString(metric.key, to: &out)
        out += Array(",\"value\":".utf8)
        out += Array(number(metric.value).utf8)
        out += Array(",\"timestamp\":\(metric.timestamp),\"step\":\(metric.step)}".utf8)
        return out
    }

    /// A double as JSON; protobuf's JSON mapping takes the non-finite values as the strings below.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "\"NaN\"" }
        if value.isInfinite { return value > 0 ? "\"Infinity\"" : "\"-Infinity\"" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func object(_ fields: [(String, JSONValue)]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            value.append(to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// The few JSON values the other request bodies need.
enum JSONValue {
    case string(String)
    case integer(Int64)
    case strings([String])
    case raw([UInt8])

    func append(to out: inout [UInt8]) {
        switch self {
        case .string(let text): JSONText.appendString(text, to: &out)
        case .integer(let number): out += Array(String(number).utf8)
        case .strings(let texts):
            out.append(UInt8(ascii: "["))
            for (index, text) in texts.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONText.appendString(text, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .raw(let bytes): out += bytes
        }
    }
}
