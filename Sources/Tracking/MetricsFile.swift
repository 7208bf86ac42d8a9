import Foundation

/// What a stage's `metrics:` JSON file holds, sorted into the store's three kinds of value.
///
/// - A number (or boolean, as 0/1) is a scalar under its dotted path: `{"eval": {"accuracy": 0.9}}` → `eval.accuracy`.
/// - A list of objects is a per-step record list (`epochs: [{epoch: 1, loss: …}, …]`): each numeric field becomes
///   the history of one metric named by the list's parent path and the field (`loss`, steps 1…N). A record's
///   `epoch` or `step` field, when a whole number, is its step (and no metric); otherwise its position from 1.
///   When one object holds two such lists, their metrics keep the list's name (`train_epochs.loss`).
/// - Any other list (a vector, a matrix) and a table (an object of at least three objects that all hold the same
///   numeric fields, such as per-class scores) is one structured value, kept whole as JSON.
/// Strings and nulls are skipped. A scalar whose key is also one of the file's histories is that history's summary
/// (the best epoch's value, found again at its step) and is not logged separately.
struct MetricsFileContents: Equatable {
    var scalars: [(key: String, value: Double)] = []
    var histories: [MetricSeries] = []
    var structured: [(key: String, value: JSONValue)] = []

    /// The smallest object that `isTable` calls a table: fewer rows read better as columns.
    static let minimumTableRows = 3

    static func == (lhs: MetricsFileContents, rhs: MetricsFileContents) -> Bool {
        lhs.scalars.map(\.key) == rhs.scalars.map(\.key) && lhs.scalars.map(\.value) == rhs.scalars.map(\.value)
            && lhs.histories == rhs.histories && lhs.structured.map(\.key) == rhs.structured.map(\.key)
            && lhs.structured.map(\.value) == rhs.structured.map(\.value)
    }

    /// Reads and sorts `file`; keys get `prefix.` in front when a prefix is given. Everything sorted by key.
    static func read(contentsOf file: URL, prefix: String? = nil) throws -> MetricsFileContents {
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
        var contents = MetricsFileContents()
        contents.walk(root, path: prefix ?? "", historyBase: prefix ?? "")
        let historyKeys = Set(contents.histories.map(\.key))
        contents.scalars = contents.scalars.filter { !historyKeys.contains($0.key) }.sorted { $0.key < $1.key }
        contents.histories.sort { $0.key < $1.key }
        contents.structured.sort { $0.key < $1.key }
        return contents
    }

    /// `historyBase`: the path a record list found at `path` names its histories under.
    private mutating func walk(_ value: JSONValue, path: String, historyBase: String) {
        switch value {
        case .object(let members):
            if Self.isTable(members) {
                structured.append((path, value))
                return
            }
            let recordLists = members.values.filter(Self.isRecordList).count
            for (key, child) in members {
                let childPath = Self.join(path, key)
                walk(child, path: childPath, historyBase: recordLists > 1 ? childPath : path)
            }
        case .array(let elements):
            if Self.isRecordList(value) {
                appendHistories(elements, base: historyBase)
            } else if !elements.isEmpty {
                structured.append((path, value))
            }
        case .number(let number):
            if number.isFinite { scalars.append((path, number)) }
        case .bool(let flag):
            scalars.append((path, flag ? 1 : 0))
        case .string, .null:
            break
        }
    }

    private mutating func appendHistories(_ records: [JSONValue], base: String) {
        var series: [String: MetricSeries] = [:]
        for (index, record) in records.enumerated() {
            guard case .object(let fields) = record else { continue }
            let step = Self.step(of: fields) ?? Int64(index + 1)
            for (field, value) in fields where field != "epoch" && field != "step" {
                guard let number = value.scalarNumber else { continue }
                let key = Self.join(base, field)
                series[key, default: MetricSeries(key: key)].steps.append(step)
                series[key]?.values.append(number)
            }
        }
        histories += series.values
    }

    private static func step(of fields: [String: JSONValue]) -> Int64? {
        for name in ["epoch", "step"] {
            if case .number(let number) = fields[name], number == number.rounded(), abs(number) < 1e15 {
                return Int64(number)
            }
        }
        return nil
    }

    private static func isRecordList(_ value: JSONValue) -> Bool {
        guard case .array(let elements) = value, !elements.isEmpty else { return false }
        return elements.allSatisfy { if case .object = $0 { return true } else { return false } }
    }

    private static func isTable(_ members: [String: JSONValue]) -> Bool {
        guard members.count >= minimumTableRows else { return false }
        var columns: Set<String>?
        for row in members.values {
            guard case .object(let cells) = row, !cells.isEmpty, cells.values.allSatisfy({ $0.scalarNumber != nil })
            else { return false }
            if let columns, columns != Set(cells.keys) { return false }
            columns = Set(cells.keys)
        }
        return true
    }

    private static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

/// A JSON value as a metrics file holds it; booleans stay distinct from numbers. Structured metric values (matrices,
/// per-class tables) are stored and shown as these.
public enum JSONValue: Codable, Sendable, Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case number(Double)
    case bool(Bool)
    case string(String)
    case null

    public init(from decoder: Decoder) throws {
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

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .object(let members): try container.encode(members)
        case .array(let elements): try container.encode(elements)
        case .number(let number): try container.encode(number)
        case .bool(let flag): try container.encode(flag)
        case .string(let text): try container.encode(text)
        case .null: try container.encodeNil()
        }
    }

    /// A finite number, or a boolean as 0/1; nil for anything else.
    public var scalarNumber: Double? {
        switch self {
        case .number(let number): return number.isFinite ? number : nil
        case .bool(let flag): return flag ? 1 : 0
        default: return nil
        }
    }

    /// Compact JSON text with sorted keys, as the store keeps it and CSV cells show it.
    public var compactText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    /// Every number inside, under dotted keys below `prefix` (array elements by index): `eval.confusion.0.1`.
    /// How stores before structured values held these, and what `pipe report` reads a matrix from.
    public func flattened(prefix: String) -> [String: Double] {
        var values: [String: Double] = [:]
        func walk(_ value: JSONValue, _ path: String) {
            switch value {
            case .object(let members): for (key, child) in members { walk(child, "\(path).\(key)") }
            case .array(let elements): for (index, child) in elements.enumerated() { walk(child, "\(path).\(index)") }
            default: if let number = value.scalarNumber { values[path] = number }
            }
        }
        walk(self, prefix)
        return values
    }
}
