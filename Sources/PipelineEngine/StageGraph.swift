import ContentStore
import Foundation

/// The stage DAG: an edge A → B when B depends on a path that A writes (the same path, or one inside
/// the other). Built only from a definition that passed validation, so it has no cycles.
public struct StageGraph: Sendable {
    public let definition: PipelineDefinition
    /// Stage names in a topological order; ties keep declaration order.
    public let order: [String]
    /// For each stage, the stages whose outputs it reads.
    public let upstream: [String: [String]]
    /// For each stage, the stages that read its outputs.
    public let downstream: [String: [String]]

    /// Builds the graph and checks what only the whole pipeline can show: clashing outputs, paths that
    /// escape the workspace through symlinks, dependencies nobody produces, and cycles.
    public init(definition: PipelineDefinition, workspace: URL) throws {
        self.definition = definition
        try Self.checkOutputs(definition)
        try Self.checkEscapes(definition, workspace: workspace)
        var upstream: [String: [String]] = [:]
        var downstream: [String: [String]] = [:]
        for stage in definition.stages {
            upstream[stage.name] = []
            downstream[stage.name] = []
        }
        // Outputs indexed by their path and by every path enclosing them, so that finding the producers of a
        // dependency costs its depth, not a pass over every output of the pipeline.
        var producersByPath: [String: [Int]] = [:]
        var producersByEnclosing: [String: [Int]] = [:]
        for (index, stage) in definition.stages.enumerated() {
            for output in stage.outputs {
                producersByPath[output.path, default: []].append(index)
                for enclosing in enclosingPaths(output.path) {
                    producersByEnclosing[enclosing, default: []].append(index)
                }
            }
        }
        for stage in definition.stages {
            for dep in stage.deps {
                // Overlap: the same path, the dependency inside an output, or an output inside the dependency.
                var indices = Set(producersByEnclosing[dep.path] ?? [])
                for path in [dep.path] + enclosingPaths(dep.path) { indices.formUnion(producersByPath[path] ?? []) }
                let producers = indices.sorted().map { definition.stages[$0] }
                if producers.isEmpty,
                    FileStat.at(workspace.appendingPathComponent(dep.path).path, followingSymlinks: true) == nil
                {
                    throw PipelineError.missingDependency(dep.location, path: dep.path, stage: stage.name)
                }
                for producer in producers where !(upstream[stage.name] ?? []).contains(producer.name) {
                    upstream[stage.name, default: []].append(producer.name)
                    downstream[producer.name, default: []].append(stage.name)
                }
            }
        }
        self.upstream = upstream
        self.downstream = downstream
        self.order = try Self.topologicalOrder(definition, upstream: upstream, downstream: downstream)
    }

    public func stage(_ name: String) -> StageDefinition? { definition.stage(named: name) }

    /// `names` and everything they depend on, transitively, in topological order.
    public func withUpstream(_ names: [String]) -> [String] { closure(names, edges: upstream) }

    /// `names` and everything that depends on them, transitively, in topological order.
    public func withDownstream(_ names: [String]) -> [String] { closure(names, edges: downstream) }

    private func closure(_ names: [String], edges: [String: [String]]) -> [String] {
        var seen = Set(names)
        var pending = names
        while let next = pending.popLast() {
            for neighbour in edges[next] ?? [] where seen.insert(neighbour).inserted { pending.append(neighbour) }
        }
        return order.filter { seen.contains($0) }
    }

    // MARK: - Checks

    private static func checkOutputs(_ definition: PipelineDefinition) throws {
        // The usual case, no clash at all, in one pass over the outputs; a clash is then named by the pairwise
        // search below, which reports the first one in declaration order.
        let paths = definition.stages.flatMap { $0.outputs.map(\.path) }
        let distinct = Set(paths)
        guard
            distinct.count != paths.count
                || paths.contains(where: { enclosingPaths($0).contains(where: distinct.contains) })
        else { return }
        var owners: [(path: String, stage: String)] = []
        for stage in definition.stages {
            for output in stage.outputs {
                for (path, owner) in owners {
                    if path == output.path {
                        throw PipelineError.duplicateOutput(
                            output.location, path: output.path, stage: stage.name, otherStage: owner)
                    }
                    if isInside(output.path, path) {
                        throw PipelineError.overlappingOutputs(
                            output.location, path: output.path, stage: stage.name, enclosing: path, otherStage: owner)
                    }
                    if isInside(path, output.path) {
                        throw PipelineError.overlappingOutputs(
                            output.location, path: path, stage: owner, enclosing: output.path, otherStage: stage.name)
                    }
                }
                owners.append((output.path, stage.name))
            }
        }
    }

