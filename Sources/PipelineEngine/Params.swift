import ContentStore
import Foundation
import JSONText
import Yams

/// A params value in canonical JSON: keys sorted, numbers in their shortest round-trip form, so that
/// equal values have equal bytes whatever their YAML spelling (`1e-3` and `0.001` are the same value).
public struct CanonicalValue: Equatable, Hashable, @unchecked Sendable, CustomStringConvertible {
    public let json: String
    public let node: Node

    public init(_ node: Node) {
        self.node = node
        self.json = Self.canonical(node)
    }

    public var description: String { json }

    static func canonical(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            switch YAMLScalar.resolve(scalar) {
            case .null: return "null"
            case .bool(let value): return value ? "true" : "false"
            case .int(let value): return String(value)
            case .float(let value):
                guard value.isFinite else { return quote(scalar.string) }
                if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) + ".0" }
                return "\(value)"
            case .string(let text): return quote(text)
            }
        case .sequence(let items): return "[" + items.map(canonical).joined(separator: ",") + "]"
        case .mapping(let map):
            let pairs = map.map { (key: $0.key.string ?? canonical($0.key), value: canonical($0.value)) }
                .sorted { $0.key < $1.key }
            return "{" + pairs.map { quote($0.key) + ":" + $0.value }.joined(separator: ",") + "}"
        case .alias: return "null"
        }
    }

    static func quote(_ text: String) -> String { JSONString.literal(text) }
}

/// A `-S STAGE.KEY=VALUE` override: replaces KEY in `stages/STAGE.yaml` for this run.
public struct ParamOverride: Equatable, Sendable {
    public var file: String
    public var key: String
    public var value: CanonicalValue
    public var text: String

    /// Parses `STAGE.KEY=VALUE`; VALUE is read as a YAML scalar or flow value (`0.01`, `true`, `[1, 2]`).
    public init(parsing text: String) throws {
        guard let equals = text.firstIndex(of: "=") else {
            throw PipelineError.badOverride(text: text, problem: "expected STAGE.KEY=VALUE")
        }
        let target = text[..<equals]
        let valueText = String(text[text.index(after: equals)...])
        guard let dot = target.firstIndex(of: "."), dot != target.startIndex,
            target.index(after: dot) != target.endIndex
        else { throw PipelineError.badOverride(text: text, problem: "expected STAGE.KEY before '='") }
        let node: Node
        do {
            node = try Yams.compose(yaml: valueText, .basic) ?? Node("", Tag(.null, .basic), .plain)
        } catch {
            throw PipelineError.badOverride(text: text, problem: "value is not valid YAML")
        }
        self.file = "stages/\(target[..<dot]).yaml"
        self.key = String(target[target.index(after: dot)...])
        self.value = CanonicalValue(node)
        self.text = text
    }
}

/// Params values a stage reads, resolved from their files with overrides applied.
public struct ResolvedParams: Sendable {
    public var values: [ParamReference: CanonicalValue]
    public var overridden: Set<ParamReference>

    /// The value of `key`, looked up first in the stage's own file.
    public func node(_ key: String) -> Node? {
        values.first { $0.key.key == key && $0.key.file.hasPrefix("stages/") }?.value.node
            ?? values.first { $0.key.key == key }?.value.node
    }

    public func string(_ key: String) -> String? { node(key)?.scalar?.string }
    public func int(_ key: String) -> Int? { node(key).flatMap(YAMLScalar.int) }
    public func double(_ key: String) -> Double? { node(key).flatMap(YAMLScalar.double) }
    public func bool(_ key: String) -> Bool? { node(key).flatMap(YAMLScalar.bool) }

    /// True when `key` is present and null (`~`, `null` or empty).
    public func isNull(_ key: String) -> Bool { node(key).map(YAMLScalar.isNull) ?? false }

    /// A sequence of scalars as their text; nil when absent or not a sequence of scalars.
    public func strings(_ key: String) -> [String]? {
        guard case .sequence(let sequence)? = node(key) else { return nil }
        var values: [String] = []
        for item in sequence {
            guard let scalar = item.scalar else { return nil }
            values.append(scalar.string)
        }
        return values
    }

