import Foundation
import Tracking
import XCTest

/// `pipe exp run --executor slurm` on a real one-node Slurm cluster (slurmctld + slurmd + munged started by
/// scripts/slurm_cluster.sh in a temporary folder, stopped by pid). Skipped, saying what is missing, where the
/// cluster cannot be had (no slurm-wlm or munge, not root).
final class SlurmExperimentTests: XCTestCase {
    nonisolated(unsafe) static var clusterFolder: URL?
    nonisolated(unsafe) static var slurmConf: String?
    nonisolated(unsafe) static var unavailable: String?

    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/slurm_cluster.sh")
    }

    /// Runs the cluster script with its output in a file, not a pipe: the daemons it starts outlive it, and any
    /// descriptor they inherit would hold a pipe open forever.
    static func runScript(_ arguments: [String]) -> (status: Int32, output: String) {
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("slurm-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: outputFile) }
        guard FileManager.default.createFile(atPath: outputFile.path, contents: nil),
            let handle = FileHandle(forWritingAtPath: outputFile.path)
        else { return (127, "cannot create \(outputFile.path)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.path] + arguments
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return (127, "\(error)") }
        process.waitUntilExit()
        try? handle.close()
        let output = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        return (process.terminationStatus, output)
    }

    override class func setUp() {
        super.setUp()
        // /tmp is readable by the munge user; the test's own temporary folder may not be.
        let folder = URL(fileURLWithPath: "/tmp/pipe-slurm-\(UUID().uuidString.prefix(8))")
        clusterFolder = folder
        let (status, output) = runScript(["start", folder.path])
        if status == 0, let line = output.split(separator: "\n").first(where: { $0.hasPrefix("SLURM_CONF=") }) {
            slurmConf = String(line.dropFirst("SLURM_CONF=".count))
        } else {
            unavailable = "no Slurm test cluster: " + output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    override class func tearDown() {
        if let folder = clusterFolder {
            _ = runScript(["stop", folder.path])
            try? FileManager.default.removeItem(at: folder)
        }
        super.tearDown()
    }

    var experiments: ExperimentFixture!

    override func setUpWithError() throws {
        if let unavailable = Self.unavailable { throw XCTSkip(unavailable) }
        experiments = try ExperimentFixture()
    }

    override func tearDown() { experiments = nil }

    var environment: [String: String] { experiments.environment.merging(["SLURM_CONF": Self.slurmConf ?? ""]) { $1 } }

    func squeueJob(named name: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["squeue", "--noheader", "--states=all", "--name=\(name)", "--format=%i"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        guard (try? process.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").first.map(String.init)
    }

    func testAGridSubmittedThroughSlurmLandsInTheStoreWithItsJobs() throws {
        let harness = experiments.harness
        let result = try harness.run(
            [
                "exp", "run", "-S", "train.lr=0.001,0.01", "-S", "train.seed=1,2", "--executor", "slurm", "--name",
                "slurm-grid",
            ],
            environment: environment)
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("Slurm job"), result.stdout)
        let runs = try RunStore.open(workspace: harness.root).sweepRuns(name: "slurm-grid")
        XCTAssertEqual(runs.count, 4)
        XCTAssertTrue(runs.allSatisfy { $0.status == .succeeded }, "\(runs)")
        XCTAssertEqual(Set(runs.compactMap { $0.job?.state }), ["COMPLETED"])
        XCTAssertEqual(Set(runs.compactMap { $0.job?.jobID }).count, 4)
        XCTAssertEqual(experiments.prepareCount(), 1, "the shared stage ran once across the cluster's jobs")
    }

    func testACancelledJobIsInterruptedAndAJobOverItsTimeFailed() throws {
        let harness = experiments.harness
        let marks = harness.root.deletingLastPathComponent().appendingPathComponent("marks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: marks, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: marks) }
        for seed in [1, 2] {
            _ = FileManager.default.createFile(
                atPath: marks.appendingPathComponent("block-\(seed)").path, contents: nil)
        }
        let (process, out, _) = try harness.start(
            ["exp", "run", "-S", "train.seed=1,2", "--executor", "slurm", "--time=1", "--name", "limits"],
            environment: environment.merging(["PIPE_TEST_MARKS": marks.path]) { $1 })
        let started = marks.appendingPathComponent("pid-2")
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: started.path) && Date() < deadline { usleep(100_000) }
        let job = try XCTUnwrap(squeueJob(named: "pipe-limits-2"))
        XCTAssertEqual(try Self.scancel(job), 0)
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 1, stdout)
        let runs = try RunStore.open(workspace: harness.root).sweepRuns(name: "limits")
        let cancelled = try XCTUnwrap(runs.first { $0.tag.experiment == 2 })
        XCTAssertEqual(cancelled.status, .interrupted, stdout)
        XCTAssertEqual(cancelled.job?.state, "CANCELLED")
        XCTAssertTrue(cancelled.job?.logPath?.hasSuffix(".cache/exp/limits/2.log") == true)
        let timedOut = try XCTUnwrap(runs.first { $0.tag.experiment == 1 })
        XCTAssertEqual(timedOut.status, .failed, stdout)
        XCTAssertEqual(timedOut.job?.state, "TIMEOUT")
        XCTAssertTrue(stdout.contains("Slurm job \(job) CANCELLED"), stdout)
    }

    static func scancel(_ job: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["scancel", job]
        process.environment = ProcessInfo.processInfo.environment.merging(["SLURM_CONF": slurmConf ?? ""]) { $1 }
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
