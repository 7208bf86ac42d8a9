import CGit2
import Dispatch
import Foundation

/// What a run records about the source tree it ran from: the commit, the branch and whether the tree was dirty.
///
/// Read through libgit2. "Dirty" means a tracked file is modified (staged or not) or an untracked,
/// non-ignored file exists, ignoring anything under the workspace's `.cache/` and `runs/`.
public struct GitFacts: Sendable, Equatable, Codable {
    /// Full 40-hex commit id of HEAD; empty outside a repository or before the first commit.
    public var commit: String
    /// The checked-out branch (`main`); nil when HEAD is detached or there is no repository.
    public var branch: String?
    /// True when HEAD points directly at a commit rather than a branch.
    public var isDetached: Bool
    /// True when tracked files are modified or untracked non-ignored files exist (outside `.cache/`, `runs/`).
    public var isDirty: Bool
    /// The repository's working directory, when one was found.
    public var repositoryRoot: String?
    /// One line the caller prints once when the facts are incomplete (no repository, refused repository, …).
    public var warning: String?

    public init(
        commit: String, branch: String?, isDetached: Bool = false, isDirty: Bool,
        repositoryRoot: String? = nil, warning: String? = nil
    ) {
        self.commit = commit
        self.branch = branch
        self.isDetached = isDetached
        self.isDirty = isDirty
        self.repositoryRoot = repositoryRoot
        self.warning = warning
    }

    /// Facts for a workspace that is not under version control.
    public static func none(warning: String? = nil) -> GitFacts {
        GitFacts(commit: "", branch: nil, isDirty: false, warning: warning)
    }

    /// The first 8 characters of the commit, `*` appended when dirty; `-` without a commit.
    public var shortDescription: String {
        commit.isEmpty ? "-" : String(commit.prefix(8)) + (isDirty ? "*" : "")
    }

    /// Workspace-relative folders whose contents never make the tree dirty.
    public static let defaultExcludedFolders = [".cache", "runs"]

    /// Reads the facts for `workspace`, discovering the repository upwards from it.
    ///
    /// Never throws: outside a repository, in a repository libgit2 refuses (owned by another user),
    /// or on any libgit2 failure, it returns what it could learn with `warning` set.
    public static func read(workspace: URL, excluding excludedFolders: [String] = defaultExcludedFolders) -> GitFacts {
        let path = workspace.standardizedFileURL.path
        // No `.git` above the workspace: answered without starting libgit2 (`mayBeInRepository`).
        guard mayBeInRepository(path) else { return .none(warning: notInRepositoryWarning(path)) }
        LibGit2.ensureInitialized()
        var repository: OpaquePointer?
        let openStatus = git_repository_open_ext(&repository, path, 0, nil)
        guard openStatus == 0, let repository else {
            return .none(warning: openFailureWarning(status: openStatus, path: path))
        }
        defer { git_repository_free(repository) }

        var facts = GitFacts(commit: "", branch: nil, isDirty: false)
        if let workdir = git_repository_workdir(repository) {
            facts.repositoryRoot = URL(fileURLWithPath: String(cString: workdir)).standardizedFileURL.path
        }
        readHead(repository, into: &facts)

        do {
            facts.isDirty = try isDirty(
                repository, workspace: path, root: facts.repositoryRoot, excluding: excludedFolders)
        } catch let message as LibGit2.Failure {
            facts.warning =
                "warning: cannot read git status in \(facts.repositoryRoot ?? path): \(message.text); the run is recorded as clean"
        } catch {
            facts.warning = "warning: cannot read git status in \(facts.repositoryRoot ?? path): \(error)"
        }
        return facts
    }

    /// libgit2 1.5.1 reports a refused repository as "not found" when no `safe.directory` is configured,
    /// so a `.git` above the workspace that we could not open is looked at directly.
    private static func openFailureWarning(status: Int32, path: String) -> String {
        let message = LibGit2.lastErrorMessage(status)
        guard let gitFolder = enclosingGitFolder(of: path) else { return notInRepositoryWarning(path) }
        let root = (gitFolder as NSString).deletingLastPathComponent
        let ownerUID = (try? FileManager.default.attributesOfItem(atPath: gitFolder)[.ownerAccountID] as? NSNumber)?
            .uint32Value
        if status == GIT_EOWNER.rawValue || message.contains("safe.directory")
            || (ownerUID.map { $0 != geteuid() } ?? false)
        {
            return
                "warning: libgit2 refused the repository at \(root): it is owned by another user; runs record no commit "
                + "until you trust it with `git config --global --add safe.directory \(root)`"
        }
        return "warning: cannot open the git repository at \(root): \(message); runs record no commit"
    }

    private static func notInRepositoryWarning(_ path: String) -> String {
        "warning: \(path) is not inside a git repository; runs record no commit"
    }

    /// False when no folder from `path` up holds a `.git` (a folder, or a worktree's or submodule's file): then no
    /// repository can be found from there (the discovery `read` asks libgit2 for does not look at GIT_DIR).
    static func mayBeInRepository(_ path: String) -> Bool {
        enclosingGitFolder(of: path) != nil
    }

