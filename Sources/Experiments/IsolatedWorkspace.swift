import ContentStore
import Foundation
import PipelineEngine

/// Makes an experiment's workspace: a checkout of HEAD plus the main workspace's uncommitted changes to
/// tracked files, whose `.cache/objects` and `.cache/runs` are the main workspace's (symbolic links), so that
/// outputs come from the shared store by reflink, hardlink or copy and run-cache hits are shared.
///
/// Why git's plumbing and not `git worktree` or libgit2: `git read-tree` into a private index file followed by
/// `git checkout-index --prefix` writes HEAD's files (with git's own filters, modes and symlinks) and nothing
/// else, leaving the main repository's index, its worktree list and `git status` exactly as they were; a
/// worktree would register itself in `.git/worktrees` and lock a branch or a detached HEAD, and `git archive`
/// drops `export-ignore` files. The uncommitted changes are then copied file by file from the main working
/// tree (`git diff HEAD --name-status`), which needs no patch to apply cleanly, and binary files are no
/// special case. Each experiment's `.cache/lock`, stat cache, temporaries and child list stay its own.
public struct IsolatedWorkspace {
    public let main: URL
    public let root: URL

    public init(main: URL, root: URL) {
        self.main = main.standardizedFileURL
        self.root = root.standardizedFileURL
    }

