import Foundation
import Tracking
import XCTest

/// `pipe repro` and `pipe verify` as runs in the store: commit, params with overrides, outcomes, metrics.
final class TrackingIntegrationTests: XCTestCase {
    private func git(_ arguments: [String], in directory: URL) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["-c", "user.name=t", "-c", "user.email=t@example.com"] + arguments
        process.currentDirectoryURL = directory
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testAReproIsARunWithCommitParamsOutcomesMetricsAndArtifacts() throws {
        let harness = try BinaryHarness()
        try harness.write(".gitignore", ".cache/\nruns/\nout/\n")
        try harness.write("stages/score.yaml", "lr: 0.001\nmodel:\n  depth: 3\n")
        try harness.write(
            "pipeline.yaml",
            """
            stages:
              score:
                cmd: mkdir -p out && echo '{"eval":{"accuracy":0.75},"n":4}' > out/metrics.json && echo x > out/model.bin
                params: [lr, model.depth]
                outs: [out/model.bin]
                metrics: [out/metrics.json]
            """)
        _ = try git(["init", "-q"], in: harness.root)
        _ = try git(["add", "-A"], in: harness.root)
        _ = try git(["commit", "-qm", "init"], in: harness.root)
        let head = try git(["rev-parse", "HEAD"], in: harness.root)

        XCTAssertEqual(try harness.run(["repro"]).status, 0)
        let overridden = try harness.run(["repro", "-S", "score.lr=0.01"])
        XCTAssertEqual(overridden.status, 0, overridden.stderr)

        let store = try RunStore.open(workspace: harness.root)
        let listing = try store.list(RunQuery())
        XCTAssertEqual(listing.runs.count, 2)
        let last = try store.show(try store.resolve("@last"))
        XCTAssertEqual(last.summary.run.gitCommit, head)
        XCTAssertEqual(last.summary.run.status, .succeeded)
        XCTAssertEqual(last.params.first { $0.key == "score.lr" }?.value, "0.01")
        XCTAssertEqual(last.params.first { $0.key == "score.lr" }?.overridden, true)
        XCTAssertEqual(last.params.first { $0.key == "score.model.depth" }?.value, "3")
        XCTAssertEqual(last.stages.first?.outcome, .ran)
        XCTAssertEqual(last.stages.first?.reason, "changed param lr")
        XCTAssertTrue(last.metrics.contains { $0.key == "metrics.eval.accuracy" && $0.last == 0.75 }, "\(last.metrics)")
        XCTAssertTrue(last.artifacts.contains { $0.path == "out/model.bin" })

        let filtered = try harness.run(["runs", "list", "--where", "params.score.lr = 0.01", "--json"])
        XCTAssertEqual(filtered.status, 0, filtered.stderr)
        XCTAssertTrue(filtered.stdout.contains(last.summary.run.id.rawValue), filtered.stdout)
    }

    func testAReproKilledWithSignalNineIsReportedInterrupted() throws {
        let harness = try BinaryHarness()
        try harness.write(
            "pipeline.yaml", "stages:\n  slow:\n    cmd: touch started && sleep 5 && echo > o\n    outs: [o]\n")
        let (process, _, _) = try harness.start(["repro"])
        try harness.waitForFile("started")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let listed = try harness.run(["runs", "list", "--json"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("\"interrupted\""), listed.stdout)
        XCTAssertEqual(try harness.run(["repro"]).status, 0, "the next repro finishes the job")
    }
}
