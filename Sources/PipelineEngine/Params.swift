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
    /// `STAGE.KEY`, the part before `=`.
    public var target: String

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
            node = try YAMLDocument.compose(valueText, file: "-S") ?? Node("", Tag(.null, .basic), .plain)
        } catch PipelineError.aliasExpansion(_, let limit) {
            throw PipelineError.badOverride(text: text, problem: "its YAML aliases expand past \(limit) nodes")
        } catch {
            throw PipelineError.badOverride(text: text, problem: "value is not valid YAML")
        }
        self.file = "stages/\(target[..<dot]).yaml"
        self.key = String(target[target.index(after: dot)...])
        self.value = CanonicalValue(node)
        self.text = text
        self.target = String(target)
    }

    /// Binds each override to a param some stage declares: `STAGE.KEY` names key KEY of `stages/STAGE.yaml`,
    /// split at the first dot that gives a declared pair (a stage name may contain dots). An override that
    /// names no declared param would be silently ignored, so it is refused, naming the closest declared one.
    public static func bind(_ overrides: [ParamOverride], to definition: PipelineDefinition) throws -> [ParamOverride] {
        let declared = Set(definition.stages.flatMap(\.params).map { ParamTarget(file: $0.file, key: $0.key) })
        return try overrides.map { override in
            var bound = override
            for split in override.splits() where declared.contains(split) {
                bound.file = split.file
                bound.key = split.key
                return bound
            }
            throw override.unknown(declared: declared)
        }
    }

    /// Why this override binds to nothing: its file is read by no stage (the closest `STAGE.KEY` is
    /// suggested), or its key is not declared for that file (the closest key of that file is suggested, else
    /// the declared ones are listed).
    private func unknown(declared: Set<ParamTarget>) -> PipelineError {
        let files = Set(splits().map(\.file))
        let keysOfFile = declared.filter { files.contains($0.file) }.map(\.key).sorted()
        guard !keysOfFile.isEmpty else {
            let names = declared.compactMap(\.overrideName).sorted()
            return .unknownOverride(
                text: text, problem: "no stage reads params from \(file)",
                suggestion: ClosestName.find(target, among: names))
        }
        if let closest = ClosestName.find(key, among: keysOfFile) {
            let stage = file.dropFirst("stages/".count).dropLast(".yaml".count)
            return .unknownOverride(
                text: text, problem: "no stage declares param '\(key)' of \(file)", suggestion: "\(stage).\(closest)")
        }
        let shown = keysOfFile.prefix(12).joined(separator: ", ") + (keysOfFile.count > 12 ? ", …" : "")
        return .unknownOverride(
            text: text, problem: "no stage declares param '\(key)' of \(file) (declared: \(shown))", suggestion: nil)
    }

    /// Every way to read `target` as `stages/STAGE.yaml` + key, first dot first.
    private func splits() -> [ParamTarget] {
        target.indices.filter { target[$0] == "." && $0 != target.startIndex }.compactMap { dot in
            let key = target[target.index(after: dot)...]
            guard !key.isEmpty else { return nil }
            return ParamTarget(file: "stages/\(target[..<dot]).yaml", key: String(key))
        }
    }
}

/// A params file and key, as `-S` addresses them.
private struct ParamTarget: Hashable {
    var file: String
    var key: String

    /// `STAGE.KEY` for a key of `stages/STAGE.yaml`; nil for params files `-S` cannot reach.
    var overrideName: String? {
        guard file.hasPrefix("stages/"), file.hasSuffix(".yaml") else { return nil }
        return "\(file.dropFirst("stages/".count).dropLast(".yaml".count)).\(key)"
    }
}

/// The closest of some names to a mistyped one, by edit distance, when it is close enough to be a typo.
enum ClosestName {
    static func find(_ typed: String, among names: [String]) -> String? {
        let scored = names.map { (name: $0, distance: distance(typed, $0)) }
        guard let best = scored.min(by: { ($0.distance, $0.name) < ($1.distance, $1.name) }) else { return nil }
        // More than a third of the name rewritten is another name, not a typo.
        return best.distance <= max(2, typed.count / 3) ? best.name : nil
    }

    /// Levenshtein distance over characters, with a transposition counting once (`epohcs` → `epochs`).
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        // rows[i][j]: the distance between a[..<i] and b[..<j]; three rows are enough for transpositions.
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
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
            guard let node = document.param(at: reference.key) else {
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
}

extension Node {
    /// The node a dotted param key names, as params are read: `a.b.c` → the node at `a` / `b` / `c`; a whole key
    /// containing dots wins over descending.
    public func param(at key: String) -> Node? {
        guard case .mapping(let map) = self else { return nil }
        if let exact = map[key] { return exact }
        let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, let child = map[parts[0]] else { return nil }
        return child.param(at: parts[1])
    }
}

/// A params file's text read as a repro reads `stages/*.yaml`: composed under the alias limit, then every key of
/// its mapping, and of the mappings below it, looked up as `ParamsResolver` looks keys up (`Node.param(at:)`) and canonicalised. The
/// entry of the params fuzz target (`fuzz/ParamsFuzzer`); a repro reads only the keys its stages declare.
public enum ParamsText {
    public static func values(_ text: String, file: String) throws -> [String: CanonicalValue] {
        guard let document = try YAMLDocument.compose(text, file: file) else { return [:] }
        var values: [String: CanonicalValue] = [:]
        for key in keys(of: document, depth: 4) {
            if let node = document.param(at: key) { values[key] = CanonicalValue(node) }
        }
        return values
    }

    /// The dotted keys of `node`'s mappings, `depth` levels down.
    private static func keys(of node: Node, prefix: String = "", depth: Int) -> [String] {
        guard depth > 0, case .mapping(let map) = node else { return [] }
        return map.flatMap { key, value -> [String] in
            let name = prefix + (key.string ?? CanonicalValue(key).json)
            return [name] + keys(of: value, prefix: name + ".", depth: depth - 1)
        }
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
