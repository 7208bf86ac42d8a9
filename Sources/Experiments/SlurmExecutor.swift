import Foundation

/// Hands each experiment to Slurm as one batch job (`sbatch --parsable`) and follows the jobs with `squeue`
/// (and `sacct` once `squeue` has forgotten a job) until every one has reached a final state. Slurm does the
/// scheduling; this only submits, polls and reports. The workspace and `.cache/` must be on a filesystem the
/// nodes share, and this binary at a path they all see.
public final class SlurmExecutor {
    public let command: JobCommand
    public let options: SlurmOptions
    public let layout: SweepLayout
    /// Seconds between two polls.
    public var pollInterval: Double = 1
    /// Seconds `squeue` may keep failing (the controller down or unreachable) before following gives up.
    public var controllerTimeout: Double = 300
    /// Variables set for the Slurm commands on top of this process's environment (`SLURM_CONF`, say).
    public var environment: [String: String] = [:]

    public init(command: JobCommand, options: SlurmOptions, layout: SweepLayout) {
        self.command = command
        self.options = options
        self.layout = layout
    }

    /// Where experiment `index`'s job writes its output.
    public func logURL(_ index: Int) -> URL { layout.logURL(command.sweep, experiment: index) }

    /// `sbatch` must be on PATH before anything is submitted.
    public static func checkAvailable() throws {
        guard findExecutable("sbatch") != nil else {
            throw ExperimentError.slurm(command: "sbatch", detail: "not found on PATH (is Slurm installed here?)")
        }
        guard findExecutable("squeue") != nil else {
            throw ExperimentError.slurm(command: "squeue", detail: "not found on PATH (is Slurm installed here?)")
        }
    }

    /// Submits every experiment; returns index → job id. If one submission is refused, the jobs already
    /// submitted are cancelled and the refusal is thrown: a sweep is submitted whole or not at all.
    public func submit(_ indices: [Int]) throws -> [Int: String] {
        try Self.checkAvailable()
        var submitted: [Int: String] = [:]
        for index in indices {
            do {
                submitted[index] = try submitOne(index)
            } catch {
                if !submitted.isEmpty { _ = try? run("scancel", Array(submitted.values)) }
                throw error
            }
        }
        return submitted
    }