    /// A declared path whose existing part resolves (through symlinks) outside the workspace is refused, and
    /// so is an output that reaches a protected path through a symlink (`link -> .git`, `outs: [link/hooks]`).
    private static func checkEscapes(_ definition: PipelineDefinition, workspace: URL) throws {
        let root = realPath(workspace.path) ?? workspace.path
        for stage in definition.stages {
            let declared =
                stage.deps.map { ($0.path, $0.location, OutputRole?.none) }
                + stage.outputs.map { ($0.path, $0.location, Optional($0.role)) }
            for (path, location, role) in declared {
                var components = path.split(separator: "/").map(String.init)
                var missing: [String] = []
                while !components.isEmpty {
                    let candidate = workspace.appendingPathComponent(components.joined(separator: "/")).path
                    if FileStat.at(candidate) != nil {
                        guard let resolved = realPath(candidate) else { break }
                        guard resolved == root || resolved.hasPrefix(root + "/") else {
                            throw PipelineError.pathEscapesWorkspace(
                                location, path: path, reason: "a symlink points to \(resolved)")
                        }
                        if let role {
                            let inside = resolved.dropFirst(root.count).split(separator: "/").map(String.init)
                            let target = normalize((inside + missing.reversed()).joined(separator: "/"))
                            if target != path, let hit = ProtectedPaths.protectedPath(for: target) {
                                throw PipelineError.protectedOutput(
                                    location, key: role.key, path: path, protected: hit.path,
                                    what: "\(hit.what), through a symlink")
                            }
                        }
                        break
                    }
                    missing.append(components.removeLast())
                }
            }
        }
    }

    private static func topologicalOrder(
        _ definition: PipelineDefinition, upstream: [String: [String]], downstream: [String: [String]]
    ) throws -> [String] {
        var remaining: [String: Int] = [:]
        for stage in definition.stages { remaining[stage.name] = upstream[stage.name]?.count ?? 0 }
        var order: [String] = []
        var ready = definition.stages.map(\.name).filter { remaining[$0] == 0 }
        while !ready.isEmpty {
            let next = ready.removeFirst()
            order.append(next)
            for child in downstream[next] ?? [] {
                remaining[child, default: 0] -= 1
                if remaining[child] == 0 {
                    // Keep declaration order among stages that become ready.
                    ready.append(child)
                    ready.sort { index(of: $0, in: definition) < index(of: $1, in: definition) }
                }
            }
        }
        if order.count < definition.stages.count {
            let cycle = findCycle(definition, upstream: upstream, excluding: Set(order))
            let first = cycle.first.flatMap { definition.stage(named: $0) }
            throw PipelineError.cycle(
                first?.location ?? SourceLocation(file: definition.file, line: 1, column: 1), stages: cycle)
        }
        return order
    }

    private static func index(of name: String, in definition: PipelineDefinition) -> Int {
        definition.stages.firstIndex { $0.name == name } ?? Int.max
    }

    /// A cycle among the stages not ordered, as `[a, b, a]` following data flow.
    private static func findCycle(
        _ definition: PipelineDefinition, upstream: [String: [String]], excluding ordered: Set<String>
    ) -> [String] {
        let candidates = definition.stages.map(\.name).filter { !ordered.contains($0) }
        guard let start = candidates.first else { return [] }
        // Walk upstream edges until a stage repeats; every unordered stage has an unordered upstream.
        var path = [start]
        var current = start
        while true {
            guard let next = (upstream[current] ?? []).first(where: { !ordered.contains($0) }) else { return path }
            if let loopStart = path.firstIndex(of: next) {
                let loop = Array(path[loopStart...]) + [next]
                return loop.reversed()
            }
            path.append(next)
            current = next
        }
    }
}

/// Whether two workspace paths name the same file or one lies inside the other.
func pathsOverlap(_ a: String, _ b: String) -> Bool { a == b || isInside(a, b) || isInside(b, a) }

/// Every `outer` for which `isInside(path, outer)` holds: ".", and the path up to each of its slashes.
func enclosingPaths(_ path: String) -> [String] {
    var result = ["."]
    var index = path.startIndex
    while let slash = path[index...].firstIndex(of: "/") {
        result.append(String(path[..<slash]))
        index = path.index(after: slash)
    }
    return result
}

/// Whether `inner` lies strictly inside the directory `outer`.
func isInside(_ inner: String, _ outer: String) -> Bool { outer == "." || inner.hasPrefix(outer + "/") }

func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}