    /// A mapping from scalar keys to sequences of scalars (a label map); nil when the shape differs.
    public func stringLists(_ key: String) -> [String: [String]]? {
        guard case .mapping(let mapping)? = node(key) else { return nil }
        var result: [String: [String]] = [:]
        for (name, value) in mapping {
            guard let name = name.scalar?.string, case .sequence(let sequence) = value else { return nil }
            var values: [String] = []
            for item in sequence {
                guard let scalar = item.scalar else { return nil }
                values.append(scalar.string)
            }
            result[name] = values
        }
        return result
    }
}

/// Loads params files once per repro and answers dotted-key lookups.
final class ParamsResolver: @unchecked Sendable {
    let workspace: URL
    let overrides: [ParamOverride]
    private var documents: [String: Node?] = [:]
    private let lock = NSLock()

    init(workspace: URL, overrides: [ParamOverride]) {
        self.workspace = workspace
        self.overrides = overrides
    }

    func resolve(_ stage: StageDefinition) throws -> ResolvedParams {
        var values: [ParamReference: CanonicalValue] = [:]
        var overridden = Set<ParamReference>()
        for reference in stage.params {
            if let override = overrides.last(where: { $0.file == reference.file && $0.key == reference.key }) {
                values[reference] = override.value
                overridden.insert(reference)
                continue
            }
            guard let document = try document(reference.file, stage: stage, at: reference.location) else {
                throw PipelineError.missingParam(
                    reference.location, key: reference.key, paramsFile: reference.file, stage: stage.name)
            }
            guard let node = Self.lookup(reference.key, in: document) else {
                throw PipelineError.missingParam(
                    reference.location, key: reference.key, paramsFile: reference.file, stage: stage.name)
            }
            values[reference] = CanonicalValue(node)
        }
        return ResolvedParams(values: values, overridden: overridden)
    }

    private func document(_ file: String, stage: StageDefinition, at location: SourceLocation) throws -> Node? {
        lock.lock()
        defer { lock.unlock() }
        if let cached = documents[file] { return cached }
        let url = workspace.appendingPathComponent(file)
        guard FileStat.at(url.path, followingSymlinks: true) != nil else {
            throw PipelineError.missingParamsFile(location, paramsFile: file, stage: stage.name)
        }
        let node = try YAMLDocument.load(url, display: file)
        documents[file] = node
        return node
    }

    /// `a.b.c` → the node at `a` / `b` / `c`; a whole key containing dots wins over descending.
    static func lookup(_ key: String, in node: Node) -> Node? {
        guard case .mapping(let map) = node else { return nil }
        if let exact = map[key] { return exact }
        let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, let child = map[parts[0]] else { return nil }
        return lookup(parts[1], in: child)
    }
}

/// YAML 1.1 scalar resolution (null, bool, int, float, string), done here instead of by Yams' default
/// resolver, whose regular expressions cost a few milliseconds to compile on every start of pipe.
public enum YAMLScalar: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)

    public static func resolve(_ scalar: Node.Scalar) -> YAMLScalar {
        let text = scalar.string
        guard scalar.style == .plain else { return .string(text) }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return .bool(true)
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        if let value = Int(text) { return .int(value) }
        // Only decimal spellings: Swift's Double() would also take "inf", "nan" and hex floats.
        let decimal = text.unicodeScalars.allSatisfy { "0123456789+-.eE".unicodeScalars.contains($0) }
        if decimal, text.contains(where: \.isNumber), let value = Double(text) { return .float(value) }
        return .string(text)
    }

    static func of(_ node: Node) -> YAMLScalar? {
        guard case .scalar(let scalar) = node else { return nil }
        return resolve(scalar)
    }

    public static func bool(_ node: Node) -> Bool? {
        if case .bool(let value)? = of(node) { return value }
        return nil
    }

    public static func int(_ node: Node) -> Int? {
        if case .int(let value)? = of(node) { return value }
        return nil
    }

    public static func double(_ node: Node) -> Double? {
        switch of(node) {
        case .int(let value)?: return Double(value)
        case .float(let value)?: return value
        default: return nil
        }
    }

    public static func isNull(_ node: Node) -> Bool { of(node) == .null }
}
