import Dispatch
import Foundation
import PipelineEngine
import Tracking
import TrackingExport

/// Records one `pipe repro` or `pipe verify` in the run store while passing every event on to the console:
/// the run opens as `running`, params land before the first stage, stage outcomes, metrics and artifacts as
/// they happen, and the run closes as succeeded or failed. A run killed before it closes is marked
/// `interrupted` by the next process that opens the store. A recording failure is a warning, never a
/// failed pipeline.
final class TrackedRun: ReproObserver, @unchecked Sendable {
    let store: RunStore
    let run: RunID
    let console: ConsoleReporter
    /// Where the stages run and their metrics files are read.
    let workspace: URL
    /// Where the store is: the workspace itself, or for an experiment the main workspace (log paths are
    /// relative to it).
    let storeWorkspace: URL
    let kind: RunKind
    /// Set once the repro has planned its stages: from then on it is a run, whatever becomes of it.
    private var planned = false
    private var overridden: Set<String> = []
    private var warnedAboutStore = false
    private let lock = NSLock()

    /// Opens the store and begins a run; prints the git warning (outside a repository…) once.
    convenience init(workspace: URL, kind: RunKind, console: ConsoleReporter) throws {
        try self.init(workspace: workspace, kind: kind, console: console, experiment: nil)
    }

    /// An experiment's run (`pipe exp job`): its stages run in `workspace` (the experiment's checkout), but the
    /// run lands in the main workspace's store, with the git facts the sweep recorded there and its sweep tag.
    struct Experiment {
        var mainWorkspace: URL
        var git: GitFacts
        var tag: SweepTag
    }

    init(workspace: URL, kind: RunKind, console: ConsoleReporter, experiment: Experiment?) throws {
        let git: GitFacts
        let store: RunStore
        if let experiment {
            store = try RunStore.open(workspace: experiment.mainWorkspace)
            git = experiment.git
        } else {
            // libgit2's start-up (it loads the TLS certificates) overlaps with opening the store.
            let gitRead = DispatchGroup()
            let gitFacts = GitFactsBox()
            DispatchQueue.global().async(group: gitRead) { gitFacts.value = GitFacts.read(workspace: workspace) }
            store = try RunStore.open(workspace: workspace)
            gitRead.wait()
            git = gitFacts.value ?? GitFacts.read(workspace: workspace)
            if let warning = git.warning {
                Console.error(warning.hasPrefix("warning:") ? warning : "warning: \(warning)")
            }
        }
        self.store = store
        self.run = try store.beginRun(
            kind: kind, argv: ["pipe"] + CommandLine.arguments.dropFirst(), git: git, pipeVersion: PipeCommand.version)
        if let experiment { try store.recordSweep(experiment.tag, run: run) }
        self.console = console
        self.workspace = workspace
        self.storeWorkspace = experiment?.mainWorkspace ?? workspace
        self.kind = kind
    }

    /// Where this run's stage logs go: `runs/<id>/logs/`.
    var logDirectory: URL { store.runFolder(run).appendingPathComponent("logs") }

    /// Runs `body` (a repro or a verify) as this run: its logs go to `options`, and the run is
    /// finished with the summary, or as failed when `body` throws.
    func track(
        _ options: ReproOptions, _ body: (ReproOptions, ReproObserver) throws -> ReproSummary
    ) throws -> ReproSummary {
        var options = options
        options.logDirectory = logDirectory
        let summary: ReproSummary
        do {
            summary = try body(options, self)
        } catch {
            finishFailed()
            throw error
        }
        finish(summary)
        return summary
    }

    func finish(_ summary: ReproSummary) {
        flushSkipped()
        record { try store.finishRun(run, status: summary.succeeded ? .succeeded : .failed) }
    }

    /// A repro refused before it planned anything (another holds the workspace, a bad pipeline or `-S`) ran
    /// nothing, so it is not kept as a run: it would otherwise become `@last` and hide the run before it.
    func finishFailed() {
        flushSkipped()
        lock.lock()
        let refused = kind == .repro && !planned
        lock.unlock()
        record {
            try store.finishRun(run, status: .failed)
            if refused { try store.remove([run]) }
        }
    }

    /// Sends the finished run (and any an earlier export missed) to the configured MLflow server. A server that
    /// is down or refuses is one warning line; the repro's exit status does not change.
    func exportToMLflow() {
        switch MLflowAutoExport.run(workspace: workspace, store: store) {
        case .notConfigured: return
        case .exported(let report):
            if let line = MLflowAutoExport.summary(report) { Console.error(line) }
        case .failed(let message): console.warning(message)
        }
    }

