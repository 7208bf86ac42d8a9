import ContentStore
import Foundation
import SystemFacts
import Yams

/// Reads `pipeline.yaml` into a `PipelineDefinition`, rejecting unknown keys and wrong types with the
/// file, line and column of the offending node. Knows nothing of the graph; `PipelineValidator` checks that.
public struct PipelineParser {
    /// `tracking:` belongs to the exporters (TrackingExport reads and checks it); the engine only lets it through.
    static let topLevelKeys = ["stages", "cache", "remotes", "default_remote", "tracking"]
    static let remoteKeys = ["url", "endpoint", "region"]
    /// Keys that would put a secret into a committed file: refused with a pointer to the environment.
    static let credentialKeys = [
        "access_key_id", "secret_access_key", "session_token", "aws_access_key_id", "aws_secret_access_key",
        "aws_session_token", "password", "secret", "token",
    ]
    static let stageKeys = [
        "uses", "cmd", "deps", "params", "outs", "metrics", "plots", "always_changed", "frozen", "desc",
    ]
    static let outputKeys = ["path", "cache", "persist"]

    public let file: String
    public let registry: StageRegistry

    public init(file: String, registry: StageRegistry) {
        self.file = file
        self.registry = registry
    }

    /// Parses YAML text; `file` names it in every error.
    public func parse(_ text: String) throws -> PipelineDefinition {
        let root = try YAMLDocument.compose(text, file: file)
        guard let root else { throw PipelineError.noStages(file: file) }
        let top = try mapping(root, expected: "a mapping with a 'stages' key")
        try checkKeys(top, allowed: Self.topLevelKeys)
        var linkMode = LinkMode.reflink
        if let cache = value(top, "cache") {
            let cacheMap = try mapping(cache, expected: "a mapping like {link: reflink|copy|hardlink}")
            try checkKeys(cacheMap, allowed: ["link"])
            if let linkNode = value(cacheMap, "link") {
                let text = try string(linkNode)
                guard let mode = LinkMode(rawValue: text) else {
                    throw PipelineError.unexpectedType(location(linkNode), expected: "one of reflink, copy, hardlink")
                }
                linkMode = mode
            }
        }
        guard let stagesNode = value(top, "stages") else { throw PipelineError.noStages(file: file) }
        let stagesMap = try mapping(stagesNode, expected: "a mapping of stage names to stages")
        var stages: [StageDefinition] = []
        for (keyNode, stageNode) in stagesMap {
            let name = try string(keyNode)
            guard isValidStageName(name) else { throw PipelineError.invalidStageName(location(keyNode), name: name) }
            stages.append(try parseStage(name: name, keyNode: keyNode, node: stageNode))
        }
        guard !stages.isEmpty else { throw PipelineError.noStages(file: file) }
        var definition = PipelineDefinition(file: file, stages: stages, linkMode: linkMode)
        definition.remotes = try parseRemotes(value(top, "remotes"))
        if let node = value(top, "default_remote") {
            let name = try string(node)
            guard definition.remote(named: name) != nil else {
                throw PipelineError.unknownRemote(location(node), name: name, known: definition.remotes.map(\.name))
            }
            definition.defaultRemote = name
        }
        return definition
    }

