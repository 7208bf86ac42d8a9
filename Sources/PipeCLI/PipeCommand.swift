import ArgumentParser
import CBLAS
import ContentStore
import ECGStages
import ExitCodes
import Foundation
import PipelineEngine
import QRSCommands
import Tracking
import TrackingCommands
import WFDBCommands

/// The root command. `runAndExit` maps every error to the project's exit codes:
/// 0 ok, 1 a stage or check failed, 2 bad usage or bad input.
public struct PipeCommand: ParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "pipe",
        abstract: "Reproducible ECG arrhythmia pipelines: stage graph, content cache, run tracking.",
        version: version,
        subcommands: [
            ReproCommand.self, StatusCommand.self, VerifyCommand.self, RunsCommand.self, WFDBCommand.self,
            QRSCommand.self, InferCommand.self, DagCommand.self, InitCommand.self, RemoteCommand.self,
            PushCommand.self, FetchCommand.self, PullCommand.self, GCCommand.self, ExpCommand.self,
            ReportCommand.self, DoctorCommand.self,
        ]
    )

    public init() {}

    /// Parses `arguments` (without the program name), runs the command and returns its exit code.
    public static func run(arguments: [String]) -> Int32 {
        if VersionReport.isRequested(arguments) {
            Console.output(VersionReport.text())
            return 0
        }
        if let first = arguments.first, first == "repro" || first == "verify" {
            // Every repro and verify records its git commit; libgit2's start-up overlaps with parsing.
            LibGit2.prepareInBackground(for: FileManager.default.currentDirectoryPath)
        }
        do {
            var command = try parseAsRoot(expandingBareRemote(arguments))
            try command.run()
            return 0
        } catch {
            let ending = ending(for: error)
            if !ending.message.isEmpty {
                if ending.code == 0 { Console.output(ending.message) } else { Console.error(ending.message) }
            }
            return ending.code
        }
    }

    /// `pipe status --remote` with no name (at the end, or before another option) means the default remote;
    /// ArgumentParser options always take a value, so the bare form gets a marker value here.
    static func expandingBareRemote(_ arguments: [String]) -> [String] {
        guard arguments.first == "status", let index = arguments.firstIndex(of: "--remote") else { return arguments }
        let next = arguments.index(after: index)
        guard next == arguments.endIndex || arguments[next].hasPrefix("-") else { return arguments }
        var result = arguments
        result[index] = "--remote=" + StatusCommand.defaultRemoteMarker
        return result
    }

    /// How an error ends the process: its exit code and what is printed (on stdout for a clean exit such as
    /// `--help`, on stderr otherwise). A domain's error says its own code (`ExitCodeProviding`: 1 a failure, 2 bad
    /// input); ArgumentParser's are 0 for help, 2 for bad usage; anything else is a failure (1).
    static func ending(for error: Error) -> (code: Int32, message: String) {
        switch error {
        case let code as ExitCode: return (code.rawValue, "")
        case let error as ExitCodeProviding: return (error.exitCode, "error: \(error)")
        default:
            let code = exitCode(for: error)
            return (code == .success ? 0 : code == .failure ? 1 : 2, fullMessage(for: error))
        }
    }

    public static func runAndExit() -> Never {
        // OpenBLAS's library constructor starts its worker threads in every process, and they spin (sched_yield)
        // for about 0.1 s before they sleep: a command without linear algebra would lose a core to them. Stopped
        // here; OpenBLAS starts them again on its next multi-threaded call, as it does after a fork.
        _ = blas_thread_shutdown_()
        Foundation.exit(run(arguments: Array(CommandLine.arguments.dropFirst())))
    }
}

/// Serialised writes to stdout and stderr, safe from the engine's worker threads.
///
/// A progress line (a bar with a rate and an ETA) is drawn on stderr only when stderr is a terminal, and is
/// rewritten in place; the next ordinary line first erases it, so logs never carry progress frames.
enum Console {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var progressShown = false
    static let progressEnabled = isatty(STDERR_FILENO) == 1

    static func output(_ line: String) { write(line + "\n", to: stdout) }
    static func error(_ line: String) { write(line + "\n", to: stderr) }

    /// Replaces the transient progress line; a no-op when stderr is not a terminal.
    static func progress(_ line: String) {
        guard progressEnabled else { return }
        lock.lock()
        defer { lock.unlock() }
        fputs("\r\u{1B}[K" + line, stderr)
        fflush(stderr)
        progressShown = true
    }

    private static func write(_ text: String, to stream: UnsafeMutablePointer<FILE>) {
        lock.lock()
        defer { lock.unlock() }
        if progressShown {
            fputs("\r\u{1B}[K", stderr)
            fflush(stderr)
            progressShown = false
        }
        fputs(text, stream)
        fflush(stream)
    }
}

/// Options every workspace command shares.
struct WorkspaceOptions: ParsableArguments {
    @Option(name: [.customShort("C"), .customLong("cwd")], help: "Run as if pipe was started in this directory.")
    var directory: String?

    /// The workspace: the nearest directory at or above the start directory holding `pipeline.yaml`.
    func workspace() throws -> Workspace {
        let start = URL(fileURLWithPath: directory ?? FileManager.default.currentDirectoryPath).standardizedFileURL
        var candidate = start
        while true {
            if FileStat.at(candidate.appendingPathComponent("pipeline.yaml").path) != nil {
                return Workspace(root: candidate, registry: BuiltinStages.registry())
            }
            let parent = candidate.deletingLastPathComponent()
            if parent.path == candidate.path { break }
            candidate = parent
        }
        throw PipelineError.missingFile(path: start.appendingPathComponent("pipeline.yaml").path)
    }
}

/// The built-in stages this binary offers to `uses:`.
public enum BuiltinStages {
    public static func registry() -> StageRegistry { StageRegistry(ECGStageCatalog.stages) }
}
