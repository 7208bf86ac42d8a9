import ContentStore
import Foundation

/// What happened to a stage in one repro.
public enum StageOutcome: String, Sendable, Codable {
    case ran
    case skipped
    case restored
    case failed
    /// Not attempted: an upstream stage failed, or the repro stopped after a failure.
    case notRun = "not-run"
    /// `--dry`: would run.
    case wouldRun = "would-run"
}

/// One stage's result in a repro.
public struct StageResult: Sendable {
    public var stage: String
    public var outcome: StageOutcome
    public var reason: StageReason
    public var signature: Digest?
    public var startedAt: Date
    public var endedAt: Date
    public var exitStatus: Int32?
    public var logPath: String?
    /// Why it failed, or a note (`restored from cache`).
    public var message: String?
    /// What it produced (ran or restored): path, hash, size.
    public var outputs: [LockedOutput] = []
    /// Its declared metrics files (workspace-relative paths, with their headline keys).
    public var metricsFiles: [OutputDeclaration] = []

    public var duration: TimeInterval { endedAt.timeIntervalSince(startedAt) }
}

/// The results of a repro, in the pipeline's topological order, with counts the tests assert.
public struct ReproSummary: Sendable {
    public var results: [StageResult]

    public func stages(_ outcome: StageOutcome) -> [String] { results.filter { $0.outcome == outcome }.map(\.stage) }
    public func count(_ outcome: StageOutcome) -> Int { results.filter { $0.outcome == outcome }.count }
    public var succeeded: Bool { !results.contains { $0.outcome == .failed || $0.outcome == .notRun } }
}

/// One stage's state without running anything (`pipe status`).
public struct StageStatus: Sendable {
    public var stage: String
    public var reason: StageReason
}

/// Receives a repro's events as they happen, from worker threads: implementations must be thread-safe.
public protocol ReproObserver: AnyObject {
    /// The stage is about to run (or be restored); `reason` says why.
    func stageStarted(_ stage: String, reason: StageReason)
    /// A line the stage printed (its command's stdout and stderr, or a built-in's log line).
    func stageOutput(_ stage: String, line: String)
    /// A transient progress line of a built-in stage (a bar, a rate, an ETA): shown in place on a terminal,
    /// never logged. Called often; must be cheap.
    func stageProgress(_ stage: String, line: String)
    /// Metric values a built-in stage logged at a step.
    func stageMetrics(_ stage: String, values: [String: Double], step: Int)
    func stageFinished(_ result: StageResult)
    func warning(_ text: String)
    /// Before any stage runs: the selected stages and the params each reads, overrides applied.
    func reproPlanned(stages: [String], params: [String: ResolvedParams])
}

extension ReproObserver {
    public func stageProgress(_ stage: String, line: String) {}
    public func reproPlanned(stages: [String], params: [String: ResolvedParams]) {}
}

/// How to reproduce.
public struct ReproOptions: Sendable {
    public var targets: [String] = []
    public var force = false
    public var singleItem = false
    public var downstream = false
    public var dryRun = false
    public var keepGoing = false
    public var jobs = ProcessInfo.processInfo.activeProcessorCount
    public var overrides: [ParamOverride] = []
    public var useRunCache = true
    public var wait = false
    /// Shown to a second repro that finds the workspace locked.
    public var commandLine = "pipe repro"
    /// Where each stage's log goes; `.cache/logs` when nil.
    public var logDirectory: URL?
    /// `pipe verify`: every stage is rebuilt and its outputs compared with the lock, which is not rewritten.
    public var verify = false
    /// On SIGINT or SIGTERM: stop every running command, tell the observer, exit 128 + signal.
    /// For the command line; tests leave it off.
    public var exitOnInterrupt = false
    /// Workspaces sharing one run-cache (the experiments of a sweep) coordinate here: a stale stage that could be
    /// restored holds an exclusive lock on its signature's file in this folder while it looks up the run-cache,
    /// runs and records its outputs, so that a second workspace with the same signature waits and then restores
    /// instead of running it again. Nil (a plain repro): no such locks.
    public var signatureLockDirectory: URL?

    public init() {}
}

/// A pipe workspace: `pipeline.yaml`, `stages/`, `pipeline.lock` and `.cache/` under one root directory.
/// Commands translate their arguments into one call on this object.
public final class Workspace: @unchecked Sendable {
    public let root: URL
    public let registry: StageRegistry
    public var pipelineURL: URL { root.appendingPathComponent("pipeline.yaml") }
    public var lockURL: URL { root.appendingPathComponent("pipeline.lock") }
    public var cacheDirectory: URL { root.appendingPathComponent(".cache") }

    public init(root: URL, registry: StageRegistry) {
        self.root = root.standardizedFileURL
        self.registry = registry
    }

    /// Parses and validates `pipeline.yaml` into its stage graph.
    public func loadGraph() throws -> StageGraph {
        guard let text = try? String(contentsOf: pipelineURL, encoding: .utf8) else {
            if FileStat.at(pipelineURL.path) == nil { throw PipelineError.missingFile(path: "pipeline.yaml") }
            throw PipelineError.unreadableFile(path: "pipeline.yaml", reason: "not readable UTF-8 text")
        }
        let definition = try PipelineParser(file: "pipeline.yaml", registry: registry).parse(text)
        return try StageGraph(definition: definition, workspace: root)
    }