    private func parseRemotes(_ node: Node?) throws -> [RemoteDefinition] {
        guard let node else { return [] }
        if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" {
            return []
        }
        var remotes: [RemoteDefinition] = []
        let map = try mapping(node, expected: "a mapping of remote names to {url: …, endpoint: …, region: …}")
        for (keyNode, remoteNode) in map {
            let name = try string(keyNode)
            guard isValidStageName(name) else {
                throw PipelineError.invalidRemote(location(keyNode), name: name, problem: "not a valid remote name")
            }
            let fields = try mapping(remoteNode, expected: "a mapping like {url: s3://bucket/prefix}")
            for (fieldNode, _) in fields {
                if let field = fieldNode.string, Self.credentialKeys.contains(field.lowercased()) {
                    throw PipelineError.invalidRemote(
                        location(fieldNode), name: name,
                        problem: "'\(field)': credentials never go in pipeline.yaml (it is committed); set "
                            + "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE instead")
                }
            }
            try checkKeys(fields, allowed: Self.remoteKeys)
            guard let urlNode = value(fields, "url") else {
                throw PipelineError.invalidRemote(location(keyNode), name: name, problem: "missing 'url'")
            }
            let url = try string(urlNode)
            if let problem = RemoteDefinition.problem(url: url) {
                throw PipelineError.invalidRemote(location(urlNode), name: name, problem: problem)
            }
            var endpoint: String?
            if let endpointNode = value(fields, "endpoint") {
                let text = try string(endpointNode)
                let lowered = text.lowercased()
                guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://"), URL(string: text)?.host != nil
                else {
                    throw PipelineError.invalidRemote(
                        location(endpointNode), name: name, problem: "endpoint '\(text)' is not an http(s) URL")
                }
                endpoint = text
            }
            let region = try value(fields, "region").map { try string($0) }
            remotes.append(
                RemoteDefinition(
                    name: name, url: url, endpoint: endpoint, region: region, location: location(keyNode)))
        }
        return remotes
    }

    private func parseStage(name: String, keyNode: Node, node: Node) throws -> StageDefinition {
        let map = try mapping(node, expected: "a mapping describing stage '\(name)'")
        try checkKeys(map, allowed: Self.stageKeys)
        let stageLocation = location(keyNode)
        let kind: StageKind
        switch (value(map, "uses"), value(map, "cmd")) {
        case (.some, .some): throw PipelineError.kindAmbiguous(stageLocation, stage: name)
        case (.none, .none): throw PipelineError.kindMissing(stageLocation, stage: name)
        case (.some(let uses), .none):
            let builtin = try string(uses)
            guard registry.stage(named: builtin) != nil else {
                throw PipelineError.unknownBuiltin(location(uses), name: builtin, known: registry.names)
            }
            kind = .builtin(name: builtin)
        case (.none, .some(let cmd)):
            let commands = try commandList(cmd)
            guard !commands.isEmpty, commands.allSatisfy({ !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
                throw PipelineError.emptyCommand(location(cmd), stage: name)
            }
            kind = .command(commands)
        }
        let deps = try pathList(value(map, "deps")).map { DependencyDeclaration(path: $0.path, location: $0.location) }
        var params = try parseParams(value(map, "params"), stage: name)
        if case .builtin(let builtin) = kind, let stage = registry.stage(named: builtin) {
            for key in stage.declaredParams
            where !params.contains(where: { $0.file == "stages/\(name).yaml" && $0.key == key }) {
                params.append(ParamReference(file: "stages/\(name).yaml", key: key, location: location(keyNode)))
            }
        }
        var outputs = try parseOutputs(value(map, "outs"), role: .out, defaultCache: true)
        outputs += try parseOutputs(value(map, "metrics"), role: .metric, defaultCache: false)
        outputs += try parseOutputs(value(map, "plots"), role: .plot, defaultCache: true)
        return StageDefinition(
            name: name, kind: kind, deps: deps, params: params, outputs: outputs,
            alwaysChanged: try bool(value(map, "always_changed")) ?? false,
            frozen: try bool(value(map, "frozen")) ?? false,
            desc: try value(map, "desc").map { try string($0) },
            location: stageLocation)
    }

    private func parseParams(_ node: Node?, stage: String) throws -> [ParamReference] {
        guard let node else { return [] }
        let defaultFile = "stages/\(stage).yaml"
        var result: [ParamReference] = []
        for item in try sequence(node, expected: "a list of param keys or {file.yaml: [keys]}") {
            switch item {
            case .scalar:
                result.append(ParamReference(file: defaultFile, key: try string(item), location: location(item)))
            case .mapping(let map):
                for (fileNode, keysNode) in map {
                    let paramsFile = try string(fileNode)
                    try checkPathSyntax(paramsFile, at: location(fileNode))
                    for keyNode in try sequence(keysNode, expected: "a list of keys read from \(paramsFile)") {
                        result.append(
                            ParamReference(file: paramsFile, key: try string(keyNode), location: location(keyNode)))
                    }
                }
            default:
                throw PipelineError.unexpectedType(location(item), expected: "a param key or {file.yaml: [keys]}")
            }
        }
        return result
    }

    private func parseOutputs(_ node: Node?, role: OutputRole, defaultCache: Bool) throws -> [OutputDeclaration] {
        guard let node else { return [] }
        var result: [OutputDeclaration] = []
        for item in try sequence(node, expected: "a list of paths") {
            switch item {
            case .scalar:
                let path = try string(item)
                try checkPathSyntax(path, at: location(item))
                try ProtectedPaths.check(output: normalize(path), role: role, at: location(item))
                result.append(
                    OutputDeclaration(
                        path: normalize(path), role: role, cache: defaultCache, persist: false, location: location(item)
                    ))
            case .mapping(let map):
                try checkKeys(map, allowed: role == .metric ? Self.outputKeys + ["headline"] : Self.outputKeys)
                guard let pathNode = value(map, "path") else {
                    throw PipelineError.unexpectedType(
                        location(item), expected: "{path: p, cache: true|false, persist: true|false}")
                }
                let path = try string(pathNode)
                try checkPathSyntax(path, at: location(pathNode))
                try ProtectedPaths.check(output: normalize(path), role: role, at: location(pathNode))
                result.append(
                    OutputDeclaration(
                        path: normalize(path), role: role, cache: try bool(value(map, "cache")) ?? defaultCache,
                        persist: try bool(value(map, "persist")) ?? false, location: location(pathNode),
                        headline: try headlineKeys(value(map, "headline"))))
            default:
                throw PipelineError.unexpectedType(
                    location(item), expected: "a path or {path: p, cache: …, persist: …}")
            }
        }
        return result
    }

    /// `headline: [accuracy, per_class.V.f1]`: dotted keys of the metrics file, no empty part, each once.
    private func headlineKeys(_ node: Node?) throws -> [String] {
        guard let node else { return [] }
        var keys: [String] = []
        for item in try sequence(node, expected: "a list of metric keys in the file, like [accuracy, macro_f1]") {
            let key = try string(item)
            guard !key.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) else {
                throw PipelineError.unexpectedType(
                    location(item), expected: "a dotted metric key with no empty part, not '\(key)'")
            }
            guard !keys.contains(key) else { throw PipelineError.duplicateKey(location(item), key: key) }
            keys.append(key)
        }
        return keys
    }

    private func pathList(_ node: Node?) throws -> [(path: String, location: SourceLocation)] {
        guard let node else { return [] }
        return try sequence(node, expected: "a list of paths").map { item in
            let path = try string(item)
            try checkPathSyntax(path, at: location(item))
            return (normalize(path), location(item))
        }
    }

    // MARK: - Node helpers

    func location(_ node: Node) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    private func mapping(_ node: Node, expected: String) throws -> Node.Mapping {
        guard case .mapping(let map) = node else {
            throw PipelineError.unexpectedType(location(node), expected: expected)
        }
        return map
    }

    private func sequence(_ node: Node, expected: String) throws -> [Node] {
        switch node {
        case .sequence(let items): return Array(items)
        case .scalar where YAMLScalar.isNull(node): return []
        default: throw PipelineError.unexpectedType(location(node), expected: expected)
        }
    }

    private func string(_ node: Node) throws -> String {
        guard case .scalar(let scalar) = node, !YAMLScalar.isNull(node) else {
            throw PipelineError.unexpectedType(location(node), expected: "a string")
        }
        return scalar.string
    }

    /// `cmd:` as one command or a list. Each must be text: YAML reads a plain `42` or `true` as a number or a
    /// boolean, which is not what the author of a shell command meant, so it is refused with the fix.
    private func commandList(_ node: Node) throws -> [String] {
        let items: [Node]
        if case .sequence(let sequence) = node { items = Array(sequence) } else { items = [node] }
        return try items.map { item in
            let text = try string(item)
            guard case .scalar(let scalar) = item, case .string = YAMLScalar.resolve(scalar) else {
                throw PipelineError.unexpectedType(
                    location(item),
                    expected: "a command string (YAML reads \(text) as a value, not text: quote it, '\(text)')")
            }
            return text
        }
    }

    private func bool(_ node: Node?) throws -> Bool? {
        guard let node else { return nil }
        guard let value = YAMLScalar.bool(node) else {
            throw PipelineError.unexpectedType(location(node), expected: "true or false")
        }
        return value
    }

    private func value(_ map: Node.Mapping, _ key: String) -> Node? {
        map.first { (try? string($0.key)) == key }?.value
    }

    private func checkKeys(_ map: Node.Mapping, allowed: [String]) throws {
        var seen = Set<String>()
        for (keyNode, _) in map {
            let key = try string(keyNode)
            guard allowed.contains(key) else {
                throw PipelineError.unknownKey(location(keyNode), key: key, allowed: allowed)
            }
            guard seen.insert(key).inserted else { throw PipelineError.duplicateKey(location(keyNode), key: key) }
        }
    }

    private func isValidStageName(_ name: String) -> Bool {
        !name.isEmpty
            && name.unicodeScalars.allSatisfy {
                CharacterSet.alphanumerics.contains($0) || "_-.".unicodeScalars.contains($0)
            }
    }

    /// Rejects paths that are absolute or climb out with `..`; symlinks are checked by the validator.
    private func checkPathSyntax(_ path: String, at location: SourceLocation) throws {
        guard !path.isEmpty else { throw PipelineError.invalidPath(location, path: path, problem: "empty") }
        guard !path.contains("\n") else {
            throw PipelineError.invalidPath(location, path: path, problem: "contains a newline")
        }
        if path.hasPrefix("/") || path.hasPrefix("~") {
            throw PipelineError.pathEscapesWorkspace(location, path: path, reason: "absolute path")
        }
        if path.split(separator: "/").contains("..") {
            throw PipelineError.pathEscapesWorkspace(location, path: path, reason: "'..' component")
        }
    }
}

