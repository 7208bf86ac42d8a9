import PipelineEngine
import Yams

/// Typed reads of a stage's params, failing with the params file and key named.
struct StageParams {
    let params: ResolvedParams
    /// The file the stage's own params live in, for messages: `stages/preprocess.yaml`.
    let file: String
    /// Whether messages name the line of the value as well as the file (`stages/train.yaml:12`).
    var namesLines = false

    init(_ context: StageContext) {
        params = context.params
        file = "stages/\(context.stageName).yaml"
    }

    func failure(_ key: String, _ expectation: String) -> StageFailure {
        let found = params.node(key).map { " (found \(describe($0)))" } ?? " (missing)"
        return StageFailure("\(namesLines ? place(key) : file): '\(key)' must be \(expectation)\(found)")
    }

    /// Where the value of `key` (or `node`, a part of it) was written: `stages/train.yaml:12`; the file alone
    /// when the line is unknown, and `stages/train.yaml (-S)` for a value set on the command line.
    func place(_ key: String, node: Node? = nil) -> String {
        if params.overridden.contains(where: { $0.key == key }) { return "\(file) (-S)" }
        guard let line = (node ?? params.node(key))?.mark?.line else { return file }
        return "\(file):\(line)"
    }

    func isNull(_ key: String) -> Bool { params.node(key) == nil || params.isNull(key) }

    func string(_ key: String) throws -> String {
        guard let value = params.string(key), !isNull(key) else { throw failure(key, "a string") }
        return value
    }

    func choice<T: RawRepresentable>(_ key: String, _: T.Type) throws -> T
    where T.RawValue == String, T: CaseIterable {
        let options = T.allCases.map(\.rawValue).joined(separator: ", ")
        guard let text = params.string(key), let value = T(rawValue: text) else {
            throw failure(key, "one of \(options)")
        }
        return value
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int {
        guard let value = params.int(key), range.contains(value) else {
            throw failure(key, "an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func double(_ key: String, in range: ClosedRange<Double>) throws -> Double {
        guard let value = params.double(key), range.contains(value) else {
            throw failure(key, "a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func optionalDouble(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        isNull(key) ? nil : try double(key, in: range)
    }

    func bool(_ key: String) throws -> Bool {
        guard let value = params.bool(key) else { throw failure(key, "true or false") }
        return value
    }

    /// A list of names, or the word `all` (or null) for nil.
    func optionalNames(_ key: String) throws -> [String]? {
        if isNull(key) || params.string(key) == "all" { return nil }
        guard let values = params.strings(key) else { throw failure(key, "a list of names or 'all'") }
        return values
    }

    private func describe(_ node: Node) -> String {
        if let scalar = node.scalar { return "'\(scalar.string)'" }
        switch node {
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        default: return "a value"
        }
    }
}
