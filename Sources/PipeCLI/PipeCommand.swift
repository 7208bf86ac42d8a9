import ArgumentParser
import ContentStore
import Foundation
import PipelineEngine
import QRSCommands
import Tracking
import TrackingCommands
import WFDB
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
            QRSCommand.self, DagCommand.self, InitCommand.self,
        ]
    )

    public init() {}

    /// Parses `arguments` (without the program name), runs the command and returns its exit code.
    public static func run(arguments: [String]) -> Int32 {
        if let first = arguments.first, first == "repro" || first == "verify" {
            // Every repro and verify records its git commit; libgit2's start-up overlaps with parsing.
            LibGit2.prepareInBackground()
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return 0
        } catch let code as ExitCode {
            return code.rawValue
        } catch let error as PipelineError {
            Console.error("error: \(error)")
            return 2
        } catch let error as ContentStoreError {
            Console.error("error: \(error)")
            return 2
        } catch let error as WFDBError {
            Console.error("error: \(error)")
            return 2
        } catch let error as TrackingError {
            Console.error("error: \(error)")
            return 2
        } catch let error as ReproError {
            Console.error("error: \(error)")
            return 1
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                Console.output(fullMessage(for: error))
                return 0
            }
            Console.error(fullMessage(for: error))
            return code == .failure ? 1 : 2
        }
    }

    public static func runAndExit() -> Never {
        Foundation.exit(run(arguments: Array(CommandLine.arguments.dropFirst())))
    }
}

/// Serialised writes to stdout and stderr, safe from the engine's worker threads.
enum Console {
    private static let lock = NSLock()

    static func output(_ line: String) { write(line + "\n", to: stdout) }
    static func error(_ line: String) { write(line + "\n", to: stderr) }

    private static func write(_ text: String, to stream: UnsafeMutablePointer<FILE>) {
        lock.lock()
        defer { lock.unlock() }
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
    public static func registry() -> StageRegistry { StageRegistry([]) }
}
