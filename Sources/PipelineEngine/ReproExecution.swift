import ContentStore
import Dispatch
import Foundation

/// One `pipe repro` in progress: schedules ready stages on up to `jobs` threads, decides each stage's fate
/// when all its upstream stages are done, and commits what succeeded (cache, run-cache, lock) as it goes.
final class ReproExecution: @unchecked Sendable {
    let workspace: Workspace
    let graph: StageGraph
    let options: ReproOptions
    let params: [String: ResolvedParams]
    let store: ObjectStore
    let runCache: RunCache
    let runner: CommandRunner
    let observer: ReproObserver
    let statCache: StatCache
    let hasher: ContentHasher
    let logDirectory: URL

    private let state = NSCondition()
    private var lock: LockFile
    private var results: [String: StageResult] = [:]
    private var running: Set<String> = []
    private var stopScheduling = false
    /// Hashes of dependencies that no stage writes, computed once per repro.
    private var sourceHashes: [String: Digest] = [:]

    init(
        workspace: Workspace, graph: StageGraph, lock: LockFile, options: ReproOptions,
        params: [String: ResolvedParams],
        store: ObjectStore, runner: CommandRunner, observer: ReproObserver
    ) {
        self.workspace = workspace
        self.graph = graph
        self.lock = lock
        self.options = options
        self.params = params
        self.store = store
        self.runner = runner
        self.observer = observer
        self.runCache = RunCache(cacheDirectory: workspace.cacheDirectory)
        self.statCache = StatCache(loading: workspace.cacheDirectory.appendingPathComponent("stat-cache"))
        self.hasher = ContentHasher(root: workspace.root, statCache: statCache)
        self.logDirectory = options.logDirectory ?? workspace.cacheDirectory.appendingPathComponent("logs")
    }

    /// Runs the selected stages (a topologically ordered list) and returns their results in that order.
    func run(_ selected: [String]) -> [StageResult] {
        let selection = Set(selected)
        let queue = DispatchQueue(label: "pipe.repro", attributes: .concurrent)
        let jobs = max(1, options.jobs)
        state.lock()
        while results.count < selected.count {
            var launched = false
            for name in selected where results[name] == nil && !running.contains(name) {
                let upstream = (graph.upstream[name] ?? []).filter { selection.contains($0) }
                if let blocker = upstream.first(where: { [.failed, .notRun].contains(results[$0]?.outcome) }) {
                    results[name] = notRun(name, because: "upstream \(blocker) did not succeed")
                    observer.stageFinished(results[name] ?? notRun(name, because: ""))
                    launched = true
                    continue
                }
                if stopScheduling {
                    results[name] = notRun(name, because: "stopped after a failure (use -k to keep going)")
                    observer.stageFinished(results[name] ?? notRun(name, because: ""))
                    launched = true
                    continue
                }
                guard running.count < jobs, upstream.allSatisfy({ results[$0] != nil }) else { continue }
                running.insert(name)
                launched = true
                let upstreamRan = upstream.first { [.ran, .wouldRun].contains(results[$0]?.outcome) }
                queue.async {
                    let result = self.process(name, upstreamRan: upstreamRan)
                    self.observer.stageFinished(result)
                    self.state.lock()
                    self.running.remove(name)
                    self.results[name] = result
                    if result.outcome == .failed, !self.options.keepGoing { self.stopScheduling = true }
                    self.state.broadcast()
                    self.state.unlock()
                }
            }
            if !launched && results.count < selected.count { state.wait() }
        }
        state.unlock()
        try? statCache.save()
        return selected.compactMap { results[$0] }
    }

    private func notRun(_ name: String, because message: String) -> StageResult {
        StageResult(
            stage: name, outcome: .notRun, reason: .upToDate, signature: nil, startedAt: Date(), endedAt: Date(),
            exitStatus: nil, logPath: nil, message: message)
    }

    // MARK: - One stage