/// `a/./b/` → `a/b`: one spelling per path, so outputs and deps compare as strings.
func normalize(_ path: String) -> String {
    let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
    return parts.isEmpty ? "." : parts.joined(separator: "/")
}

/// Composes YAML text into a node tree, turning Yams errors into located `PipelineError`s.
enum YAMLDocument {
    /// Every YAML text pipe reads from outside comes through here, so the alias-expansion limit
    /// (`YAMLExpansion`) holds for all of them before Yams builds a tree.
    static func compose(_ text: String, file: String) throws -> Node? {
        do {
            try YAMLExpansion.check(text)
        } catch let exceeded as YAMLExpansion.Exceeded {
            throw PipelineError.aliasExpansion(
                SourceLocation(file: file, line: exceeded.line, column: exceeded.column), limit: YAMLExpansion.nodeLimit
            )
        }
        do {
            return try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
                .composer(_, let problem, let mark, _):
                throw PipelineError.malformedYAML(
                    SourceLocation(file: file, line: mark.line, column: mark.column), problem: problem)
            case .duplicatedKeysInMapping(let duplicates, let context):
                let key = duplicates.sorted().first ?? ""
                let line = secondOccurrence(of: key, in: text, from: context.mark.line) ?? context.mark.line
                throw PipelineError.duplicateKey(SourceLocation(file: file, line: line, column: 1), key: key)
            case .reader(let problem, _, _, _):
                throw PipelineError.malformedYAML(SourceLocation(file: file, line: 1, column: 1), problem: problem)
            default:
                throw PipelineError.malformedYAML(SourceLocation(file: file, line: 1, column: 1), problem: "\(error)")
            }
        }
    }

    /// The line of the second `key:` at the indentation of the first, from `startLine` on (1-based). Lines end
    /// where libyaml, whose marks give `startLine`, ends them: at LF, CR, CRLF, NEL, LS or PS (a file with CR
    /// line ends once gave a start past the last LF-split line, and a trap).
    static func secondOccurrence(of key: String, in text: String, from startLine: Int) -> Int? {
        let breaks: Set<Character> = ["\n", "\r", "\r\n", "\u{85}", "\u{2028}", "\u{2029}"]
        let lines = text.split(omittingEmptySubsequences: false) { breaks.contains($0) }
        var firstIndent: Int?
        let first = max(0, startLine - 1)
        guard first < lines.count else { return nil }
        for index in first..<lines.count {
            let line = lines[index]
            let indent = line.prefix { $0 == " " }.count
            let rest = line.dropFirst(indent)
            guard rest.hasPrefix(key), rest.dropFirst(key.count).drop(while: { $0 == " " }).hasPrefix(":") else {
                continue
            }
            if let firstIndent {
                if indent == firstIndent { return index + 1 }
            } else {
                firstIndent = indent
            }
        }
        return nil
    }

    /// Reads and composes a YAML file; `display` is the name used in errors.
    static func load(_ url: URL, display: String) throws -> Node? {
        guard FileStat.at(url.path, followingSymlinks: true) != nil else {
            throw PipelineError.missingFile(path: display)
        }
        if let kind = FileKind.nonRegular(at: url.path) {
            throw PipelineError.unreadableFile(path: display, reason: "\(kind), not a regular file")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw PipelineError.unreadableFile(path: display, reason: error.localizedDescription)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PipelineError.malformedYAML(
                SourceLocation(file: display, line: 1, column: 1), problem: "not UTF-8 text")
        }
        return try compose(text, file: display)
    }
}