    /// Creates the workspace afresh (anything already at `root` is removed first). `sourceDeps` are
    /// dependencies no stage writes; those git does not track are copied in (reflinked where possible).
    public func prepare(sourceDeps: [String]) throws {
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: root.path) { try remove() }
        do {
            try fileManager.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw ExperimentError.workspaceSetup(path: root.path, detail: error.localizedDescription)
        }
        let top = try Git.topLevel(of: main)
        let prefix = Self.relative(main, to: top)
        // The checkout holds the whole repository; the experiment's workspace is the same subfolder of it.
        let checkout = prefix.isEmpty ? root : root.appendingPathComponent(".repo", isDirectory: true)
        let workspaceRoot = prefix.isEmpty ? root : checkout.appendingPathComponent(prefix)
        let index = root.appendingPathComponent(".pipe-checkout-index")
        defer { unlink(index.path) }
        try Git.run(["read-tree", "HEAD"], in: top, environment: ["GIT_INDEX_FILE": index.path])
        try Git.run(
            ["checkout-index", "--all", "--force", "--prefix=\(checkout.path)/"], in: top,
            environment: ["GIT_INDEX_FILE": index.path])
        // Uncommitted changes of tracked files (staged or not), NUL-separated: status, path.
        let changes = try Git.output(["diff", "HEAD", "--name-status", "--no-renames", "-z"], in: top)
        let fields = changes.split(separator: "\0", omittingEmptySubsequences: true).map(String.init)
        var position = 0
        while position + 1 < fields.count {
            let status = fields[position]
            let path = fields[position + 1]
            position += 2
            let source = top.appendingPathComponent(path)
            let destination = checkout.appendingPathComponent(path)
            unlink(destination.path)
            if status.hasPrefix("D") || FileStat.at(source.path) == nil { continue }
            try copy(source, to: destination)
        }
        for dep in sourceDeps {
            let source = main.appendingPathComponent(dep)
            let destination = workspaceRoot.appendingPathComponent(dep)
            guard FileStat.at(destination.path) == nil, FileStat.at(source.path, followingSymlinks: true) != nil
            else { continue }
            try copy(source, to: destination)
        }
        try linkCache(into: workspaceRoot)
        if !prefix.isEmpty {
            // The experiment's root is where pipeline.yaml is; a link at `root` would be a cycle, so the
            // executors use `workspaceRoot(of:)`.
            try Data(prefix.utf8).write(to: root.appendingPathComponent(".pipe-workspace-prefix"))
        }
    }

    /// The folder holding the experiment's `pipeline.yaml` (the checkout's copy of the main workspace).
    public var workspaceRoot: URL {
        let prefixFile = root.appendingPathComponent(".pipe-workspace-prefix")
        guard let data = FileManager.default.contents(atPath: prefixFile.path) else { return root }
        return root.appendingPathComponent(".repo", isDirectory: true)
            .appendingPathComponent(String(decoding: data, as: UTF8.self))
    }

    /// `.cache/objects` and `.cache/runs` point at the main workspace's; the rest of `.cache/` is private.
    private func linkCache(into workspaceRoot: URL) throws {
        let cache = workspaceRoot.appendingPathComponent(".cache", isDirectory: true)
        let mainCache = main.appendingPathComponent(".cache", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
            for shared in ["objects", "runs"] {
                let target = mainCache.appendingPathComponent(shared, isDirectory: true)
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
                let link = cache.appendingPathComponent(shared)
                unlink(link.path)
                try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
            }
        } catch {
            throw ExperimentError.workspaceSetup(path: cache.path, detail: error.localizedDescription)
        }
    }

    /// Removes the workspace (never following its links into the shared cache).
    public func remove() throws {
        // Cached outputs are read-only files in read-only folders: make folders writable before removing.
        _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+w", root.path]).waitUntilExit()
        do {
            try FileManager.default.removeItem(at: root)
        } catch {
            throw ExperimentError.workspaceSetup(
                path: root.path, detail: "cannot remove: \(error.localizedDescription)")
        }
    }

    private func copy(_ source: URL, to destination: URL) throws {
        do {
            try FileManager.default.createDirectory(
                at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw ExperimentError.workspaceSetup(path: destination.path, detail: error.localizedDescription)
        }
        // cp keeps modes and links and reflinks where the filesystem can.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/cp")
        process.arguments = ["-a", "--reflink=auto", source.path, destination.path]
        let errors = Pipe()
        process.standardError = errors
        do { try process.run() } catch {
            throw ExperimentError.workspaceSetup(path: destination.path, detail: "cannot run cp: \(error)")
        }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ExperimentError.workspaceSetup(
                path: destination.path,
                detail: String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    static func relative(_ url: URL, to base: URL) -> String {
        let path = url.resolvingSymlinksInPath().path
        let basePath = base.resolvingSymlinksInPath().path
        if path == basePath { return "" }
        return path.hasPrefix(basePath + "/") ? String(path.dropFirst(basePath.count + 1)) : ""
    }
}

/// The few git commands experiments need, run with the `git` on PATH.
enum Git {
    static func topLevel(of directory: URL) throws -> URL {
        let top: String
        do {
            top = try output(["rev-parse", "--show-toplevel"], in: directory)
        } catch {
            throw ExperimentError.notAGitRepository(path: directory.path)
        }
        let trimmed = top.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw ExperimentError.notAGitRepository(path: directory.path) }
        return URL(fileURLWithPath: trimmed, isDirectory: true)
    }

    static func run(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws {
        _ = try output(arguments, in: directory, environment: environment)
    }

    static func output(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws
        -> String
    {
        let command = "git " + arguments.joined(separator: " ")
        let result = try ToolProcess.run(
            "/usr/bin/env", ["git"] + arguments, in: directory, environment: environment,
            launchFailure: { ExperimentError.git(command: command, detail: $0) })
        guard result.status == 0 else {
            throw ExperimentError.git(
                command: command, detail: result.errors.isEmpty ? "exit \(result.status)" : result.errors)
        }
        return result.output
    }
}

extension IsolatedWorkspace {
    /// Writes each bound override's value into the experiment's own params file, so that `cmd:` stages, which
    /// read their params files themselves, see the experiment's values (built-in stages get them resolved
    /// either way). Returns a warning per value that could not be written in place (a block scalar…); such a
    /// value still reaches built-in stages and the signature through the override.
    public static func writeOverrides(_ overrides: [ParamOverride], into root: URL) throws -> [String] {
        var warnings: [String] = []
        var byFile: [String: [ParamOverride]] = [:]
        for override in overrides { byFile[override.file, default: []].append(override) }
        for file in byFile.keys.sorted() {
            let url = root.appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw PipelineError.missingFile(path: file)
            }
            var editor = ParamsFileEditor(text: String(decoding: data, as: UTF8.self), display: file)
            for override in byFile[file] ?? [] {
                let value = override.text.firstIndex(of: "=").map {
                    String(override.text[override.text.index(after: $0)...])
                }
                do {
                    try editor.set(override.key, to: value ?? override.value.json)
                } catch {
                    warnings.append("\(error); the override still applies to the signature and built-in stages")
                }
            }
            do {
                try AtomicFile.write(Data(editor.text.utf8), to: url)
            } catch {
                throw ExperimentError.workspaceSetup(path: url.path, detail: "\(error)")
            }
        }
        return warnings
    }
}
