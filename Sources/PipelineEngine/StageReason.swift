import ContentStore
import Foundation

/// Why a stage runs, or why it does not. Every decision carries one; `status` and `repro` print it.
public enum StageReason: Equatable, Sendable, CustomStringConvertible {
    case neverRun
    case forced
    case alwaysChanged
    case changedCommand
    case changedCodeVersion
    case changedParam(String)
    case changedDep(String)
    case changedOutputs
    case missingOutput(String)
    case modifiedOutput(String)
    case upstreamRan(String)
    /// Only in a plan (status, --dry): an upstream stage will run first.
    case upstreamStale(String)
    case upToDate
    case frozen

    public var isStale: Bool {
        switch self {
        case .upToDate, .frozen: return false
        default: return true
        }
    }

    public var description: String {
        switch self {
        case .neverRun: return "never run"
        case .forced: return "forced"
        case .alwaysChanged: return "always changed"
        case .changedCommand: return "changed command"
        case .changedCodeVersion: return "changed code version"
        case .changedParam(let key): return "changed param \(key)"
        case .changedDep(let path): return "changed dep \(path)"
        case .changedOutputs: return "changed outputs"
        case .missingOutput(let path): return "missing output \(path)"
        case .modifiedOutput(let path): return "modified output \(path)"
        case .upstreamRan(let stage): return "upstream ran (\(stage))"
        case .upstreamStale(let stage): return "upstream stale (\(stage))"
        case .upToDate: return "up to date"
        case .frozen: return "frozen"
        }
    }

    /// A short machine-readable code for `--json`.
    public var code: String {
        switch self {
        case .neverRun: return "never_run"
        case .forced: return "forced"
        case .alwaysChanged: return "always_changed"
        case .changedCommand: return "changed_command"
        case .changedCodeVersion: return "changed_code_version"
        case .changedParam: return "changed_param"
        case .changedDep: return "changed_dep"
        case .changedOutputs: return "changed_outputs"
        case .missingOutput: return "missing_output"
        case .modifiedOutput: return "modified_output"
        case .upstreamRan: return "upstream_ran"
        case .upstreamStale: return "upstream_stale"
        case .upToDate: return "up_to_date"
        case .frozen: return "frozen"
        }
    }
}

/// What a stage was built from, as of now.
struct StageInputs {
    var kind: String
    var params: ResolvedParams
    var deps: [String: Digest]

    /// SHA-256 over exactly: the stage kind, its params values, its deps' hashes and its outs' paths.
    func signature(outputs: [OutputDeclaration]) -> Digest {
        var text = "pipe-stage-signature 1\n"
        text += "kind \(CanonicalValue.quote(kind))\n"
        for (reference, value) in params.values.sorted(by: { $0.key < $1.key }) {
            text +=
                "param \(CanonicalValue.quote(reference.file)) \(CanonicalValue.quote(reference.key)) \(value.json)\n"
        }
        for path in deps.keys.sorted() {
            text += "dep \(CanonicalValue.quote(path)) \(deps[path]?.hex ?? "")\n"
        }
        for path in outputs.map(\.path).sorted() { text += "out \(CanonicalValue.quote(path))\n" }
        return Digest.of(text)
    }

    /// The lock's view of the params: file → key → canonical JSON.
    var lockedParams: [String: [String: String]] {
        var result: [String: [String: String]] = [:]
        for (reference, value) in params.values { result[reference.file, default: [:]][reference.key] = value.json }
        return result
    }
}

extension StageDefinition {
    /// The kind as the signature and the lock see it: `cmd: …` or `uses: NAME@VERSION`.
    func kindText(registry: StageRegistry) -> String {
        switch kind {
        case .command(let commands):
            return commands.count == 1 ? "cmd: \(commands[0])" : "cmd: " + CanonicalValue.canonicalList(commands)
        case .builtin(let name):
            return "uses: \(name)@\(registry.stage(named: name)?.codeVersion ?? "?")"
        }
    }
}

extension CanonicalValue {
    static func canonicalList(_ items: [String]) -> String { "[" + items.map(quote).joined(separator: ",") + "]" }
}

/// Decides, cheapest check first, whether a stage is stale against its lock entry.
///
/// `outputHash` is consulted last and only when everything cheaper matched, so an up-to-date stage with a
/// large output costs a stat, not a read (the stat cache answers).
func decide(
    stage: StageDefinition, inputs: StageInputs, lock: LockEntry?, forced: Bool, upstreamRan: String?,
    outputHash: (String) throws -> PathHash?
) rethrows -> StageReason {
    if stage.frozen { return .frozen }
    if forced { return .forced }
    guard let lock else { return .neverRun }
    if stage.alwaysChanged { return .alwaysChanged }
    if lock.kind != inputs.kind {
        let sameBuiltin =
            lock.kind.hasPrefix("uses: ") && inputs.kind.hasPrefix("uses: ")
            && lock.kind.split(separator: "@").first == inputs.kind.split(separator: "@").first
        return sameBuiltin ? .changedCodeVersion : .changedCommand
    }
    let current = inputs.lockedParams
    for file in Set(current.keys).union(lock.params.keys).sorted() {
        let now = current[file] ?? [:]
        let then = lock.params[file] ?? [:]
        for key in Set(now.keys).union(then.keys).sorted() where now[key] != then[key] {
            return .changedParam(key)
        }
    }
    for path in Set(inputs.deps.keys).union(lock.deps.keys).sorted() where inputs.deps[path] != lock.deps[path] {
        return .changedDep(path)
    }
    if lock.signature != inputs.signature(outputs: stage.outputs) { return .changedOutputs }
    for output in stage.outputs {
        guard let locked = lock.outputs.first(where: { $0.path == output.path }) else { return .changedOutputs }
        guard let hash = try outputHash(output.path) else { return .missingOutput(output.path) }
        if hash.digest != locked.digest || hash.isDirectory != locked.isDirectory {
            return .modifiedOutput(output.path)
        }
    }
    if let upstreamRan { return .upstreamRan(upstreamRan) }
    return .upToDate
}