    public func loadLock() throws -> LockFile { try LockFile.load(lockURL, display: "pipeline.lock") }

    /// What would run and why, without running anything or taking the workspace lock.
    public func status(targets: [String] = [], overrides: [ParamOverride] = []) throws -> [StageStatus] {
        let graph = try loadGraph()
        let lock = try loadLock()
        try checkTargets(targets, in: graph)
        let selected = targets.isEmpty ? graph.order : graph.withUpstream(targets)
        let resolver = ParamsResolver(
            workspace: root, overrides: try ParamOverride.bind(overrides, to: graph.definition))
        let statCache = StatCache(loading: cacheDirectory.appendingPathComponent("stat-cache"))
        let hasher = ContentHasher(root: root, statCache: statCache)
        var params: [String: ResolvedParams] = [:]
        var paths = Set<String>()
        for name in selected {
            guard let stage = graph.stage(name) else { continue }
            params[name] = try resolver.resolve(stage)
            for path in stage.deps.map(\.path) + stage.outputs.map(\.path)
            where FileStat.at(root.appendingPathComponent(path).path, followingSymlinks: true) != nil {
                paths.insert(path)
            }
        }
        let hashes = try hasher.hash(paths.sorted())
        var reasons: [String: StageReason] = [:]
        var result: [StageStatus] = []
        for name in selected {
            guard let stage = graph.stage(name), let stageParams = params[name] else { continue }
            var deps: [String: Digest] = [:]
            for dep in stage.deps { if let hash = hashes[dep.path] { deps[dep.path] = hash.digest } }
            let inputs = StageInputs(kind: stage.kindText(registry: registry), params: stageParams, deps: deps)
            var reason = decide(
                stage: stage, inputs: inputs, lock: lock.stages[name], forced: false, upstreamRan: nil,
                outputHash: { hashes[$0] })
            if !reason.isStale, !stage.frozen,
                let stale = (graph.upstream[name] ?? []).first(where: { reasons[$0]?.isStale == true })
            {
                reason = .upstreamStale(stale)
            }
            reasons[name] = reason
            result.append(StageStatus(stage: name, reason: reason))
        }
        try? statCache.save()
        return result
    }

    /// Brings the selected stages up to date: runs, restores or skips each, in parallel where the graph allows.
    public func repro(_ options: ReproOptions, observer: ReproObserver) throws -> ReproSummary {
        let workspaceLock = WorkspaceLock(cacheDirectory: cacheDirectory)
        let runner = CommandRunner(workspace: root, cacheDirectory: cacheDirectory)
        let store = ObjectStore(cacheDirectory: cacheDirectory)
        if !options.dryRun {
            try workspaceLock.acquire(wait: options.wait, description: options.commandLine)
            runner.killLeftovers()
            store.removeTemporaryFiles()
            // pipeline.lock is only written under the workspace lock: a temporary beside it is a dead writer's.
            AtomicFile.removeStaleTemporaries(of: lockURL)
        }
        defer { workspaceLock.release() }
        let interrupts = options.exitOnInterrupt ? InterruptHandler(runner: runner, observer: observer) : nil
        defer { interrupts?.cancel() }
        let graph = try loadGraph()
        try checkTargets(options.targets, in: graph)
        let selected: [String]
        if options.targets.isEmpty {
            selected = graph.order
        } else if options.singleItem {
            selected = graph.order.filter { options.targets.contains($0) }
        } else if options.downstream {
            selected = graph.withDownstream(options.targets)
        } else {
            selected = graph.withUpstream(options.targets)
        }
        let resolver = ParamsResolver(
            workspace: root, overrides: try ParamOverride.bind(options.overrides, to: graph.definition))
        var params: [String: ResolvedParams] = [:]
        for name in selected {
            if let stage = graph.stage(name) { params[name] = try resolver.resolve(stage) }
        }
        observer.reproPlanned(stages: selected, params: params)
        let execution = ReproExecution(
            workspace: self, graph: graph, lock: try loadLock(), options: options, params: params,
            store: store, runner: runner, observer: observer)
        let results = execution.run(selected)
        return ReproSummary(results: results)
    }

    /// The team's reproducibility check: the lock must match the current inputs, and rebuilding every stage
    /// from scratch (no run-cache) must give exactly the outputs it records. Fails with `lockOutOfDate`
    /// before running anything when `pipeline.lock` does not describe the workspace.
    public func verify(_ base: ReproOptions, observer: ReproObserver) throws -> ReproSummary {
        // A repro running now rewrites pipeline.lock as its stages finish: name it rather than report a stale lock.
        let probe = WorkspaceLock(cacheDirectory: cacheDirectory)
        try probe.acquire(wait: base.wait, description: base.commandLine)
        probe.release()
        let stale = try status(targets: base.targets).filter { $0.reason.isStale }
        guard stale.isEmpty else {
            throw ReproError.lockOutOfDate(stages: stale.map { "\($0.stage): \($0.reason)" })
        }
        var options = base
        options.force = true
        options.useRunCache = false
        options.verify = true
        return try repro(options, observer: observer)
    }

    private func checkTargets(_ targets: [String], in graph: StageGraph) throws {
        for target in targets where graph.stage(target) == nil {
            throw PipelineError.unknownStage(name: target, known: graph.order)
        }
    }
}