    /// Skipped stages did nothing a crash could lose, so they are written in one transaction with the next
    /// stage that did something, or at the end: a no-op repro costs two writes, not one per stage.
    private var pendingSkipped: [Tracking.StageOutcome] = []

    private func flushSkipped() {
        lock.lock()
        let pending = pendingSkipped
        pendingSkipped = []
        lock.unlock()
        record { try store.recordStages(pending, run: run) }
    }

    // MARK: ReproObserver

    func reproPlanned(stages: [String], params: [String: ResolvedParams]) {
        lock.lock()
        planned = true
        lock.unlock()
        var values: [String: RunParam] = [:]
        for resolved in params.values {
            for (reference, value) in resolved.values {
                let key = Self.paramKey(file: reference.file, key: reference.key)
                values[key] = RunParam(
                    key: key, value: Self.plainText(value.json), overridden: resolved.overridden.contains(reference))
            }
        }
        record { try store.recordParams(values.keys.sorted().compactMap { values[$0] }, run: run) }
    }

    func stageStarted(_ stage: String, reason: StageReason) { console.stageStarted(stage, reason: reason) }

    func stageOutput(_ stage: String, line: String) { console.stageOutput(stage, line: line) }

    func stageProgress(_ stage: String, line: String) { console.stageProgress(stage, line: line) }

    func stageMetrics(_ stage: String, values: [String: Double], step: Int) {
        console.stageMetrics(stage, values: values, step: step)
        let now = Date()
        let points = values.keys.sorted().compactMap { key in
            values[key].map { MetricPoint(key: "\(stage).\(key)", value: $0, step: step, timestamp: now) }
        }
        record { try store.logMetrics(points, run: run, stage: stage) }
    }

    func warning(_ text: String) { console.warning(text) }

    func stageFinished(_ result: StageResult) {
        console.stageFinished(result)
        guard result.outcome != .wouldRun else { return }
        let outcome: StageOutcomeKind
        switch result.outcome {
        case .ran: outcome = .ran
        case .restored: outcome = .restored
        case .failed: outcome = .failed
        case .skipped, .notRun, .wouldRun: outcome = .skipped
        }
        let reason = result.outcome == .notRun ? "not run: \(result.message ?? "")" : result.reason.description
        let stageOutcome = StageOutcome(
            stage: result.stage, signature: result.signature?.hex ?? "", outcome: outcome, reason: reason,
            duration: result.duration, exitStatus: result.exitStatus, logPath: result.logPath.map(relative),
            finishedAt: result.endedAt)
        if outcome == .skipped {
            lock.lock()
            pendingSkipped.append(stageOutcome)
            lock.unlock()
        } else {
            flushSkipped()
            record { try store.recordStage(stageOutcome, run: run) }
        }
        guard [.ran, .restored, .skipped].contains(result.outcome) else { return }
        for file in result.metricsFiles {
            let url = workspace.appendingPathComponent(file.path)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let prefix = URL(fileURLWithPath: file.path).deletingPathExtension().lastPathComponent
            record {
                try store.recordMetricsFile(
                    url, run: run, stage: result.stage, prefix: prefix, headline: file.headline)
            }
        }
        let artifacts = result.outputs.map {
            RunArtifact(path: $0.path, sha256: $0.digest.hex, size: $0.size, stage: result.stage)
        }
        if !artifacts.isEmpty { record { try store.recordArtifacts(artifacts, run: run) } }
    }

    // MARK: Helpers

    /// `stages/train.yaml` + `lr` → `train.lr`; another file keeps its path without the extension.
    static func paramKey(file: String, key: String) -> String {
        var stem = file.hasPrefix("stages/") ? String(file.dropFirst("stages/".count)) : file
        for suffix in [".yaml", ".yml"] where stem.hasSuffix(suffix) { stem = String(stem.dropLast(suffix.count)) }
        return "\(stem).\(key)"
    }

    /// A canonical JSON value as the store shows it: strings without their quotes, everything else as JSON.
    static func plainText(_ json: String) -> String {
        guard json.hasPrefix("\""),
            let decoded = try? JSONDecoder().decode(String.self, from: Data(json.utf8))
        else { return json }
        return decoded
    }

    private func relative(_ path: String) -> String {
        let prefix = storeWorkspace.path + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    private func record(_ body: () throws -> Void) {
        do {
            try body()
        } catch {
            lock.lock()
            let first = !warnedAboutStore
            warnedAboutStore = true
            lock.unlock()
            if first { console.warning("run tracking: \(error)") }
        }
    }
}

/// Carries the git facts read on another thread (written once before the group is left, read after).
private final class GitFactsBox: @unchecked Sendable {
    var value: GitFacts?
}
