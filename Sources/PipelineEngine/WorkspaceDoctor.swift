import ContentStore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Something `pipe doctor` found wrong in a workspace (the run store's findings are Tracking's `StoreFinding`).
public struct WorkspaceFinding: Equatable, Sendable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        /// `pipeline.yaml` or `pipeline.lock` cannot be read, so the files cannot be checked against the lock.
        case unreadablePipeline(String)
        /// The files do not match what `pipeline.lock` records for the stage (what `pipe status` says).
        case staleStage(stage: String, reason: StageReason)
        /// A temporary a dead writer left (`.cache/tmp/`, `.pipeline.lock.tmp-*`, `.*.pipe-tmp-*` staging).
        case strayTemporary(StrayTemporary)
        /// `.cache/children` while no repro runs: `entries` lines, the groups named still running.
        case leftoverChildren(entries: Int, running: [pid_t])
        /// A cache object whose bytes no longer hash to its name, or a file there named by no digest.
        case damagedObject(DamagedObject)
    }

    public let problem: Problem
    /// Set by `WorkspaceDoctor.fix` once the problem is gone.
    public internal(set) var fixed = false
    /// Why a fix failed, when it did.
    public internal(set) var fixFailure: String?
    let root: String

    /// The part of the workspace it concerns: `lock`, `temporaries`, `children` or `cache`.
    public var area: String {
        switch problem {
        case .unreadablePipeline, .staleStage: return "lock"
        case .strayTemporary: return "temporaries"
        case .leftoverChildren: return "children"
        case .damagedObject: return "cache"
        }
    }

    /// Whether `--fix` can repair it (a stale stage needs `pipe repro`, a pipeline error an edit).
    public var isFixable: Bool {
        switch problem {
        case .unreadablePipeline, .staleStage: return false
        case .strayTemporary, .leftoverChildren, .damagedObject: return true
        }
    }

    public var description: String {
        switch problem {
        case .unreadablePipeline(let error): return "\(error)"
        case .staleStage(let stage, let reason):
            return "stage '\(stage)': \(reason), the files do not match pipeline.lock "
                + "(`pipe repro` brings it up to date)"
        case .strayTemporary(let temporary):
            let kind = temporary.isDirectory ? "folder" : "file"
            return "\(relative(temporary.path)): a temporary \(kind) left by a pipe that died "
                + "(\(Int(temporary.age / 60)) min old); --fix removes it"
        case .leftoverChildren(let entries, let running):
            let groups = running.map { String(abs($0)) }.joined(separator: ", ")
            return ".cache/children: \(entries) entr\(entries == 1 ? "y" : "ies") left by a killed repro"
                + (running.isEmpty ? ", none running" : ", still running: \(groups)")
                + "; --fix stops what runs and removes the file"
        case .damagedObject(let object):
            guard let digest = object.digest else {
                return "\(relative(object.path)): not named by a SHA-256; --fix moves it to .cache/quarantine/"
            }
            let found = object.actual.map { "hashes to \($0.hex)" } ?? "cannot be read"
            return "\(relative(object.path)): corrupt object \(digest.hex.prefix(12))…: \(found); "
                + "--fix moves it to .cache/quarantine/"
        }
    }

    private func relative(_ path: String) -> String {
        path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
    }
}

/// `pipe doctor` for everything but the run store: the lock against the files, stray temporaries, the children
/// file, and with `deep` every cache object against its hash. Runs under the workspace lock, so that what a repro
/// is writing right now is never taken for a leftover: a repro holding it is named, as `verify` names it.
public struct WorkspaceDoctor {
    public let workspace: Workspace
    public var deep = false
    /// Temporaries younger than this may belong to a command running now (`pipe status` writes the stat cache).
    public var minimumAge: TimeInterval = 60

    public init(workspace: Workspace, deep: Bool = false) {
        self.workspace = workspace
        self.deep = deep
    }