    private func submitOne(_ index: Int) throws -> String {
        let script = layout.folder(command.sweep).appendingPathComponent("\(index).sbatch")
        let quoted = ([command.executable] + command.arguments(index)).map(Self.shellQuote).joined(separator: " ")
        let text = """
            #!/bin/sh
            #SBATCH --job-name=pipe-\(command.sweep)-\(index)
            #SBATCH --output=\(logURL(index).path)
            #SBATCH --chdir=\(command.main.path)
            exec \(quoted)

            """
        do {
            try FileManager.default.createDirectory(
                at: script.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: script)
        } catch {
            throw ExperimentError.workspaceSetup(path: script.path, detail: error.localizedDescription)
        }
        let output = try run("sbatch", ["--parsable"] + options.sbatchArguments + [script.path])
        // --parsable prints `JOBID` or `JOBID;CLUSTER`.
        let id = output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init)
        guard let id, !id.isEmpty, id.allSatisfy({ $0.isNumber || $0 == "_" }) else {
            throw ExperimentError.slurm(command: "sbatch", detail: "unexpected reply '\(output)'")
        }
        return id
    }

    /// Polls until every job is final, calling `finished` once per job as it ends. Throws when `squeue` has
    /// failed for `controllerTimeout` seconds in a row, naming the jobs still open: they stay in Slurm's hands
    /// and record their own runs.
    public func follow(_ jobs: [Int: String], finished: (ExperimentEnd) -> Void) throws {
        var open = jobs
        let started = Date()
        var failingSince: Date?
        while !open.isEmpty {
            let (states, failure) = poll(Array(open.values))
            if let failure {
                let since = failingSince ?? Date()
                failingSince = since
                if Date().timeIntervalSince(since) >= controllerTimeout {
                    let ids = open.sorted { $0.key < $1.key }.map(\.value).joined(separator: ", ")
                    let seconds = String(format: "%g", controllerTimeout)
                    throw ExperimentError.slurm(
                        command: "squeue",
                        detail: "failing for \(seconds) s (\(failure)); stopped following jobs \(ids)")
                }
            } else {
                failingSince = nil
            }
            for (index, id) in open.sorted(by: { $0.key < $1.key }) {
                guard let state = states[id], state.isFinal else { continue }
                open[index] = nil
                finished(
                    ExperimentEnd(
                        index: index, exitStatus: state.succeeded ? 0 : 1, job: state,
                        seconds: Date().timeIntervalSince(started)))
            }
            if !open.isEmpty { Thread.sleep(forTimeInterval: pollInterval) }
        }
    }

    /// The current state of each job: `squeue` for the ones it still knows (finished ones stay listed for
    /// `MinJobAge`), `sacct` for the others; a job neither knows is reported as `UNKNOWN`, final. When
    /// `squeue` itself fails, its error comes back beside what `sacct` could tell.
    func poll(_ ids: [String]) -> (states: [String: JobState], squeueFailure: String?) {
        var states: [String: JobState] = [:]
        var listing: String?
        var squeueFailure: String?
        do {
            listing = try run(
                "squeue",
                [
                    "--noheader", "--states=all", "--jobs=" + ids.joined(separator: ","),
                    "--format=%i|%T|%r",
                ])
        } catch {
            squeueFailure = "\(error)"
        }
        for line in (listing ?? "").split(separator: "\n") {
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard fields.count >= 3 else { continue }
            states[fields[0]] = JobState(
                id: fields[0], state: Self.normalize(fields[1]), reason: Self.reason(fields[2]))
        }
        for id in ids where states[id] == nil {
            if let accounted = try? run(
                "sacct", ["--noheader", "--parsable2", "--allocations", "--jobs=\(id)", "--format=JobID,State,Reason"]),
                let line = accounted.split(separator: "\n").first
            {
                let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                if fields.count >= 2 {
                    states[id] = JobState(
                        id: id, state: Self.normalize(fields[1]),
                        reason: fields.count > 2 ? Self.reason(fields[2]) : nil)
                    continue
                }
            }
            // squeue's single-job query fails once the job is purged; a batch query may list the others only.
            if listing != nil, ids.count > 1, let single = poll1(id) {
                states[id] = single
            } else if listing != nil {
                states[id] = JobState(id: id, state: JobState.lost, reason: "no longer known to squeue or sacct")
            }
        }
        return (states, squeueFailure)
    }

    private func poll1(_ id: String) -> JobState? {
        guard
            let listing = try? run("squeue", ["--noheader", "--states=all", "--jobs=\(id)", "--format=%i|%T|%r"]),
            let line = listing.split(separator: "\n").first
        else { return nil }
        let fields = line.split(separator: "|", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard fields.count >= 3 else { return nil }
        return JobState(id: id, state: Self.normalize(fields[1]), reason: Self.reason(fields[2]))
    }

    /// `CANCELLED by 0` → `CANCELLED`.
    static func normalize(_ state: String) -> String {
        String(state.split(separator: " ").first ?? Substring(state)).uppercased()
    }

    static func reason(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty || trimmed == "None" || trimmed == "(null)" ? nil : trimmed
    }

    static func shellQuote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs a Slurm command; a non-zero exit throws its stderr.
    @discardableResult
    func run(_ name: String, _ arguments: [String]) throws -> String {
        guard let executable = Self.findExecutable(name) else {
            throw ExperimentError.slurm(command: name, detail: "not found on PATH")
        }
        let result = try ToolProcess.run(
            executable, arguments, environment: environment,
            launchFailure: { ExperimentError.slurm(command: name, detail: $0) })
        guard result.status == 0 else {
            throw ExperimentError.slurm(
                command: ([name] + arguments).joined(separator: " "),
                detail: result.errors.isEmpty ? "exit status \(result.status)" : result.errors)
        }
        return result.output
    }
}

/// Runs a command line tool (git, sbatch…) to its end with stdin closed, collecting stdout and stderr.
enum ToolProcess {
    static func run(
        _ executable: String, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:],
        launchFailure: (String) -> ExperimentError
    ) throws -> (status: Int32, output: String, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardInput = FileHandle.nullDevice
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch { throw launchFailure("\(error)") }
        // Read stderr on another thread so that neither pipe can fill up and stall the tool.
        let errorBox = DataBox()
        let reader = Thread { errorBox.set(err.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errors = String(decoding: errorBox.wait(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return (process.terminationStatus, String(decoding: data, as: UTF8.self), errors)
    }
}

/// Data handed from a reader thread.
final class DataBox: @unchecked Sendable {
    private let condition = NSCondition()
    private var data: Data?

    func set(_ value: Data) {
        condition.lock()
        data = value
        condition.broadcast()
        condition.unlock()
    }

    func wait() -> Data {
        condition.lock()
        defer { condition.unlock() }
        while data == nil { condition.wait() }
        return data ?? Data()
    }
}
