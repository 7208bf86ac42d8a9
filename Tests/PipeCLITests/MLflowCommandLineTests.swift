import Foundation
import XCTest

/// `pipe runs export|import mlflow` without a server: usage errors exit 2, an unreachable server exits 1 with one
/// line naming it, and credentials never show.
final class MLflowCommandLineTests: XCTestCase {
    private let quiet = ["MLFLOW_TRACKING_URI": "", "MLFLOW_TRACKING_TOKEN": "", "MLFLOW_TRACKING_USERNAME": ""]

    private func workspaceWithOneRun() throws -> BinaryHarness {
        let harness = try BinaryHarness()
        try harness.write("pipeline.yaml", "stages:\n  one:\n    cmd: echo 1 > o\n    outs: [o]\n")
        let repro = try harness.run(["repro"], environment: quiet)
        XCTAssertEqual(repro.status, 0, repro.stderr)
        return harness
    }

    func testAnUnreachableServerIsOneLineNamingItAndExitOne() throws {
        let harness = try workspaceWithOneRun()
        let output = try harness.run(
            ["runs", "export", "mlflow", "--uri", "http://127.0.0.1:9"],
            environment: quiet.merging(["MLFLOW_TRACKING_TOKEN": "tok-secret-1"]) { $1 })
        XCTAssertEqual(output.status, 1, output.stderr)
        let lines = output.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, output.stderr)
        XCTAssertTrue(
            lines.first?.hasPrefix("error: MLflow server http://127.0.0.1:9 not reachable") == true, output.stderr)
        XCTAssertFalse((output.stdout + output.stderr).contains("tok-secret-1"))
    }

    func testWithoutAServerOrWithABadURIItIsAUsageError() throws {
        let harness = try workspaceWithOneRun()
        let none = try harness.run(["runs", "export", "mlflow"], environment: quiet)
        XCTAssertEqual(none.status, 2, none.stderr)
        XCTAssertTrue(none.stderr.contains("MLFLOW_TRACKING_URI"), none.stderr)
        let bad = try harness.run(["runs", "export", "mlflow", "--uri", "http://bob:pw-9@h:5000"], environment: quiet)
        XCTAssertEqual(bad.status, 2, bad.stderr)
        XCTAssertFalse(bad.stderr.contains("pw-9"), bad.stderr)
    }

    func testAReproWithAnUnreachableServerStillSucceedsWithOneWarning() throws {
        let harness = try BinaryHarness()
        try harness.write(
            "pipeline.yaml",
            "stages:\n  one:\n    cmd: echo 1 > o\n    outs: [o]\ntracking:\n  mlflow:\n    uri: http://127.0.0.1:9\n")
        let repro = try harness.run(["repro"], environment: quiet)
        XCTAssertEqual(repro.status, 0, repro.stderr)
        XCTAssertEqual(repro.stderr.components(separatedBy: "warning: MLflow export failed").count, 2, repro.stderr)
        let listed = try harness.run(["runs", "list", "--json"])
        XCTAssertTrue(listed.stdout.contains("\"succeeded\""), "the local run is kept: \(listed.stdout)")
    }

    func testCredentialsInPipelineYAMLAreRefusedWithTheirLocation() throws {
        let harness = try BinaryHarness()
        try harness.write(
            "pipeline.yaml",
            "stages:\n  one:\n    cmd: echo 1 > o\n    outs: [o]\ntracking:\n  mlflow:\n    uri: http://h\n    password: x\n"
        )
        let status = try harness.run(["status"], environment: quiet)
        XCTAssertEqual(status.status, 0, "the engine lets tracking: through: \(status.stderr)")
        let export = try harness.run(["runs", "export", "mlflow"], environment: quiet)
        XCTAssertEqual(export.status, 2, export.stderr)
        XCTAssertTrue(export.stderr.contains("pipeline.yaml:8:5"), export.stderr)
    }

    func testDryExportOfAnEmptyStoreSendsNothing() throws {
        let harness = try BinaryHarness()
        try harness.write("pipeline.yaml", "stages:\n  one:\n    cmd: echo 1 > o\n    outs: [o]\n")
        let output = try harness.run(
            ["runs", "export", "mlflow", "--uri", "http://127.0.0.1:9", "--dry"], environment: quiet)
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stdout.contains("0 HTTP requests"), output.stdout)
    }
}