    /// Every problem found, in the order lock, temporaries, children, cache; with `fix`, each fixable one repaired.
    public func run(fix: Bool) throws -> [WorkspaceFinding] {
        let lock = WorkspaceLock(cacheDirectory: workspace.cacheDirectory)
        if FileStat.at(workspace.cacheDirectory.path)?.kind == .directory {
            try lock.acquire(wait: false, description: "pipe doctor")
        }
        defer { lock.release() }
        let problems = lockProblems() + temporaryProblems() + childrenProblems() + (deep ? objectProblems() : [])
        let root = workspace.root.path
        return problems.map { problem in
            var finding = WorkspaceFinding(problem: problem, root: root)
            if fix, finding.isFixable {
                do {
                    try repair(problem)
                    finding.fixed = true
                } catch {
                    finding.fixFailure = "\(error)"
                }
            }
            return finding
        }
    }

    private func lockProblems() -> [WorkspaceFinding.Problem] {
        do {
            return try workspace.status().compactMap { status in
                if case .upstreamStale = status.reason { return nil }  // said once, at the stage that is stale
                return status.reason.isStale ? .staleStage(stage: status.stage, reason: status.reason) : nil
            }
        } catch {
            return [.unreadablePipeline("\(error)")]
        }
    }

    /// Temporaries in `.cache/tmp/`, beside the lock, the stat cache and run-cache entries, and beside outputs.
    private func temporaryProblems() -> [WorkspaceFinding.Problem] {
        let cache = workspace.cacheDirectory
        let runCache = cache.appendingPathComponent("runs")
        let runCacheFolders = ((try? FileManager.default.contentsOfDirectory(atPath: runCache.path)) ?? [])
            .map { runCache.appendingPathComponent($0) }
        let outputs = (try? workspace.loadGraph())?.definition.stages.flatMap(\.outputs) ?? []
        let outputFolders = outputs.map { workspace.root.appendingPathComponent($0.path).deletingLastPathComponent() }
        return StrayTemporaries.find(
            besideFiles: [workspace.root, cache] + runCacheFolders + outputFolders,
            wholeFolders: [ObjectStore(cacheDirectory: cache).temporaryDirectory], olderThan: minimumAge
        ).map { .strayTemporary($0) }
    }

    private var childrenFile: URL { workspace.cacheDirectory.appendingPathComponent("children") }

    /// The repro that wrote `.cache/children` is gone (this process holds the lock): every line is stale.
    private func childrenProblems() -> [WorkspaceFinding.Problem] {
        guard let text = try? String(contentsOf: childrenFile, encoding: .utf8) else { return [] }
        let lines = text.split(separator: "\n")
        let running = lines.compactMap { ChildGroup(line: $0) }.filter {
            !$0.leftovers(of: workspace.root.path).isEmpty
        }
        return [.leftoverChildren(entries: lines.count, running: running.map(\.group))]
    }

    private func objectProblems() -> [WorkspaceFinding.Problem] {
        ObjectStore(cacheDirectory: workspace.cacheDirectory).damagedObjects().map { .damagedObject($0) }
    }

    private func repair(_ problem: WorkspaceFinding.Problem) throws {
        switch problem {
        case .unreadablePipeline, .staleStage: return
        case .strayTemporary(let temporary): try StrayTemporaries.remove(temporary)
        case .leftoverChildren:
            CommandRunner(workspace: workspace.root, cacheDirectory: workspace.cacheDirectory).killLeftovers()
        case .damagedObject(let object):
            try quarantine(object, store: ObjectStore(cacheDirectory: workspace.cacheDirectory))
        }
    }

    private func quarantine(_ object: DamagedObject, store: ObjectStore) throws {
        if let digest = object.digest {
            store.quarantine(digest)
        } else {
            try FileManager.default.createDirectory(at: store.quarantineDirectory, withIntermediateDirectories: true)
            let name = URL(fileURLWithPath: object.path).lastPathComponent
            try AtomicFile.rename(
                URL(fileURLWithPath: object.path), to: store.quarantineDirectory.appendingPathComponent(name))
        }
        guard FileStat.at(object.path) == nil else {
            throw ContentStoreError.cannotWrite(path: object.path, reason: "could not be moved to .cache/quarantine/")
        }
    }
}