    private static func enclosingGitFolder(of path: String) -> String? {
        var directory = URL(fileURLWithPath: path).standardizedFileURL
        while true {
            let candidate = directory.appendingPathComponent(".git").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { return nil }
            directory = parent
        }
    }

    private static func readHead(_ repository: OpaquePointer, into facts: inout GitFacts) {
        facts.isDetached = git_repository_head_detached(repository) == 1
        var oid = git_oid()
        if git_reference_name_to_id(&oid, repository, "HEAD") == 0 {
            facts.commit = LibGit2.hex(oid)
        }
        guard !facts.isDetached else { return }
        // HEAD is symbolic (possibly to a branch with no commits yet): read the branch from its target name.
        var head: OpaquePointer?
        guard git_reference_lookup(&head, repository, "HEAD") == 0, let head else { return }
        defer { git_reference_free(head) }
        if let target = git_reference_symbolic_target(head) {
            let name = String(cString: target)
            let prefix = "refs/heads/"
            facts.branch = name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : name
        }
    }

    private static func isDirty(
        _ repository: OpaquePointer, workspace: String, root: String?,
        excluding excludedFolders: [String]
    ) throws -> Bool {
        var options = git_status_options()
        try LibGit2.check(pipe_git_status_options_init(&options))
        options.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR
        options.flags =
            GIT_STATUS_OPT_INCLUDE_UNTRACKED.rawValue
            | GIT_STATUS_OPT_EXCLUDE_SUBMODULES.rawValue
        var list: OpaquePointer?
        try LibGit2.check(git_status_list_new(&list, repository, &options))
        guard let list else { return false }
        defer { git_status_list_free(list) }

        // Excluded folders are workspace-relative; status paths are relative to the repository root.
        let relativeWorkspace = relativePath(of: workspace, to: root ?? workspace)
        let excludedPrefixes = excludedFolders.map { folder -> String in
            let joined = relativeWorkspace.isEmpty ? folder : relativeWorkspace + "/" + folder
            return joined.hasSuffix("/") ? joined : joined + "/"
        }
        let count = git_status_list_entrycount(list)
        for index in 0..<count {
            guard let entry = git_status_byindex(list, index) else { continue }
            let status = entry.pointee.status.rawValue
            if status == GIT_STATUS_CURRENT.rawValue || status & GIT_STATUS_IGNORED.rawValue != 0 { continue }
            let delta = entry.pointee.index_to_workdir ?? entry.pointee.head_to_index
            guard let pathPointer = delta?.pointee.new_file.path ?? delta?.pointee.old_file.path else { return true }
            let path = String(cString: pathPointer)
            let isExcluded = excludedPrefixes.contains { prefix in
                path.hasPrefix(prefix) || path + "/" == prefix
            }
            if !isExcluded { return true }
        }
        return false
    }

    private static func relativePath(of path: String, to root: String) -> String {
        let cleanRoot = root.hasSuffix("/") ? String(root.dropLast()) : root
        let resolvedPath = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let resolvedRoot = URL(fileURLWithPath: cleanRoot).resolvingSymlinksInPath().path
        guard resolvedPath.hasPrefix(resolvedRoot) else { return "" }
        var relative = String(resolvedPath.dropFirst(resolvedRoot.count))
        while relative.hasPrefix("/") { relative.removeFirst() }
        return relative
    }
}

/// Process-wide libgit2 setup and small helpers around its C API.
public enum LibGit2 {
    struct Failure: Error {
        let code: Int32
        let text: String
    }

    /// `git_libgit2_init` runs exactly once per process: Swift initialises globals lazily and atomically.
    private static let initialization: Int32 = git_libgit2_init()

    static func ensureInitialized() { _ = initialization }

    /// Starts libgit2 on a background thread, so that a command can overlap it with its own start-up before it calls
    /// `read`: its start-up parses the TLS certificate bundle (about 50 M instructions with Debian's mbedTLS build,
    /// though pipe never opens a TLS connection through it). Not started where `directory` cannot be in a repository.
    public static func prepareInBackground(for directory: String) {
        guard GitFacts.mayBeInRepository(directory) else { return }
        DispatchQueue.global(qos: .userInitiated).async { ensureInitialized() }
    }

    /// The linked libgit2 version, e.g. "1.5.1".
    static var version: String {
        ensureInitialized()
        var major: Int32 = 0
        var minor: Int32 = 0
        var patch: Int32 = 0
        pipe_git_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    static func check(_ status: Int32) throws {
        if status < 0 { throw Failure(code: status, text: lastErrorMessage(status)) }
    }

    static func lastErrorMessage(_ status: Int32) -> String {
        if let error = git_error_last(), let message = error.pointee.message {
            return String(cString: message)
        }
        return "libgit2 error \(status)"
    }

    static func hex(_ oid: git_oid) -> String {
        var oid = oid
        var buffer = [CChar](repeating: 0, count: Int(GIT_OID_HEXSZ) + 1)
        _ = buffer.withUnsafeMutableBufferPointer { pointer in
            git_oid_tostr(pointer.baseAddress, pointer.count, &oid)
        }
        return String(cString: buffer)
    }
}
