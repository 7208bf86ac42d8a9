import PipelineEngine
import Yams

/// Typed reads of a stage's params, failing with the params file and key named.
struct StageParams {
    let params: ResolvedParams
    /// The file the stage's own params live in, for messages: `stages/preprocess.yaml`.
    let file: String

    init(_ context: StageContext) {
        params = context.params
        file = "stages/\(context.stageName).yaml"
    }

    func failure(_ key: String, _ expectation: String) -> StageFailure {
        let found = params.node(key).map { " (found \(describe($0)))" } ?? " (missing)"
        return StageFailure("\(file): '\(key)' must be \(expectation)\(found)")
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
