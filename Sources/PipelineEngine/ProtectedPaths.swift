import Foundation

/// The paths of a workspace that no stage may write. A stage's outputs are removed before it runs and
/// replaced from the cache on a restore, so an output naming one of these would delete the repository,
/// the pipeline's own files or the run store. Outputs that are, lie inside or contain one are refused.
enum ProtectedPaths {
    /// Workspace-relative paths (normalised) and what each one is, for the message.
    static let entries: [(path: String, what: String)] = [
        (".", "the workspace root"),
        (".git", "the git repository"),
        ("pipeline.yaml", "the pipeline definition"),
        ("pipeline.lock", "the lock file"),
        ("stages", "the params directory"),
        (".cache", "pipe's content cache"),
        ("runs", "the run store"),
    ]

    /// Throws `protectedOutput` when the normalised workspace path `output` is, lies inside or contains a
    /// protected path. A `.git` component anywhere (a nested repository or submodule) is refused too, as git
    /// itself refuses to track such a path.
    static func check(output: String, role: OutputRole, at location: SourceLocation) throws {
        if let hit = protectedPath(for: output) {
            throw PipelineError.protectedOutput(
                location, key: role.key, path: output, protected: hit.path, what: hit.what)
        }
    }

    static func protectedPath(for output: String) -> (path: String, what: String)? {
        if output == "." { return entries[0] }
        let components = output.split(separator: "/")
        if let git = components.firstIndex(of: ".git") {
            return git == 0 ? entries[1] : (components[...git].joined(separator: "/"), "a git repository")
        }
        return entries.dropFirst().first { pathsOverlap(output, $0.path) }
    }
}

extension OutputRole {
    /// The `pipeline.yaml` key that declares an output of this role.
    var key: String {
        switch self {
        case .out: return "outs"
        case .metric: return "metrics"
        case .plot: return "plots"
        }
    }
}
