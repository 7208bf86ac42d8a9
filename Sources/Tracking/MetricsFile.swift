import Foundation

/// Reading a stage's `metrics:` JSON file into flat, dotted keys.
enum MetricsFile {
    /// `{"eval": {"accuracy": 0.9}, "n": 3, "name": "x"}` → `[("eval.accuracy", 0.9), ("n", 3)]`, sorted by key.
    /// Strings and nulls are skipped; booleans count as 0/1; array elements get their index as a key part.
    static func flatten(contentsOf file: URL) throws -> [(String, Double)] {
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw TrackingError.badMetricsFile(path: file.path, reason: "cannot read: \(error.localizedDescription)")
        }
        let root: JSONValue
        do { root = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw TrackingError.badMetricsFile(
                path: file.path, reason: "not valid JSON (\(error.localizedDescription))")
        }
        guard case .object = root else {
            throw TrackingError.badMetricsFile(path: file.path, reason: "expected a JSON object at the top level")
        }
        var values: [(String, Double)] = []
        flatten(root, prefix: "", into: &values)
        return values.sorted { $0.0 < $1.0 }
    }

    private static func flatten(_ value: JSONValue, prefix: String, into values: inout [(String, Double)]) {
        switch value {
        case .object(let dictionary):
            for (key, child) in dictionary {
                flatten(child, prefix: prefix.isEmpty ? key : "\(prefix).\(key)", into: &values)
            }
        case .array(let array):
            for (index, child) in array.enumerated() {
                flatten(child, prefix: "\(prefix).\(index)", into: &values)
            }
        case .number(let number):
            if number.isFinite { values.append((prefix, number)) }
        case .bool(let flag):
            values.append((prefix, flag ? 1 : 0))
        case .string, .null:
            break
        }
    }

    /// Just enough JSON to walk a metrics file; booleans stay distinct from numbers.
    private enum JSONValue: Decodable {
        case object([String: JSONValue])
        case array([JSONValue])
        case number(Double)
        case bool(Bool)
        case string(String)
        case null

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let flag = try? container.decode(Bool.self) {
                self = .bool(flag)
            } else if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else if let text = try? container.decode(String.self) {
                self = .string(text)
            } else if let array = try? container.decode([JSONValue].self) {
                self = .array(array)
            } else {
                self = .object(try container.decode([String: JSONValue].self))
            }
        }
    }
}