    private func process(_ name: String, upstreamRan: String?) -> StageResult {
        let startedAt = Date()
        var result = StageResult(
            stage: name, outcome: .failed, reason: .upToDate, signature: nil, startedAt: startedAt, endedAt: startedAt,
            exitStatus: nil, logPath: nil, message: nil)
        guard let stage = graph.stage(name), let stageParams = params[name] else {
            result.message = "unknown stage"
            return result
        }
        result.metricsFiles = stage.outputs.filter { $0.role == .metric }
        do {
            if options.dryRun, let missing = missingDependency(stage) {
                // In a plan, an upstream stage that would run produces it; otherwise it is a real failure.
                guard lockEntry(name) == nil || upstreamRan != nil else {
                    throw StageRunError.missingDependency(stage: name, path: missing)
                }
                result.reason = lockEntry(name) == nil ? .neverRun : .upstreamStale(upstreamRan ?? "")
                result.outcome = .wouldRun
                result.endedAt = Date()
                return result
            }
            let depHashes = try hashDependencies(stage)
            let inputs = StageInputs(
                kind: stage.kindText(registry: workspace.registry), params: stageParams, deps: depHashes)
            let signature = inputs.signature(outputs: stage.outputs)
            result.signature = signature
            let lockEntry = lockEntry(name)
            let reason = decide(
                stage: stage, inputs: inputs, lock: lockEntry, forced: options.force, upstreamRan: upstreamRan,
                outputHash: { path in
                    guard
                        FileStat.at(self.workspace.root.appendingPathComponent(path).path, followingSymlinks: true)
                            != nil
                    else { return nil }
                    return try? self.hasher.hash([path])[path]
                })
            result.reason = reason
            if options.dryRun, case .upstreamRan(let upstream) = reason { result.reason = .upstreamStale(upstream) }
            guard reason.isStale else {
                result.outcome = .skipped
                result.endedAt = Date()
                return result
            }
            if options.dryRun {
                result.outcome = .wouldRun
                result.endedAt = Date()
                return result
            }
            var signatureLock: SignatureLock?
            if let directory = options.signatureLockDirectory, options.useRunCache, !options.verify,
                reason != .forced, isRestorable(stage)
            {
                signatureLock = try SignatureLock(directory: directory, signature: signature)
            }
            defer { signatureLock?.release() }
            observer.stageStarted(name, reason: reason)
            if options.useRunCache, !options.verify, reason != .forced, isRestorable(stage),
                let restored = restore(stage, signature: signature)
            {
                try commitLock(stage, inputs: inputs, signature: signature, outputs: restored)
                result.outputs = restored
                result.outcome = .restored
                result.message = "restored from cache"
                result.endedAt = Date()
                return result
            }
            let logURL = logDirectory.appendingPathComponent("\(name).log")
            result.logPath = logURL.path
            let exitStatus = try execute(stage, params: stageParams, logURL: logURL)
            result.exitStatus = exitStatus
            guard exitStatus == 0 else {
                result.message = "command failed with exit status \(exitStatus)"
                if options.verify { putBackLockedOutputs(stage, lockEntry: lockEntry) }
                result.endedAt = Date()
                return result
            }
            if options.verify {
                let mismatches = try compareWithLock(stage, lockEntry: lockEntry)
                result.outcome = mismatches.isEmpty ? .ran : .failed
                if !mismatches.isEmpty { result.message = mismatches.joined(separator: "; ") }
                result.endedAt = Date()
                return result
            }
            let outputs = try commitOutputs(stage, signature: signature)
            try commitLock(stage, inputs: inputs, signature: signature, outputs: outputs)
            result.outputs = outputs
            result.outcome = .ran
        } catch {
            result.outcome = .failed
            result.message = "\(error)"
            if options.verify { putBackLockedOutputs(stage, lockEntry: lockEntry(name)) }
        }
        result.endedAt = Date()
        return result
    }

    /// A stage that failed while being verified had its outputs removed first: they are put back as the lock has
    /// them (from the cache), so that a failed `pipe verify` (a source that cannot be reached, a crash) leaves the
    /// workspace as it found it.
    private func putBackLockedOutputs(_ stage: StageDefinition, lockEntry: LockEntry?) {
        for locked in lockEntry?.outputs ?? [] where stage.outputs.contains(where: { $0.path == locked.path }) {
            let absolute = workspace.root.appendingPathComponent(locked.path).path
            guard store.canRestore(locked.digest, isDirectory: locked.isDirectory) else { continue }
            try? store.checkout(locked.digest, isDirectory: locked.isDirectory, to: absolute, mode: linkMode)
        }
    }

    private func missingDependency(_ stage: StageDefinition) -> String? {
        stage.deps.first {
            FileStat.at(workspace.root.appendingPathComponent($0.path).path, followingSymlinks: true) == nil
        }?.path
    }

