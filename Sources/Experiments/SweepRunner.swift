import Foundation
import Tracking

/// How a sweep's execution ended.
public struct SweepOutcome: Sendable {
    public var total: Int
    public var alreadyDone: Int
    public var succeeded: Int
    public var failed: Int
    public var interrupted: Bool
    public var seconds: Double

    public var allSucceeded: Bool { failed == 0 && !interrupted }

    public var summaryLine: String {
        var line = "\(succeeded) succeeded, \(failed) failed"
        if alreadyDone > 0 { line += ", \(alreadyDone) already done" }
        line += String(format: " of %d experiments in %.1f s", total, seconds)
        if interrupted { line += " (interrupted)" }
        return line
    }
}

/// Runs the experiments of a plan that have no succeeded run yet, with the plan's executor, and keeps the
/// run store right about each: a Slurm job that ended without closing its run (cancelled, over its time, killed),
/// or closed it with a status its final state contradicts, gets its run closed as interrupted or failed, with
/// Slurm's state, reason and log; a job cancelled before it started gets a run saying so.
public struct SweepRunner {
    public let plan: SweepPlan
    public let layout: SweepLayout
    public let executable: String
    /// Recorded on the runs this writes itself (jobs that never started).
    public let pipeVersion: String

    public init(plan: SweepPlan, layout: SweepLayout, executable: String, pipeVersion: String) {
        self.plan = plan
        self.layout = layout
        self.executable = executable
        self.pipeVersion = pipeVersion
    }

    /// The experiments of the plan without a succeeded run, in plan order.
    public func pending(_ store: RunStore) throws -> [Int] {
        let done = Set(try store.sweepRuns(name: plan.name).filter { $0.status == .succeeded }.map(\.tag.experiment))
        return plan.experiments.map(\.index).filter { !done.contains($0) }
    }

    public func run(report: (String) -> Void) throws -> SweepOutcome {
        let started = Date()
        let store = try RunStore.open(workspace: layout.main)
        let todo = try pending(store)
        var outcome = SweepOutcome(
            total: plan.experiments.count, alreadyDone: plan.experiments.count - todo.count, succeeded: 0, failed: 0,
            interrupted: false, seconds: 0)
        if outcome.alreadyDone > 0 {
            report("\(outcome.alreadyDone) of \(outcome.total) experiments already done; running \(todo.count)")
        }
        let command = JobCommand(executable: executable, main: layout.main, sweep: plan.name)
        var finishedCount = 0
        let finish: (ExperimentEnd) -> Void = { end in
            finishedCount += 1
            let status = self.settle(end, store: store)
            if status == .succeeded { outcome.succeeded += 1 } else { outcome.failed += 1 }
            let label = self.plan.experiment(end.index)?.label ?? ""
            var line = "[\(finishedCount)/\(todo.count)] experiment \(end.index) (\(label)): \(status.rawValue)"
            if let job = end.job {
                line += " — Slurm job \(job.id) \(job.state)" + (job.reason.map { " (\($0))" } ?? "")
            }
            if status != .succeeded {
                line += ", log: \(self.relative(self.layout.logURL(self.plan.name, experiment: end.index)))"
            }
            report(line)
        }
        switch plan.executor {
        case .local:
            let executor = LocalExecutor(command: command, jobs: plan.jobs, layout: layout)
            let completed = try executor.run(todo, finished: finish)
            outcome.interrupted = !completed
            // Children stopped by a signal leave their runs open: the store marks them interrupted now.
            _ = try? store.markInterruptedRuns()
        case .slurm:
            let executor = SlurmExecutor(command: command, options: plan.slurm, layout: layout)
            let jobs = try executor.submit(todo)
            for index in todo { if let id = jobs[index] { report("experiment \(index): Slurm job \(id)") } }
            try executor.follow(jobs, finished: finish)
        }
        outcome.seconds = Date().timeIntervalSince(started)
        return outcome
    }

    /// The experiment's final status in the store, closing its run from the executor's facts where the job
    /// could not (a Slurm job killed or cancelled).
    private func settle(_ end: ExperimentEnd, store: RunStore) -> RunStatus {
        let runs = (try? store.sweepRuns(name: plan.name).filter { $0.tag.experiment == end.index }) ?? []
        let latest = runs.max { $0.run.rawValue < $1.run.rawValue }
        guard let job = end.job else {
            if let latest, latest.status != .running { return latest.status }
            return end.exitStatus == 0 ? .succeeded : .failed
        }
        let log = layout.logURL(plan.name, experiment: end.index).path
        let reason = job.state + (job.reason.map { ": \($0)" } ?? "")
        let report = JobReport(jobID: job.id, state: job.state, reason: reason, logPath: log)
        let fallback = job.runStatus
        do {
            if let latest, latest.job == nil || latest.job?.jobID == job.id {
                try store.recordJob(report, run: latest.run)
                guard let corrected = job.correctedStatus(recorded: latest.status) else { return latest.status }
                try store.finishRun(latest.run, status: corrected)
                return corrected
            }
            // The job never got as far as opening its run (cancelled while pending, refused by the node).
            let run = try store.beginRun(
                kind: .repro,
                argv: ["pipe"]
                    + JobCommand(executable: executable, main: layout.main, sweep: plan.name)
                    .arguments(end.index),
                git: GitFacts(commit: plan.gitCommit, branch: plan.gitBranch, isDirty: plan.gitDirty),
                pipeVersion: pipeVersion)
            try store.recordSweep(SweepTag(sweepID: plan.id, sweepName: plan.name, experiment: end.index), run: run)
            try store.recordJob(report, run: run)
            let status: RunStatus = job.succeeded ? .failed : fallback
            try store.finishRun(run, status: status)
            return status
        } catch {
            return fallback
        }
    }

    private func relative(_ url: URL) -> String {
        let prefix = layout.main.path + "/"
        return url.path.hasPrefix(prefix) ? String(url.path.dropFirst(prefix.count)) : url.path
    }
}
