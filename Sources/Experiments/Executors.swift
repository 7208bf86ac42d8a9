import Dispatch
import Foundation
import Tracking

/// How an experiment ended, as its executor saw it.
public struct ExperimentEnd: Sendable, Equatable {
    public var index: Int
    /// The job's exit status (local) or Slurm's final state mapped to one: 0 when it succeeded.
    public var exitStatus: Int32
    /// Slurm's job id, state and reason; nil for a local process.
    public var job: JobState?
    public var seconds: Double
}

/// A Slurm job as `squeue` / `sacct` report it.
public struct JobState: Sendable, Equatable {
    public var id: String
    public var state: String
    public var reason: String?

    /// The state pipe gives a job that neither `squeue` nor `sacct` knows any more (purged, no accounting):
    /// final, since nothing will report it again, and a failure, since nothing says it completed.
    static let lost = "UNKNOWN"

    /// Slurm's states for a job that will not change any more, and `lost`.
    static let finalStates: Set<String> = [
        "COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL",
        "DEADLINE", "REVOKED", "SPECIAL_EXIT", lost,
    ]

    public var isFinal: Bool { Self.finalStates.contains(state) }
    public var succeeded: Bool { state == "COMPLETED" }
    /// Cancelled jobs (`scancel`, preemption) are interrupted runs; every other unsuccessful end is a failure.
    public var isInterruption: Bool { state == "CANCELLED" || state == "PREEMPTED" }

    /// The run status Slurm's final state gives the job's run.
    public var runStatus: RunStatus { succeeded ? .succeeded : (isInterruption ? .interrupted : .failed) }

    /// The status the job's run must be closed with, given the status it has in the store; nil to leave it.
    /// A succeeded job keeps what its run recorded (closing a run it left open as succeeded). An unsuccessful
    /// job's run takes Slurm's word: `scancel` sends SIGTERM to every process of the job at once, so the
    /// stage's command may die before pipe's own handler runs, and the job then closes its run as failed
    /// although it was cancelled; and another process opening the store may have marked a timed-out job's
    /// run interrupted, its process being gone.
    public func correctedStatus(recorded: RunStatus) -> RunStatus? {
        if succeeded { return recorded == .running ? .succeeded : nil }
        return recorded == runStatus ? nil : runStatus
    }
}

/// The command that runs one experiment: `pipe exp job NAME INDEX -C MAIN`, with the absolute path of this
/// binary (on a cluster, a path every node sees, like the workspace itself).
public struct JobCommand: Sendable {
    public var executable: String
    public var main: URL
    public var sweep: String

    public func arguments(_ index: Int) -> [String] { ["exp", "job", sweep, String(index), "-C", main.path] }

    /// This process's own binary, resolved through `/proc/self/exe` so that a relative argv[0] still works.
    public static func currentExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if count > 0 { return String(cString: Array(buffer[0..<count]) + [0]) }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }
}

/// Runs up to `jobs` experiments at once as child processes on this machine; each writes its output to its log.
/// SIGINT or SIGTERM to the parent is passed on to every running child (which stops its stages and exits), then
/// the parent waits for them and returns what finished; nothing not started yet is started.
public final class LocalExecutor: @unchecked Sendable {
    public let command: JobCommand
    public let jobs: Int
    public let layout: SweepLayout

    private let condition = NSCondition()
    private var running: [Int: Process] = [:]
    private var stopped = false

    public init(command: JobCommand, jobs: Int, layout: SweepLayout) {
        self.command = command
        self.jobs = max(1, jobs)
        self.layout = layout
    }

    /// Runs the experiments `indices` (in order), calling `finished` as each ends. Returns false when interrupted.
    @discardableResult
    public func run(_ indices: [Int], started: (Int) -> Void = { _ in }, finished: (ExperimentEnd) -> Void) throws
        -> Bool
    {
        var signalSources: [DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [weak self] in self?.stopAll(signal: signalNumber) }
            source.resume()
            signalSources.append(source)
        }
        defer {
            for source in signalSources { source.cancel() }
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
        }
        var pending = indices[...]
        var ends: [ExperimentEnd] = []
        var startTimes: [Int: Date] = [:]
        condition.lock()
        while true {
            while !stopped, running.count < jobs, let index = pending.first {
                pending = pending.dropFirst()
                condition.unlock()
                let process = try launch(index)
                started(index)
                condition.lock()
                startTimes[index] = Date()
                running[index] = process
            }
            if running.isEmpty && (pending.isEmpty || stopped) { break }
            condition.wait()
            for (index, process) in running where !process.isRunning {
                running[index] = nil
                ends.append(
                    ExperimentEnd(
                        index: index, exitStatus: process.terminationStatus, job: nil,
                        seconds: Date().timeIntervalSince(startTimes[index] ?? Date())))
            }
            let finishedNow = ends
            ends = []
            condition.unlock()
            for end in finishedNow { finished(end) }
            condition.lock()
        }
        let interrupted = stopped
        condition.unlock()
        return !interrupted
    }

    private func launch(_ index: Int) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command.executable)
        process.arguments = command.arguments(index)
        process.currentDirectoryURL = command.main
        process.standardInput = FileHandle.nullDevice
        let logURL = layout.logURL(command.sweep, experiment: index)
        try? FileManager.default.createDirectory(
            at: logURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: logURL.path, contents: nil),
            let log = FileHandle(forWritingAtPath: logURL.path)
        else { throw ExperimentError.workspaceSetup(path: logURL.path, detail: "cannot create the log") }
        process.standardOutput = log
        process.standardError = log
        process.terminationHandler = { [condition] _ in
            try? log.close()
            condition.lock()
            condition.broadcast()
            condition.unlock()
        }
        do { try process.run() } catch {
            throw ExperimentError.workspaceSetup(path: command.executable, detail: "cannot start: \(error)")
        }
        return process
    }

    private func stopAll(signal signalNumber: Int32) {
        condition.lock()
        stopped = true
        for process in running.values where process.isRunning { kill(process.processIdentifier, signalNumber) }
        condition.broadcast()
        condition.unlock()
    }
}