    private func hashDependencies(_ stage: StageDefinition) throws -> [String: Digest] {
        if let missing = missingDependency(stage) {
            throw StageRunError.missingDependency(stage: stage.name, path: missing)
        }
        // A dependency no stage writes cannot change during the repro: hash it once for all stages reading it.
        state.lock()
        var digests: [String: Digest] = [:]
        var toHash: [String] = []
        for dep in stage.deps {
            if let known = sourceHashes[dep.path] { digests[dep.path] = known } else { toHash.append(dep.path) }
        }
        state.unlock()
        let hashed = try hasher.hash(toHash).mapValues(\.digest)
        state.lock()
        for (path, digest) in hashed {
            digests[path] = digest
            if !isProduced(path) { sourceHashes[path] = digest }
        }
        state.unlock()
        return digests
    }

    private func isProduced(_ path: String) -> Bool {
        graph.definition.stages.contains { stage in stage.outputs.contains { pathsOverlap($0.path, path) } }
    }

    private func lockEntry(_ name: String) -> LockEntry? {
        state.lock()
        defer { state.unlock() }
        return lock.stages[name]
    }

    /// Stages whose every output can be stored and whose outputs are not edited in place.
    private func isRestorable(_ stage: StageDefinition) -> Bool {
        !stage.alwaysChanged && stage.outputs.allSatisfy { !$0.persist && ($0.cache || $0.role == .metric) }
    }

    /// Puts back the outputs a previous run with this signature produced; nil when that is not possible.
    private func restore(_ stage: StageDefinition, signature: Digest) -> [LockedOutput]? {
        let entry: [CachedOutput]
        do {
            guard let found = try runCache.lookup(signature: signature) else { return nil }
            entry = found
        } catch {
            observer.warning("\(error); running \(stage.name) instead")
            return nil
        }
        guard Set(entry.map(\.path)) == Set(stage.outputs.map(\.path)),
            entry.allSatisfy({ store.canRestore($0.digest, isDirectory: $0.isDirectory) })
        else { return nil }
        do {
            for output in entry {
                let absolute = workspace.root.appendingPathComponent(output.path).path
                if FileStat.at(absolute, followingSymlinks: true) != nil,
                    let current = try? hasher.hash([output.path])[output.path], current.digest == output.digest
                {
                    continue
                }
                try store.checkout(output.digest, isDirectory: output.isDirectory, to: absolute, mode: linkMode)
            }
            return try hasher.hash(entry.map(\.path)).map { path, hash in
                LockedOutput(
                    path: path, digest: hash.digest, isDirectory: hash.isDirectory, size: hash.size,
                    fileCount: hash.fileCount)
            }
        } catch {
            observer.warning("cannot restore \(stage.name) from cache: \(error); running it instead")
            return nil
        }
    }

    private var linkMode: LinkMode { graph.definition.linkMode }

    /// Removes non-persistent outputs, then runs the command(s) or the built-in; returns the exit status.
    private func execute(_ stage: StageDefinition, params: ResolvedParams, logURL: URL) throws -> Int32 {
        for output in stage.outputs where !output.persist {
            let url = workspace.root.appendingPathComponent(output.path)
            if FileStat.at(url.path) != nil { try FileManager.default.removeItem(at: url) }
        }
        for output in stage.outputs {
            try FileManager.default.createDirectory(
                at: workspace.root.appendingPathComponent(output.path).deletingLastPathComponent(),
                withIntermediateDirectories: true)
        }
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: logURL.path, contents: nil),
            let log = FileHandle(forWritingAtPath: logURL.path)
        else { throw StageRunError.cannotCreateLog(stage: stage.name, path: logURL.path) }
        defer { try? log.close() }
        let logLock = NSLock()
        let emit: (String) -> Void = { line in
            // The throwing write: the old one traps on a full disk. A log line that cannot be written is still
            // shown, and the stage's own failure (or the cache's) says what ran out.
            logLock.lock()
            try? log.write(contentsOf: Data((line + "\n").utf8))
            logLock.unlock()
            self.observer.stageOutput(stage.name, line: line)
        }
        switch stage.kind {
        case .command(let commands):
            var environment = ProcessInfo.processInfo.environment
            environment["PIPE_STAGE"] = stage.name
            for command in commands {
                let status = try runner.run(command, environment: environment, onLine: emit)
                if status != 0 { return status }
            }
            return 0
        case .builtin(let name):
            guard let builtin = workspace.registry.stage(named: name) else {
                throw StageRunError.unknownBuiltin(stage: stage.name, name: name)
            }
            let context = StageContext(
                stageName: stage.name, workspace: workspace.root, params: params, deps: stage.deps.map(\.path),
                outputs: stage.outputs.map(\.path), emitLine: emit,
                emitProgress: { self.observer.stageProgress(stage.name, line: $0) },
                emitMetrics: { self.observer.stageMetrics(stage.name, values: $0, step: $1) },
                rememberDigest: { self.hasher.remember(path: $0, stat: $1, digest: $2) })
            do {
                try builtin.run(context)
            } catch {
                emit("error: \(error)")
                throw error
            }
            return 0
        }
    }

    /// Hashes the outputs, commits the cacheable ones (and metrics) to the store and remembers them in the
    /// run-cache under the stage's signature.
    private func commitOutputs(_ stage: StageDefinition, signature: Digest) throws -> [LockedOutput] {
        for output in stage.outputs
        where FileStat.at(workspace.root.appendingPathComponent(output.path).path, followingSymlinks: true) == nil {
            throw StageRunError.missingOutput(stage: stage.name, path: output.path)
        }
        let hashes = try hasher.hash(stage.outputs.map(\.path))
        var locked: [LockedOutput] = []
        for output in stage.outputs {
            guard let hash = hashes[output.path] else { continue }
            let absolute = workspace.root.appendingPathComponent(output.path).path
            if output.cache || output.role == .metric {
                if hash.isDirectory {
                    try store.commitDirectory(at: absolute, manifest: try hasher.manifest(directory: output.path))
                } else {
                    try store.commitFile(at: absolute, digest: hash.digest)
                }
            }
            locked.append(
                LockedOutput(
                    path: output.path, digest: hash.digest, isDirectory: hash.isDirectory, size: hash.size,
                    fileCount: hash.fileCount))
        }
        if isRestorable(stage) {
            try runCache.record(
                signature: signature,
                outputs: locked.map { CachedOutput(path: $0.path, digest: $0.digest, isDirectory: $0.isDirectory) })
        }
        return locked
    }

    /// `pipe verify`: the rebuilt outputs against the lock, one message per differing output. A differing
    /// output is put back as the lock has it (from the cache, when it is there), so verifying changes nothing.
    private func compareWithLock(_ stage: StageDefinition, lockEntry: LockEntry?) throws -> [String] {
        guard let lockEntry else { return ["\(stage.name) has no entry in pipeline.lock"] }
        var mismatches: [String] = []
        for output in stage.outputs {
            let absolute = workspace.root.appendingPathComponent(output.path).path
            guard let locked = lockEntry.outputs.first(where: { $0.path == output.path }) else {
                mismatches.append("output \(output.path) is not in pipeline.lock")
                continue
            }
            guard FileStat.at(absolute, followingSymlinks: true) != nil else {
                mismatches.append("output \(output.path) was not produced")
                if store.canRestore(locked.digest, isDirectory: locked.isDirectory) {
                    try? store.checkout(locked.digest, isDirectory: locked.isDirectory, to: absolute, mode: linkMode)
                }
                continue
            }
            guard let rebuilt = try hasher.hash([output.path])[output.path], rebuilt.digest != locked.digest else {
                continue
            }
            var message =
                "output \(output.path) differs from pipeline.lock: expected sha256 \(locked.digest.short), rebuilt "
                + rebuilt.digest.short
            if locked.isDirectory, rebuilt.isDirectory,
                let lockedManifest = try? store.loadManifest(locked.digest)
            {
                let now = try hasher.manifest(directory: output.path)
                let before = Dictionary(uniqueKeysWithValues: lockedManifest.entries.map { ($0.relativePath, $0) })
                let changed = now.entries.filter { before[$0.relativePath] != $0 }.map(\.relativePath)
                if !changed.isEmpty { message += " (files: \(changed.prefix(5).joined(separator: ", ")))" }
            }
            mismatches.append(message)
            if store.canRestore(locked.digest, isDirectory: locked.isDirectory) {
                try? store.checkout(locked.digest, isDirectory: locked.isDirectory, to: absolute, mode: linkMode)
            }
        }
        return mismatches
    }

    /// Records the stage in the lock and rewrites `pipeline.lock` atomically.
    private func commitLock(
        _ stage: StageDefinition, inputs: StageInputs, signature: Digest, outputs: [LockedOutput]
    ) throws {
        state.lock()
        defer { state.unlock() }
        lock.stages[stage.name] = LockEntry(
            signature: signature, kind: inputs.kind, deps: inputs.deps, params: inputs.lockedParams, outputs: outputs)
        try lock.write(to: workspace.lockURL, order: graph.order)
    }
}
